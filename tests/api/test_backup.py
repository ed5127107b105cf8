"""Backup and restore (`api.storage.backup`), on SQLite and, in CI, on PostgreSQL: a day's
database backed up, changed, restored, and back to what the backup held."""

from __future__ import annotations

import pytest

from api.storage.backup import BackupError, backup, restore, summarize
from tests.api_support import DEMO_DAY

pytestmark = pytest.mark.api

NEW_JOB = {
    "id": "AFTER-BACKUP",
    "kind": "repair",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": f"{DEMO_DAY}T09:00", "end": f"{DEMO_DAY}T12:00"}],
}


def test_a_restore_brings_back_what_the_backup_held(seeded, settings, auth, tmp_path):
    url = settings.database_url
    before = summarize(url)
    assert before.rows["jobs"] == 30 and before.revision
    held = backup(url, tmp_path / "day.backup")
    assert held == before

    office = auth("dispatcher")
    job_id = seeded.get("/jobs", params={"limit": 1}, headers=office).json()["items"][0]["id"]
    r = seeded.post(f"/jobs/{job_id}/cancel", json={"reason": "test"}, headers=office)
    assert r.status_code == 200, r.text
    assert seeded.post("/jobs", json=NEW_JOB, headers=office).status_code == 201

    back = restore(url, tmp_path / "day.backup")
    assert back == before
    assert seeded.get("/jobs/AFTER-BACKUP", headers=office).status_code == 404
    assert seeded.get(f"/jobs/{job_id}", headers=office).json()["status"] != "cancelled"


def test_a_file_that_is_no_backup_is_refused(settings, client, tmp_path):
    bogus = tmp_path / "notes.backup"
    bogus.write_text("hello")
    with pytest.raises(BackupError, match="not a"):
        restore(settings.database_url, bogus)
    with pytest.raises(BackupError, match="no backup file"):
        restore(settings.database_url, tmp_path / "missing.backup")
