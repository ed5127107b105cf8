"""Importing jobs, crews and depots from CSV and JSON: values, round trips, and error reports."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.errors import InputErrors
from dispatch.files.importers import (
    read_crews,
    read_depots,
    read_jobs,
    write_crews_csv,
    write_depots_csv,
    write_jobs_csv,
)
from dispatch.files.records import crew_to_dict, job_to_dict
from dispatch.models import (
    CrewKind,
    DepotKind,
    GeoPoint,
    Job,
    JobKind,
    LunchBreak,
    Priority,
    ProductCategory,
    TimeWindow,
)

JOBS_HEADER = (
    "id,kind,order_id,confirmed_at,lon,lat,windows,category,quantity,volume_l,weight_kg,"
    "floor,has_lift,service_minutes,skills,people,priority,region,zone,deadline,address,"
    "customer_name,customer_phone"
)
GOOD_JOBS = [
    "J1,delivery,O1,2026-06-18T08:10,121.4737,31.2304,"
    "2026-06-18T09:00/2026-06-18T11:00;2026-06-18T14:00/16:00,split_ac,2,180.5,95,6,no,,,2,"
    'vip,urban,Z1,,"上海市黄浦区南京东路 1 号, 3 楼",张三,13800138000',
    "J2,installation,O1,2026-06-18T08:10,121.4737,31.2304,2026-06-18T14:00/2026-06-18T18:00,"
    "split_ac,1,,,6,true,120,refrigeration|height_work,2,normal,urban,,2026-06-19T08:10,,,",
    "R7,repair,R7,2026-06-18T07:30,121.50,31.20,2026-06-18T13:00/2026-06-18T15:00,"
    "washing_machine,,,,,,,,,complaint,rural,,,,,",
]
CREWS_HEADER = (
    "id,kind,people,skills,start_depot,end_depot,shift_start,shift_end,capacity_volume_l,"
    "capacity_weight_kg,lunch_start,lunch_end,lunch_minutes,max_jobs,cost_per_hour,cost_per_km,"
    "home_zone"
)
GOOD_CREWS = [
    "T1,delivery_truck,2,,WH1,WH1,07:30,18:00,12000,1500,11:30,13:30,30,12,55.5,2.4,Z1",
    "I1,installation_crew,,refrigeration height_work,SP1,,8:00,19:00,,,,,,,,,",
]
DEPOTS_CSV = (
    "id,kind,lon,lat,name,zone\n"
    "WH1,warehouse,121.40,31.25,浦西仓,Z1\n"
    "SP1,service_point,121.52,31.22,,\n"
)


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[InputErrors]) -> set[tuple[str, str]]:
    return {(e.record, e.field) for e in exc.value.errors}


def test_jobs_csv_reads_every_documented_column_and_fills_defaults(tmp_path: Path) -> None:
    """Windows, booleans, skills and enums parse; blank cells take the documented defaults."""
    j1, j2, r7 = read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, GOOD_JOBS))
    assert j1.kind is JobKind.DELIVERY and j1.category is ProductCategory.SPLIT_AC
    assert [(w.start.hour, w.end.hour) for w in j1.windows] == [(9, 11), (14, 16)]
    assert j1.windows[1].end == datetime(2026, 6, 18, 16, 0)  # bare end time: the start's day
    assert (j1.has_lift, j1.floor, j1.quantity, j1.volume_l) == (False, 6, 2, 180.5)
    assert j1.service_minutes is None and j1.deadline is None and j1.priority is Priority.VIP
    assert j1.address == "上海市黄浦区南京东路 1 号, 3 楼" and j1.customer_name == "张三"
    assert j2.skills == {"refrigeration", "height_work"} and j2.service_minutes == 120
    assert j2.deadline == datetime(2026, 6, 19, 8, 10)
    assert (r7.quantity, r7.floor, r7.has_lift, r7.people) == (1, 1, True, 1)
    assert (r7.category, r7.region, r7.zone, r7.address) == (
        ProductCategory.WASHING_MACHINE,
        "rural",
        None,
        "",
    )


def test_jobs_csv_round_trip_gives_equal_jobs(tmp_path: Path) -> None:
    """write_jobs_csv then read_jobs gives back jobs equal field by field."""
    jobs = read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, GOOD_JOBS))
    write_jobs_csv(jobs, tmp_path / "again.csv")
    assert read_jobs(tmp_path / "again.csv") == jobs


def test_numpy_floats_are_written_as_plain_numbers(tmp_path: Path) -> None:
    """A job built from numpy figures (as a generator may) writes `16.8`, not
    `np.float64(16.8)`, which the reader would refuse; the demo day round-trips."""
    import dataclasses

    import numpy as np

    from fixtures.shanghai import demo_problem

    jobs = demo_problem(jobs=40).jobs
    first = dataclasses.replace(jobs[0], volume_l=np.float64(16.8), weight_kg=np.float64(3.25))
    write_jobs_csv([first, *jobs[1:]], tmp_path / "jobs.csv")
    assert "np.float64" not in (tmp_path / "jobs.csv").read_text(encoding="utf-8")
    again = read_jobs(tmp_path / "jobs.csv")
    assert (again[0].volume_l, again[0].weight_kg) == (16.8, 3.25) and again[1:] == jobs[1:]


def test_jobs_json_round_trip_in_both_layouts(tmp_path: Path) -> None:
    """JSON reads as a bare list or as {"jobs": [...]}, windows as objects or "start/end"."""
    jobs = read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, GOOD_JOBS))
    records = [job_to_dict(j) for j in jobs]
    (tmp_path / "list.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    assert read_jobs(tmp_path / "list.json") == jobs
    for record in records:
        record["windows"] = [f"{w['start']}/{w['end']}" for w in record["windows"]]
    (tmp_path / "wrapped.json").write_text(json.dumps({"jobs": records}), "utf-8")
    assert read_jobs(tmp_path / "wrapped.json") == jobs


def test_crews_round_trip_through_csv_and_json_with_defaults(tmp_path: Path) -> None:
    """Crews read lunch and shifts; a blank end depot is the start depot, people default by kind."""
    t1, i1 = read_crews(write(tmp_path / "crews.csv", CREWS_HEADER, GOOD_CREWS))
    assert t1.lunch == LunchBreak(time(11, 30), time(13, 30), 30)
    assert (t1.shift_start, t1.max_jobs, t1.cost_per_hour, t1.home_zone) == (
        time(7, 30),
        12,
        55.5,
        "Z1",
    )
    assert i1.kind is CrewKind.INSTALLATION_CREW and i1.end_depot == "SP1" and i1.people == 2
    assert i1.lunch is None and i1.skills == {"refrigeration", "height_work"}
    write_crews_csv([t1, i1], tmp_path / "again.csv")
    assert read_crews(tmp_path / "again.csv") == [t1, i1]
    (tmp_path / "crews.json").write_text(json.dumps([crew_to_dict(t1), crew_to_dict(i1)]))
    assert read_crews(tmp_path / "crews.json") == [t1, i1]


def test_depots_read_from_csv_and_round_trip(tmp_path: Path) -> None:
    """Depots read kind, location, name and zone; writing and reading again changes nothing."""
    (tmp_path / "depots.csv").write_text(DEPOTS_CSV, encoding="utf-8")
    wh1, sp1 = read_depots(tmp_path / "depots.csv")
    assert wh1.kind is DepotKind.WAREHOUSE and wh1.name == "浦西仓" and wh1.zone == "Z1"
    assert sp1.location.lon == 121.52 and sp1.zone is None
    write_depots_csv([wh1, sp1], tmp_path / "again.csv")
    assert read_depots(tmp_path / "again.csv") == [wh1, sp1]


def test_several_bad_rows_are_all_reported_at_once_with_row_and_column(tmp_path: Path) -> None:
    """Every bad value of every row is reported in one InputErrors, in file order."""
    rows = [
        GOOD_JOBS[0],
        "J2,delivery,O2,yesterday,121.47,31.23,2026-06-18T09:00/2026-06-18T11:00,,x,,,,maybe,,,,,,,,,,",
        GOOD_JOBS[2],
        "J4,delivery,O4,2026-06-18T08:00,121.47,31.23,2026-06-18T09:00/2026-06-18T11:00,,,,-5,,,,,,,,,,,,",
        "J5,delivery,O5,2026-06-18T08:00,121.47,95,2026-06-18T09:00/2026-06-18T11:00,,,,,,,,,,,,,,,,",
    ]
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, rows))
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("jobs.csv row 3 (job 'J2')", "confirmed_at"),
        ("jobs.csv row 3 (job 'J2')", "quantity"),
        ("jobs.csv row 3 (job 'J2')", "has_lift"),
        ("jobs.csv row 5 (job 'J4')", "weight_kg"),  # refused by the Job constructor
        ("jobs.csv row 6 (job 'J5')", "lat"),  # refused by GeoPoint.check
    ]
    assert "'maybe' is not one of true/false" in str(exc.value)


def test_unknown_enum_value_is_reported_with_the_allowed_values(tmp_path: Path) -> None:
    """A misspelt kind names the row, the column and the values that would be accepted."""
    bad = GOOD_JOBS[2].replace("repair", "repiar", 1)
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, [GOOD_JOBS[0], bad]))
    [error] = exc.value.errors
    assert (error.record, error.field) == ("jobs.csv row 3 (job 'R7')", "kind")
    assert "delivery, installation, repair, pickup" in error.message


def test_window_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    """A window whose end is before its start is a row error on the windows column."""
    bad = GOOD_JOBS[2].replace("13:00/2026-06-18T15:00", "15:00/2026-06-18T13:00")
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, [bad]))
    assert problems(exc) == {("jobs.csv row 2 (job 'R7')", "windows")}
    assert "ends before it starts" in str(exc.value)


def test_missing_required_column_is_reported_once_at_the_header(tmp_path: Path) -> None:
    """Without a `windows` column the header is blamed once, not every row."""
    header = JOBS_HEADER.replace(",windows,", ",")
    rows = [",".join(c for k, c in enumerate(r.split(",")) if k != 6) for r in GOOD_JOBS[1:]]
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", header, rows))
    assert problems(exc) == {("jobs.csv row 1 (header)", "windows")}


def test_duplicate_id_names_both_rows(tmp_path: Path) -> None:
    """A second row with the same id is an error on `id` that says where the first one is."""
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, [*GOOD_JOBS, GOOD_JOBS[1]]))
    [error] = exc.value.errors
    assert (error.record, error.field) == ("jobs.csv row 5 (job 'J2')", "id")
    assert "first used at row 3" in error.message


def test_malformed_csv_rows_are_row_errors_not_crashes(tmp_path: Path) -> None:
    """Too few fields and a stray quote are reported per row; good rows around them still read."""
    rows = [
        GOOD_JOBS[1],
        "J8,delivery,O8,2026-06-18T08:00,121.47",  # row 3: 5 fields
        'J9,delivery,O9,2026-06-18T08:00,121.47,31.23,"2026-06-18T09:00/2026-06-18T11:00"x,'
        ",,,,,,,,,,,,,,,",  # row 4: text after a closing quote
        GOOD_JOBS[2],
    ]
    with pytest.raises(InputErrors) as exc:
        read_jobs(write(tmp_path / "jobs.csv", JOBS_HEADER, rows))
    assert problems(exc) == {
        ("jobs.csv row 3 (job 'J8')", "(row)"),
        ("jobs.csv row 4", "(row)"),
    }


def test_undecodable_bytes_are_reported_per_cell(tmp_path: Path) -> None:
    """A GBK-encoded name is an error on that cell, with a hint to save the file as UTF-8."""
    path = tmp_path / "jobs.csv"
    text = "\n".join([JOBS_HEADER, GOOD_JOBS[1], GOOD_JOBS[2].replace("complaint", "vip")]) + "\n"
    path.write_bytes(text.encode("utf-8") + GOOD_JOBS[0].replace("J1,", "J3,", 1).encode("gbk"))
    with pytest.raises(InputErrors) as exc:
        read_jobs(path)
    assert problems(exc) == {
        ("jobs.csv row 4 (job 'J3')", "address"),
        ("jobs.csv row 4 (job 'J3')", "customer_name"),
    }
    assert "not UTF-8" in str(exc.value)


def test_undecodable_or_invalid_json_file_is_one_file_error(tmp_path: Path) -> None:
    """A JSON file that is not UTF-8, or not JSON, is reported as a file problem."""
    (tmp_path / "jobs.json").write_bytes('[{"id": "张三"}]'.encode("gbk"))
    with pytest.raises(InputErrors) as exc:
        read_jobs(tmp_path / "jobs.json")
    assert problems(exc) == {("jobs.json", "(file)")}
    (tmp_path / "crews.json").write_text('[{"id": "T1",}]')
    with pytest.raises(InputErrors) as exc:
        read_crews(tmp_path / "crews.json")
    assert problems(exc) == {("crews.json line 1 column 14", "(file)")}


def test_json_items_are_numbered_and_checked_like_csv_rows(tmp_path: Path) -> None:
    """JSON records are named "item N"; unknown keys and non-objects are errors too."""
    items = [
        {"id": "WH1", "kind": "warehouse", "lon": 121.4, "lat": 31.2},
        {"id": "WH2", "kind": "warehous", "lon": 121.4, "lat": 31.2, "colour": "red"},
        "SP1",
    ]
    (tmp_path / "depots.json").write_text(json.dumps({"depots": items}))
    with pytest.raises(InputErrors) as exc:
        read_depots(tmp_path / "depots.json")
    assert problems(exc) == {
        ("depots.json item 2 (depot 'WH2')", "colour"),
        ("depots.json item 2 (depot 'WH2')", "kind"),
        ("depots.json item 3", "(item)"),
    }


def test_lunch_window_without_minutes_is_refused(tmp_path: Path) -> None:
    """A crew with a lunch window but no lunch_minutes is ambiguous and reported."""
    bad = GOOD_CREWS[0].replace(",30,12,", ",,12,")
    with pytest.raises(InputErrors) as exc:
        read_crews(write(tmp_path / "crews.csv", CREWS_HEADER, [bad]))
    assert problems(exc) == {("crews.csv row 2 (crew 'T1')", "lunch_minutes")}


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    """Only .csv and .json files are read."""
    (tmp_path / "jobs.xlsx").write_bytes(b"PK")
    with pytest.raises(InputErrors, match=r"use \.csv or \.json"):
        read_jobs(tmp_path / "jobs.xlsx")


# ids follow the id rule (dispatch.record_rules.ID_PATTERN); free text is kept as is: any
# character but a control character other than tab and line breaks
IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,5}", fullmatch=True)
TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=12
)


@st.composite
def random_jobs(draw: st.DrawFn) -> Job:
    confirmed = draw(st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)))
    start = confirmed + timedelta(seconds=draw(st.integers(0, 200_000)))
    end = start + timedelta(microseconds=draw(st.integers(0, 10**10)))
    return Job(
        id=draw(IDS),
        kind=draw(st.sampled_from(JobKind)),
        order_id=draw(IDS),
        confirmed_at=confirmed,
        location=GeoPoint(draw(st.floats(-180, 180)), draw(st.floats(-90, 90))),
        windows=(TimeWindow(start, end),),
        category=draw(st.sampled_from(ProductCategory)),
        quantity=draw(st.integers(1, 99)),
        volume_l=draw(st.floats(0, 1e6)),
        weight_kg=draw(st.floats(0, 1e5)),
        floor=draw(st.integers(-5, 200)),
        has_lift=draw(st.booleans()),
        service_minutes=draw(st.none() | st.integers(1, 720)),
        skills=frozenset(draw(st.lists(IDS, max_size=3))),
        people=draw(st.integers(1, 3)),
        priority=draw(st.sampled_from(Priority)),
        region=draw(IDS),
        zone=draw(st.none() | IDS),
        deadline=draw(st.none() | st.just(confirmed + timedelta(hours=12))),
        address=draw(TEXT),
        customer_name=draw(TEXT),
        customer_phone=draw(TEXT),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(random_jobs(), max_size=4, unique_by=lambda j: j.id))
def test_any_valid_jobs_round_trip_through_csv_and_json(
    tmp_path_factory: pytest.TempPathFactory, jobs: list[Job]
) -> None:
    """Any valid jobs (line breaks in text, microseconds, any float) read back equal."""
    folder = tmp_path_factory.mktemp("round_trip")
    write_jobs_csv(jobs, folder / "jobs.csv")
    assert read_jobs(folder / "jobs.csv") == jobs
    (folder / "jobs.json").write_text(json.dumps([job_to_dict(j) for j in jobs]), "utf-8")
    assert read_jobs(folder / "jobs.json") == jobs
