"""Do two plan files hold the same plan? Routes (stop order and times, lunch, distance) and
unassigned jobs (with reasons) must match; stats (timings, counters) are ignored.

The behaviour check of refactors: plan the demo day before and after a change with a
solution limit (so the search does not depend on the clock) and compare::

    dispatch plan --fixture shanghai --solution-limit 200 --time-limit 600 --out A
    # ... change the code ...
    dispatch plan --fixture shanghai --solution-limit 200 --time-limit 600 --out B
    python -m scripts.same_plan A/plan.json B/plan.json

Exit status 0 when the plans are the same, 1 with the first differences listed otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: how many differences are listed before the rest are only counted
SHOWN = 20


def plan_body(path: Path) -> dict[str, Any]:
    """The plan file without its stats."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("stats", None)
    return data


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which `a` and `b` differ (dicts by key, lists by position)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            here = f"{where}.{key}" if where else str(key)
            if key not in a or key not in b:
                out.append(f"{here}: only in {'the first' if key in a else 'the second'}")
            else:
                out += differences(a[key], b[key], here)
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [] if len(a) == len(b) else [f"{where}: {len(a)} vs {len(b)} entries"]
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += differences(x, y, f"{where}[{i}]")
        return out
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    found = differences(plan_body(args.first), plan_body(args.second))
    if not found:
        print("same plan: routes and unassigned jobs match (stats not compared)")
        return 0
    print(f"different plans: {len(found)} difference(s)")
    for line in found[:SHOWN]:
        print("  " + line)
    if len(found) > SHOWN:
        print(f"  ... and {len(found) - SHOWN} more")
    return 1


if __name__ == "__main__":
    sys.exit(main())
