"""Valid messages for the judge fuzz target, built from fuzzed fields (`Builder`, the BUILT
and MUTATED modes): telemetry, events, drop notices and statuses of a robot, each field picked
from a ladder whose first value is the honest, typical one and whose later values reach the
protocol's bounds; then, where the input says so, pushed past them and signed (judge_frames).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from firmware_protocol import (
    STANDARD_METRICS,
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    MessageKind,
    MetricDeclaration,
    MetricKey,
    ProtocolError,
    RobotState,
    Status,
    TelemetryRows,
    TopicKind,
    encode,
    payload_digest,
)
from firmware_protocol.limits import (
    MAX_CELLS_PER_BATCH,
    MAX_TIME_US,
    MAX_UINT,
)
from fuzz import judge_frames as frames
from fuzz.judge_input import Reader
from fuzz.judge_values import (
    BASES,
    BIG_UINTS,
    DROP_REASONS,
    EVENT_COUNTS,
    EVENT_KINDS,
    EXPONENT_CHOICES,
    FLOATS,
    METRICS,
    PERIODS_US,
    SAMPLES,
    STEP_STYLES,
    WALL_DELTAS_US,
    quantized_rows,
)
from fuzz.judge_world import (
    CANDIDATE_KEYS,
    CATALOGUE_LIMIT,
    FLEET,
    NOW_US,
    ROTATION_ID,
    SECOND,
    ZERO_DIGEST,
    Sim,
    globex_key,
    key_seed,
    signer_of,
)

TOPIC_KIND_OF: Final = {
    MessageKind.TELEMETRY: TopicKind.TELEMETRY,
    MessageKind.EVENTS: TopicKind.EVENTS,
    MessageKind.DROP_NOTICE: TopicKind.EVENTS,
    MessageKind.STATUS: TopicKind.STATUS,
}


class Builder:
    """Valid messages from fuzzed fields, within and at the protocol's bounds; then, where the
    input says so, fields pushed just outside them at the CBOR level, then signed."""

    def __init__(self, sims: dict[str, Sim]) -> None:
        self.r = Reader(b"")
        self.sims = sims
        self._rotating_to: bytes | None = None

    def build(self, sim: Sim) -> tuple[bytes, TopicKind, str, bool]:
        """(payload, topic kind, note, delivered)."""
        self._rotating_to = None
        choice = self.r.u8()
        delivered = not choice & 0x80
        kind = (
            MessageKind.TELEMETRY,
            MessageKind.TELEMETRY,
            MessageKind.EVENTS,
            MessageKind.DROP_NOTICE,
            MessageKind.STATUS,
            MessageKind.TELEMETRY,
            MessageKind.EVENTS,
            MessageKind.STATUS,
        )[choice & 7]
        compress = not choice & 0x40
        try:
            message: Any = self._message(kind, sim)
            payload = encode(message, sim.signer, compress=compress)
        except ProtocolError:
            seq = min(sim.seq, MAX_UINT)
            message = self._telemetry(sim, seq, self._prev(sim, seq, 0), honest=True)
            payload = encode(message, sim.signer)
        payload = frames.override(self.r, payload)
        payload = frames.sign(self.r, payload, sim)
        if self._rotating_to is not None:
            sim.signer_seed = self._rotating_to  # an honest robot signs what follows with it
        if kind is not MessageKind.STATUS:
            sim.chained(message.seq, payload, delivered=delivered)
        else:
            delivered = True
        note = f"built {kind.name.lower()} of {sim.spec.name}" + (
            f" seq {message.seq}" if kind is not MessageKind.STATUS else ""
        )
        return payload, TOPIC_KIND_OF[kind], note, delivered

    def _message(self, kind: MessageKind, sim: Sim) -> Any:
        if kind is MessageKind.STATUS:
            return self._status(sim)
        seq = self._seq(sim)
        if kind is MessageKind.DROP_NOTICE:
            seq = max(seq, 1)
        prev = self._prev(sim, seq, self.r.u8())
        if kind is MessageKind.TELEMETRY:
            return self._telemetry(sim, seq, prev)
        if kind is MessageKind.EVENTS:
            return self._events(sim, seq, prev)
        return self._drop_notice(sim, seq, prev)

    def _seq(self, sim: Sim) -> int:
        """The next seq (0); ahead of it (a gap); the last again (a fork); 0; near 2**63; a
        withheld seq re-made with other content."""
        choice = self.r.u8() % 10
        if choice == 8 and sim.withheld:
            return sim.withheld[self.r.u8() % len(sim.withheld)]
        options: dict[int, Callable[[], int]] = {
            1: lambda: sim.seq + 1 + self.r.u8(),
            2: lambda: max(sim.seq - 1, 0),
            3: lambda: 0,
            4: lambda: self.r.u8() % max(sim.seq + 2, 1),
            5: lambda: 2**63 - 1,
            6: lambda: 2**63 - 2,
            7: lambda: sim.seq + 2**32,
        }
        return min(options.get(choice, lambda: sim.seq)(), MAX_UINT)

    def _prev(self, sim: Sim, seq: int, choice: int) -> bytes:
        if seq == 0:
            return ZERO_DIGEST
        choice %= 6
        if choice == 1:
            return ZERO_DIGEST
        if choice == 2:
            return self.r.raw(32).ljust(32, b"\x00")
        if choice == 3:
            return sim.last_digest
        if choice == 4:
            others = sorted(sim.payloads)
            if others:
                return payload_digest(sim.payloads[others[self.r.u8() % len(others)]])
        known = sim.digest_of(seq - 1)
        return sim.last_digest if known is None else known

    def _times(self, sim: Sim) -> tuple[int, int]:
        wall = NOW_US + self.r.pick(WALL_DELTAS_US)
        wall = max(-MAX_TIME_US, min(MAX_TIME_US, wall))
        choice = self.r.u8() % 5
        sim.mono_us += SECOND
        mono = (sim.mono_us, 0, MAX_TIME_US, 1, 2**31)[choice]
        return wall, mono

    def _telemetry(self, sim: Sim, seq: int, prev: bytes, *, honest: bool = False) -> TelemetryRows:
        r = self.r
        wall, mono = (NOW_US - SECOND, sim.mono_us) if honest else self._times(sim)
        samples = 2 if honest else r.pick(SAMPLES)
        metrics = 1 if honest else r.pick(METRICS)
        metrics = min(metrics, MAX_CELLS_PER_BATCH // samples)
        keys = self._keys(sim, metrics)
        exponent = r.pick(EXPONENT_CHOICES)
        exponents = tuple(default if exponent is None else exponent for _, default in keys)
        period = r.pick(PERIODS_US)
        last = (mono, (samples - 1) * period, MAX_TIME_US, mono + 600 * SECOND)[r.u8() % 4]
        last = min(max(last, (samples - 1) * period), MAX_TIME_US)
        first = last - (samples - 1) * period
        stamps = tuple(first + i * period for i in range(samples))
        seed, style, base = r.u32(), r.u8() % len(STEP_STYLES), r.pick(BASES)
        rows = quantized_rows(seed, style, base, len(keys), samples)
        return TelemetryRows(
            robot_id=sim.spec.robot_id,
            boot_id=sim.boot_id,
            seq=seq,
            prev_digest=prev,
            wall_us=wall,
            mono_us=mono,
            timestamps_us=stamps,
            keys=tuple(k for k, _ in keys),
            exponents=exponents,
            quantized=rows,
        )

    def _keys(self, sim: Sim, count: int) -> list[tuple[MetricKey, int]]:
        family, offset = self.r.u8() % 4, self.r.u16()
        if family == 2 or (family == 3 and sim.spec.tenant == "globex"):
            return [(globex_key(offset % (CATALOGUE_LIMIT + 16) + i), -2) for i in range(count)]
        pool = CANDIDATE_KEYS if family else CANDIDATE_KEYS[: 4 * len(STANDARD_METRICS)]
        start = offset % len(pool)
        return [pool[(start + i) % len(pool)] for i in range(min(count, len(pool)))]

    def _events(self, sim: Sim, seq: int, prev: bytes) -> EventBatch:
        wall, mono = self._times(sim)
        count = self.r.pick(EVENT_COUNTS)
        events = tuple(self._event(sim, mono) for _ in range(count))
        return EventBatch(
            robot_id=sim.spec.robot_id,
            boot_id=sim.boot_id,
            seq=seq,
            prev_digest=prev,
            wall_us=wall,
            mono_us=mono,
            events=events,
        )

    def _event(self, sim: Sim, mono: int) -> Event:
        r = self.r
        kind = r.pick(EVENT_KINDS)
        fields: dict[str, Any] = {
            "kind": kind,
            "mono_us": (mono, 0, MAX_TIME_US, max(mono - SECOND, 0))[r.u8() % 4],
            "severity": r.u8() % 4,
            "channel": (0, 1, 255)[r.u8() % 3],
        }
        extras = r.u8()
        if kind in (1, 2, 4, 5, 7, 8, 9, 10) or extras & 1:
            fields["code"] = r.pick(("E42", "pendant", "7", "")) or r.text(64)
        if extras & 2:
            fields["message"] = r.text(256)
        if kind in (3, 6) or extras & 4:
            fields["value"] = r.pick(FLOATS)
        if extras & 8:
            fields["threshold"] = r.pick(FLOATS)
        if kind == 6 or extras & 16:
            fields["metric"] = CANDIDATE_KEYS[r.u8() % len(CANDIDATE_KEYS)][0]
        if kind == 8 or extras & 32:
            fields["from_version"], fields["to_version"] = r.text(64), r.text(64)
        if kind == EventKind.KEY_ROTATED or extras & 64:
            fields["code"] = r.pick((str(ROTATION_ID), str(ROTATION_ID + 1), "x", "0"))
            fields["public_key"] = self._announced_key(sim, honest=fields["code"] == "7")
        try:
            return Event(**fields)
        except ProtocolError:
            return Event(kind=EventKind.COLLISION, mono_us=mono, value=80.0)

    def _announced_key(self, sim: Sim, *, honest: bool) -> bytes:
        spec, choice = sim.spec, self.r.u8() % 6
        rotated = spec.rotation_seed or key_seed(f"{spec.name} rotated")
        if choice == 1:
            return spec.signer.public_key  # the key it already has
        if choice == 2:
            return FLEET[(FLEET.index(spec) + 1) % len(FLEET)].signer.public_key
        if choice == 3:
            return ZERO_DIGEST  # not a usable point: never verifies
        if choice == 4:
            return self.r.raw(32).ljust(32, b"\x01")
        if choice == 5:
            return signer_of(key_seed(f"{spec.name} rotated again")).public_key
        if honest and spec.rotation_seed is not None and sim.signer_seed == spec.seed:
            self._rotating_to = rotated
        return signer_of(rotated).public_key

    def _drop_notice(self, sim: Sim, seq: int, prev: bytes) -> DropNotice:
        r = self.r
        wall, mono = self._times(sim)
        choice = r.u8() % 4
        first, last, before, last_digest = self._dropped_range(sim, seq, choice)
        dropped_bytes = sum(len(sim.payloads.get(s, b"")) for s in range(first, last + 1)[:64])
        return DropNotice(
            robot_id=sim.spec.robot_id,
            boot_id=sim.boot_id,
            seq=seq,
            prev_digest=prev,
            wall_us=wall,
            mono_us=mono,
            first_seq=first,
            last_seq=last,
            digest_before=before,
            last_digest=last_digest,
            reason=r.pick(DROP_REASONS),
            dropped_bytes=(dropped_bytes, 0, 2**63 - 1)[r.u8() % 3],
            dropped_samples=(None, 0, 10, 2**63 - 1)[r.u8() % 4],
        )

    def _dropped_range(self, sim: Sim, seq: int, choice: int) -> tuple[int, int, bytes, bytes]:
        """first, last, digest_before, last_digest: honest (what the robot withheld) for 0."""
        withheld = sorted(s for s in sim.withheld if s < seq)
        if choice == 0 and withheld:
            last = first = withheld[-1]
            while first - 1 in withheld:
                first -= 1
            for s in range(first, last + 1):
                sim.withheld.remove(s)
            before = ZERO_DIGEST if first == 0 else sim.digest_of(first - 1) or ZERO_DIGEST
            return first, last, before, sim.digest_of(last) or ZERO_DIGEST
        if choice == 1:
            return 0, seq - 1, ZERO_DIGEST, sim.digest_of(seq - 1) or sim.last_digest
        first = self.r.u8() % seq
        last = first + self.r.u8() % (seq - first)
        digests = (self.r.raw(32).ljust(32, b"\x00"), self.r.raw(32).ljust(32, b"\x00"))
        return first, last, *digests

    def _status(self, sim: Sim) -> Status:
        r = self.r
        wall, mono = self._times(sim)
        state = (1, 2, 3, 255, 1, 2)[r.u8() % 6]
        next_choice = r.u8() % 6
        next_seq = (
            min(sim.seq, MAX_UINT),
            None,
            min(sim.seq + 1 + r.u8(), MAX_UINT),
            max(sim.seq - 2, 0),
            0,
            MAX_UINT,
        )[next_choice]
        if state == RobotState.ONLINE and next_seq is None:
            next_seq = min(sim.seq, MAX_UINT)
        head_choice = r.u8() % 4
        head: bytes | None = (
            sim.digest_of(next_seq - 1) or sim.last_digest if next_seq else None,
            None,
            r.raw(32).ljust(32, b"\x02"),
            ZERO_DIGEST,
        )[head_choice]
        if not next_seq:
            head = None
        conn_choice = r.u8() % 6
        if state == RobotState.ONLINE and conn_choice == 0:
            sim.connection_seq += 1
        connection_seq = (
            sim.connection_seq,
            None,
            sim.connection_seq - 1,
            0,
            2**63 - 1,
            sim.connection_seq + 1000,
        )[conn_choice]
        versions = r.u8()
        online = state == RobotState.ONLINE or versions & 1
        return Status(
            robot_id=sim.spec.robot_id,
            boot_id=sim.boot_id,
            wall_us=wall,
            mono_us=mono,
            state=state,
            firmware_version=(r.pick(("5.11.2", "é" * 32)) or r.text(64)) if online else None,
            agent_version=r.text(64) if online else None,
            next_seq=next_seq,
            catalogue=self._declarations() if versions & 2 else (),
            vendor=r.text(64) if versions & 4 else None,
            model=r.text(64) if versions & 8 else None,
            config_version=r.pick(BIG_UINTS) if versions & 16 else None,
            connection_seq=None if connection_seq is None else max(connection_seq, 0),
            head_digest=head,
        )

    def _declarations(self) -> tuple[MetricDeclaration, ...]:
        count = self.r.pick((1, 3, 512))
        start = self.r.u16()
        return tuple(
            MetricDeclaration(
                CANDIDATE_KEYS[(start + i) % len(CANDIDATE_KEYS)][0],
                -2,
                "u",
                "d" * (self.r.u8() % 3),
            )
            for i in range(count)
        )
