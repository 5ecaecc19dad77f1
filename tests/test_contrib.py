"""contrib/: the Prometheus alert rules pass `promtool check rules` and their own `promtool
test rules`, and the rules and the Grafana dashboard name only metrics syncd exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from syncd.obs.stats import COUNTERS, GAUGES

CONTRIB = Path(__file__).resolve().parents[1] / "contrib"
RULES = CONTRIB / "prometheus" / "syncd-alerts.yml"
DASHBOARD = CONTRIB / "grafana" / "syncd-dashboard.json"
# the monthly call budget's metrics (product.md §4.11)
BUDGET = {"syncd_api_calls_total", "syncd_api_calls_month", "syncd_api_budget_remaining"}
BUDGET |= {"syncd_quota_exhausted"}


def exported() -> set[str]:
    names = {f"syncd_{n}_total" for n in COUNTERS} | {f"syncd_{n}" for n in GAUGES}
    names |= {"syncd_failures_by_code_total"}
    names |= {f"syncd_upload_duration_seconds_{s}" for s in ("bucket", "sum", "count")}
    return names | BUDGET


def metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\bsyncd_[a-z_]+", expr))


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("SYNCD_REQUIRE_PROMTOOL"):  # .ci/run: never skipped there
            pytest.fail("promtool is not installed (Debian: apt-get install prometheus)")
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return found


def test_the_alert_rules_pass_promtool_check_and_their_tests():
    tool = promtool()
    for args in (["check", "rules", RULES.name], ["test", "rules", "syncd-alerts.test.yml"]):
        proc = subprocess.run(
            [tool, *args], cwd=RULES.parent, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_alerts_cover_what_an_operator_must_hear_about():
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {
        "SyncdDown",
        "SyncdMappingFailed",
        "SyncdFailingFiles",
        "SyncdRemoteUnreachable",
        "SyncdScanStale",
        "SyncdQuotaExhausted",
        "SyncdBudgetLow",
    } <= names
    tested = (RULES.parent / "syncd-alerts.test.yml").read_text()
    assert all(f"alertname: {n}" in tested for n in names)
    for r in rules:
        assert metrics_in(r["expr"]) <= exported(), r["alert"]


def test_the_dashboard_names_only_exported_metrics():
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = set().union(*(metrics_in(e) for e in exprs))
    assert used and used <= exported(), used - exported()
    assert {"syncd_failing", "syncd_failed_mappings", "syncd_remote_reachable"} <= used
