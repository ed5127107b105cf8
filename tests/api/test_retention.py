"""Retention (`api.services.retention`, `dispatch retention`): customer data of finished jobs
anonymised after the period, everywhere it is stored; figures unchanged; idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import MetaData, create_engine, select, update

from api.services.retention import apply_retention
from api.settings import Settings
from api.storage.models import JobRow, PlanRow
from api.storage.upload_store import upload_folder
from dispatch.files.plan_io import plan_from_dict
from dispatch.privacy import PERSONAL_FIELDS, coarse
from tests.api_support import DEMO_DAY, TEST_SECRET, publish_demo_plan

AFTER_THE_DAY = DEMO_DAY + timedelta(days=1)
#: the first bytes of a PNG and a JPEG (uploads are judged by them)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def _dump(client) -> dict[str, list[str]]:
    """Every row of every table as JSON text (decoded JSON columns, so non-ASCII shows)."""
    engine = client.app.state.ctx.engine
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            rows = conn.execute(select(table)).mappings().all()
            out[table.name] = sorted(
                json.dumps(dict(r), default=str, ensure_ascii=False, sort_keys=True) for r in rows
            )
    return out


def _upload(client, headers, job_id: str, kind: str, data: bytes) -> str:
    """Upload a photo or signature for the job; its id."""
    r = client.post(
        "/uploads",
        files={"file": (f"{kind}.img", data, "application/octet-stream")},
        data={"job_id": job_id, "kind": kind},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _post_event(client, headers, job_id: str, kind: str, at: datetime, **extra: Any) -> None:
    r = client.post(
        f"/jobs/{job_id}/events",
        json={"type": kind, "device_time": at.isoformat(), **extra},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def worked_day(seeded, settings, auth):
    """The demo day published and worked: jobs completed with notes, signatures, photos
    (uploaded files) and positions; one cancelled; a follow-up call with a problem; a stored
    re-plan whose day state carries a finished job; the rest assigned or open."""
    client = seeded
    plan_id = publish_demo_plan(client, settings)
    office = auth("dispatcher")
    with client.app.state.ctx.sessions() as session:
        plan = plan_from_dict(session.get(PlanRow, plan_id).result)
        records = {j.id: j.record for j in session.scalars(select(JobRow))}
    stops = [s for r in sorted(plan.routes, key=lambda r: r.crew_id) for s in r.stops]
    assert len(stops) >= 6
    done = [s.job_id for s in stops[:4]]
    for s in stops[:4]:
        rec = records[s.job_id]
        _post_event(
            client, office, s.job_id, "arrived", s.arrival,
            lon=rec["lon"], lat=rec["lat"], note="at the door",
        )  # fmt: skip
        signature = _upload(client, office, s.job_id, "signature", PNG)
        photo = _upload(client, office, s.job_id, "photo", JPEG)
        _post_event(
            client, office, s.job_id, "completed", s.end,
            lon=rec["lon"], lat=rec["lat"], note=f"{rec['customer_name']} asked for a call",
            signature_ref=signature, photo_refs=[photo],
        )  # fmt: skip
    cancelled = stops[4].job_id
    r = client.post(
        f"/jobs/{cancelled}/cancel",
        json={"reason": f"{records[cancelled]['customer_name']} moved away"},
        headers=office,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/jobs/{done[0]}/follow-ups",
        json={
            "reached": True, "satisfied": False, "problem_reported": True,
            "problem": f"door scratched, call {records[done[0]]['customer_phone']}",
        },
        headers=auth("manager"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    with client.app.state.ctx.sessions() as session, session.begin():
        parent = session.get(PlanRow, plan_id)
        session.add(
            PlanRow(
                id=str(uuid.uuid4()), region="urban", day=DEMO_DAY, zones=[],
                status="succeeded", kind="replan", parent_id=plan_id, options={},
                result=parent.result, kpis=parent.kpis, created_by="test",
                created_at=settings.now(),
                day_state={"at": f"{DEMO_DAY}T12:00:00", "new_jobs": [records[done[1]]]},
            )
        )  # fmt: skip
    kept = [s.job_id for s in stops[5:]]
    return client, plan_id, [*done, cancelled], kept, records


def _statuses(client) -> dict[str, str]:
    with client.app.state.ctx.sessions() as session:
        return {j.id: j.status for j in session.scalars(select(JobRow))}


def test_retention_anonymises_everywhere_and_keeps_the_figures(worked_day, settings, auth):
    client, plan_id, finished, kept, records = worked_day
    sessions = client.app.state.ctx.sessions
    open_jobs = [i for i, s in _statuses(client).items() if s == "open"]
    untouched = kept + open_jobs
    metrics_before = client.get("/metrics/service", params=JUNE, headers=auth("manager")).json()
    statuses_before = _statuses(client)

    # nothing is due when the cutoff is the day itself
    assert apply_retention(sessions, DEMO_DAY, settings.now()).total == 0

    before = _dump(client)
    folder = upload_folder(settings)
    assert folder is not None
    files = sorted(p.name for p in folder.rglob("*") if p.is_file())
    uploads = {r.split('"id": "')[1][:32] for r in before["uploads"]}
    assert len(files) == 8 and set(files) == uploads
    dry = apply_retention(sessions, AFTER_THE_DAY, settings.now(), dry_run=True, upload_dir=folder)
    assert _dump(client) == before, "a dry run changed the database"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == files
    assert dry.jobs_in_scope == len(finished)
    assert dry.changed["jobs"] == len(finished)
    assert dry.changed["job_events"] == 8 and dry.changed["follow_up_calls"] == 1
    assert dry.changed["customer_notices"] >= 4 and dry.changed["plans"] == 2
    assert dry.changed["uploads"] == 8

    real = apply_retention(sessions, AFTER_THE_DAY, settings.now(), batch_size=2, upload_dir=folder)
    assert real.changed == dry.changed and real.jobs_in_scope == dry.jobs_in_scope

    # no personal value of a finished job is left anywhere (values shared with a job that is
    # kept do not count), nor the exact coordinates of its door
    kept_values = {str(records[j][f]) for j in untouched for f in PERSONAL_FIELDS}
    gone = {str(records[j][f]) for j in finished for f in PERSONAL_FIELDS} - kept_values
    gone.discard("")
    assert gone
    words = ("asked for a call", "moved away", "door scratched", *uploads)
    was = "\n".join(line for rows in before.values() for line in rows)
    assert all(value in was for value in gone) and all(word in was for word in words)
    text = "\n".join(line for rows in _dump(client).values() for line in rows)
    assert not [value for value in gone if value in text]
    # the photos and signatures are gone, files and rows
    assert not [p for p in folder.rglob("*") if p.is_file()] and _dump(client)["uploads"] == []
    for word in words:
        assert word not in text, word
    with sessions() as session:
        for job_id in finished:
            record = session.get(JobRow, job_id).record
            assert all(record[f] == "" for f in PERSONAL_FIELDS)
            assert record["lon"] == coarse(records[job_id]["lon"])
            assert record["id"] == job_id and record["zone"] == records[job_id]["zone"]
        # jobs still on the route or open are untouched
        for job_id in untouched:
            assert session.get(JobRow, job_id).record == records[job_id]
    assert _statuses(client) == statuses_before
    metrics_after = client.get("/metrics/service", params=JUNE, headers=auth("manager")).json()
    assert metrics_after == metrics_before
    board = client.get(f"/plans/{plan_id}/board", headers=auth("dispatcher"))
    assert board.status_code == 200, board.text

    # idempotent: a second run changes nothing, not even the audit log
    after = _dump(client)
    again = apply_retention(sessions, AFTER_THE_DAY, settings.now(), upload_dir=folder)
    assert again.total == 0 and again.jobs_in_scope == len(finished)
    assert _dump(client) == after
    entries = [r for r in after["audit_log"] if "retention_applied" in r]
    assert len(entries) == 1 and '"jobs": 5' in entries[0]


def test_the_period_outlasts_the_repair_guarantee(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert Settings(database_url=url).retention_days == 365
    assert Settings(database_url=url, retention_days=200).retention_days == 200
    with pytest.raises(ValidationError, match="retention_days"):
        Settings(database_url=url, retention_days=199)
    with pytest.raises(ValidationError, match="must be at least 270"):
        Settings(database_url=url, repair_guarantee_days=250, retention_days=260)


# ---- the command, in real processes


def _dispatch(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL"
        and not (k.startswith("FIELDROUTE_") and not k.startswith("FIELDROUTE_TEST_"))
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp / 'fieldroute.db'}",
        "FIELDROUTE_SECRET_KEY": TEST_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def _rows_changed(out: str, table: str) -> int:
    line = next(x for x in out.splitlines() if x.split() and x.split()[0] == table)
    return int(line.split()[1])


def test_dispatch_retention_command(tmp_path: Path) -> None:
    seeded = _dispatch(tmp_path, "seed", "--fixture", "shanghai", "--jobs", "5")
    assert seeded.returncode == 0, seeded.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'fieldroute.db'}")
    with engine.begin() as conn:
        day = conn.execute(select(JobRow.due_date)).scalars().first()
        conn.execute(update(JobRow).values(status="completed"))
    before = (day + timedelta(days=1)).isoformat()

    # a cutoff inside the shortest allowed period needs --force
    today = date.today().isoformat()
    refused = _dispatch(tmp_path, "retention", "--before", today)
    assert refused.returncode == 2 and "--force" in refused.stderr

    dry = _dispatch(tmp_path, "retention", "--dry-run", "--before", before, "--force")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and _rows_changed(dry.stdout, "jobs") == 5
    with engine.connect() as conn:
        names = conn.execute(select(JobRow.record)).scalars().all()
    assert all(r["customer_name"] for r in names), "the dry run changed jobs"

    done = _dispatch(tmp_path, "retention", "--before", before, "--force")
    assert done.returncode == 0, done.stderr
    assert _rows_changed(done.stdout, "jobs") == 5
    with engine.connect() as conn:
        records = conn.execute(select(JobRow.record)).scalars().all()
    assert all(r["customer_name"] == "" and r["customer_phone"] == "" for r in records)
    again = _dispatch(tmp_path, "retention", "--before", before, "--force")
    assert again.returncode == 0 and _rows_changed(again.stdout, "jobs") == 0
    # the configured period (365 days): nothing left to change either way
    default = _dispatch(tmp_path, "retention")
    assert default.returncode == 0 and _rows_changed(default.stdout, "jobs") == 0
    engine.dispose()
