"""Golden vectors a conforming decoder accepts: messages of protocol 1.0, then those using the
fields and event kinds of 1.1 and of 1.2 (their frames carry minor 1 and 2), and the payloads
that decode but fail verification (tampered, JSON)."""

from __future__ import annotations

import dataclasses

import cbor2

from firmware_protocol import (
    Ack,
    Config,
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    MetricDeclaration,
    MetricKey,
    RobotState,
    SeqRange,
    Severity,
    Status,
    TelemetryBatch,
    encode,
    payload_digest,
    to_json,
)
from tests.vectors.protocol.content import (
    BOOT,
    MONO,
    ROBOT,
    SIGNER,
    TIME_MAX,
    UINT_MAX,
    WALL,
    Vector,
    body_of,
    config_body,
    drop_notice,
    events_body,
    flip,
    frame,
    heartbeat,
    status,
    status_body,
    telemetry,
    typical_batch,
)


def valid_vectors() -> list[Vector]:
    """The messages of 1.0, then those of 1.1."""
    batch = typical_batch()
    p0 = encode(batch, SIGNER)
    single = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=1,
        prev_digest=payload_digest(p0),
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO],
        series={"battery_soc_pct": [55.5]},
    )
    vendor = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=2,
        prev_digest=payload_digest(encode(single, SIGNER)),
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO - 2000, MONO - 1000, MONO],
        series={"x_acme_gripper_force_n": [12.5, -3.25, 1e6], "odometer_m": [1.0, 2.0, 3.0]},
        exponents={"x_acme_gripper_force_n": -2},
    )
    events = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=3,
        prev_digest=bytes(range(32)),
        wall_us=WALL,
        mono_us=MONO,
        events=(
            Event(EventKind.FAULT, MONO - 9000, Severity.ERROR, 3, "E-1203", "encoder mismatch"),
            Event(EventKind.FAULT_CLEARED, MONO - 8000, code="E-1203"),
            Event(EventKind.COLLISION, MONO - 7000, Severity.WARNING, 2, value=143.5),
            Event(EventKind.PROTECTIVE_STOP, MONO - 6000, Severity.WARNING, code="safety_zone"),
            Event(EventKind.EMERGENCY_STOP, MONO - 5000, Severity.CRITICAL, code="pendant"),
            Event(
                EventKind.OVER_TEMPERATURE,
                MONO - 4000,
                Severity.ERROR,
                4,
                value=92.5,
                threshold=90.0,
                metric=MetricKey("motor_temperature_c", 4),
            ),
            Event(EventKind.MAINTENANCE_DONE, MONO - 3000, code="gearbox_oil", message="WO-77"),
            Event(
                EventKind.FIRMWARE_CHANGE,
                MONO - 2000,
                code="controller",
                from_version="5.11.2",
                to_version="5.12.0",
            ),
        ),
    )
    notice = drop_notice()
    birth = Status(
        robot_id=ROBOT,
        boot_id=BOOT,
        wall_us=WALL,
        mono_us=MONO,
        state=RobotState.ONLINE,
        firmware_version="5.12.0",
        agent_version="0.1.0",
        next_seq=121,
        vendor="acme",
        model="arm-7",
        catalogue=(
            MetricDeclaration(MetricKey("joint_temperature_c", 1), -2),
            MetricDeclaration(MetricKey("x_acme_gripper_force_n"), -2, "N", "Gripper force"),
        ),
    )
    will = Status(
        robot_id=ROBOT, boot_id=BOOT, wall_us=WALL, mono_us=MONO, state=RobotState.OFFLINE
    )
    config = Config(
        robot_id=ROBOT,
        config_version=7,
        wall_us=WALL,
        sample_interval_ms=1000,
        batch_interval_s=60,
        compress=True,
        outbox_budget_bytes=64 << 20,
        metrics=(MetricKey("joint_temperature_c", 1), MetricKey("battery_soc_pct")),
    )
    ack = Ack(robot_id=ROBOT, wall_us=WALL, committed=(SeqRange(0, 99), SeqRange(111, 120)))
    newer = body_of(encode(single, SIGNER)) | {99: "a field from protocol 1.3"}
    return [
        Vector("telemetry_typical_zstd", "20 metrics x 60 samples, shuffle+zstd blocks", p0),
        Vector(
            "telemetry_typical_raw",
            "the same batch, raw blocks",
            encode(batch, SIGNER, compress=False),
        ),
        Vector("telemetry_single_sample", "one metric, one sample, seq 1", encode(single, SIGNER)),
        Vector("telemetry_vendor_metric", "a vendor metric by name", encode(vendor, SIGNER)),
        Vector("events_all_kinds", "one event of each v1.0 kind", encode(events, SIGNER)),
        Vector("drop_notice", "seq 100-110 dropped for the disk budget", encode(notice, SIGNER)),
        Vector("status_birth", "birth with catalogue", encode(birth, SIGNER)),
        Vector("status_last_will", "offline last will", encode(will, SIGNER)),
        Vector("config_unsigned", "cloud to robot config, unsigned", encode(config)),
        Vector("config_signed", "config signed (by the test key)", encode(config, SIGNER)),
        Vector("ack", "two committed ranges", encode(ack)),
        Vector(
            "minor_newer_unknown_field",
            "minor 3 adds key 99: accepted, ignored",
            frame(1, cbor2.dumps(newer), minor=3),
        ),
        Vector("json_telemetry", "JSON debug form (unsigned)", to_json(single), verify="UNSIGNED"),
        Vector("json_events", "JSON debug form of events", to_json(events), verify="UNSIGNED"),
        Vector(
            "tampered_body_byte",
            "a value byte flipped after signing",
            flip(encode(single, SIGNER, compress=False), -65),
            verify="BAD_SIGNATURE",
        ),
        Vector(
            "tampered_signature",
            "last signature byte flipped",
            flip(encode(single, SIGNER), -1),
            verify="BAD_SIGNATURE",
        ),
        *_v1_1_vectors(notice, birth, config),
    ]


def _v1_1_vectors(notice: DropNotice, birth: Status, config: Config) -> list[Vector]:
    """Messages using the fields and event kinds of minor 1.1: their frames carry minor 1."""
    outcomes = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=122,
        prev_digest=bytes([3]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(
            Event(
                EventKind.CONFIG_REJECTED,
                MONO - 2000,
                Severity.WARNING,
                code="8",
                message="collector 'ros2' is not installed",
            ),
            Event(EventKind.CONFIG_APPLIED, MONO - 1000, code="9", message="applied"),
        ),
    )
    return [
        Vector(
            "config_v1_1",
            "1.1 config: read_interval_ms and collectors",
            encode(
                dataclasses.replace(
                    config, config_version=9, read_interval_ms=100, collectors=("system", "ros2")
                ),
                SIGNER,
            ),
        ),
        Vector(
            "drop_notice_v1_1",
            "1.1 drop notice with dropped_samples",
            encode(dataclasses.replace(notice, dropped_samples=26_400), SIGNER),
        ),
        Vector(
            "events_v1_1",
            "1.1 event kinds CONFIG_REJECTED and CONFIG_APPLIED",
            encode(outcomes, SIGNER),
        ),
        Vector(
            "status_birth_v1_1",
            "1.1 birth with the applied config_version",
            encode(dataclasses.replace(birth, config_version=9), SIGNER),
        ),
    ]


def valid_v1_2() -> list[Vector]:
    """Messages using the fields of 1.2, the bounds it sets, and the values it reads leniently."""
    rotated_key = bytes(range(32, 64))
    birth = status(connection_seq=42, head_digest=payload_digest(b"seq 120"))
    key_rotation = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=130,
        prev_digest=bytes([5]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(Event(EventKind.KEY_ROTATED, MONO - 10, code="3", public_key=rotated_key),),
    )
    rotation = Config(
        robot_id=ROBOT,
        config_version=10,
        wall_us=WALL,
        rotation_id=3,
        rotation_credentials=bytes(range(100)),
    )
    bounds = telemetry(
        seq=UINT_MAX,
        wall_us=-TIME_MAX,
        mono_us=TIME_MAX,
        timestamps_us=[TIME_MAX - 1, TIME_MAX],
    )
    v = Vector
    return [
        v("status_birth_v1_2", "1.2 birth: connection_seq and head_digest", encode(birth, SIGNER)),
        v(
            "status_last_will_v1_2",
            "1.2 last will of the same connection",
            encode(
                status(
                    state=RobotState.OFFLINE,
                    firmware_version=None,
                    agent_version=None,
                    next_seq=None,
                    connection_seq=42,
                ),
                SIGNER,
            ),
        ),
        v("events_v1_2_key_rotated", "1.2 KEY_ROTATED event", encode(key_rotation, SIGNER)),
        v("config_v1_2_rotation", "1.2 config: rotation_id, credentials", encode(rotation)),
        v("telemetry_at_bounds", "seq 2**63-1, wall -2**54, times 2**54", encode(bounds, SIGNER)),
        v("telemetry_heartbeat", "no metric: M = 0", encode(heartbeat(), SIGNER)),
        v(
            "status_state_unknown",
            "state 7: accepted, kept as a number",
            frame(4, cbor2.dumps(status_body({40: 7}))),
        ),
        v(
            "event_value_integer",
            "an integer where a float is expected: 85 reads as 85.0",
            frame(2, cbor2.dumps(events_body([{0: 3, 1: MONO, 6: 85}]))),
        ),
        v(
            "event_value_half_float",
            "a half-precision float (0xf9)",
            frame(2, _half_float_events()),
        ),
        v(
            "config_null_optional",
            "null for an optional field is absent",
            frame(5, cbor2.dumps(config_body({51: None})), flags=0, sign=False),
        ),
    ]


def _half_float_events() -> bytes:
    """An events body whose single event's value is the half float 1.5 (0xf9 0x3e 0x00)."""
    body = events_body([{0: 3, 1: MONO, 6: 0.0}])
    raw = cbor2.dumps(body)
    marker = b"\x06\xfb" + bytes(8)  # key 6, double 0.0 as cbor2 writes it
    assert raw.count(marker) == 1
    return raw.replace(marker, b"\x06\xf9\x3e\x00")
