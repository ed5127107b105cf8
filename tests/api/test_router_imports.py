"""Routers import services and schemas (`api.job_rows`, `api.callback_service`...), never each
other: a router that needs another's piece means that piece belongs in a service module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import api.routers

ROUTERS = Path(api.routers.__file__).parent
PACKAGE = "api.routers"


def router_imports(path: Path) -> list[str]:
    """The router modules (`api.routers.x`) that the file at `path` imports, as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(PACKAGE + ".")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `from . import x`, `from .x import y` (inside the package)
                if node.level == 1:
                    names = [f"{PACKAGE}.{node.module}"] if node.module else None
                    found += names or [f"{PACKAGE}.{a.name}" for a in node.names]
            elif node.module == PACKAGE:
                found += [f"{PACKAGE}.{a.name}" for a in node.names]
            elif node.module and node.module.startswith(PACKAGE + "."):
                found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted(ROUTERS.glob("*.py")), ids=lambda p: p.name)
def test_a_router_imports_no_other_router(path: Path) -> None:
    assert router_imports(path) == [], f"{path.name} imports a router; move the piece to a service"


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    source = tmp_path / "r.py"
    source.write_text(
        "import api.routers.jobs\n"
        "from api.routers import routes\n"
        "from api.routers.callbacks import open_callback\n"
        "from . import crews\n"
        "from .zones import X\n"
        "import api.job_rows\n"
        "from api.job_schemas import JobOut\n"
        "from api import routers_helpers\n"
    )
    assert router_imports(source) == [
        "api.routers.jobs",
        "api.routers.routes",
        "api.routers.callbacks",
        "api.routers.crews",
        "api.routers.zones",
    ]
