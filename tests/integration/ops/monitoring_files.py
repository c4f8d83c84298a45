"""The monitoring files of deploy/ as the tests read them: the alert rules, the dashboard's
queries, the metric names a query reads, and the series names a /metrics text exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "robocover.json"
OPERATIONS = ROOT / "docs" / "operations.md"

MADE_BY_PROMETHEUS = frozenset({"up", "ALERTS"})
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "Inf", "NaN"}
)
SERIES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard (panels' targets, annotations), with Grafana's
    variables given values Prometheus accepts."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    queries += [annotation["expr"] for annotation in dashboard["annotations"]["list"]]
    for variable, value in GRAFANA_VARIABLES.items():
        queries = [query.replace(variable, value) for query in queries]
    return queries


def metric_names(query: str) -> set[str]:
    """The metric names a PromQL query reads: strings, label matchers, ranges and groupings
    taken out, what is left that is not a function or a keyword."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", query)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        if match.group(2) is None and match.group(1) not in KEYWORDS:
            names.add(match.group(1))
    return names


def exported_series(metrics_text: str) -> set[str]:
    """The series names a /metrics text exports, its families' declared ones included (a
    labelled family with no child yet exports no sample, but it is the process's)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(metrics_text):
        names.update(sample.name for sample in family.samples)
        suffixes = SERIES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names
