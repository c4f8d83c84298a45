"""The demo's report: the API's own pages, fetched as the staff who may read them, saved in the
run directory beside an index with the story's steps and figures (a browser opens them without
a token; each page is self-contained: inline CSS and SVG, no script, no network resource).

- premiums.html: premium over time per robot with the reasons (GET /v1/robots/premiums/page);
- reports.html: premium, claims and the loss ratio, by period and by robot class
  (GET /v1/reports/page);
- evidence.html: the claim's telemetry evidence (GET /v1/claims/{id}/evidence/report)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cloud_api.demo.client import Person
from cloud_api.demo.summary import Board

PAGES = (
    ("premiums.html", "Premium over time per robot, with the reasons"),
    ("reports.html", "Premium, claims and the loss ratio"),
    ("evidence.html", "The claim's telemetry evidence"),
)


@dataclass(frozen=True)
class ReportSources:
    """Who reads which page, and what for."""

    underwriter: Person
    auditor: Person
    adjuster: Person
    tenant: str
    currency: str
    since: datetime
    claim_id: str | None


def api_paths(sources: ReportSources) -> dict[str, tuple[Person, str, dict[str, str]]]:
    """Each page's reader, path and query."""
    paths = {
        "premiums.html": (
            sources.underwriter,
            "/v1/robots/premiums/page",
            {"tenant": sources.tenant, "since": sources.since.isoformat()},
        ),
        "reports.html": (
            sources.auditor,
            "/v1/reports/page",
            {"currency": sources.currency, "period": "month"},
        ),
    }
    if sources.claim_id is not None:
        paths["evidence.html"] = (
            sources.adjuster,
            f"/v1/claims/{sources.claim_id}/evidence/report",
            {},
        )
    return paths


def _index(board: Board, written: list[str], api_docs: str, base_url: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s.status)}</td><td><b>{html.escape(s.title)}</b></td>"
        f"<td>{html.escape(s.detail)}</td></tr>"
        for s in board.steps
    )
    links = "".join(
        f'<li><a href="{name}">{html.escape(title)}</a></li>'
        for name, title in PAGES
        if name in written
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robocover demo report</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 24px; color: #111; max-width: 760px; }}
h1 {{ font-size: 20px; }} table {{ border-collapse: collapse; width: 100%; }}
td {{ border-bottom: 1px solid #ddd; padding: 3px 6px; vertical-align: top; }}
.note {{ color: #555; font-size: 12px; }}
</style></head><body>
<h1>robocover demo: from robot to payment</h1>
<ul id="pages">{links}</ul>
<table id="steps">{rows}</table>
<p class="note">Each page was read from the API through {html.escape(base_url)} by the staff
who may read it; the API's interactive documentation is at
<a href="{html.escape(api_docs)}">{html.escape(api_docs)}</a>.</p>
</body></html>
"""


def write_report(
    sources: ReportSources, board: Board, directory: Path, *, api_docs: str, base_url: str
) -> Path:
    """The pages and the index in ``directory``; returns the index."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (reader, path, query) in api_paths(sources).items():
        (directory / name).write_text(reader.page(path, **query), encoding="utf-8")
        written.append(name)
    index = directory / "index.html"
    index.write_text(_index(board, written, api_docs, base_url), encoding="utf-8")
    return index
