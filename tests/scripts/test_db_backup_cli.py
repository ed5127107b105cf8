"""`dispatch db backup FILE` and `dispatch db restore FILE` on the embedded SQLite database,
in real subprocesses (the restore's content checks: tests/api/test_backup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _dispatch(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'fieldroute.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_backup_then_restore_from_the_command_line(tmp_path):
    assert _dispatch(tmp_path, "db", "upgrade").returncode == 0
    done = _dispatch(tmp_path, "db", "backup", str(tmp_path / "b" / "day.backup"))
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout and "0 jobs" in done.stdout
    back = _dispatch(tmp_path, "db", "restore", str(tmp_path / "b" / "day.backup"))
    assert back.returncode == 0, back.stderr
    assert "restored from" in back.stdout


def test_restore_refuses_what_is_no_backup(tmp_path):
    assert _dispatch(tmp_path, "db", "upgrade").returncode == 0
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    refused = _dispatch(tmp_path, "db", "restore", str(bogus))
    assert refused.returncode == 2 and "not a SQLite database" in refused.stderr
    missing = _dispatch(tmp_path, "db", "backup")
    assert missing.returncode == 2 and "needs a FILE" in missing.stderr
