"""One validation for every door: `/jobs/import` (CSV and JSON) refuses what `POST /jobs`
refuses, each problem named with its row and field; and the request types (`JobIn`,
`CrewIn`, `Ident`, `Text`, `Moment`) accept exactly the values the domain's readers accept,
field by field, at and just past every bound of `dispatch.record_rules`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.http.routers.crews import CrewIn
from api.http.routers.jobs import JobIn
from api.storage.types import Ident, Moment, Text
from dispatch.errors import InputErrors
from dispatch.files.fields import parse_datetime
from dispatch.files.records import crew_from_dict, job_from_dict
from dispatch.record_rules import (
    CREW_BOUNDS,
    CREW_DEFAULTS,
    EARLIEST,
    ID_MAX_LENGTH,
    JOB_BOUNDS,
    JOB_DEFAULTS,
    LATEST,
    MAX_CREW_SKILLS,
    MAX_JOB_SKILLS,
    MAX_WINDOWS,
    TEXT_MAX_LENGTH,
    Bounds,
)

JOB: dict[str, Any] = {
    "id": "J1",
    "kind": "delivery",
    "confirmed_at": "2026-06-18T08:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": "2026-06-18T10:00", "end": "2026-06-18T12:00"}],
}
CREW: dict[str, Any] = {
    "id": "T1",
    "kind": "combined",
    "start_depot": "SP01",
    "capacity_volume_l": 8000.0,
    "capacity_weight_kg": 1500.0,
}

# ---- the findings of the outside test, through the service's import


def _import(client, auth, name: str, content: str):
    files = {"file": (name, content, "text/csv" if name.endswith(".csv") else "application/json")}
    return client.post("/jobs/import", files=files, headers=auth("dispatcher"))


def _problems(response) -> set[tuple[str, str]]:
    """(record up to the job's name, field) of every problem of a 422 answer."""
    assert response.status_code == 422, response.text
    return {(e["record"].split(" (")[0], e["field"]) for e in response.json()["errors"]}


@pytest.mark.api
def test_csv_import_refuses_what_post_jobs_refuses(client, auth):
    """A quantity of 10^30 (it made every later plan of the day fail with OverflowError),
    ids with '/' or a space or 300 characters (a job 'S/xxxx' was planned where every event
    post answered 404), NUL in a name, windows in the years 1 and 9999: each a row and a
    field, all in one answer, nothing stored."""
    window = "2026-06-18T10:00/12:00"
    rows = [
        f"J1,repair,2026-06-18T08:00,121.47,31.23,{window},1,Li Lei",
        f"J2,delivery,2026-06-18T08:00,121.47,31.23,{window},1e30,",
        f"S/xxxx,repair,2026-06-18T08:00,121.47,31.23,{window},,",
        f"J 4,repair,2026-06-18T08:00,121.47,31.23,{window},,",
        f"{'L' * 300},repair,2026-06-18T08:00,121.47,31.23,{window},,",
        f"J6,repair,2026-06-18T08:00,121.47,31.23,{window},,Li\x00Lei",
        "J7,repair,2026-06-18T08:00,121.47,31.23,0001-01-01T10:00/12:00,,",
        "J8,repair,2026-06-18T08:00,121.47,31.23,9999-12-31T10:00/12:00,,",
    ]
    header = "id,kind,confirmed_at,lon,lat,windows,quantity,customer_name"
    r = _import(client, auth, "jobs.csv", "\n".join([header, *rows]) + "\n")
    assert _problems(r) == {
        ("jobs.csv row 3", "quantity"),
        ("jobs.csv row 4", "id"),
        ("jobs.csv row 5", "id"),
        ("jobs.csv row 6", "id"),
        ("jobs.csv row 7", "customer_name"),
        ("jobs.csv row 8", "windows"),
        ("jobs.csv row 9", "windows"),
    }
    assert "must be from 1 to 1000, got 1.00e+30" in r.text
    assert client.get("/jobs/J1", headers=auth("dispatcher")).status_code == 404
    # POST /jobs refuses the same values
    for bad in ({"quantity": 10**30}, {"id": "S/xxxx"}, {"customer_name": "Li\x00Lei"}):
        assert client.post("/jobs", json=JOB | bad, headers=auth("dispatcher")).status_code == 422


@pytest.mark.api
def test_json_import_refuses_what_post_jobs_refuses(client, auth):
    items = [
        JOB,
        JOB | {"id": "Q1", "quantity": 10**30},
        JOB | {"id": "S/xxxx"},
        JOB | {"id": "x" * 300},
        JOB | {"id": "N1", "customer_name": "Li\x00Lei"},
        JOB | {"id": "W1", "windows": ["0001-01-01T10:00/0001-01-01T12:00"]},
        JOB | {"id": "W2", "windows": [{"start": "9999-12-31T10:00", "end": "9999-12-31T12:00"}]},
        JOB | {"id": "V1", "volume_l": 1e300},
    ]
    r = _import(client, auth, "jobs.json", json.dumps({"jobs": items}))
    assert _problems(r) == {
        ("jobs.json item 2", "quantity"),
        ("jobs.json item 3", "id"),
        ("jobs.json item 4", "id"),
        ("jobs.json item 5", "customer_name"),
        ("jobs.json item 6", "windows"),
        ("jobs.json item 7", "windows"),
        ("jobs.json item 8", "volume_l"),
    }
    r = _import(client, auth, "jobs.json", json.dumps({"jobs": items[:1]}))
    assert r.status_code == 201, r.text


@pytest.mark.api
def test_a_goods_crew_needs_its_capacity(seeded, auth):
    """A truck or combined crew without capacities is refused naming the fields (it was a
    vehicle of 0 l); an installation crew without them has 0."""
    office = auth("dispatcher")
    truck = {"id": "T9", "kind": "delivery_truck", "start_depot": "SP01"}
    r = seeded.post("/crews", json=truck, headers=office)
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"capacity_volume_l", "capacity_weight_kg"}
    r = seeded.post("/crews", json=truck | CREW | {"id": "T9"}, headers=office)
    assert r.status_code == 201, r.text
    installer = {"id": "I9", "kind": "installation_crew", "start_depot": "SP01"}
    r = seeded.post("/crews", json=installer, headers=office)
    assert r.status_code == 201, r.text
    assert r.json()["record"]["capacity_volume_l"] == 0.0


# ---- the two doors agree, value by value


def _probes(bounds: Bounds) -> list[tuple[float, bool]]:
    """Values at and just past each bound, and whether they are allowed."""
    step = 1 if bounds.whole else max(abs(bounds.high), 1) * 1e-6
    huge = 10**30 if bounds.whole else 1e300
    return [
        (bounds.low, True),
        (bounds.high, True),
        (bounds.low - step, False),
        (bounds.high + step, False),
        (huge, False),
        (-huge, False),
    ]


def _accepts(model: type[BaseModel], record: dict[str, Any]) -> bool:
    try:
        model.model_validate(record)
    except ValidationError:
        return False
    return True


def _reads(reader: Any, record: dict[str, Any]) -> bool:
    try:
        reader(record)
    except InputErrors:
        return False
    return True


@pytest.mark.parametrize("name", sorted(JOB_BOUNDS))
def test_job_bounds_are_the_same_at_both_doors(name: str) -> None:
    for value, allowed in _probes(JOB_BOUNDS[name]):
        record = JOB | {name: value}
        assert _accepts(JobIn, record) is allowed, (name, value)
        assert _reads(job_from_dict, record) is allowed, (name, value)


@pytest.mark.parametrize("name", sorted(CREW_BOUNDS))
def test_crew_bounds_are_the_same_at_both_doors(name: str) -> None:
    roomy_lunch = {"lunch_start": "08:00", "lunch_end": "17:00"}  # holds the longest break
    for value, allowed in _probes(CREW_BOUNDS[name]):
        record = CREW | {name: value} | (roomy_lunch if name == "lunch_minutes" else {})
        assert _accepts(CrewIn, record) is allowed, (name, value)
        assert _reads(crew_from_dict, record) is allowed, (name, value)


def test_ids_texts_and_times_are_the_same_at_both_doors() -> None:
    ids = ["J1", "a" * ID_MAX_LENGTH, "a" * (ID_MAX_LENGTH + 1), "S/xxxx", "J 1", "-J", "J\x00"]
    ids += ["Z:1.2_3-4", "单号1", "J1/", ""]
    for value in ids:
        api = _accepts_type(Ident, value)
        assert _reads(job_from_dict, JOB | {"id": value}) is api, value
        assert _reads(job_from_dict, JOB | {"zone": value}) is api or value == "", value
        assert _reads(crew_from_dict, CREW | {"start_depot": value}) is api, value
    # a file's cells are trimmed of surrounding spaces first (the service's JSON is not)
    assert job_from_dict(JOB | {"id": " J1\n"}).id == "J1"
    texts = ["Li Lei", "1 Nanjing Rd\r\n3F\tleft", "a\x00b", "\x1b[31m", "\x7f", "\x85"]
    texts += ["x" * TEXT_MAX_LENGTH, "x" * (TEXT_MAX_LENGTH + 1), "张三"]
    for value in texts:
        api = _accepts_type(Text, value)
        assert _reads(job_from_dict, JOB | {"address": value}) is api, value
    minute = timedelta(minutes=1)
    moments = [EARLIEST, LATEST, EARLIEST - minute, LATEST + minute]
    moments += [datetime(1, 1, 1), datetime(9999, 12, 31)]
    for moment in moments:
        api = _accepts_type(Moment, moment)
        try:
            parse_datetime(moment.isoformat())
            reader = True
        except ValueError:
            reader = False
        assert reader is api, moment


def test_counts_and_defaults_are_the_same_at_both_doors() -> None:
    windows = [
        {"start": f"2026-06-18T{h:02d}:00", "end": f"2026-06-18T{h:02d}:30"}
        for h in range(8, 9 + MAX_WINDOWS)
    ]
    for n in (MAX_WINDOWS, MAX_WINDOWS + 1):
        record = JOB | {"windows": windows[:n]}
        assert _accepts(JobIn, record) is _reads(job_from_dict, record) is (n == MAX_WINDOWS)
    for model, reader, record, most in (
        (JobIn, job_from_dict, JOB, MAX_JOB_SKILLS),
        (CrewIn, crew_from_dict, CREW, MAX_CREW_SKILLS),
    ):
        for n in (most, most + 1):
            with_skills = record | {"skills": [f"s{k}" for k in range(n)]}
            assert _accepts(model, with_skills) is _reads(reader, with_skills) is (n == most)
    job = JobIn.model_validate(JOB)
    assert {k: getattr(job, k) for k in JOB_DEFAULTS} == JOB_DEFAULTS
    read = job_from_dict(JOB)
    assert {k: getattr(read, k) for k in JOB_DEFAULTS} == JOB_DEFAULTS
    crew = CrewIn.model_validate(CREW)
    assert (crew.cost_per_hour, crew.cost_per_km) == (
        CREW_DEFAULTS["cost_per_hour"],
        CREW_DEFAULTS["cost_per_km"],
    )
    assert crew.shift_start == f"{CREW_DEFAULTS['shift_start']:%H:%M}"
    assert crew.shift_end == f"{CREW_DEFAULTS['shift_end']:%H:%M}"


def _accepts_type(kind: Any, value: object) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True
