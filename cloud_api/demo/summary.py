"""The demo's live summary (rich), made to fit an 80-column terminal: the story's steps as they
happen, the robots with their hazard, what they sent and their premium, and the processes
running. Log lines never reach the terminal; they are in the run's log file, named at the top.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

Status = Literal["waiting", "running", "done", "failed"]
MARKS: dict[Status, str] = {
    "waiting": "[dim]·[/]",
    "running": "[yellow]…[/]",
    "done": "[green]✓[/]",
    "failed": "[red]✗[/]",
}
WIDTH = 80


@dataclass
class Step:
    title: str
    status: Status = "waiting"
    detail: str = ""


@dataclass
class RobotRow:
    serial: str
    kind: str
    hazard: float
    samples: int = 0
    collisions: int = 0
    stops: int = 0
    premium: float | None = None
    reason: str = ""


@dataclass
class Board:
    """What the summary shows; steps update it from the main thread, the display reads it."""

    run_dir: str
    log_file: str
    steps: list[Step] = field(default_factory=list)
    robots: list[RobotRow] = field(default_factory=list)
    processes: str = ""
    currency: str = "EUR"
    links: list[tuple[str, str]] = field(default_factory=list)
    notice: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self, title: str) -> Step:
        with self.lock:
            found = next((s for s in self.steps if s.title == title), None)
            if found is None:
                found = Step(title)
                self.steps.append(found)
            return found

    def begin(self, title: str, detail: str = "") -> Step:
        step = self.step(title)
        step.status, step.detail = "running", detail
        return step

    def done(self, title: str, detail: str) -> None:
        step = self.step(title)
        step.status, step.detail = "done", detail

    def fail(self, title: str, detail: str) -> None:
        step = self.step(title)
        step.status, step.detail = "failed", detail

    def fail_running(self, detail: str) -> None:
        """The step under way failed (the story stops there)."""
        with self.lock:
            running = [s for s in self.steps if s.status == "running"]
        for step in running or [self.step("demo")]:
            step.status, step.detail = "failed", detail

    def note(self, text: str) -> None:
        """A line under the steps: what the demo does now."""
        with self.lock:
            for step in self.steps:
                if step.title == "running" and step.status == "running":
                    step.status = "done"
            self.notice = text


def _hazard(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value / 1000:g}k"


def _steps(board: Board) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False, expand=True)
    table.add_column("mark", width=1, no_wrap=True)
    table.add_column("step", style="bold", width=22, no_wrap=True, overflow="ellipsis")
    table.add_column("detail", ratio=1, overflow="fold")
    for step in board.steps:
        table.add_row(MARKS[step.status], step.title, step.detail)
    return table


def _robots(board: Board) -> Table:
    table = Table(expand=True, pad_edge=False, box=None, header_style="bold")
    table.add_column("robot", width=9, no_wrap=True, overflow="ellipsis")
    table.add_column("class", width=6, no_wrap=True, overflow="ellipsis")
    table.add_column("hazard", width=6, justify="right", no_wrap=True)
    table.add_column("samples", width=7, justify="right", no_wrap=True)
    table.add_column("coll.", width=5, justify="right", no_wrap=True)
    table.add_column("stops", width=5, justify="right", no_wrap=True)
    table.add_column(board.currency + "/yr", width=9, justify="right", no_wrap=True)
    table.add_column("top reason", ratio=1, no_wrap=True, overflow="ellipsis")
    for row in board.robots:
        table.add_row(
            row.serial[-9:],
            row.kind.split("_")[0],
            _hazard(row.hazard),
            f"{row.samples:,}",
            str(row.collisions),
            str(row.stops),
            "" if row.premium is None else f"{row.premium:,.0f}",
            row.reason,
        )
    return table


def render(board: Board) -> RenderableType:
    """The whole summary, at most 80 columns wide."""
    with board.lock:
        head = Text.assemble(
            ("robocover demo", "bold"),
            "  run directory ",
            (board.run_dir, "cyan"),
            "\nlogs of every process: ",
            (board.log_file, "cyan"),
        )
        parts: list[RenderableType] = [head, _steps(board)]
        if board.robots:
            parts.append(_robots(board))
        if board.processes:
            parts.append(Text(f"processes: {board.processes}", style="dim"))
        for name, url in board.links:
            parts.append(Text.assemble((f"{name}: ", "bold"), (url, "cyan underline")))
        if board.notice:
            parts.append(Text(board.notice, style="italic"))
        return Panel(Group(*parts), width=WIDTH, padding=(0, 1))
