"""The alert rules and the scrape configuration are what Prometheus accepts (`promtool check`),
each alert fires on the series that should raise it and stays quiet beside them (`promtool
test rules`, deploy/prometheus/alerts_test.yml), the dashboard's queries are PromQL, and each
alert's runbook is a section of docs/operations.md. promtool comes from Debian's prometheus
package (scripts/services-up.sh)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.ops.monitoring_files import (
    ALERTS,
    DASHBOARD,
    OPERATIONS,
    PROMETHEUS_DIR,
    alert_rules,
    dashboard_queries,
)

PROMTOOL = shutil.which("promtool") or "/usr/local/bin/promtool"


def promtool(*arguments: str | Path, cwd: Path = PROMETHEUS_DIR) -> str:
    command = [PROMTOOL, *map(str, arguments)]
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_promtool_accepts_the_rules_and_the_scrape_configuration() -> None:
    assert "SUCCESS" in promtool("check", "rules", ALERTS)
    checked = promtool("check", "config", "prometheus.yml")  # with the rule files it names
    assert "1 rule files found" in checked


def test_each_alert_fires_on_its_series_and_stays_quiet_beside_them() -> None:
    promtool("test", "rules", "alerts_test.yml")
    cases = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    quiet = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if not check.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in alert_rules()}
    assert fired == alerts  # each alert is shown to fire
    assert len(quiet) >= len(alerts) // 2  # and most are shown not to, where they should not


def test_the_dashboards_queries_are_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    recorded = [{"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)]
    rules = tmp_path / "dashboard_rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    assert f"SUCCESS: {len(queries)} rules found" in promtool("check", "rules", rules)
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["title"], panel
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section() -> None:
    sections = anchors(OPERATIONS.read_text())
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]
        assert runbook.partition("#")[2] in sections, f"no section {runbook} in operations.md"


@pytest.mark.parametrize("query", ["rate(x[5m]", "sum by (le (rate(x[5m]))"])
def test_promtool_refuses_a_broken_query(tmp_path: Path, query: str) -> None:
    """The checks above can fail: promtool refuses what is not PromQL."""
    rules = tmp_path / "broken.yml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": query}]}]})
    )
    command = [PROMTOOL, "check", "rules", str(rules)]
    done = subprocess.run(command, check=False, capture_output=True, timeout=60)
    assert done.returncode != 0
