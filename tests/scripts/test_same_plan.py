"""`scripts/same_plan.py`: the refactoring check says "same" only for the same plan."""

from __future__ import annotations

import json

from dispatch.files.plan_io import plan_to_dict
from scripts.same_plan import main
from tests.factories import crew, job, planned, problem


def _write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_stats_aside_the_same_plan_is_the_same(tmp_path, capsys):
    p = problem([job("A", 2), job("B", 4)], [crew("C1")])
    a = plan_to_dict(planned(p, {"C1": ["A", "B"]}))
    b = json.loads(json.dumps(a))
    b["stats"] = {"wall_s": 99.0}
    assert main([_write(tmp_path / "a.json", a), _write(tmp_path / "b.json", b)]) == 0
    assert "same plan" in capsys.readouterr().out


def test_another_stop_order_is_a_different_plan(tmp_path, capsys):
    p = problem([job("A", 2), job("B", 4)], [crew("C1")])
    a = plan_to_dict(planned(p, {"C1": ["A", "B"]}))
    b = plan_to_dict(planned(p, {"C1": ["B", "A"]}))
    assert main([_write(tmp_path / "a.json", a), _write(tmp_path / "b.json", b)]) == 1
    out = capsys.readouterr().out
    assert "different plans" in out and "routes[0].stops[0]" in out
