"""Customer notices from the day's reports (issue 21 §3), end to end through the loopback
gateway, on a clock the test moves: the crew sets out (on the way, with its tracking link),
completes its first stop three hours late (done, with the follow-up call announced), and the
later stops whose predicted start falls more than 15 minutes past their booked window are
told they will be late, once; every text in Chinese, the service's default. The gateway
refuses the first send; the retry delivers it. No phone or text in the logs."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.background.notice_sender import LoopbackNoticeSender, deliver_due_notices
from api.http.app import create_app
from api.services.seed import seed_demo
from api.settings import Settings
from api.storage.models import CustomerNoticeRow, JobRow, PlanRow
from dispatch.files.plan_io import plan_to_dict
from dispatch.planning.planner import PlanOptions, make_plan
from fixtures.shanghai import demo_problem
from tests.api_support import DEMO_DAY, Clock, bearer

pytestmark = pytest.mark.api


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(datetime.combine(DEMO_DAY, time(7, 0)))
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


def report(client, settings, job_id: str, kind: str, at: datetime, code: int = 201) -> None:
    r = client.post(
        f"/jobs/{job_id}/events",
        json={"type": kind, "device_time": at.isoformat()},
        headers={**bearer(settings, "admin"), "Idempotency-Key": f"{job_id}:{kind}"},
    )
    assert r.status_code == code, r.text


def test_reports_tell_customers_and_the_loopback_gateway_takes_it(settings, clock, caplog):
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        seed_demo(ctx.sessions, clock.now, day=DEMO_DAY, jobs=30)
        plan = make_plan(demo_problem(day=DEMO_DAY, jobs=30), PlanOptions(5, solution_limit=30))
        busiest = max(plan.routes, key=lambda r: len(r.stops))
        assert len(busiest.stops) >= 3
        plan_id = str(uuid.uuid4())
        with ctx.sessions() as session, session.begin():
            session.add(
                PlanRow(
                    id=plan_id, region="urban", day=DEMO_DAY, zones=[], status="succeeded",
                    progress=1.0, message="done", options={}, result=plan_to_dict(plan),
                    created_by="test", created_at=clock.now, finished_at=clock.now,
                )
            )  # fmt: skip
        r = client.post(f"/plans/{plan_id}/publish", json={"version": 1},
                        headers=bearer(settings, "admin"))  # fmt: skip
        assert r.status_code == 200, r.text
        first, *later = busiest.stops
        with ctx.sessions() as session:
            eta = session.scalars(
                select(CustomerNoticeRow).where(CustomerNoticeRow.job_id == first.job_id)
            ).one()
        assert eta.kind == "eta" and eta.message.startswith("师傅预计")

        clock.now = busiest.depart
        report(client, settings, first.job_id, "departed", busiest.depart)
        late_end = first.end + timedelta(hours=3)
        clock.now = late_end
        report(client, settings, first.job_id, "completed", late_end)
        report(client, settings, first.job_id, "completed", late_end, 200)  # a retry: no notice

        with ctx.sessions() as session:
            rows = session.scalars(select(CustomerNoticeRow).order_by(CustomerNoticeRow.id)).all()
            windows = {j.id: j.record["windows"] for j in session.scalars(select(JobRow))}
        by_kind: dict[str, list[CustomerNoticeRow]] = {}
        for n in rows:
            by_kind.setdefault(n.kind, []).append(n)
        (departed,) = by_kind["departed"]
        assert departed.job_id == first.job_id and departed.message.startswith("师傅已出发")
        assert "查看进度：/track/" in departed.message
        (done,) = by_kind["done"]
        assert done.job_id == first.job_id and "回访" in done.message
        told = {n.job_id: n for n in by_kind.get("running_late", [])}
        assert told, "a three-hour overrun makes some later stop late"
        for stop in later:
            window_end = max(datetime.fromisoformat(w["end"]) for w in windows[stop.job_id])
            if stop.job_id in told:
                assert told[stop.job_id].eta > window_end + timedelta(minutes=15)
                assert "晚于您预约的时段" in told[stop.job_id].message

        sender = LoopbackNoticeSender(fail=1)
        pending = [n for n in rows if n.status == "pending"]
        assert deliver_due_notices(ctx, sender, clock.now) == 1  # refused: the pass stops
        clock.move(minutes=10)
        deliver_due_notices(ctx, sender, clock.now)
        sent = {n.id for n in sender.delivered}
        assert sent == {n.id for n in pending}
        with ctx.sessions() as session:
            statuses = {
                n.status
                for n in session.scalars(
                    select(CustomerNoticeRow).where(CustomerNoticeRow.id.in_(sent))
                )
            }
        assert statuses == {"sent"}
    for n in rows:
        assert n.phone not in caplog.text and n.message not in caplog.text


def test_the_delay_carries_along_the_route_less_the_waiting():
    """By hand: stop 1 planned 09:00-10:00; stop 2 arrives 10:20, waits for its 11:00 window,
    works to 12:00; stop 3 arrives 12:15, works to 13:00. Stop 1 ending at 11:00 (an hour
    late): stop 2 arrives 11:20 and starts then (20 of the 40 minutes' wait absorbed the rest),
    ends 12:20; stop 3 starts 12:35, 20 minutes late."""
    from api.services.event_notices import Leg, predicted_starts

    def t(hh: int, mm: int = 0) -> datetime:
        return datetime.combine(DEMO_DAY, time(hh, mm))

    legs = [
        Leg("S1", t(9), t(9), t(10), t(8, 40)),
        Leg("S2", t(10, 20), t(11), t(12), t(10)),
        Leg("S3", t(12, 15), t(12, 15), t(13), t(12)),
    ]
    assert predicted_starts(legs, 0, t(11)) == {"S2": t(11, 20), "S3": t(12, 35)}
    assert predicted_starts(legs, 0, t(10, 30)) == {"S2": t(11), "S3": t(12, 15)}  # absorbed


def test_texts_in_both_languages():
    from api.services.notice_texts import notice_text

    eta = datetime.combine(DEMO_DAY, time(14, 0))
    on_the_way = "师傅已出发，预计14:00左右到达（13:30至14:30之间）。"
    assert notice_text("departed", eta, 30, "zh") == on_the_way
    assert notice_text("done", eta, 30, "en", work="installation").startswith(
        "Your installation is done."
    )
    assert "安装服务已完成" in notice_text("done", eta, 30, "zh", work="installation")
    with pytest.raises(ValueError, match="unknown notice language"):
        notice_text("eta", eta, 30, "fr")
