"""The narrator's eye on the database: every two seconds, what each demo robot has sent (samples
stored, collisions, protective stops) and its latest premium with the top reason, and which
processes run, for the live summary. It reads and never writes; the story's actors go through
the API."""

from __future__ import annotations

import threading
import uuid
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from cloud_api.demo.fleet import DemoRobot
from cloud_api.demo.processes import ProcessGroup
from cloud_api.demo.stack import processes_summary
from cloud_api.demo.summary import Board
from cloud_api.settings import ApiSettings
from database.engine import make_engine
from database.models import risk_scores, robot_events, telemetry

PERIOD_S = 2.0


class BoardWatch:
    def __init__(
        self, settings: ApiSettings, board: Board, robots: list[DemoRobot], group: ProcessGroup
    ) -> None:
        self._settings, self._board, self._robots, self._group = settings, board, robots, group
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="board-watch", daemon=True)
        self._engine: Engine | None = None

    def __enter__(self) -> BoardWatch:
        self._engine = make_engine(self._settings, pool_size=1)
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._engine is not None:
            self._engine.dispose()

    def _loop(self) -> None:
        while not self._stop.wait(PERIOD_S):
            self._board.processes = processes_summary(self._group.children)
            try:
                self.refresh()
            except SQLAlchemyError as exc:
                self._group.write("demo", f"summary not refreshed: {exc!r}".encode())

    def refresh(self) -> None:
        ids = [uuid.UUID(r.robot_id) for r in self._robots if r.robot_id]
        if not ids or self._engine is None:
            return
        with self._engine.connect() as conn:
            samples: dict[uuid.UUID, int] = dict(
                conn.execute(
                    select(telemetry.c.robot_id, func.count())
                    .where(telemetry.c.robot_id.in_(ids))
                    .group_by(telemetry.c.robot_id)
                ).all()
            )
            kinds = conn.execute(
                select(robot_events.c.robot_id, robot_events.c.kind, func.count())
                .where(
                    robot_events.c.robot_id.in_(ids),
                    robot_events.c.kind.in_(["collision", "protective_stop"]),
                )
                .group_by(robot_events.c.robot_id, robot_events.c.kind)
            ).all()
            latest = (
                select(risk_scores.c.robot_id, risk_scores.c.premium, risk_scores.c.reasons)
                .where(risk_scores.c.robot_id.in_(ids))
                .order_by(risk_scores.c.robot_id, risk_scores.c.id.desc())
                .distinct(risk_scores.c.robot_id)
            )
            scores = {row.robot_id: row for row in conn.execute(latest)}
        events = {(robot_id, kind): count for robot_id, kind, count in kinds}
        self._update(samples, events, scores)

    def _update(
        self,
        samples: dict[uuid.UUID, int],
        events: dict[tuple[uuid.UUID, str], int],
        scores: dict[uuid.UUID, Any],
    ) -> None:
        by_serial = {r.serial: uuid.UUID(r.robot_id) for r in self._robots if r.robot_id}
        with self._board.lock:
            for row in self._board.robots:
                robot_id = by_serial.get(row.serial)
                if robot_id is None:
                    continue
                row.samples = samples.get(robot_id, 0)
                row.collisions = events.get((robot_id, "collision"), 0)
                row.stops = events.get((robot_id, "protective_stop"), 0)
                score = scores.get(robot_id)
                if score is not None:
                    row.premium = float(score.premium)
                    reasons = score.reasons or []
                    row.reason = reasons[0]["reason"] if reasons else "-"
