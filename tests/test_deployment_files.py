"""The Dockerfile and compose.yaml stay in step with the code they deploy.

This machine and CI have no container engine, so the image is not built here (the same
install, `pip install -c constraints.txt '.[osm]'` outside the source tree, and the same
sequence of commands against PostgreSQL are what docs/operations.md records as checked).
What can drift silently is checked instead: every `dispatch` command the files run parses
with the CLI of this version, every `FIELDROUTE_*` variable they set is a setting the
service reads (a misspelt one would be ignored), the image copies every package the project
installs, and secrets and local state stay out of the build context.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from api.settings import Settings
from scripts.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line[len(name) + 1 :].strip() for line in text.splitlines() if line.startswith(name)]


def _commands() -> list[list[str]]:
    found = [list(service["command"]) for service in COMPOSE["services"].values()
             if isinstance(service.get("command"), list)]  # fmt: skip
    for cmd in _dockerfile_instructions("CMD"):
        found.append(yaml.safe_load(cmd))
    return found


def test_every_dispatch_command_parses_with_this_cli() -> None:
    dispatch = [cmd for cmd in _commands() if cmd[0] == "dispatch"]
    assert {cmd[1] for cmd in dispatch} == {"serve", "db"}
    for cmd in dispatch:
        _parser().parse_args(cmd[1:])  # SystemExit on an unknown option


def test_every_fieldroute_variable_is_a_setting() -> None:
    names = set(re.findall(r"\b(FIELDROUTE_[A-Z_]+)", DOCKERFILE))
    names |= set(re.findall(r"\b(FIELDROUTE_[A-Z_]+)", (ROOT / "compose.yaml").read_text()))
    names -= {"FIELDROUTE_PORT"}  # compose's own: the host port published
    fields = {f"FIELDROUTE_{name.upper()}" for name in Settings.model_fields}
    assert names and names <= fields, sorted(names - fields)


def test_the_service_waits_for_the_schema_upgrade_and_that_for_the_database() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["dispatch", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    depends = services["service"]["depends_on"]["migrate"]["condition"]
    assert depends == "service_completed_successfully"
    env = services["service"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]  # no default password
    for name in ("dask-scheduler", "dask-worker"):
        assert services[name]["profiles"] == ["dask"]
    assert services["osrm"]["profiles"] == ["osrm"]


def test_the_image_copies_every_installed_package() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {shlex.split(args)[0] for args in _dockerfile_instructions("COPY")}
    assert packages <= copied, sorted(packages - copied)
    for source in copied:
        assert (ROOT / source).exists(), source


@pytest.mark.parametrize("pattern", [".venv", ".git", "*.db", "*.secret-key", "secret-key", ".env"])
def test_local_state_and_secrets_stay_out_of_the_build_context(pattern: str) -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert pattern in ignored
