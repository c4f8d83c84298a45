"""What one judge fuzz input stands for (`parse`): one or two flushes of MQTT messages, each
on a topic (the robot's own or another, `topic_for`) and received at a time near NOW. The
input's layout is judge_input's; messages are built by judge_builder and mutated, re-homed and
re-signed by judge_frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from firmware_protocol import TopicKind
from fuzz import judge_frames as frames
from fuzz.judge_builder import Builder
from fuzz.judge_input import Mode, Reader
from fuzz.judge_world import (
    FLEET,
    NOW_US,
    SECOND,
    TENANTS,
    UNKNOWN_ROBOT,
    UNKNOWN_TENANT,
    RobotSpec,
    Sim,
    base_history,
    fresh_sims,
)

RECEIVED_DELTAS_US: Final = (0, SECOND, 5 * SECOND, -SECOND, 61 * 60 * SECOND, -31 * 60 * SECOND)


@dataclass(frozen=True, slots=True)
class Planned:
    """One message of a flush, and what it was meant to be (for reports)."""

    topic: str
    payload: bytes
    received_us: int
    note: str


@dataclass(slots=True)
class Plan:
    accept_json: bool
    flushes: list[list[Planned]]

    @property
    def messages(self) -> list[Planned]:
        return [m for flush in self.flushes for m in flush]


def topic_for(r: Reader, variant: int, spec: RobotSpec, kind: TopicKind) -> str:
    """Variants 0-19: the robot's own topic. Then another robot's, another tenant's, an unknown
    robot's, another kind, and malformed ones (never with U+0000 or lone surrogates, which no
    MQTT topic name may hold)."""
    robot, tenant = str(spec.robot_id), spec.tenant
    if variant < 20:
        return spec.topic(kind)
    other = FLEET[(FLEET.index(spec) + 1) % len(FLEET)]
    options = {
        20: f"rc/v1/{tenant}/{other.robot_id}/{kind.value}",
        21: f"rc/v1/{TENANTS[(TENANTS.index(tenant) + 1) % 2]}/{robot}/{kind.value}",
        22: f"rc/v1/{tenant}/{UNKNOWN_ROBOT}/{kind.value}",
        23: f"rc/v1/{UNKNOWN_TENANT}/{robot}/{kind.value}",
        24: spec.topic(TopicKind.TELEMETRY),
        25: spec.topic(TopicKind.EVENTS),
        26: spec.topic(TopicKind.STATUS),
        27: spec.topic(r.pick((TopicKind.CONFIG, TopicKind.ACK))),
        28: f"rc/v1/{tenant}/{robot.upper()}/{kind.value}",
    }
    if variant in options:
        return options[variant]
    if variant == 29:
        return f"rc/v1/{r.text(40).replace('/', '')}/{robot}/{kind.value}"
    if variant == 30:
        return r.text(200, empty=True)
    return r.pick(
        (
            f"rc/v1//{robot}/{kind.value}",
            f"rc/v1/{tenant}/{robot}/{kind.value}/x",
            f"rc/v2/{tenant}/{robot}/{kind.value}",
            f"rc/v1/{tenant}/{robot}/",
            f"rc/v1/{'a' * 33}/{robot}/{kind.value}",
            f"rc/v1/-{tenant}/{robot}/{kind.value}",
        )
    )


def parse(data: bytes) -> Plan:
    """The flushes one fuzz input stands for."""
    r = Reader(data)
    header = r.u8()
    count = (header & 7) + 1
    split = (r.u8() % count) + 1 if header & 8 else count
    sims = fresh_sims()
    builder = Builder(sims)
    planned: list[Planned] = []
    flushes: list[list[Planned]] = [[], []]
    for index in range(count):
        builder.r = record = Reader(r.raw(r.u24()))
        message = _message(record, builder, sims, planned, index)
        if message is not None:
            planned.append(message)
            flushes[index >= split].append(message)
    return Plan(bool(header & 16), [f for f in flushes if f])


def _message(
    r: Reader, builder: Builder, sims: dict[str, Sim], planned: list[Planned], index: int
) -> Planned | None:
    first = r.u8()
    mode, variant = first & 7, first >> 3
    spec = FLEET[r.u8() % len(FLEET)]
    received = NOW_US + r.pick(RECEIVED_DELTAS_US) + index
    sim = sims[spec.name]
    if mode in (Mode.RAW, Mode.REHOMED):
        payload = r.raw(r.remaining())
        note = "raw payload"
        if mode == Mode.REHOMED:
            payload = frames.resign(frames.rehome(payload, spec.robot_id), sim.signer)
            note = f"raw payload re-homed to {spec.name} and re-signed"
        return Planned(
            topic_for(r, variant, spec, frames.topic_kind_of(payload)), payload, received, note
        )
    if mode == Mode.REPEAT and planned:
        earlier = planned[r.u8() % len(planned)]
        return Planned(earlier.topic, earlier.payload, received, f"again: {earlier.note}")
    if mode == Mode.REPLAY:
        history = base_history()[spec.name]
        replayable = [*history.payloads, *history.statuses]
        if replayable:
            which = r.u8() % len(replayable)
            payload = replayable[which]
            note = f"base history of {spec.name} #{which}"
            kind = frames.topic_kind_of(payload)
            return Planned(topic_for(r, variant, spec, kind), payload, received, note)
    payload, kind, note, delivered = builder.build(sim)
    if mode == Mode.MUTATED:
        payload = frames.mutate(r, payload, sim, [m.payload for m in planned])
        note = f"mutated {note}"
    if not delivered:
        return None
    return Planned(topic_for(r, variant, spec, kind), payload, received, note)
