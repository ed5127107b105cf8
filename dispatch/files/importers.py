"""Read jobs, crews and depots from CSV or JSON files; write jobs, crews and depots as CSV.

The format follows the file suffix (`.csv` or `.json`); the columns are documented in
docs/data-formats.md. An import is all-or-nothing: every row is read, every problem (missing
column, bad number, date or enum, a value the model refuses, a duplicate id, a malformed CSV
row, bytes that are not UTF-8) is collected as an `InputError` naming the file row and the
column, and `InputErrors` carries them all, so a dispatcher fixes the file in one pass.
Nothing partial is ever returned.

Rows are numbered as a text editor or spreadsheet numbers lines: the CSV header is row 1.
JSON records are numbered from 1 ("jobs.json item 3").
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dispatch.errors import InputError, InputErrors
from dispatch.files.fields import is_blank, parse_text
from dispatch.files.records import (
    CREW_FIELDS,
    CREW_REQUIRED,
    DEPOT_FIELDS,
    DEPOT_REQUIRED,
    JOB_FIELDS,
    JOB_REQUIRED,
    crew_from_dict,
    crew_to_dict,
    depot_from_dict,
    depot_to_dict,
    job_from_dict,
    job_to_dict,
)
from dispatch.models import Crew, Depot, Job

T = TypeVar("T", Job, Crew, Depot)
PathLike = str | os.PathLike[str]
#: one record to build: where it is, its raw values, and fields already reported as bad
_Row = tuple[str, Mapping[str, object], set[str]]

_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes kept by errors="surrogateescape"
_NOT_UTF8_HINT = "contains bytes that are not UTF-8 (save the file as 'CSV UTF-8', not GBK)"
_SKILL_UNSAFE = re.compile(r"[\s|]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # an escaped lone surrogate in a JSON file
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # what gives one
_SURROGATE_HINT = "holds an unpaired surrogate escape (\\ud800 to \\udfff), which is not text"


def read_jobs(path: PathLike) -> list[Job]:
    """Every job in a `.csv` or `.json` file, or `InputErrors` listing every problem."""
    return _read(Path(path), "job", JOB_FIELDS, JOB_REQUIRED, job_from_dict)


def read_crews(path: PathLike) -> list[Crew]:
    """Every crew in a `.csv` or `.json` file, or `InputErrors` listing every problem."""
    return _read(Path(path), "crew", CREW_FIELDS, CREW_REQUIRED, crew_from_dict)


def read_depots(path: PathLike) -> list[Depot]:
    """Every depot in a `.csv` or `.json` file, or `InputErrors` listing every problem."""
    return _read(Path(path), "depot", DEPOT_FIELDS, DEPOT_REQUIRED, depot_from_dict)


def _check_skills_writable(kind: str, records: list[Job] | list[Crew]) -> None:
    """Skills are written space/'|'-separated: refuse names that would not read back."""
    bad = [
        InputError(
            f"{kind} {r.id!r}", "skills", "a skill name with a space or '|' cannot be written"
        )
        for r in records
        if any(not s or _SKILL_UNSAFE.search(s) for s in r.skills)
    ]
    if bad:
        raise InputErrors(bad)


def write_jobs_csv(jobs: Iterable[Job], path: PathLike) -> None:
    """Write jobs as CSV in the documented columns; `read_jobs` gives them back equal."""
    jobs = list(jobs)
    _check_skills_writable("job", jobs)
    _write_csv(Path(path), JOB_FIELDS, [job_to_dict(j) for j in jobs])


def write_crews_csv(crews: Iterable[Crew], path: PathLike) -> None:
    """Write crews as CSV in the documented columns; `read_crews` gives them back equal."""
    crews = list(crews)
    _check_skills_writable("crew", crews)
    _write_csv(Path(path), CREW_FIELDS, [crew_to_dict(c) for c in crews])


def write_depots_csv(depots: Iterable[Depot], path: PathLike) -> None:
    """Write depots as CSV in the documented columns; `read_depots` gives them back equal."""
    _write_csv(Path(path), DEPOT_FIELDS, [depot_to_dict(d) for d in depots])


# ---- reading


def _read(
    path: Path,
    singular: str,
    fields: tuple[str, ...],
    required: frozenset[str],
    build: Callable[..., T],
) -> list[T]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, singular, fields, required)
    elif suffix == ".json":
        rows = _json_rows(path, f"{singular}s")
    else:
        problem = f"unsupported file type {suffix or '(none)'!r}; use .csv or .json"
        raise InputErrors([InputError(path.name, "(file)", problem)])
    items: list[T] = []
    errors: list[InputError] = []
    first_seen: dict[str, str] = {}
    for row in rows:  # in file order, so the errors are too
        if isinstance(row, InputError):
            errors.append(row)
            continue
        where, raw, quiet = row
        ident = _raw_id(raw) if "id" not in quiet else None
        if ident is not None and ident in first_seen:
            problem = f"duplicate id; first used at {first_seen[ident]}"
            errors.append(InputError(f"{where} ({singular} {ident!r})", "id", problem))
        elif ident is not None:
            first_seen[ident] = where.removeprefix(f"{path.name} ")
        try:
            items.append(build(raw, where, quiet=quiet))
        except InputErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise InputErrors(errors)
    return items


def _raw_id(raw: Mapping[str, object]) -> str | None:
    value = raw.get("id")
    if is_blank(value):
        return None
    try:
        return parse_text(value)
    except ValueError:
        return None


def _csv_rows(
    path: Path, singular: str, fields: tuple[str, ...], required: frozenset[str]
) -> Iterator[_Row | InputError]:
    """The data rows of a CSV file as column -> cell, and the problems found reading it."""
    name = path.name
    text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    missing: set[str] = set()
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield InputError(f"{name} row {line}", "(row)", f"malformed CSV: {exc}")
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and rows of empty cells, as spreadsheets leave them
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            yield from _check_header(f"{name} row {line} (header)", header, fields, required)
            missing = set(required) - set(header)
            continue
        where = f"{name} row {line}"
        id_cell = cells[header.index("id")] if "id" in header[: len(cells)] else ""
        label = f"{where} ({singular} {id_cell.strip()!r})" if id_cell.strip() else where
        if _NOT_UTF8.search(id_cell):
            label = where
        if len(cells) != len(header):
            problem = f"has {len(cells)} fields but the header has {len(header)} (unquoted comma?)"
            yield InputError(label, "(row)", problem)
            continue
        raw: dict[str, object] = {}
        quiet = set(missing)
        for column, cell in zip(header, cells, strict=True):
            if column not in fields or column in raw:
                continue  # unknown and repeated columns are reported once, at the header
            if _NOT_UTF8.search(cell):
                yield InputError(label, column, _NOT_UTF8_HINT)
                quiet.add(column)
            else:
                raw[column] = cell
        yield where, raw, quiet
    if header is None:
        yield InputError(name, "(file)", "is empty: no header row")


def _check_header(
    where: str, header: list[str], fields: tuple[str, ...], required: frozenset[str]
) -> list[InputError]:
    errors = []
    for k, column in enumerate(header):
        if _NOT_UTF8.search(column):
            errors.append(InputError(where, f"column {k + 1}", _NOT_UTF8_HINT))
        elif column not in fields:
            known = ", ".join(fields)
            errors.append(InputError(where, column, f"unknown column; expected some of: {known}"))
        elif column in header[:k]:
            errors.append(InputError(where, column, "column appears twice"))
    for column in fields:
        if column in required and column not in header:
            errors.append(InputError(where, column, "required column is missing"))
    return errors


def _json_rows(path: Path, plural: str) -> Iterator[_Row | InputError]:
    """The records of a JSON list (or of the `plural` list of an object), and its problems."""
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
        doc: Any = json.loads(text)
    except UnicodeDecodeError as exc:
        problem = f"byte {exc.start} is not UTF-8; save the file as UTF-8"
        raise InputErrors([InputError(name, "(file)", problem)]) from None
    except json.JSONDecodeError as exc:
        where = f"{name} line {exc.lineno} column {exc.colno}"
        raise InputErrors([InputError(where, "(file)", f"invalid JSON: {exc.msg}")]) from None
    except RecursionError:
        problem = "invalid JSON: nested too deeply to read"
        raise InputErrors([InputError(name, "(file)", problem)]) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InputErrors([InputError(name, "(file)", f"invalid JSON: {exc}")]) from None
    if isinstance(doc, dict) and isinstance(doc.get(plural), list):
        items = doc[plural]
    elif isinstance(doc, list):
        items = doc
    else:
        problem = f"must be a list of objects or an object with a {plural!r} list"
        raise InputErrors([InputError(name, "(file)", problem)])
    escapes = _SURROGATE_ESCAPE.search(text) is not None
    for k, item in enumerate(items, start=1):
        where = f"{name} item {k}"
        if isinstance(item, dict) and escapes:
            yield from _without_surrogates(where, item)
        elif isinstance(item, dict):
            yield where, item, set()
        else:
            yield InputError(where, "(item)", f"must be an object, got {item!r}")


def _without_surrogates(where: str, item: dict[str, Any]) -> Iterator[_Row | InputError]:
    """A JSON record, its values holding an unpaired surrogate (an escape such as `\\ud800`,
    not text: it cannot be stored or written as UTF-8) reported and left out as quiet."""
    raw: dict[str, object] = {}
    quiet: set[str] = set()
    for key, value in item.items():
        if _SURROGATE.search(key):
            yield InputError(where, ascii(key), _SURROGATE_HINT)
        elif _holds_surrogate(value):
            yield InputError(where, key, _SURROGATE_HINT)
            quiet.add(key)
        else:
            raw[key] = value
    yield where, raw, quiet


def _holds_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str) and _SURROGATE.search(v):
            return True
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


# ---- writing


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # shortest text that reads back as the same float; float() first, since a numpy
        # scalar is a float whose repr is "np.float64(16.8)"
        return repr(float(value))
    if isinstance(value, list):
        if value and isinstance(value[0], dict):  # time windows
            return ";".join(f"{w['start']}/{w['end']}" for w in value)
        return " ".join(str(v) for v in value)
    return str(value)


def _write_csv(path: Path, fields: tuple[str, ...], records: list[dict[str, Any]]) -> None:
    """Format everything first, then write, so a failure leaves no half-written file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # "\r\n" line ends (RFC 4180): cells with a lone "\r" get quoted
    writer.writerow(fields)
    for record in records:
        writer.writerow([_csv_cell(record.get(f)) for f in fields])
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
