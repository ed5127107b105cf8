"""The record rules (`dispatch.record_rules`) at the readers' door: the CSV and JSON importers
(which the command line uses) refuse what `POST /jobs` refuses, each problem named with its
row and field, all of a file's problems at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.errors import InputErrors
from dispatch.files.importers import read_crews, read_depots, read_jobs
from dispatch.files.records import crew_from_dict, job_from_dict
from dispatch.files.zone_files import read_zones

HEADER = "id,kind,order_id,confirmed_at,lon,lat,windows,quantity,customer_name"
WINDOW = "2026-06-18T09:00/2026-06-18T11:00"
GOOD_ROW = f"J1,repair,O1,2026-06-18T08:00,121.47,31.23,{WINDOW},1,Li Lei"
#: the findings of the outside test, one row each (rows 3-10 of the file)
BAD_ROWS = {
    3: ("quantity", f"Q1,delivery,O2,2026-06-18T08:00,121.47,31.23,{WINDOW},1e30,"),
    4: ("id", f"S/xxxx,repair,O3,2026-06-18T08:00,121.47,31.23,{WINDOW},,"),
    5: ("id", f"J 5,repair,O4,2026-06-18T08:00,121.47,31.23,{WINDOW},,"),
    6: ("id", f"{'L' * 300},repair,O5,2026-06-18T08:00,121.47,31.23,{WINDOW},,"),
    7: ("customer_name", f"N1,repair,O6,2026-06-18T08:00,121.47,31.23,{WINDOW},,Li\x00Lei"),
    8: ("windows", "W1,repair,O7,2026-06-18T08:00,121.47,31.23,0001-01-01T09:00/11:00,,"),
    9: ("windows", "W2,repair,O8,2026-06-18T08:00,121.47,31.23,9999-12-31T09:00/11:00,,"),
    10: ("confirmed_at", f"W3,repair,O9,0001-01-01T08:00,121.47,31.23,{WINDOW},,"),
}


def _fields_by_row(exc: pytest.ExceptionInfo[InputErrors], prefix: str) -> dict[int, str]:
    """{row: field} of every error, from records named like 'jobs.csv row 7 (job ...)'."""
    out = {}
    for e in exc.value.errors:
        assert e.record.startswith(prefix), e.record
        number = int(e.record.removeprefix(prefix).split()[0])
        assert number not in out, f"two errors on row {number}"
        out[number] = e.field
    return out


def test_csv_import_refuses_each_finding_naming_row_and_field(tmp_path: Path) -> None:
    """Every finding of the outside test is an error on its row and column, all at once."""
    rows = [GOOD_ROW] + [row for _, row in BAD_ROWS.values()]
    path = tmp_path / "jobs.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(InputErrors) as exc:
        read_jobs(path)
    assert _fields_by_row(exc, "jobs.csv row ") == {n: f for n, (f, _) in BAD_ROWS.items()}
    text = str(exc.value)
    assert "jobs.csv row 3 (job 'Q1'): field 'quantity': must be from 1 to 1000" in text
    assert "row 4 (job 'S/xxxx'): field 'id': 'S/xxxx' is not an id" in text
    assert "is 300 characters long; an id has at most 64" in text
    assert "control character U+0000" in text
    assert "0001-01-01T09:00:00 is outside the years" in text


def test_json_import_refuses_each_finding_naming_item_and_field(tmp_path: Path) -> None:
    """The same findings as JSON values (a quantity of 10^30 as a JSON integer)."""
    good = {
        "id": "J1",
        "kind": "repair",
        "confirmed_at": "2026-06-18T08:00",
        "lon": 121.47,
        "lat": 31.23,
        "windows": [WINDOW],
    }
    items = [
        good,
        dict(good, id="Q1", kind="delivery", quantity=10**30),
        dict(good, id="S/xxxx"),
        dict(good, id="x" * 300),
        dict(good, id="N1", customer_name="Li\x00Lei"),
        dict(good, id="W1", windows=[{"start": "0001-01-01T09:00", "end": "0001-01-01T11:00"}]),
        dict(good, id="W2", windows=["9999-12-31T09:00/9999-12-31T11:00"]),
        dict(good, id="D1", deadline="9999-12-31T23:59"),
        dict(good, id="V1", kind="delivery", volume_l=1e300, weight_kg=-1),
    ]
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"jobs": items}), encoding="utf-8")
    with pytest.raises(InputErrors) as exc:
        read_jobs(path)
    assert {(e.record.split(" (")[0], e.field) for e in exc.value.errors} == {
        ("jobs.json item 2", "quantity"),
        ("jobs.json item 3", "id"),
        ("jobs.json item 4", "id"),
        ("jobs.json item 5", "customer_name"),
        ("jobs.json item 6", "windows"),
        ("jobs.json item 7", "windows"),
        ("jobs.json item 8", "deadline"),
        ("jobs.json item 9", "volume_l"),
        ("jobs.json item 9", "weight_kg"),
    }
    assert "got 1.00e+30" in str(exc.value)  # not thirty-one digits


def test_a_goods_crew_with_a_blank_capacity_is_an_error_naming_the_field(tmp_path: Path) -> None:
    """A truck or combined crew without capacity was a vehicle of 0 l: every delivery "too
    big", exit 0. Now it is an error per field; a crew that carries nothing defaults to 0."""
    path = tmp_path / "crews.csv"
    path.write_text(
        "id,kind,start_depot,capacity_volume_l,capacity_weight_kg\n"
        "T1,delivery_truck,WH1,,\n"
        "T2,combined,WH1,12000,\n"
        "T3,delivery_truck,WH1,0,0\n"
        "I1,installation_crew,WH1,,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputErrors) as exc:
        read_crews(path)
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("crews.csv row 2 (crew 'T1')", "capacity_volume_l"),
        ("crews.csv row 2 (crew 'T1')", "capacity_weight_kg"),
        ("crews.csv row 3 (crew 'T2')", "capacity_weight_kg"),
    ]
    assert "is required: a delivery_truck crew carries goods" in str(exc.value)
    # without the capacity columns at all, the same
    path.write_text("id,kind,start_depot\nT1,delivery_truck,WH1\n", encoding="utf-8")
    with pytest.raises(InputErrors) as exc:
        read_crews(path)
    assert {e.field for e in exc.value.errors} == {"capacity_volume_l", "capacity_weight_kg"}
    installer = crew_from_dict({"id": "I1", "kind": "installation_crew", "start_depot": "WH1"})
    assert (installer.capacity_volume_l, installer.capacity_weight_kg) == (0.0, 0.0)


def test_crew_numbers_ids_and_skills_follow_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "crews.json"
    base = {"kind": "repair_technician", "start_depot": "WH1"}
    items = [
        dict(base, id="R1", people=7, max_jobs=10**6, cost_per_km=1e300),
        dict(base, id="R2", start_depot="WH 1", home_zone="Z/1"),
        dict(base, id="R3", skills=["ok", "bad/skill"], lunch_minutes=600),
    ]
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(InputErrors) as exc:
        read_crews(path)
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("crews.json item 1 (crew 'R1')", "people"),
        ("crews.json item 1 (crew 'R1')", "max_jobs"),
        ("crews.json item 1 (crew 'R1')", "cost_per_km"),
        ("crews.json item 2 (crew 'R2')", "start_depot"),
        ("crews.json item 2 (crew 'R2')", "home_zone"),
        ("crews.json item 3 (crew 'R3')", "skills"),
        ("crews.json item 3 (crew 'R3')", "lunch_minutes"),
    ]


def test_depot_ids_coordinates_and_names_follow_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "depots.csv"
    path.write_text(
        "id,kind,lon,lat,name,zone\n"
        "WH/1,warehouse,121.4,31.2,,\n"
        "WH2,warehouse,1e30,31.2,\x1b[31mred,Z 1\n",
        encoding="utf-8",
    )
    with pytest.raises(InputErrors) as exc:
        read_depots(path)
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("depots.csv row 2 (depot 'WH/1')", "id"),
        ("depots.csv row 3 (depot 'WH2')", "lon"),
        ("depots.csv row 3 (depot 'WH2')", "name"),
        ("depots.csv row 3 (depot 'WH2')", "zone"),
    ]


def test_zone_ids_follow_the_id_rule(tmp_path: Path) -> None:
    square = [[[121.4, 31.2], [121.5, 31.2], [121.5, 31.3], [121.4, 31.3], [121.4, 31.2]]]
    features = [
        {
            "type": "Feature",
            "properties": {"zone_id": zone_id},
            "geometry": {"type": "Polygon", "coordinates": square},
        }
        for zone_id in ("Z1", "Z/2")
    ]
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InputErrors) as exc:
        read_zones(path)
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("zones file zones.geojson zone Z/2", "zone_id")
    ]


def test_text_keeps_tabs_and_line_breaks_and_refuses_other_controls() -> None:
    record = {
        "id": "J1",
        "kind": "repair",
        "confirmed_at": "2026-06-18T08:00",
        "lon": 121.47,
        "lat": 31.23,
        "windows": WINDOW,
        "address": "1 Nanjing Rd\r\n3rd floor\tleft",
    }
    assert job_from_dict(record).address == "1 Nanjing Rd\r\n3rd floor\tleft"
    for bad in ("\x00", "\x07", "\x7f", "\x85"):
        with pytest.raises(InputErrors, match="control character"):
            job_from_dict(dict(record, address=f"1 Nanjing{bad} Rd"))
    with pytest.raises(InputErrors, match="at most 500"):
        job_from_dict(dict(record, customer_name="x" * 501))
    with pytest.raises(InputErrors, match="at most 10"):
        eleven = [f"2026-06-18T{h:02d}:00/{h:02d}:30" for h in range(8, 19)]
        job_from_dict(dict(record, windows=eleven))
