"""The demo's live summary in an 80-column terminal: every line fits, no step's detail is cut
(long ones fold onto more lines), the robots' figures and the report's URL are all there."""

from __future__ import annotations

import io

from rich.console import Console

from cloud_api.demo.summary import Board, RobotRow, render

LONG = (
    "RC-2026-000003: EUR 92,020.76 + tax EUR 17,483.94 a year from 2026-11-05 (backdated 28"
    " days), 6 of 6 lines priced from scores, paid monthly"
)
URL = "file:///tmp/robocover-demo/20261203-064057-0ff7c3/report/index.html"


def board() -> Board:
    made = Board("/tmp/robocover-demo/20261203-064057-0ff7c3", "/tmp/x/processes.log")
    made.done("services", "ingest 2, api 2, jobs 2, risk 1, processor 1, gateway 1")
    made.done("quote, bind, issue", LONG)
    made.begin("a robot turns reckless", "DEMO-0ff7c3-00: safety scanner off")
    made.fail("endorsement", "TimeoutError: the jobs worker did not answer")
    made.robots = [
        RobotRow(
            "DEMO-0ff7c3-00", "industrial_arm", 100_000.0, 123_456, 41, 245, 53_888.16, "x" * 90
        ),
        RobotRow("DEMO-0ff7c3-01", "mobile_robot", 0.5, 1_216, 0, 0, 1_234_567.0, ""),
    ]
    made.processes = "agent 6, ingest 2, api 2, jobs 2, risk 1, processor 1, gateway 1"
    made.links = [("report", URL)]
    made.notice = "press Ctrl-C to stop every process"
    return made


def rendered(width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render(board()))
    return console.export_text()


def test_the_summary_fits_80_columns_and_cuts_no_step() -> None:
    text = rendered()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    flat = " ".join(line.strip("│ ").strip() for line in lines)
    assert " ".join(flat.split()).count(" ".join(LONG.split())) == 1  # folded, whole
    for mark, step in (("✓", "services"), ("…", "a robot turns"), ("✗", "endorsement")):
        assert any(mark in line and step in line for line in lines), step
    robot = next(line for line in lines if line.startswith("│ 0ff7c3-00"))
    for figure in ("indus", "100k", "123,456", "41", "245", "53,888"):
        assert figure in robot
    assert "1,234,567" in next(line for line in lines if line.startswith("│ 0ff7c3-01"))
    assert "top reason" in text
    assert URL in text.replace("│\n│", "").replace(" ", "") or URL in flat.replace(" ", "")
    assert "press Ctrl-C" in text


def test_a_wider_terminal_shows_the_same_80_columns() -> None:
    assert max(len(line) for line in rendered(200).splitlines()) <= 80
