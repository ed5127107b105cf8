"""The project's shared data folder (`../shared` beside the repository: benchmark instances,
OpenStreetMap extracts) and a marker for the tests that read it.

`needs_shared(path, what)` skips a test when the file or folder is missing on a laptop, but
fails it in CI (`CI` set): CI always has `../shared` beside the checkout, so a missing or
broken copy there must not pass silently as skipped tests (tests/conftest.py fails them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def needs_shared(path: Path, what: str) -> pytest.MarkDecorator:
    """Skip (laptop) or fail (CI) the test when `path` under ../shared is missing."""
    if path.exists():
        return pytest.mark.shared
    if os.environ.get("CI"):
        return pytest.mark.shared_missing(f"{what} missing in CI: {path} (../shared is broken)")
    return pytest.mark.skip(reason=f"{what} absent (../shared is not beside the repository)")
