"""Photos and signatures from the road: types judged by content (a renamed executable refused),
the size limit, files stored under their id with mode 0600, idempotent retries, who may
upload and read, the headers a read carries, event references checked against the job's
uploads, and retention deleting files and rows."""

from __future__ import annotations

import hashlib
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from api.http.auth import issue_token
from api.services.retention import apply_retention
from api.settings import Settings
from api.storage.driver_models import UploadRow
from api.storage.models import JobRow
from api.storage.upload_store import upload_folder
from tests.api_support import DEMO_DAY, publish_demo_plan

pytestmark = pytest.mark.api

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300)
WEBP = b"RIFF\x24\x01\x00\x00WEBPVP8 " + bytes(300)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(500)
NOT_AN_IMAGE = "not a JPEG, PNG or WebP image (checked by its content)"


@pytest.fixture
def published(seeded, settings):
    """The seeded day with its plan published: jobs are `assigned` to crews."""
    publish_demo_plan(seeded, settings)
    return seeded


def _jobs_of_two_crews(client) -> tuple[tuple[str, str], tuple[str, str]]:
    """(job, crew) of an assigned job, and of one assigned to another crew."""
    with client.app.state.ctx.sessions() as session:
        rows = session.execute(
            select(JobRow.id, JobRow.crew_id).where(JobRow.crew_id.is_not(None)).order_by(JobRow.id)
        ).all()
    first = rows[0]
    second = next(r for r in rows if r.crew_id != first.crew_id)
    return (first.id, first.crew_id), (second.id, second.crew_id)


def upload(client, headers, job_id: str, data: bytes, kind: str = "photo", **kw):
    name, declared = kw.pop("name", "photo.jpg"), kw.pop("declared", "image/jpeg")
    key = kw.pop("key", None)
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        "/uploads",
        files={"file": (name, data, declared)},
        data={"job_id": job_id, "kind": kind},
        headers={**headers, **extra},
    )


def _count(client) -> int:
    with client.app.state.ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(UploadRow)) or 0


def _files(settings: Settings) -> list[Path]:
    folder = upload_folder(settings)
    assert folder is not None
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_images_are_judged_by_their_content_and_stored_under_their_id(published, auth, settings):
    (job, crew), _ = _jobs_of_two_crews(published)
    driver = auth("driver", crew)
    answers = {}
    for data, media in ((JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp")):
        # the name and the declared type say JPEG every time: only the bytes count
        r = upload(published, driver, job, data, name="IMG_0001.jpg", declared="image/jpeg")
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"id", "job_id", "kind", "media_type", "bytes", "sha256", "created_at"}
        assert body["media_type"] == media and body["bytes"] == len(data)
        assert body["job_id"] == job and body["kind"] == "photo"
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
        answers[body["id"]] = (data, media)

    files = _files(settings)
    assert sorted(p.name for p in files) == sorted(answers)  # named by id, never "IMG_0001.jpg"
    folder = upload_folder(settings)
    assert folder is not None and stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes() == answers[path.name][0]

    for upload_id, (data, media) in answers.items():
        r = published.get(f"/uploads/{upload_id}", headers=driver)
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == media
        assert r.headers["cache-control"] == "private, max-age=86400"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-disposition"] == "inline"
        assert published.get(f"/uploads/{upload_id}", headers=auth("admin")).content == data

    listed = published.get(f"/jobs/{job}/uploads", params={"limit": 2}, headers=driver).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    rest = published.get(f"/jobs/{job}/uploads", params={"offset": 2}, headers=driver).json()
    assert {i["id"] for i in listed["items"] + rest["items"]} == set(answers)


def test_a_renamed_executable_is_refused(published, auth, settings):
    (job, crew), _ = _jobs_of_two_crews(published)
    for data in (ELF, b"GIF89a" + bytes(100), b"RIFF\x00\x00\x00\x00WAVE" + bytes(50)):
        r = upload(published, auth("driver", crew), job, data, name="photo.jpg")
        assert r.status_code == 422, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert NOT_AN_IMAGE in problem["detail"]
        assert [e["field"] for e in problem["errors"]] == ["file"]
    empty = upload(published, auth("driver", crew), job, b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "file"
    assert _count(published) == 0 and _files(settings) == []


def test_a_file_over_the_limit_is_413_saying_the_limit(published, auth, settings):
    (job, crew), _ = _jobs_of_two_crews(published)
    six_mb = JPEG + bytes(6 * 1024 * 1024 - len(JPEG))
    r = upload(published, auth("driver", crew), job, six_mb)
    assert r.status_code == 413, r.text
    assert r.json()["type"] == "/problems/too-large"
    assert "larger than the limit of 5 MB" in r.json()["detail"]
    exactly = JPEG + bytes(settings.upload_max_bytes - len(JPEG))
    assert upload(published, auth("driver", crew), job, exactly).status_code == 201
    assert _count(published) == 1


def test_a_retry_with_the_same_key_returns_the_first_upload(published, auth, settings):
    (job, crew), (other_job, other_crew) = _jobs_of_two_crews(published)
    key = str(uuid.uuid4())
    first = upload(published, auth("driver", crew), job, JPEG, key=key)
    assert first.status_code == 201, first.text
    # the same crew, from another phone (another token), sends it again
    phone = {"Authorization": f"Bearer {issue_token(settings, 'crew:' + crew, 'driver', crew)}"}
    again = upload(published, phone, job, JPEG, key=key)
    assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
    assert again.json() == first.json()
    assert _count(published) == 1 and len(_files(settings)) == 1
    # the same key with another file is a client bug
    other = upload(published, auth("driver", crew), job, PNG, key=key)
    assert other.status_code == 422 and other.json()["type"] == "/problems/rule-violation"
    # keys are per crew: another crew's upload with the same key is its own
    theirs = upload(published, auth("driver", other_crew), other_job, JPEG, key=key)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert _count(published) == 2


def test_drivers_see_and_upload_for_their_own_crew_only(published, auth, settings):
    (job, crew), (other_job, other_crew) = _jobs_of_two_crews(published)
    mine = upload(published, auth("driver", crew), job, JPEG).json()["id"]
    theirs = upload(published, auth("driver", other_crew), other_job, PNG).json()["id"]
    me = auth("driver", crew)
    refused = upload(published, me, other_job, JPEG)
    assert refused.status_code == 403 and "own crew" in refused.json()["detail"]
    assert published.get(f"/uploads/{theirs}", headers=me).status_code == 403
    assert published.get(f"/jobs/{other_job}/uploads", headers=me).status_code == 403
    assert published.get(f"/uploads/{mine}", headers=me).status_code == 200
    for role in ("planner", "manager"):
        assert published.get(f"/uploads/{mine}", headers=auth(role)).status_code == 403
        assert upload(published, auth(role), job, JPEG).status_code == 403
    rural = {
        "Authorization": f"Bearer {issue_token(settings, 'r', 'dispatcher', regions=['rural'])}"
    }
    assert published.get(f"/uploads/{mine}", headers=rural).status_code == 403
    assert upload(published, rural, job, JPEG).status_code == 403
    office = auth("dispatcher")
    assert published.get(f"/uploads/{theirs}", headers=office).status_code == 200
    assert upload(published, office, job, WEBP, kind="signature").status_code == 201
    assert published.get(f"/uploads/{'0' * 32}", headers=office).status_code == 404
    assert published.get("/jobs/NO-SUCH-JOB/uploads", headers=office).status_code == 404
    unknown = upload(published, office, "NO-SUCH-JOB", JPEG)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "job_id"
    bad_kind = upload(published, office, job, JPEG, kind="video")
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"
    # a job moved to another crew: the crew that uploaded still sees its own upload
    with published.app.state.ctx.sessions() as session, session.begin():
        session.execute(update(JobRow).where(JobRow.id == job).values(crew_id=other_crew))
    assert published.get(f"/uploads/{mine}", headers=me).status_code == 200
    assert published.get(f"/uploads/{mine}", headers=auth("driver", other_crew)).status_code == 200


def _event(client, headers, job_id: str, **refs):
    body = {"type": "departed", "device_time": f"{DEMO_DAY}T08:10", **refs}
    return client.post(
        f"/jobs/{job_id}/events",
        json=body,
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )


def test_event_refs_must_be_uploads_of_the_same_job(published, auth):
    (job, crew), (other_job, other_crew) = _jobs_of_two_crews(published)
    driver = auth("driver", crew)
    photo = upload(published, driver, job, JPEG).json()["id"]
    signature = upload(published, driver, job, PNG, kind="signature").json()["id"]
    elsewhere = upload(published, auth("driver", other_crew), other_job, JPEG).json()["id"]

    r = _event(published, driver, job, photo_refs=[photo, "p/1", elsewhere], signature_ref="s/1")
    assert r.status_code == 422, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["signature_ref", "photo_refs[1]", "photo_refs[2]"]
    assert "p/1" not in r.text and elsewhere not in r.text  # never echoed
    wrong_kind = _event(published, driver, job, signature_ref=photo, photo_refs=[signature])
    assert wrong_kind.status_code == 422
    assert [e["field"] for e in wrong_kind.json()["errors"]] == ["signature_ref", "photo_refs[0]"]

    ok = _event(published, driver, job, signature_ref=signature, photo_refs=[photo])
    assert ok.status_code == 201, ok.text
    assert ok.json()["signature_ref"] == signature and ok.json()["photo_refs"] == [photo]


def test_retention_deletes_the_uploads_of_anonymised_jobs(published, auth, settings):
    (job, crew), (other_job, other_crew) = _jobs_of_two_crews(published)
    for data in (JPEG, PNG):
        assert upload(published, auth("driver", crew), job, data).status_code == 201
    kept = upload(published, auth("driver", other_crew), other_job, WEBP).json()["id"]
    with published.app.state.ctx.sessions() as session, session.begin():
        session.execute(update(JobRow).where(JobRow.id == job).values(status="completed"))
    sessions = published.app.state.ctx.sessions
    folder = upload_folder(settings)
    after = DEMO_DAY + timedelta(days=1)

    dry = apply_retention(sessions, after, settings.now(), dry_run=True, upload_dir=folder)
    assert dry.changed["uploads"] == 2 and len(_files(settings)) == 3 and _count(published) == 3
    real = apply_retention(sessions, after, settings.now(), upload_dir=folder)
    assert real.changed["uploads"] == 2
    assert [p.name for p in _files(settings)] == [kept] and _count(published) == 1
    assert published.get(f"/jobs/{job}/uploads", headers=auth("dispatcher")).json()["total"] == 0
    assert (
        apply_retention(sessions, after, settings.now(), upload_dir=folder).changed["uploads"] == 0
    )


def test_the_upload_folder(tmp_path: Path, monkeypatch, published, auth) -> None:
    beside = Settings(database_url=f"sqlite:///{tmp_path / 'fieldroute.db'}")
    assert upload_folder(beside) == tmp_path / "fieldroute.db.uploads"
    data_dir = Settings(database_url="postgresql+psycopg://h/db", data_dir=tmp_path / "d")
    assert upload_folder(data_dir) == tmp_path / "d" / "uploads"
    assert upload_folder(Settings(database_url="postgresql+psycopg://h/db")) is None
    chosen = Settings(database_url="postgresql+psycopg://h/db", upload_dir=tmp_path / "u")
    assert upload_folder(chosen) == tmp_path / "u"

    import api.http.routers.uploads as router

    monkeypatch.setattr(router, "upload_folder", lambda _settings: None)
    (job, crew), _ = _jobs_of_two_crews(published)
    r = upload(published, auth("driver", crew), job, JPEG)
    assert r.status_code == 503 and "FIELDROUTE_UPLOAD_DIR" in r.json()["detail"]
