"""Mutation tests of the plan validator: a valid plan file corrupted in exactly one way fails,
naming the job or crew, for every rule the validator claims (dispatch/plan_validator.py).

The plan is planned once per module on the test street (tests/factories.py: 1 km = 100 s,
no rush hours), timed by the planner's own timing: a truck delivers O1 and picks up P1, an
installer repairs R1 (promised yesterday evening: late), installs O1 after the delivery and
the link gap, lunches, repairs R2; X1 is unassigned. Each case edits the saved plan document
(`plan_to_dict`) the way a hand edit of plan.json would, keeping every other figure in step
where a careful forger would (the slack after moving an end, the next arrival after moving a
departure), and reads it back as `dispatch validate` does. A second group does the same on a
60-job demo day planned by the solver, where travel times change with the rush hours.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from dispatch.errors import InputErrors
from dispatch.files.plan_io import plan_from_dict, plan_to_dict, save_plan_json
from dispatch.metrics.kpis import plan_kpis
from dispatch.models import CrewKind, JobKind, LunchBreak
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from fixtures.shanghai import demo_problem
from scripts.cli import main
from tests.factories import DAY, at, crew, job, planned, problem

Doc = dict[str, Any]
LUNCH = LunchBreak(time(11), time(14), 60)


def _street_plan() -> Plan:
    yesterday = DAY - timedelta(days=1)
    install = frozenset({"ac_install"})
    jobs = [
        job("R1", 2, window=(8, 9), confirmed_at=at(10, day=yesterday)),  # due yesterday 20:00
        job("O1-D", 10, (9, 10), JobKind.DELIVERY, 15, order_id="O1", volume_l=300, weight_kg=60),
        job("O1-I", 10, (8, 18), JobKind.INSTALLATION, 60, order_id="O1", skills=install, people=2),
        job("R2", 5, window=(13, 15)),
        job("P1", 6, (10, 12), JobKind.PICKUP, volume_l=200, weight_kg=40),
        job("X1", 3),
    ]
    crews = [
        crew("T1", CrewKind.DELIVERY_TRUCK, lunch=LUNCH, capacity_volume_l=1000),
        crew("I1", CrewKind.INSTALLATION_CREW, skills=install, lunch=LUNCH),
    ]
    return planned(problem(jobs, crews), {"T1": ["O1-D", "P1"], "I1": ["R1", "O1-I", "R2"]})


@pytest.fixture(scope="module")
def street() -> Doc:
    """The street plan as its plan.json document (planned once for the module)."""
    return plan_to_dict(_street_plan())


@pytest.fixture(scope="module")
def demo() -> Doc:
    """A solver-planned 60-job demo day (rush hours, lunches, late jobs) as its document."""
    options = PlanOptions(time_limit_s=5, solution_limit=60, workers=1)
    return plan_to_dict(make_plan(demo_problem(jobs=60), options))


# ---- reading a document as `dispatch validate` does


def _refusals(doc: Doc) -> list[str]:
    """What reading and validating `doc` refuses, one line each (empty: valid)."""
    try:
        plan = plan_from_dict(doc, source="plan.json")
    except InputErrors as exc:
        return [str(e) for e in exc.errors]
    return [str(v) for v in validate_plan(plan)]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _route(doc: Doc, crew_id: str) -> Doc:
    return next(r for r in doc["routes"] if r["crew_id"] == crew_id)


def _stop(doc: Doc, job_id: str) -> Doc:
    return next(s for r in doc["routes"] for s in r["stops"] if s["job_id"] == job_id)


def _move(stop: Doc, minutes: int) -> None:
    """Start and end `minutes` later, the stated slack kept in step (a careful forger)."""
    for key in ("start", "end"):
        stop[key] = _iso(_at(stop[key]) + timedelta(minutes=minutes))
    stop["slack_minutes"] -= minutes


def _shift(record: Doc, key: str, minutes: int) -> None:
    record[key] = _iso(_at(record[key]) + timedelta(minutes=minutes))


# ---- the corruptions: (rule, who must be named, the edit)


def _deadline(d: Doc) -> None:
    """R1 was due yesterday 20:00: its stated deadline moved past its end (slack in step)."""
    stop = _stop(d, "R1")
    stop["deadline"] = "2026-06-18T20:00"
    stop["slack_minutes"] = int((_at(stop["deadline"]) - _at(stop["end"])).total_seconds() // 60)


def _slack(d: Doc) -> None:
    _stop(d, "O1-I")["slack_minutes"] += 60


def _break_length(d: Doc) -> None:
    _route(d, "I1")["lunch"]["minutes"] = 10


def _break_window(d: Doc) -> None:
    """Lunch 10:55, after I1 arrives at R2 (10:53:20) but before its 11:00-14:00 window."""
    _route(d, "I1")["lunch"]["start"] = "2026-06-18T10:55"


def _break_missing(d: Doc) -> None:
    _route(d, "I1")["lunch"] = None


def _travel_time(d: Doc) -> None:
    """R2 reached five minutes sooner than the 5 km from O1 allow."""
    _shift(_stop(d, "R2"), "arrival", -5)


def _distance(d: Doc) -> None:
    _route(d, "T1")["distance_m"] -= 5000  # the "km driven" KPI reads it


def _drive_time(d: Doc) -> None:
    _route(d, "T1")["drive_s"] -= 600  # the "hours driven" KPI reads it


def _service_time(d: Doc) -> None:
    """R2 (30 min) ends after 20 min; the return and the slack in step."""
    stop = _stop(d, "R2")
    _shift(stop, "end", -10)
    stop["slack_minutes"] += 10
    _shift(_route(d, "I1"), "return_at", -10)


def _window(d: Doc) -> None:
    """R2 (window 13-15, I1's last stop) at 15:05; the return and the slack in step."""
    _move(_stop(d, "R2"), 125)
    _shift(_route(d, "I1"), "return_at", 125)


def _return(d: Doc) -> None:
    _shift(_route(d, "I1"), "return_at", 10)


def _link(d: Doc) -> None:
    """O1-I 15 minutes before the delivery's end + gap (I1 was waiting for it); R2's arrival
    in step, so only the link breaks."""
    _move(_stop(d, "O1-I"), -15)
    _shift(_stop(d, "R2"), "arrival", -15)


def _crew_edit(crew_id: str, **changes: Any) -> Callable[[Doc], None]:
    """The crew's record in the plan's problem changed: the routes claim what it cannot do."""

    def edit(d: Doc) -> None:
        next(c for c in d["problem"]["crews"] if c["id"] == crew_id).update(changes)

    return edit


def _duplicate(d: Doc) -> None:
    d["unassigned"].append({"job_id": "R2", "reason": "no_capacity_left", "detail": ""})


def _missing(d: Doc) -> None:
    d["unassigned"] = [u for u in d["unassigned"] if u["job_id"] != "X1"]


def _dropped_stop(d: Doc) -> None:
    """P1, the truck's last stop, silently taken off (the return kept as stated)."""
    _route(d, "T1")["stops"].pop()


CASES = {
    "deadline": ("deadline", "job R1", _deadline),
    "slack": ("slack", "job O1-I", _slack),
    "break length": ("break", "crew I1", _break_length),
    "break window": ("break", "crew I1", _break_window),
    "break missing": ("break", "crew I1", _break_missing),
    "travel time": ("time", "job R2", _travel_time),
    "distance": ("totals", "crew T1", _distance),
    "drive time": ("totals", "crew T1", _drive_time),
    "service time": ("time", "job R2", _service_time),
    "return time": ("time", "crew I1", _return),
    "window": ("window", "job R2", _window),
    "skill": ("skills", "job O1-I", _crew_edit("I1", skills=[])),
    "people": ("people", "job O1-I", _crew_edit("I1", people=1)),
    "capacity": ("capacity", "crew T1", _crew_edit("T1", capacity_volume_l=400)),
    "jobs per day": ("max_jobs", "crew I1", _crew_edit("I1", max_jobs=2)),
    "link": ("precedence", "job O1-I", _link),
    "shift start": ("shift", "crew T1", _crew_edit("T1", shift_start="09:00")),
    "shift end": ("shift", "crew I1", _crew_edit("I1", shift_end="13:30")),
    "crew kind": ("kind", "job O1-I", _crew_edit("I1", kind="repair_technician")),
    "duplicate job": ("", "R2", _duplicate),  # the loader already refuses it (exit 2)
    "missing job": ("accounting", "job X1", _missing),
    "dropped stop": ("accounting", "job P1", _dropped_stop),
}


def test_the_street_plan_file_is_valid(street):
    """Uncorrupted, the document reads back valid: every stated figure is the recomputed one."""
    assert _refusals(copy.deepcopy(street)) == []


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_corruption_fails_naming_the_job_or_crew(street, case):
    """Exactly one thing corrupted: refused, with the rule and the job or crew named."""
    rule, who, corrupt = CASES[case]
    doc = copy.deepcopy(street)
    corrupt(doc)
    refusals = _refusals(doc)
    assert refusals, f"{case}: the corrupted plan passed"
    tag = f"[{rule}] " if rule else ""
    assert any(line.startswith(tag) and who in line for line in refusals), refusals
    assert all(who in line for line in refusals), refusals  # nothing else is blamed


def test_duplicate_job_built_in_memory_is_caught_by_the_validator(street):
    """Past the loader (a plan built in code), a job both routed and unassigned is named."""
    plan = plan_from_dict(copy.deepcopy(street))
    plan.unassigned.append(Unassigned("R2", UnassignedReason.NO_CAPACITY_LEFT))
    assert any(v.rule == "accounting" and v.job_id == "R2" for v in validate_plan(plan))


def test_stated_figures_name_the_stated_and_recomputed_values(street):
    """A mismatch says what the file states and what the validator recomputed."""
    doc = copy.deepcopy(street)
    _break_length(doc)
    _slack(doc)
    lines = _refusals(doc)
    assert "[break] crew I1: stated lunch of 10 min, the crew's lunch rule gives 60 min" in lines
    slack = _stop(street, "O1-I")["slack_minutes"]
    assert any(f"stated slack {slack + 60} min, recomputed {slack} min" in x for x in lines)


def test_the_planned_plan_states_late_jobs(street):
    """The street plan's KPIs, read from validated figures, count R1 late."""
    assert plan_kpis(plan_from_dict(copy.deepcopy(street))).late_jobs == 1


# ---- the same on a solver-planned demo day (rush hours, several lunches)


def _late_stops(doc: Doc) -> list[Doc]:
    return [s for r in doc["routes"] for s in r["stops"] if s["slack_minutes"] < 0]


def test_the_demo_plan_file_is_valid(demo):
    assert _refusals(copy.deepcopy(demo)) == []


def test_moving_every_late_deadline_past_its_end_is_refused(demo, street):
    """Issue 17: every late stop's deadline moved past its end (slack in step) made the KPIs
    read 'late jobs 0' on a VALID plan; now each such stop is refused by name."""
    for base in (demo, street):
        doc = copy.deepcopy(base)
        late = _late_stops(doc)
        assert late, "the plan has no late stop to hide"
        for stop in late:
            stop["deadline"] = _iso(_at(stop["end"]) + timedelta(hours=1))
            stop["slack_minutes"] = 60
        lines = _refusals(doc)
        for stop in late:
            assert any(x.startswith("[deadline]") and stop["job_id"] in x for x in lines)


@pytest.mark.parametrize("case", ["slack", "break length", "distance", "drive time", "travel time"])
def test_demo_plan_corruptions_are_refused(demo, case):
    """On the demo day, the stated figures of the first crew with a lunch, corrupted one at
    a time, are refused naming that crew (or its stop)."""
    doc = copy.deepcopy(demo)
    route = next(r for r in doc["routes"] if r["lunch"] and len(r["stops"]) > 1)
    stop = route["stops"][1]
    if case == "slack":
        stop["slack_minutes"] += 1
    elif case == "break length":
        route["lunch"]["minutes"] = 10
    elif case == "distance":
        route["distance_m"] += 1
    elif case == "drive time":
        route["drive_s"] += 1
    else:
        _shift(stop, "arrival", -1)
    who = f"crew {route['crew_id']}"
    assert any(who in line for line in _refusals(doc))


# ---- `dispatch validate`


def test_dispatch_validate_prints_each_mismatch_and_exits_1(street, tmp_path, capsys):
    """The command lists every refusal with its rule, crew and job, and exits 1."""
    doc = copy.deepcopy(street)
    _deadline(doc)
    _break_length(doc)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID: 3 violation(s)")  # the stated slack is wrong too
    assert "[deadline] crew I1 job R1: stated deadline 2026-06-18T20:00" in out
    assert "[break] crew I1: stated lunch of 10 min" in out


def test_dispatch_validate_checks_the_kpis_file(tmp_path, capsys):
    """With --kpis, a kpis.json that does not match the validated plan's figures is refused
    naming the figure; the one the plan was written with passes."""
    plan = _street_plan()
    save_plan_json(plan, tmp_path / "plan.json")
    kpis = plan_kpis(plan).as_dict()
    (tmp_path / "kpis.json").write_text(json.dumps(kpis), encoding="utf-8")
    args = ["validate", str(tmp_path / "plan.json"), "--kpis", str(tmp_path / "kpis.json")]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("VALID")
    kpis["late_jobs"] = 0
    kpis["on_time_share_by_kind"]["repair"] = 1.0
    (tmp_path / "kpis.json").write_text(json.dumps(kpis), encoding="utf-8")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "[kpi] late_jobs: stated 0, recomputed 1" in out
    assert "[kpi] on_time_share_by_kind.repair: stated 1.0, recomputed 0.5" in out
