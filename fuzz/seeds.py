"""Seed corpora for the fuzz targets: ``python fuzz/seeds.py [--out DIR]`` writes (DIR is
fuzz/corpus by default)

- DIR/decode/: payloads, as fuzz_decode.py reads them: the golden vectors
  (tests/vectors/protocol/*.hex), telemetry frames of every block codec and width (codec 0 raw
  and codec 1 shuffle+zstd, widths 1, 2 and 4), and a valid message of every kind;
- DIR/judge/: inputs in fuzz_judge.py's format (judge_input.py), where a seed is the
  provider's bytes, not a payload: a valid message of every kind from every robot, a chain with
  a withheld message and its drop notice, a key rotation, a redelivery, a fork; the codec frames
  and the golden vectors each carried whole as one RAW message (first byte: the mode, then the
  robot, the receive time, the length, the payload), and again RE-HOMED to robot A and
  re-signed with its key, so that they also reach the judge as authentic.

Seed files are named ``seed-*`` and rewritten each time; the files libFuzzer adds beside them
are kept. fuzz/corpus is git-ignored (fuzz/.gitignore).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_protocol import TelemetryRows, Topic, decode, encode, payload_digest  # noqa: E402
from firmware_protocol._cbor import loads as cbor_loads  # noqa: E402
from firmware_protocol.catalogue import MetricKey  # noqa: E402
from fuzz.judge_input import Mode, Writer  # noqa: E402
from fuzz.judge_plan import parse  # noqa: E402
from fuzz.judge_world import FLEET, NOW_US, SECOND, base_history  # noqa: E402

VECTORS = ROOT / "tests" / "vectors" / "protocol"
CORPUS = Path(__file__).resolve().parent / "corpus"


def golden_vectors() -> list[tuple[str, bytes]]:
    vectors = [
        (p.stem, bytes.fromhex(p.read_text().strip())) for p in sorted(VECTORS.glob("*.hex"))
    ]
    return [(name, payload) for name, payload in vectors if payload]


def codec_frames() -> list[tuple[str, bytes]]:
    """Signed telemetry of robot A at its next seq (5, linked to its seq 4), one frame per
    block codec and width: both blocks of each frame have that codec and width."""
    spec, history = FLEET[0], base_history()["A"]
    prev = payload_digest(history.payloads[-1])
    steps = {1: 3, 2: 1_000, 4: 100_000}
    frames = []
    for width, step in steps.items():
        for compress in (False, True):
            samples = 64
            # Raw: values that zstd cannot shrink below raw; zstd: a constant step, which it can.
            wobble = (lambda i: (i * 7919) % 5 - 2) if not compress else (lambda i: 0)
            stamps = [1_000_000 + i * step for i in range(samples)]
            rows = tuple(
                tuple(10 * m + i * step + wobble(i) for i in range(samples)) for m in range(3)
            )
            message = TelemetryRows(
                robot_id=spec.robot_id,
                boot_id=history.boot_id,
                seq=len(history.payloads),
                prev_digest=prev,
                wall_us=NOW_US - SECOND,
                mono_us=stamps[-1],
                timestamps_us=tuple(stamps),
                keys=(MetricKey("x_fz_a"), MetricKey("x_fz_b"), MetricKey("x_fz_c")),
                exponents=(-3, -3, -3),
                quantized=rows,
            )
            payload = encode(message, spec.signer, compress=compress)
            body = cbor_loads(payload[10:-64])
            blocks = {(body[11][0], body[11][1]), (body[16][0], body[16][1])}
            if blocks != {(int(compress), width)}:
                raise RuntimeError(f"wanted codec {int(compress)} width {width}, got {blocks}")
            frames.append((f"codec{int(compress)}_width{width}", payload))
    return frames


def _built(*messages: tuple[int, int, list[int]], header: int = 0, split: int = 0) -> bytes:
    """An input of BUILT messages: (robot, kind choice, further choices), each record padded
    with zeros, so the mutator has every choice byte to change (a zero is the honest choice)."""
    writer = Writer().u8(header | (len(messages) - 1))
    if header & 8:
        writer.u8(split)
    for robot, kind, choices in messages:
        record = bytes([Mode.BUILT, robot, 0, kind, *choices])
        writer.record(record.ljust(40, b"\x00"))
    return writer.data()


def _record(mode: int, robot: int, rest: bytes = b"", header: int = 0) -> bytes:
    """An input of one message of another mode."""
    return Writer().u8(header).record(bytes([mode, robot, 0]) + rest).data()


TELEMETRY, EVENTS, DROP, STATUS, WITHHELD_TELEMETRY = 0, 2, 3, 4, 0x80


def judge_seeds() -> list[tuple[str, bytes]]:
    seeds = []
    for index, spec in enumerate(FLEET):
        for kind, name in ((TELEMETRY, "telemetry"), (EVENTS, "events"), (STATUS, "status")):
            seeds.append((f"{name}_{spec.name}", _built((index, kind, []))))
        seeds.append((f"drop_notice_{spec.name}", _built((index, DROP, []))))
    seeds += [
        ("chain_A_8", _built(*[(0, TELEMETRY, []) for _ in range(8)])),
        ("two_flushes_A", _built(*[(0, TELEMETRY, []) for _ in range(4)], header=8, split=1)),
        (
            "withheld_then_drop_notice_A",
            _built((0, WITHHELD_TELEMETRY, []), (0, TELEMETRY, []), (0, DROP, [])),
        ),
        ("gap_A", _built((0, TELEMETRY, [1, 5]))),
        ("fork_A", _built((0, TELEMETRY, [2]))),
        ("broken_back_link_A", _built((0, TELEMETRY, [0, 1]))),
        # B answers its pending rotation (event kind 11, code "7", its new key), then signs
        # with the new key.
        (
            "key_rotation_B",
            _built((1, EVENTS, [0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0]), (1, TELEMETRY, [])),
        ),
        ("catalogue_full_G", _built((2, TELEMETRY, [0, 0, 0, 0, 0, 4, 2, 50, 0]))),
        ("future_timestamp_A", _built((0, TELEMETRY, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]))),
        ("status_owes_A", _built((0, STATUS, [0, 0, 0, 2, 9]))),
    ]
    redelivery = Writer().u8(1).record(bytes([Mode.BUILT, 0, 0]).ljust(40, b"\x00"))
    redelivery.record(bytes([Mode.REPEAT, 0, 1, 0]))
    seeds.append(("redelivery_A", redelivery.data()))
    for index, spec in enumerate(FLEET):
        history = base_history()[spec.name]
        for which in range(len(history.payloads) + len(history.statuses)):
            seeds.append(
                (f"replay_{spec.name}_{which}", _record(Mode.REPLAY, index, bytes([which])))
            )
    for name, payload in [*codec_frames(), *golden_vectors()]:
        header = 16 if name.startswith("json_") else 0  # the development policy takes JSON
        for mode, label in ((Mode.RAW, "raw"), (Mode.REHOMED, "rehomed")):
            seeds.append((f"{label}_{name}", _record(mode, 0, payload, header)))
    return seeds


def decode_seeds() -> list[tuple[str, bytes]]:
    """Payloads: golden vectors, codec frames, and the messages of the judge's BUILT seeds."""
    seeds = [*golden_vectors(), *codec_frames()]
    for name, data in judge_seeds():
        if name.startswith(("raw_", "rehomed_")):
            continue
        for index, message in enumerate(parse(data).messages):
            seeds.append((f"{name}_{index}", message.payload))
    return seeds


def write(directory: Path, seeds: list[tuple[str, bytes]]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("seed-*"):
        old.unlink()
    for name, data in seeds:
        (directory / f"seed-{name}").write_bytes(data)
    return len(seeds)


def check_judge_seeds() -> list[str]:
    """Each judge seed's messages, as they decode on their topics: for a glance."""
    lines = []
    for name, data in judge_seeds():
        plan = parse(data)
        kinds = []
        for message in plan.messages:
            try:
                decoded = decode(
                    message.payload, topic=Topic.parse(message.topic), allow_json=plan.accept_json
                )
                kinds.append(decoded.kind.name.lower())
            except Exception as exc:  # a report, not a check: ProtocolError or anything
                kinds.append(type(exc).__name__)
        lines.append(f"{name}: {', '.join(kinds)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="write the fuzz targets' seed corpora")
    parser.add_argument("--show", action="store_true", help="how each judge seed decodes")
    parser.add_argument("--out", type=Path, default=CORPUS, help=f"default {CORPUS}")
    args = parser.parse_args()
    if args.show:
        sys.stdout.write("\n".join(check_judge_seeds()) + "\n")
        return 0
    decode_count = write(args.out / "decode", decode_seeds())
    judge_count = write(args.out / "judge", judge_seeds())
    sys.stdout.write(
        f"seeds: {decode_count} payloads in {args.out / 'decode'},"
        f" {judge_count} inputs in {args.out / 'judge'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
