"""`robocover demo`: the whole system as an insurer runs it, from robot to payment, on the local
services with every process as deployed (cloud_api/demo/stack.py), told through the REST API
as the insurer's staff and the policyholder would do it (story.py, underwriting.py, claims.py),
with a live summary on the terminal (summary.py) and every process's logs in one file of the
run directory. It ends with the URLs of the API's documentation and of an HTML report with
charts (report.py), then keeps the processes running until Ctrl-C (or stops at once with
``exit_when_done``); every process it started is stopped whatever way it ends."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger
from rich.console import Console
from rich.live import Live

from cloud_api.demo import claims, fleet, story, underwriting
from cloud_api.demo.gateway_process import prepare_gateway, start_gateway
from cloud_api.demo.processes import ProcessGroup
from cloud_api.demo.report import ReportSources, write_report
from cloud_api.demo.stack import Stack, processes_summary, start_services, stop_stack, wait_ready
from cloud_api.demo.summary import Board, render
from cloud_api.demo.watch import BoardWatch
from cloud_api.health import probe_all
from cloud_api.settings import ApiSettings
from database.logs import configure_logging
from migrations.runner import upgrade

__all__ = ["DemoOptions", "DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    robots: int = 6
    exit_when_done: bool = False
    runs_dir: Path | None = None
    """Where each run's directory goes; $TMPDIR/robocover-demo if None."""


@dataclass
class DemoResult:
    ok: bool
    run_dir: Path | None = None
    log_file: Path | None = None
    report: Path | None = None
    api_docs: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


class _LogStream(io.TextIOBase):
    """The demo's own log records, into the run's log file (never the terminal)."""

    def __init__(self, group: ProcessGroup) -> None:
        self._group = group

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self._group.write("demo", line.encode())
        return len(text)

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the demo as Ctrl-C does: through the cleanup."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _services_ok(settings: ApiSettings, console: Console) -> bool:
    down = [r for r in probe_all(settings) if not r.healthy]
    for result in down:
        console.print(f"[red]{result.service}[/]: {result.detail}")
    if down:
        console.print("[red]A service is down: run `make setup` (scripts/services-up.sh) first.[/]")
    return not down


STEPS: list[Callable[[story.Story], None]] = [
    story.cast,
    story.enroll_robots,
    underwriting.telemetry,
    underwriting.rating_plan,
    underwriting.product,
    lambda s: underwriting.fleet_rescore(s, "first scores"),
    underwriting.underwrite,
    underwriting.pay_first_invoice,
    underwriting.turn_reckless,
    underwriting.premium_follows,
    underwriting.repair,
    lambda s: underwriting.fleet_rescore(s, "fleet rescored"),
    underwriting.endorse,
    claims.file_claim,
    claims.read_evidence,
    claims.settle,
    lambda s: underwriting.fleet_rescore(s, "after the claim"),
    claims.reports,
]


def _tell(tale: story.Story, started: datetime, result: DemoResult) -> None:
    board, stack = tale.board, tale.stack
    title = "report"
    board.begin(title, "the API's pages, saved")
    claim = tale.facts.get("claim")
    sources = ReportSources(
        underwriter=tale["underwriter"],
        auditor=tale["auditor"],
        adjuster=tale["claims_adjuster"],
        tenant=tale.tenant,
        currency=tale.currency,
        since=started - timedelta(minutes=1),
        claim_id=None if claim is None else claim["id"],
    )
    result.api_docs = f"{stack.base_url}/docs"
    board.done(title, "index.html, premiums.html, reports.html, evidence.html")
    result.report = write_report(
        sources,
        board,
        stack.run_dir / "report",
        api_docs=result.api_docs,
        base_url=stack.base_url,
    )
    board.links = [("API docs", result.api_docs), ("report", result.report.as_uri())]
    if stack.ca_file is not None:  # the gateway's certificate is signed by the run's own CA
        board.links.append(("gateway's CA", str(stack.ca_file)))


def _run_story(tale: story.Story, options: DemoOptions, result: DemoResult) -> None:
    started, clock = datetime.now(UTC), time.monotonic()
    tale.board.begin("services", "starting the deployment's processes")
    prepare_gateway(tale.stack)
    start_services(tale.stack)
    start_gateway(tale.stack)
    wait_ready(tale.stack)
    tale.board.done("services", processes_summary(tale.stack.group.children))
    logger.info("services ready in {:.1f} s", time.monotonic() - clock)
    for step in STEPS:
        clock = time.monotonic()
        step(tale)
        done = tale.board.steps[-1]
        logger.bind(step=done.title, took_s=round(time.monotonic() - clock, 1)).info(done.detail)
    _tell(tale, started, result)
    result.ok = True
    result.facts = claims.summary_figures(tale)
    if not options.exit_when_done:
        tale.board.begin("running", "press Ctrl-C to stop every process")
        while True:  # until Ctrl-C (or SIGTERM)
            time.sleep(0.5)


def run_demo(settings: ApiSettings, console: Console, options: DemoOptions) -> DemoResult:
    if not _services_ok(settings, console):
        return DemoResult(ok=False)
    upgrade(settings.sqlalchemy_url)
    run = uuid.uuid4().hex[:6]
    runs_dir = options.runs_dir or Path(tempfile.gettempdir()) / "robocover-demo"
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = runs_dir / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{run}"
    # Traversable, not listable: nginx's workers reach their temporary files under it; what
    # is secret (the robots' keys, the gateway's) is 0700 or 0600 below.
    run_dir.mkdir(mode=0o711)
    log_file = run_dir / "processes.log"
    group = ProcessGroup(log_file)
    configure_logging(settings.log_level, "json", stream=_LogStream(group))  # type: ignore[arg-type]
    board = Board(str(run_dir), str(log_file))
    stack = Stack(settings, group, run_dir)
    robots = fleet.plan_fleet(options.robots, run, run_dir / "fleet")
    tale = story.Story(stack, board, robots, run)
    result = DemoResult(ok=False, run_dir=run_dir, log_file=log_file)
    watch = BoardWatch(settings, board, robots, group)
    with (
        _sigterm_as_interrupt(),
        Live(get_renderable=lambda: render(board), console=console, refresh_per_second=2),
        watch,
    ):
        try:
            _run_story(tale, options, result)
        except KeyboardInterrupt:
            board.note("stopped by the user")
        except Exception as exc:
            board.fail_running(f"{type(exc).__name__}: {exc}")
            group.write("demo", f"failed: {exc!r}".encode())
        finally:
            # A second Ctrl-C would cut the stopping short: the processes would end with the
            # demo (their death signal) but the ingests' broker sessions would stay behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            board.note("stopping every process")
            tale.close()
            stop_stack(stack)
            board.processes = processes_summary(group.children) or "nothing"
            board.note("every process stopped")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    group.close()
    _farewell(console, result, os.fspath(log_file))
    return result


def _farewell(console: Console, result: DemoResult, log_file: str) -> None:
    """The URLs and paths, each on one line however long (soft-wrapped by the terminal, so that
    they can be copied whole)."""
    console.line()  # the summary's last line may not have ended one
    if result.report is not None:
        console.print(f"API docs (while the demo ran): {result.api_docs}", soft_wrap=True)
        console.print(f"Report: {result.report.as_uri()}", soft_wrap=True)
    console.print(f"Logs of every process: {log_file}", soft_wrap=True)
    if not result.ok:
        console.print("[red]The demo did not finish: see the steps above and the log.[/]")
