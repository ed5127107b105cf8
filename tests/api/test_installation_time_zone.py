"""The time-zone setting is checked at start-up: a name the tz database does not know is
refused as a settings error (no traceback), and a database first served in one time zone
refuses to start in another, because every stored time is a naive local time of the first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from api.storage.db import make_engine, migrate
from api.storage.installation import InstallationMismatch, check_installation
from tests.api_support import TEST_SECRET, database_url, make_settings

pytestmark = pytest.mark.api


def test_an_unknown_time_zone_is_a_settings_error() -> None:
    for name in ("Mars/Olympus", "../../etc/passwd", ""):
        with pytest.raises(ValueError, match="not a time zone of the tz database"):
            Settings(timezone=name, secret_key=TEST_SECRET)
    assert Settings(timezone="Europe/Berlin", secret_key=TEST_SECRET).timezone == "Europe/Berlin"


def test_the_first_start_records_the_zone_and_a_later_one_must_match(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        check_installation(engine, settings)  # records Asia/Shanghai
        check_installation(engine, settings)  # the same: fine
        moved = settings.model_copy(update={"timezone": "Europe/Berlin"})
        with pytest.raises(InstallationMismatch) as caught:
            check_installation(engine, moved)
        message = str(caught.value)
        assert "'Asia/Shanghai'" in message and "'Europe/Berlin'" in message
        assert "FIELDROUTE_TIMEZONE=Asia/Shanghai" in message
    finally:
        engine.dispose()


def test_the_app_refuses_to_start_in_another_time_zone(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
    # the same database (make_settings again would empty a PostgreSQL test database)
    moved = settings.model_copy(update={"timezone": "America/New_York"})
    with pytest.raises(InstallationMismatch), TestClient(create_app(moved)):
        pass


def test_dispatch_commands_report_both_errors_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.cli import main

    for name in list(os.environ):
        if name.startswith("FIELDROUTE_") and not name.startswith("FIELDROUTE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url(tmp_path))
    monkeypatch.setenv("FIELDROUTE_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("FIELDROUTE_MIGRATE_ON_START", "true")

    monkeypatch.setenv("FIELDROUTE_TIMEZONE", "Mars/Olympus")
    assert main(["user", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid settings: FIELDROUTE_TIMEZONE: 'Mars/Olympus'")

    monkeypatch.setenv("FIELDROUTE_TIMEZONE", "Asia/Shanghai")
    assert main(["user", "list"]) == 0  # first start: records the zone
    monkeypatch.setenv("FIELDROUTE_TIMEZONE", "Asia/Tokyo")
    assert main(["user", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the database's times are local times of 'Asia/Shanghai'")


def test_migration_0008_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from api.storage.db import alembic_config

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        assert "installation_facts" in inspect(engine).get_table_names()
        command.downgrade(alembic_config(engine), "0007")
        assert "installation_facts" not in inspect(engine).get_table_names()
        migrate(engine)
        assert "installation_facts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
