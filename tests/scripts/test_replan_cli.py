"""`dispatch replan` on files: a saved plan (hand-made on the test street) re-planned with a
sick crew, a job done, an overrun and a new job, as a real subprocess writing plan, diff and
explanations; bad flags and files exit 2 naming the flag or record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.files.importers import write_jobs_csv
from dispatch.files.plan_io import load_plan_json, save_plan_json
from dispatch.plan_validator import validate_plan
from scripts.cli import main
from tests.factories import crew, job, planned, problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-crew day: C1 does J1..J3 east of the depot, C2 does J4."""
    p = problem(
        [job("J1", 2), job("J2", 4), job("J3", 6), job("J4", 3)],
        [crew("C1"), crew("C2")],
    )
    path = tmp_path_factory.mktemp("replan") / "plan.json"
    save_plan_json(planned(p, {"C1": ["J1", "J2", "J3"], "C2": ["J4"]}), path)
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "replan", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_replan_a_saved_plan_writes_plan_diff_and_explanations(saved, tmp_path):
    new_jobs = tmp_path / "new.csv"
    write_jobs_csv([job("J9", 5, window=(10, 17))], new_jobs)
    events = tmp_path / "events.csv"
    events.write_text("job_id,type,time\nJ4,started,08:05\n", encoding="utf-8")
    out = tmp_path / "out"
    done = run(
        saved, "--at", "09:00", "--done", "J1", "--sick", "C1@09:00", "--events", events,
        "--overrun", "J4=09:30", "--new-jobs", new_jobs, "--tolerance", "30",
        "--time-limit", "3", "--solution-limit", "20", "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {"plan.json", "diff.json", "explanations.json"}
    plan = load_plan_json(out / "plan.json")
    assert validate_plan(plan) == []
    routes = {r.crew_id: [s.job_id for s in r.stops] for r in plan.routes}
    assert routes["C1"] == ["J1"]  # done stays; the rest is handed over
    diff = json.loads((out / "diff.json").read_text(encoding="utf-8"))
    moved = {m["job_id"]: (m["from_crew"], m["to_crew"]) for m in diff["moved"]}
    assert moved["J2"][0] == "C1" and moved["J3"][0] == "C1"
    assert diff["added"] == ["J9"]
    assert diff["counts"]["moved"] == len(diff["moved"]) >= 2
    explained = json.loads((out / "explanations.json").read_text(encoding="utf-8"))
    assert set(explained) == {"jobs", "zones"}
    unassigned = {u.job_id for u in plan.unassigned}
    assert {e["job_id"] for e in explained["jobs"] if e["status"] == "unassigned"} == unassigned
    assert "moved" in done.stdout and "crew(s) changed" in done.stdout
    assert "written:" in done.stdout


def test_bad_flags_exit_2_naming_them(saved, tmp_path, capsys):
    out = tmp_path / "out"
    r = run(saved, "--at", "08:30", "--bogus", "1", "--out", out)
    assert r.returncode == 2 and "--bogus" in r.stderr
    for args, flag in (
        (["--at", "25:00"], "--at"),
        (["--at", "08:30", "--sick", "C1"], "--sick"),
        (["--at", "08:30", "--sick", "NOPE@09:00"], "--sick"),
        (["--at", "08:30", "--overrun", "J9=10:00"], "--overrun"),
        (["--at", "08:30", "--done", "J9"], "--done"),
        (["--at", "08:30", "--tolerance", "0"], "--tolerance"),
        (["--at", "2026-06-18T08:30+08:00"], "--at"),
    ):
        code = main(["replan", str(saved), *args, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and flag in err, (args, err)
    assert not out.exists()  # nothing written for bad input


def test_events_file_and_at_before_the_last_event(saved, tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text(
        "job_id,type,time\nJ1,arrived,08:05\nJ1,completed,08:40\nJ4,started,08:45\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = main(["replan", str(saved), "--at", "08:30", "--events", str(events), "--out", str(out)])
    assert code == 2 and "--at" in capsys.readouterr().err
    events.write_text("job_id,type,time\nJ1,landed,08:05\n", encoding="utf-8")
    code = main(["replan", str(saved), "--at", "09:00", "--events", str(events), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "type" in err
    code = main(["replan", str(tmp_path / "missing.json"), "--at", "09:00", "--out", str(out)])
    assert code == 2


def test_without_events_the_day_went_as_planned(saved, tmp_path):
    """No --events and no --done: what ended by --at is done, so an unchanged day re-plans to
    an empty diff (nothing moves, nobody is told anything)."""
    out = tmp_path / "out"
    done = run(saved, "--at", "12:00", "--solution-limit", "20", "--out", out)
    assert done.returncode == 0, done.stderr
    diff = json.loads((out / "diff.json").read_text(encoding="utf-8"))
    assert diff["moved"] == [] and diff["eta_changes"] == [] and diff["newly_unassigned"] == []
