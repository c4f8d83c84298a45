"""What a robot does with the protocol loads neither numpy (~21 MB) nor cryptography (~8 MB).

The agent must fit in 40 MB. Run in a fresh interpreter, since this test session has long
imported numpy: import the package, build, sign and encode every robot-to-cloud kind (telemetry
as TelemetryRows), decode and verify the cloud's ack and config, then look at sys.modules.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]

ROBOT_SCRIPT = textwrap.dedent(
    """
    import sys, uuid
    import firmware_protocol
    assert "numpy" not in sys.modules, "import firmware_protocol loaded numpy"
    from firmware_protocol import (
        Ack, Config, DropNotice, DropReason, Event, EventBatch, EventKind, MetricDeclaration,
        MetricKey, RobotSigner, RobotState, SeqRange, Severity, Status, TelemetryRows, Topic,
        decode, encode, payload_digest, to_json, verify,
    )

    robot, boot = uuid.UUID(int=7), uuid.UUID(int=8)
    signer = RobotSigner.from_seed(bytes(range(32)))
    origin = dict(robot_id=robot, boot_id=boot, wall_us=1_764_000_000_000_000, mono_us=9_000_000)
    status = Status(
        **origin, state=RobotState.ONLINE, firmware_version="1.2", agent_version="0.4",
        next_seq=0,
        catalogue=(MetricDeclaration(MetricKey("x_acme_force_n"), -2, "N", "gripper force"),),
    )
    rows = TelemetryRows.from_values(
        **origin, seq=0, prev_digest=bytes(32),
        timestamps_us=[8_000_000 + 100_000 * i for i in range(60)],
        series={
            **{f"motor_current_a.{m}": [1.5 + 0.01 * i * m for i in range(60)] for m in (1, 2)},
            "x_acme_force_n": [12.5 - 0.25 * i for i in range(60)],
        },
        exponents={"x_acme_force_n": -2},
    )
    payloads = [encode(status, signer), encode(rows, signer), encode(rows, signer, compress=False)]
    to_json(rows)
    events = EventBatch(
        **origin, seq=1, prev_digest=payload_digest(payloads[1]),
        events=(
            Event(EventKind.COLLISION, 8_500_000, Severity.WARNING, value=120.0),
            Event(EventKind.FAULT, 8_600_000, Severity.ERROR, code="E42", message="overcurrent"),
            Event(EventKind.CONFIG_APPLIED, 8_700_000, code="3", message="applied"),  # 1.1
        ),
    )
    payloads.append(encode(events, signer))
    notice = DropNotice(
        **origin, seq=5, prev_digest=payload_digest(payloads[-1]), first_seq=2, last_seq=4,
        digest_before=payload_digest(payloads[-1]), last_digest=bytes(range(32)),
        reason=DropReason.DISK_BUDGET, dropped_bytes=4096,
    )
    payloads.append(encode(notice, signer))
    assert all(len(p) > 74 for p in payloads)

    cloud = RobotSigner.from_seed(bytes(range(1, 33)))
    ack = Ack(robot_id=robot, wall_us=1, committed=(SeqRange(0, 1), SeqRange(5, 5)))
    config = Config(robot_id=robot, config_version=3, wall_us=1, compress=False,
                    metrics=(MetricKey("motor_current_a", 1),),
                    read_interval_ms=100, collectors=("system",))  # 1.1 fields
    for message, kind in ((ack, "ack"), (config, "config")):
        decoded = decode(encode(message, cloud), topic=Topic.parse(f"rc/v1/acme/{robot}/{kind}"))
        assert decoded.message == message, decoded.message
        verify(decoded, cloud.public_key)
    assert decode(encode(config)).message == config  # unsigned config: the cloud may send one
    # Telemetry arriving on the robot's ack topic is refused from its header, body unparsed.
    from firmware_protocol import ErrorCode, TopicError
    try:
        decode(payloads[1], topic=Topic.parse(f"rc/v1/acme/{robot}/ack"))
    except TopicError as exc:
        assert exc.code == ErrorCode.KIND_TOPIC_MISMATCH, exc
    else:
        raise AssertionError("telemetry accepted on an ack topic")

    loaded = sorted({m.split(".")[0] for m in sys.modules})
    print("LOADED", " ".join(loaded))
    with open("/proc/self/status") as status_file:
        rss = next(line.split()[1] for line in status_file if line.startswith("VmRSS:"))
    print("RSS_KB", rss)
    """
)


def test_robot_side_imports_neither_numpy_nor_cryptography() -> None:
    result = subprocess.run(
        [sys.executable, "-c", ROBOT_SCRIPT],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = next(line for line in result.stdout.splitlines() if line.startswith("LOADED"))
    modules = set(loaded.split()[1:])
    assert "firmware_protocol" in modules
    assert "nacl" in modules  # signing went through PyNaCl
    assert not modules & {"numpy", "cryptography"}, sorted(modules & {"numpy", "cryptography"})


def test_every_public_name_resolves_lazily_and_unknown_names_fail() -> None:
    import firmware_protocol

    for name in firmware_protocol.__all__:
        assert getattr(firmware_protocol, name) is not None, name
    assert set(firmware_protocol.__all__) <= set(dir(firmware_protocol))
    with pytest.raises(AttributeError, match="has no attribute 'TelemetryBatchh'"):
        getattr(firmware_protocol, "TelemetryBatchh")  # noqa: B009 - the name is the point
