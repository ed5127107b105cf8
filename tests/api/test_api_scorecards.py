"""Crew scorecards through the service: `GET /crews/{crew_id}/scorecard`, `GET /scorecards`
and the own vs temporary summary of `GET /metrics/service`, on a small hand-built database
(the figures are worked out in `worked`'s doc; definitions: docs/service-metrics.md, "Crew
scorecards"), with roles, 404/422 answers, region binding and no personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.auth import issue_token
from api.settings import Settings
from api.storage.complaint_models import ComplaintRow
from api.storage.models import JobEventRow, JobRow
from api.storage.store import new_crew_row, new_job_row
from dispatch.models import CrewKind, JobKind, Priority
from tests.api_support import Clock
from tests.factories import crew, job

pytestmark = pytest.mark.api

JUNE = {"from": "2026-06-01", "to": "2026-06-14"}
#: personal data on every seeded job: none of it may reach an answer
NAME, PHONE, ADDRESS = "王小明", "13800138000", "浦东新区世纪大道 100 号"


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(t("06-20T10:00"))
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


def row(
    job_id: str,
    kind: JobKind,
    crew_id: str | None,
    received: str,
    done: str | None = None,
    *,
    region: str = "urban",
    visit: int = 1,
    priority: Priority = Priority.NORMAL,
    callback_of: str | None = None,
) -> JobRow:
    """A job row as the service stores it (personal data in its record), then worked."""
    confirmed = t(received)
    domain = job(
        job_id,
        1.0,
        kind=kind,
        confirmed_at=confirmed,
        region=region,
        priority=priority,
        customer_name=NAME,
        customer_phone=PHONE,
        address=ADDRESS,
    )
    r = new_job_row(domain, confirmed, callback_of=callback_of)
    r.due_date = confirmed.date()
    r.crew_id = crew_id
    r.visit = visit
    r.status = "completed" if done else ("assigned" if crew_id else "open")
    r.completed_at = t(done) if done else None
    return r


def event(r: JobRow, kind: str, visit: int, rating: str | None = None) -> JobEventRow:
    when = r.completed_at or t("06-14T12:00")
    return JobEventRow(
        idempotency_key=f"{r.id}-{visit}-{kind}",
        payload_hash="0" * 64,
        job_id=r.id,
        visit=visit,
        crew_id=r.crew_id or "",
        type=kind,
        device_time=when,
        received_at=when,
        note=f"signed by {NAME}",
        rating=rating,
    )


@pytest.fixture
def worked(client: TestClient, clock: Clock) -> TestClient:
    """Crews: OWN1 urban own installers, TMP1 urban temporary, RUR1 rural own, GONE urban
    retired (with one job in June), OLD urban retired with no work. Jobs (received -> done):

      J1 install OWN1 06-03 09:00 -> 06-04 08:00 (23 h kept; planning kept), good;
         its callback J1-CB1 (TMP1, received 06-15, open): J1 is called back
      J2 install OWN1 06-04 19:00 -> 06-05 20:00 (25 h missed; planning from 06-05 08:00:
         kept), fair
      J3 repair  OWN1 06-08 10:00 -> 06-09 11:00, visit 2 (visit 1 failed), good
      J4 repair  OWN1 06-10 09:00, priority complaint, assigned
      K1 install TMP1 06-10 09:00 -> 06-10 17:00 (8 h), poor
      R1 delivery RUR1 (rural, 24 h) 06-05 09:00 -> 06-05 20:00 (11 h), very poor
      G1 delivery GONE 06-06 09:00 -> 06-06 12:00, unrated

    OWN1 in 06-01..06-14: completed J1 J2 J3 = 3; good 2, fair 1 -> 2/3; callbacks per 100
    installations J1 of J1 J2 = 1/2 (50); per 100 jobs 1/3; first-time fix J2 of J1 J2 J3 =
    1/3; on time (customer) J1 of J1 J2 = 1/2, planning 2/2; complaint records 1 (06-10; the
    one of 05-20 is before the period), complaint jobs J4 = 1. Weeks: W23
    (06-01..06-07) J1 J2, W24 (06-08..06-14) J3.
    """
    ctx = client.app.state.ctx
    now = t("05-01T00:00")
    crews = [
        (crew("OWN1", CrewKind.INSTALLATION_CREW), False, "urban", True),
        (crew("TMP1", CrewKind.INSTALLATION_CREW), True, "urban", True),
        (crew("RUR1", CrewKind.DELIVERY_TRUCK), False, "rural", True),
        (crew("GONE", CrewKind.DELIVERY_TRUCK), False, "urban", False),
        (crew("OLD", CrewKind.DELIVERY_TRUCK), False, "urban", False),
    ]
    with ctx.sessions() as session, session.begin():
        for c, temporary, region, active in crews:
            r = new_crew_row(c, now, temporary=temporary, region=region)
            r.active = active
            session.add(r)
        rows = {
            r.id: r
            for r in [
                row("J1", JobKind.INSTALLATION, "OWN1", "06-03T09:00", "06-04T08:00"),
                row("J2", JobKind.INSTALLATION, "OWN1", "06-04T19:00", "06-05T20:00"),
                row("J3", JobKind.REPAIR, "OWN1", "06-08T10:00", "06-09T11:00", visit=2),
                row("J4", JobKind.REPAIR, "OWN1", "06-10T09:00", priority=Priority.COMPLAINT),
                row("K1", JobKind.INSTALLATION, "TMP1", "06-10T09:00", "06-10T17:00"),
                row("R1", JobKind.DELIVERY, "RUR1", "06-05T09:00", "06-05T20:00", region="rural"),
                row("G1", JobKind.DELIVERY, "GONE", "06-06T09:00", "06-06T12:00"),
            ]
        }
        session.add_all(rows.values())
        session.flush()
        session.add(row("J1-CB1", JobKind.REPAIR, "TMP1", "06-15T09:00", callback_of="J1"))
        session.add_all(
            [
                event(rows["J1"], "completed", 1, "good"),
                event(rows["J2"], "completed", 1, "fair"),
                event(rows["J3"], "failed", 1),
                event(rows["J3"], "completed", 2, "good"),
                event(rows["K1"], "completed", 1, "poor"),
                event(rows["R1"], "completed", 1, "very_poor"),
                event(rows["G1"], "completed", 1),
            ]
        )
        # a complaint record about OWN1 (its text never read), and one before the period
        for received in ("06-10T10:00", "05-20T10:00"):
            session.add(
                ComplaintRow(
                    job_id="J4", crew_id="OWN1", region="urban", channel="phone",
                    category="quality", text="private words", received_at=t(received),
                    answer_due_at=t(received), recorded_by="test",
                )
            )  # fmt: skip
    return client


def ratio(n: int, d: int, **extra: Any) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "value": n / d if d else None, **extra}


def get(client: TestClient, headers: dict[str, str], url: str, **params: Any) -> dict[str, Any]:
    r = client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def bound(settings: Settings, *regions: str) -> dict[str, str]:
    token = issue_token(settings, "d-bound", "dispatcher", regions=list(regions))
    return {"Authorization": f"Bearer {token}"}


def test_a_crew_scorecard_with_its_weeks(worked, auth):
    card = get(worked, auth("manager"), "/crews/OWN1/scorecard", **JUNE)
    assert card["period"] == {"from": "2026-06-01", "to": "2026-06-14"}
    assert (card["crew_id"], card["temporary"], card["region"]) == ("OWN1", False, "urban")
    f = card["figures"]
    assert f["jobs_completed"] == 3
    assert f["ratings"] == {
        "good": 2,
        "fair": 1,
        "poor": 0,
        "very_poor": 0,
        "unrated": 0,
        "share_good": ratio(2, 3),
    }
    assert f["callbacks_per_100_installations"] == ratio(1, 2, per_100=50.0)
    assert f["callbacks_per_100_jobs"]["per_100"] == pytest.approx(100 / 3)
    assert f["first_time_fix"] == ratio(1, 3)
    assert f["on_time"]["customer"] == ratio(1, 2, unfinished=0)
    assert f["on_time"]["planning"] == ratio(2, 2, unfinished=0)
    assert (f["complaints"], f["complaint_jobs"]) == (1, 1)
    assert f["meets_targets"]["callbacks_per_100_installations"] is False
    assert card["promise_clocks"]["customer"].startswith("customer's clock")
    assert card["targets"] == {"callback_rate_max": 0.04}
    w23, w24 = card["weeks"]
    assert (w23["week"], w23["from"], w23["to"]) == ("2026-W23", "2026-06-01", "2026-06-07")
    assert w23["figures"]["jobs_completed"] == 2 and w24["figures"]["jobs_completed"] == 1
    assert w24["figures"]["first_time_fix"] == ratio(0, 1)  # J3 took two visits


def test_the_default_period_is_the_last_28_days(worked, auth):
    card = get(worked, auth("manager"), "/crews/TMP1/scorecard")
    assert card["period"] == {"from": "2026-05-24", "to": "2026-06-20"}  # today 06-20
    assert [w["week"] for w in card["weeks"]] == [f"2026-W{n}" for n in range(21, 26)]
    only_to = get(worked, auth("manager"), "/crews/TMP1/scorecard", to="2026-06-10")
    assert only_to["period"] == {"from": "2026-05-14", "to": "2026-06-10"}
    f = card["figures"]
    assert f["jobs_completed"] == 1 and f["ratings"]["poor"] == 1
    assert f["first_time_fix"] == ratio(1, 1)


def test_the_list_sorted_and_grouped(worked, auth):
    answer = get(worked, auth("manager"), "/scorecards", **JUNE, sort="callback_rate", order="desc")
    assert (answer["group"], answer["sort"], answer["order"]) == ("crew", "callback_rate", "desc")
    # OLD is retired with no work: not listed; GONE is retired but worked in June
    ids = [c["crew_id"] for c in answer["items"]]
    assert ids == ["OWN1", "TMP1", "GONE", "RUR1"]  # 1/2, 0/1, then no installations by id
    assert "weeks" not in answer["items"][0]
    assert "filters" not in answer

    by_rating = get(worked, auth("planner"), "/scorecards", **JUNE, sort="rating")
    assert [c["crew_id"] for c in by_rating["items"]] == ["RUR1", "TMP1", "OWN1", "GONE"]

    groups = get(worked, auth("admin"), "/scorecards", **JUNE, group="own_temporary", weeks=True)
    own, temporary = groups["items"]
    assert (own["group"], own["crews"], temporary["group"], temporary["crews"]) == (
        "own",
        3,
        "temporary",
        1,
    )
    assert own["figures"]["jobs_completed"] == 5  # J1 J2 J3 R1 G1
    assert own["figures"]["ratings"]["share_good"] == ratio(2, 4)  # G1 unrated
    assert temporary["figures"]["callbacks_per_100_installations"] == ratio(0, 1, per_100=0.0)
    assert len(own["weeks"]) == 2


def test_the_service_metrics_compare_own_and_temporary_crews(worked, auth):
    m = get(worked, auth("manager"), "/metrics/service", **JUNE)
    summary = m["crews_own_temporary"]
    assert summary["own"]["jobs_completed"] == 5
    assert summary["own"]["callback_rate"] == ratio(1, 5, per_100=20.0)
    assert summary["own"]["share_good"] == ratio(2, 4)
    assert summary["temporary"]["callback_rate"] == ratio(0, 1, per_100=0.0)
    assert summary["temporary"]["share_good"] == ratio(0, 1)
    assert summary["temporary"]["meets_targets"] == {"callback_rate": True}
    assert m["callback_rate"] == ratio(1, 6)  # unchanged: the summary is beside it

    rural = get(worked, auth("manager"), "/metrics/service", **JUNE, region="rural")
    assert rural["crews_own_temporary"]["own"]["jobs_completed"] == 1  # R1 only
    assert rural["crews_own_temporary"]["temporary"]["jobs_completed"] == 0


def test_roles(worked, auth):
    for role in ("manager", "planner", "dispatcher", "admin"):
        r = worked.get("/crews/OWN1/scorecard", params=JUNE, headers=auth(role))
        assert r.status_code == 200, role
        assert worked.get("/scorecards", params=JUNE, headers=auth(role)).status_code == 200
    for url in ("/crews/OWN1/scorecard", "/scorecards"):
        assert worked.get(url, params=JUNE, headers=auth("driver", "OWN1")).status_code == 403
        assert worked.get(url, params=JUNE, headers=auth("call_centre")).status_code == 403
        assert worked.get(url, params=JUNE).status_code == 401


def test_errors_name_the_crew_or_the_field(worked, auth):
    headers = auth("manager")
    missing = worked.get("/crews/NOPE/scorecard", params=JUNE, headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "'NOPE'" in missing.json()["detail"]

    def field(url: str, **params: str) -> str:
        r = worked.get(url, params=params, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        return r.json()["errors"][0]["field"]

    for url in ("/crews/OWN1/scorecard", "/scorecards"):
        assert field(url, **{"from": "2026-06-10", "to": "2026-06-01"}) == "from"
        assert field(url, **{"from": "2026-06-30"}) == "from"  # after today, the default end
        assert field(url, **{"from": "2025-01-01", "to": "2026-01-02"}) == "from"  # 367 days
        assert field(url, to="2026-13-01") == "query.to"  # FastAPI's own
    assert field("/scorecards", sort="fastest") == "query.sort"
    assert field("/scorecards", group="zone") == "query.group"
    assert field("/scorecards", order="up") == "query.order"
    assert field("/scorecards", region="moon") == "region"


def test_a_region_bound_dispatcher_sees_his_crews_only(worked, auth, settings):
    rural = bound(settings, "rural")
    answer = get(worked, rural, "/scorecards", **JUNE)
    assert [c["crew_id"] for c in answer["items"]] == ["RUR1"]
    assert answer["filters"] == {"regions": ["rural"]}
    assert get(worked, rural, "/crews/RUR1/scorecard", **JUNE)["figures"]["jobs_completed"] == 1
    assert worked.get("/crews/OWN1/scorecard", params=JUNE, headers=rural).status_code == 403
    assert (
        worked.get("/scorecards", params=JUNE | {"region": "urban"}, headers=rural).status_code
        == 403
    )
    urban = get(worked, auth("manager"), "/scorecards", **JUNE, region="urban")
    assert [c["crew_id"] for c in urban["items"]] == ["GONE", "OWN1", "TMP1"]


def test_no_personal_data_in_any_answer(worked, auth):
    for url, params in (
        ("/crews/OWN1/scorecard", JUNE),
        ("/scorecards", JUNE | {"weeks": "true"}),
        ("/scorecards", JUNE | {"group": "own_temporary"}),
        ("/metrics/service", JUNE),
    ):
        text = worked.get(url, params=params, headers=auth("dispatcher")).text
        for personal in (NAME, PHONE, ADDRESS, "signed by"):
            assert personal not in text, (url, personal)
        assert '"J1"' not in text  # figures only, no job ids either
    assert (
        date(2026, 6, 14).isoformat()
        in worked.get("/scorecards", params=JUNE, headers=auth("manager")).text
    )


def test_the_quality_page_is_served_with_the_strict_policy(client):
    page = client.get("/quality")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # modules from /static only
    for name in ("quality.js", "quality-table.js", "quality-chart.js", "quality-strings.js"):
        assert client.get(f"/static/js/{name}").status_code == 200
    assert client.get("/static/quality.css").status_code == 200
