"""Property tests. Default: a few hundred examples each, for the normal test run.

``HYPOTHESIS_PROFILE=fuzz`` raises every test to 100 000 examples (or PROTOCOL_FUZZ_EXAMPLES);
the millions-of-inputs runs are done by fuzz/fuzz_decode.py.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import (
    Ack,
    DropNotice,
    Event,
    EventBatch,
    MetricKey,
    ProtocolError,
    RobotSigner,
    SeqRange,
    TelemetryBatch,
    decode,
    encode,
    to_json,
    verify,
)
from firmware_protocol.catalogue import STANDARD_METRICS

_FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
_EXAMPLES = int(os.environ.get("PROTOCOL_FUZZ_EXAMPLES", "100000" if _FUZZ else "150"))
PROFILE = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not _FUZZ,
)
SIGNER = RobotSigner.from_seed(bytes(range(32)))

uuids = st.uuids()
digests = st.binary(min_size=32, max_size=32)
times = st.integers(0, 2**54)
keys = st.one_of(
    st.builds(MetricKey, st.sampled_from([s.name for s in STANDARD_METRICS]), st.integers(0, 255)),
    st.builds(
        MetricKey,
        st.from_regex(r"x_[a-z0-9]{1,6}_[a-z0-9_]{1,10}", fullmatch=True),
        st.integers(0, 255),
    ),
)


@st.composite
def batches(draw: st.DrawFn) -> TelemetryBatch:
    samples = draw(st.integers(1, 40))
    metric_keys = draw(st.lists(keys, min_size=0, max_size=8, unique=True))
    start = draw(st.integers(0, 2**40))
    steps = draw(st.lists(st.integers(1, 2**31 - 1), min_size=samples - 1, max_size=samples - 1))
    stamps = np.cumsum(np.asarray([start, *steps], dtype=np.int64))
    rows = []
    for _ in metric_keys:
        base = draw(st.integers(-(2**40), 2**40))
        deltas = draw(
            st.lists(
                st.integers(-(2**31) + 1, 2**31 - 1), min_size=samples - 1, max_size=samples - 1
            )
        )
        rows.append(np.cumsum(np.asarray([base, *deltas], dtype=np.int64)))
    quantized = np.asarray(rows, dtype=np.int64).reshape(len(metric_keys), samples)
    seq = draw(st.integers(0, 2**63 - 1))
    return TelemetryBatch(
        robot_id=draw(uuids),
        boot_id=draw(uuids),
        seq=seq,
        prev_digest=bytes(32) if seq == 0 else draw(digests),
        wall_us=draw(st.integers(-(2**54), 2**54)),
        mono_us=draw(times),
        timestamps_us=stamps,
        keys=tuple(metric_keys),
        exponents=tuple(draw(st.integers(-9, 9)) for _ in metric_keys),
        quantized=quantized,
    )


texts = st.text(
    st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), min_size=1, max_size=20
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.integers(3, 5) | st.integers(9, 500))
    return Event(
        kind=kind,
        mono_us=draw(times),
        severity=draw(st.integers(0, 3)),
        channel=draw(st.integers(0, 255)),
        # CONFIG_APPLIED and CONFIG_REJECTED (1.1) require a code
        code=draw(texts if kind in (9, 10) else st.none() | texts),
        message=draw(st.none() | texts),
        value=draw(st.none() | st.floats(allow_nan=False, allow_infinity=False)),
    )


@st.composite
def event_batches(draw: st.DrawFn) -> EventBatch:
    return EventBatch(
        robot_id=draw(uuids),
        boot_id=draw(uuids),
        seq=draw(st.integers(1, 2**63 - 1)),
        prev_digest=draw(digests),
        wall_us=draw(times),
        mono_us=draw(times),
        events=tuple(draw(st.lists(events(), min_size=1, max_size=5))),
    )


@st.composite
def notices(draw: st.DrawFn) -> DropNotice:
    first = draw(st.integers(0, 2**40))
    last = draw(st.integers(first, first + 2**20))
    return DropNotice(
        robot_id=draw(uuids),
        boot_id=draw(uuids),
        seq=last + draw(st.integers(1, 9)),
        prev_digest=draw(digests),
        wall_us=draw(times),
        mono_us=draw(times),
        first_seq=first,
        last_seq=last,
        digest_before=draw(digests),
        last_digest=draw(digests),
        reason=draw(st.integers(1, 3)),
        dropped_bytes=draw(st.integers(0, 2**40)),
        dropped_samples=draw(st.none() | st.integers(0, 2**63 - 1)),
    )


@st.composite
def acks(draw: st.DrawFn) -> Ack:
    starts = sorted(
        draw(st.sets(st.integers(0, 2**40).map(lambda x: x * 4), min_size=1, max_size=10))
    )
    return Ack(
        robot_id=draw(uuids),
        wall_us=draw(times),
        committed=tuple(SeqRange(s, s + draw(st.integers(0, 2))) for s in starts),
    )


messages = st.one_of(batches(), event_batches(), notices(), acks())


@PROFILE
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    _decode_or_protocol_error(data)


@PROFILE
@given(st.binary(max_size=600).map(lambda b: b"RC\x01\x00" + b))
def test_arbitrary_frames_decode_or_raise_protocol_error(data: bytes) -> None:
    _decode_or_protocol_error(data)


@PROFILE
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_decodes_or_raises(document: Any) -> None:
    import json

    wrapped = (
        {"rc": "1.0", "kind": "telemetry", "x": document}
        if not isinstance(document, dict)
        else {"rc": "1.0", **document}
    )
    _decode_or_protocol_error(json.dumps(wrapped).encode())


@PROFILE
@given(messages, st.booleans())
def test_encode_decode_round_trip(message: Any, compress: bool) -> None:
    decoded = decode(encode(message, SIGNER, compress=compress))
    assert decoded.message == message
    assert decoded.minor == _lowest_minor(message)
    verify(decoded, SIGNER.public_key)


@PROFILE
@given(messages)
def test_json_round_trip(message: Any) -> None:
    if isinstance(message, TelemetryBatch) and message.quantized.size:
        # JSON carries floats; exact for |q| well inside 2**53 (documented).
        message = _shrink(message)
    decoded = decode(to_json(message))
    assert decoded.message == message
    assert decoded.minor == _lowest_minor(message)


def _lowest_minor(message: Any) -> int:
    """1 exactly when the message uses a 1.1 field or event kind (docs/protocol.md section 15)."""
    if isinstance(message, EventBatch):
        return int(any(e.kind in (9, 10) for e in message.events))
    if isinstance(message, DropNotice):
        return int(message.dropped_samples is not None)
    return 0


@PROFILE
@given(messages, st.data())
def test_mutated_payloads_are_valid_or_refused(message: Any, data: st.DataObject) -> None:
    payload = bytearray(encode(message, SIGNER))
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(len(payload) - 1, 0)))
        if operation == "flip" and payload:
            payload[at] ^= 1 << data.draw(st.integers(0, 7))
        elif operation == "cut":
            del payload[at : at + data.draw(st.integers(1, 16))]
        else:
            payload[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    decoded = _decode_or_protocol_error(bytes(payload))
    if decoded is not None and bytes(payload) != encode(message, SIGNER):
        try:
            verify(decoded, SIGNER.public_key)
        except ProtocolError:
            return
        # The signature still holds: then the signed content must be unchanged.
        assert decoded.message == message


def _decode_or_protocol_error(data: bytes) -> Any:
    try:
        return decode(data)
    except ProtocolError:
        # Any other exception type escapes and fails the test.
        return None


def _shrink(batch: TelemetryBatch) -> TelemetryBatch:
    return TelemetryBatch(
        robot_id=batch.robot_id,
        boot_id=batch.boot_id,
        seq=batch.seq,
        prev_digest=batch.prev_digest,
        wall_us=batch.wall_us,
        mono_us=batch.mono_us,
        timestamps_us=batch.timestamps_us.copy(),
        keys=batch.keys,
        exponents=batch.exponents,
        quantized=batch.quantized % 2**20,
    )


def test_every_robot_id_form_is_canonical() -> None:
    robot = uuid.UUID(int=1)
    ack = Ack(robot_id=robot, wall_us=0, committed=(SeqRange(0, 0),))
    assert b"00000000-0000-0000-0000-000000000001" in to_json(ack)
