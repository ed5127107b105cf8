"""The season report: tables, summary, charts and the self-contained HTML page.

One tiny season (two replications of three days on a 3 % demo city, a solution limit on the
planner) is simulated once for the module; the cases then vary what the report is given:
one or several replications, a recommendation or none, days with nothing due, hostile names.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path

import pytest

from dispatch.season.report import write_report
from dispatch.season.report_charts import CHARTS
from dispatch.season.report_numbers import FIGURES, across_replications
from dispatch.season.report_terminal import summary_text
from dispatch.season.settings import DemandSettings, PlannerSettings, SeasonSettings
from dispatch.season.simulator import SeasonResult
from dispatch.season.study import run_replications
from fixtures.shanghai_season import season_city

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script> & $\\frac{1}{0}$'
RECOMMENDATION = {
    "target_share": 0.95,
    "replications": 2,
    "met": False,
    "per_week": [
        {
            "week": 0,
            "temp_crews": 4,
            "share_mean": 0.91,
            "share_min": 0.88,
            "share_max": 0.94,
            "met": False,
        }
    ],
    "per_zone": [
        {"zone": "Z03", "temp_crews": 3, "share_install_24h_mean": 0.93},
        {"zone": HOSTILE, "temp_crews": 1, "share_install_24h_mean": None},
    ],
    "temp_crew_days": 12,
    "cost_cny": 123456.0,
    "extra_cost_cny": 23456.0,
    "rounds": [{"per_week": [0], "worst_week_share": 0.8}, {"per_week": [4]}],
    "notes": ["no plan held 95 % <in every week>"],
}


@pytest.fixture(scope="module")
def results() -> list[SeasonResult]:
    settings = SeasonSettings(
        days=3,
        scale=0.03,
        planner=PlannerSettings(time_limit_s=1, solution_limit=10),
        demand=DemandSettings(peak_start_day=1, peak_days=1, ramp_days=1, decline_days=1),
    )
    return run_replications(settings, season_city(0.03), 2)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def with_empty_days(result: SeasonResult) -> SeasonResult:
    """The result with nothing due on day 1 (shares None), as on a quiet day."""
    days = [dict(row) for row in result.days]
    for key in ("share_delivery_12h", "share_install_24h", "install_wait_p50_h", "utilisation"):
        days[1][key] = None
    zones = [dict(row, share_install_24h=None) if row["day"] == 1 else row for row in result.zones]
    return dataclasses.replace(result, days=days, zones=zones)


def test_tables_summary_and_charts(results, tmp_path):
    paths = write_report(tmp_path, results, RECOMMENDATION)
    expected = {"days.csv", "zones.csv", "weeks.csv", "install_waits.csv", "summary.json"}
    assert expected | set(CHARTS) | {"report.html"} == set(paths)
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths.values())

    for name, attr in (("days.csv", "days"), ("zones.csv", "zones"), ("weeks.csv", "weeks")):
        header, rows = read_csv(paths[name])
        assert header[:2] == ["replication", "seed"]
        assert set(results[0].__dict__[attr][0]) <= set(header)
        assert len(rows) == sum(len(getattr(r, attr)) for r in results)
        assert {row["replication"] for row in rows} == {"0", "1"}
        assert {row["seed"] for row in rows} == {"0", "1"}  # replication k: seed + k
    header, rows = read_csv(paths["install_waits.csv"])
    assert header == ["replication", "seed", "wait_h"]
    assert len(rows) == sum(len(r.install_waits_h) for r in results)

    summary = json.loads(paths["summary.json"].read_text(encoding="utf-8"))
    assert summary["replications"] == 2 and summary["seeds"] == [0, 1]
    assert [p["seed"] for p in summary["per_replication"]] == [0, 1]
    assert summary["per_replication"][1]["ledger"] == results[1].ledger
    assert summary["recommendation"] == RECOMMENDATION
    orders = [r.summary["orders"] for r in results]
    assert summary["across"]["orders"] == {
        "median": sum(orders) / 2,
        "min": min(orders),
        "max": max(orders),
    }
    assert set(summary["across"]) == {key for key, _, _ in FIGURES}

    for name in CHARTS:
        assert paths[name].read_bytes().startswith(PNG_MAGIC), name


def test_html_is_self_contained_with_charts_and_recommendation(results, tmp_path):
    page = write_report(tmp_path, results, RECOMMENDATION)["report.html"].read_text("utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(CHARTS)
    assert not re.search(r"<(script|link)\b|src=\"http|href=\"http", page)  # nothing fetched
    assert "Capacity recommendation" in page and "Temporary crews per week" in page
    assert "<td>4</td>" in page and "88.0 %" in page  # the week's crews and its min share
    assert "Z03" in page and "123,456" in page and "23,456" in page
    assert "<strong>Due day</strong>" in page  # definitions from dispatch.season.figures
    assert "<details><summary>Settings used</summary>" in page
    assert "demand.peak_days" in page
    assert "&lt;in every week&gt;" in page


def test_hostile_names_are_escaped(results, tmp_path):
    hostile = [
        dataclasses.replace(
            r,
            city=HOSTILE,
            zones=[dict(row, zone=HOSTILE) if row["zone"] == "Z01" else row for row in r.zones],
        )
        for r in results
    ]
    paths = write_report(tmp_path, hostile, RECOMMENDATION)
    page = paths["report.html"].read_text("utf-8")
    assert "<script>" not in page and HOSTILE not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in page
    assert paths["chart_zone_heatmap.png"].read_bytes().startswith(PNG_MAGIC)  # `$` not mathtext
    _, rows = read_csv(paths["zones.csv"])
    assert HOSTILE in {row["zone"] for row in rows}  # the CSV keeps the name as it is


def test_one_replication_without_recommendation_and_days_with_nothing_due(results, tmp_path):
    one = [with_empty_days(results[0])]
    paths = write_report(tmp_path, one)
    page = paths["report.html"].read_text("utf-8")
    assert "Capacity recommendation" not in page
    assert "median (min – max)" not in page  # one replication: values, not ranges
    assert page.count("data:image/png;base64,") == len(CHARTS)
    _, rows = read_csv(paths["days.csv"])
    assert rows[1]["share_install_24h"] == ""  # None is an empty cell
    summary = json.loads(paths["summary.json"].read_text("utf-8"))
    assert "recommendation" not in summary
    assert summary["across"]["orders"]["min"] == summary["across"]["orders"]["max"]


def test_summary_text(results):
    text = summary_text(results, RECOMMENDATION)
    across = across_replications(results)
    lines = text.splitlines()
    assert "2 replications (seeds 0, 1)" in lines[0]
    orders = next(line for line in lines if line.startswith("Orders"))
    assert f"{across['orders']['min']:,.0f} – {across['orders']['max']:,.0f}" in orders
    for _, label, _ in FIGURES:
        assert any(line.startswith(label) for line in lines), label
    assert "Capacity recommendation: 95.0 %" in text and "NOT met" in text
    assert "w0: 4" in text and "temporary crew-days 12" in text
    assert "note: no plan held" in text
    single = summary_text(results[:1])
    assert "Capacity" not in single and "1 replication (seed 0)" in single
    assert "min – max" not in single
