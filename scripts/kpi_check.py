"""`dispatch validate PLAN --kpis KPIS.json`: the KPIs a file states against the plan's own.

`dispatch plan` writes `kpis.json` beside `plan.json`. The KPIs are computed from the plan's
figures (`dispatch.metrics.kpis.plan_kpis`), and the validator has checked every one of those
figures against its own recomputation, so the KPIs of a valid plan are the recomputed ones;
this compares a stated `kpis.json` with them, figure by figure (nested objects by their dotted
path, numbers to a relative 1e-9 so that a JSON round trip never counts), and names each
figure that differs with the stated and the recomputed value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dispatch.errors import InputError

#: what a figure missing on one side is shown as
_MISSING = "(missing)"


def kpi_mismatches(path: Path, recomputed: dict[str, Any]) -> list[str]:
    """One line per figure of the KPI file at `path` that differs from `recomputed`
    (`PlanKpis.as_dict()` of the validated plan), e.g.
    "[kpi] late_jobs: stated 0, recomputed 3"; empty when they all agree."""
    try:
        stated = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path.name, "(file)", f"not a JSON KPI file: {exc}") from None
    if not isinstance(stated, dict):
        raise InputError(path.name, "(file)", "must be a JSON object of KPI figures")
    return [
        f"[kpi] {name}: stated {_show(a)}, recomputed {_show(b)}"
        for name, a, b in _differences(stated, recomputed, "")
    ]


def _differences(stated: Any, own: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(dotted path, stated, recomputed) of every leaf that differs."""
    if isinstance(stated, dict) and isinstance(own, dict):
        out = []
        for key in list(own) + [k for k in stated if k not in own]:
            name = f"{path}.{key}" if path else str(key)
            out += _differences(stated.get(key, _MISSING), own.get(key, _MISSING), name)
        return out
    return [] if _same(stated, own) else [(path, stated, own)]


def _same(a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    if numbers:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _show(value: Any) -> str:
    return value if value is _MISSING else json.dumps(value, ensure_ascii=False)
