"""Who speaks and when: the robot's id, this run's boot id, and the paired clock readings."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def now_us() -> tuple[int, int]:
    """(wall_us, mono_us) read together. The monotonic clock counts from the controller's boot."""
    return time.time_ns() // 1000, time.monotonic_ns() // 1000


@dataclass(frozen=True, slots=True)
class Origin:
    robot_id: uuid.UUID
    boot_id: uuid.UUID = field(default_factory=uuid.uuid4)
    """Chosen at each start of the agent: it scopes the monotonic times it sends."""
    boot_offset_us: int = 0
    """Added to the host's monotonic clock: 0 on a controller (its clock counts from its own
    boot). Robots simulated on one host would otherwise share one clock, close their windows at
    the same instants and publish in one burst, which no real fleet does (edge_agent.fleet)."""

    def clock(self) -> tuple[int, int]:
        wall_us, mono_us = now_us()
        return wall_us, mono_us + self.boot_offset_us

    def chain_fields(self, seq: int, prev_digest: bytes) -> dict[str, Any]:
        """The fields every chained message starts with, stamped now."""
        wall_us, mono_us = self.clock()
        return {"robot_id": self.robot_id, "boot_id": self.boot_id, "seq": seq,
                "prev_digest": prev_digest, "wall_us": wall_us, "mono_us": mono_us}  # fmt: skip
