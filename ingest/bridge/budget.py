"""Dead-letter budgets: how many refused messages each robot and tenant may have stored.

A robot's refused messages are stored with their bytes until, within one hour, it has had
`robot_messages` of them or `robot_bytes`; its tenant's, until `tenant_bytes`; messages whose
topic names no robot, until `unattributed_bytes`. Past a budget they are counted, not stored,
and the robot is put up for review. Pure: the bridge reads the hour's tallies and writes back
what this decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ingest.bridge.writes import Budgets, DeadLetter

HOUR_US = 3_600_000_000


def window_start_us(received_us: int) -> int:
    return received_us - received_us % HOUR_US


def scopes_of(letter: DeadLetter) -> tuple[str, ...]:
    """The budget scopes a dead letter draws on: its robot's and its tenant's, or neither."""
    scopes = []
    if letter.robot_id is not None:
        scopes.append(f"robot:{letter.robot_id}")
    if letter.tenant is not None:
        scopes.append(f"tenant:{letter.tenant}")
    return tuple(scopes) or ("unattributed",)


@dataclass(slots=True)
class Usage:
    messages: int = 0
    bytes: int = 0


@dataclass(slots=True)
class Allocation:
    stored: list[DeadLetter] = field(default_factory=list)
    counted: list[DeadLetter] = field(default_factory=list)
    tally: dict[tuple[str, int, str], list[int]] = field(default_factory=dict)
    """(scope, window start us, reason) -> [stored messages, stored bytes, counted, counted
    bytes] added by this flush."""
    flooded: set[uuid.UUID] = field(default_factory=set)
    """Robots that went past their budget in this flush."""


def allocate(
    letters: list[DeadLetter], used: dict[tuple[str, int], Usage], budgets: Budgets
) -> Allocation:
    """Decide, in arrival order, which dead letters are stored. `used` holds what each
    (scope, window) has stored already (updated in place)."""
    result = Allocation()
    for letter in letters:
        window = window_start_us(letter.inbound.received_us)
        size = len(letter.inbound.payload)
        scopes = scopes_of(letter)
        fits = all(
            _fits(scope, used.get((scope, window), Usage()), size, budgets) for scope in scopes
        )
        for scope in scopes:
            row = result.tally.setdefault((scope, window, letter.reason), [0, 0, 0, 0])
            if fits:
                usage = used.setdefault((scope, window), Usage())
                usage.messages += 1
                usage.bytes += size
                row[0] += 1
                row[1] += size
            else:
                row[2] += 1
                row[3] += size
        if fits:
            result.stored.append(letter)
        else:
            result.counted.append(letter)
            if letter.robot_id is not None:
                result.flooded.add(letter.robot_id)
    return result


def _fits(scope: str, usage: Usage, size: int, budgets: Budgets) -> bool:
    if scope.startswith("robot:"):
        return usage.messages < budgets.robot_messages and usage.bytes + size <= budgets.robot_bytes
    if scope.startswith("tenant:"):
        return usage.bytes + size <= budgets.tenant_bytes
    return usage.bytes + size <= budgets.unattributed_bytes
