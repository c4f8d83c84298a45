"""Protocol v1 wire-size and decode-throughput benchmark.

    python bench/protocol_bench.py                      # print the markdown section
    python bench/protocol_bench.py --output docs/benchmarks.md

A "typical batch" is 20 metrics x 60 samples at 1 Hz from a 6-axis arm: smooth signals plus
sensor noise (random walks, sinusoidal loads, Gaussian noise), not constants. Baselines get the
same values, already rounded to the same resolution, so they are not padded with noise digits.
Throughput is the best of several repeats on one core (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from firmware_protocol import RobotSigner, TelemetryBatch, decode, encode, to_json, verify

METRICS = 20
SAMPLES = 60
CELLS = METRICS * SAMPLES


def realistic_batch(seed: int = 7) -> TelemetryBatch:
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES, dtype=np.float64)
    series: dict[str, Any] = {}
    for joint in range(1, 7):
        walk = np.cumsum(rng.normal(0.0, 0.02, SAMPLES))
        series[f"joint_temperature_c.{joint}"] = 38 + joint + walk + rng.normal(0, 0.05, SAMPLES)
    for motor in range(1, 7):
        load = 2.0 + 1.5 * np.sin(2 * np.pi * t / 20 + motor)
        series[f"motor_current_a.{motor}"] = load + rng.normal(0, 0.04, SAMPLES)
    series["battery_soc_pct"] = 81.0 - t * 0.01 + rng.normal(0, 0.05, SAMPLES)
    series["battery_soh_pct"] = 96.4 + rng.normal(0, 0.02, SAMPLES)
    series["odometer_m"] = 15234.2 + np.cumsum(np.abs(rng.normal(0.4, 0.1, SAMPLES)))
    series["operating_hours_h"] = 5123.25 + t / 3600
    series["payload_kg"] = 4.5 + rng.normal(0, 0.03, SAMPLES)
    series["speed_m_s"] = np.abs(0.4 * np.sin(2 * np.pi * t / 20)) + rng.normal(0, 0.005, SAMPLES)
    series["controller_cpu_pct"] = 35 + rng.normal(0, 3, SAMPLES)
    series["controller_memory_pct"] = 41.2 + rng.normal(0, 0.1, SAMPLES)
    mono = 3_600_000_000
    stamps = mono - 60_000_000 + np.arange(SAMPLES) * 1_000_000 + rng.integers(-300, 300, SAMPLES)
    return TelemetryBatch.from_values(
        robot_id=uuid.UUID(int=rng.integers(2**62).item()),
        boot_id=uuid.uuid4(),
        seq=41,
        prev_digest=bytes(range(32)),
        wall_us=1_764_000_000_000_000,
        mono_us=mono,
        timestamps_us=stamps,
        series=series,
    )


def _epoch_ms(batch: TelemetryBatch) -> list[int]:
    offset = batch.wall_us - batch.mono_us
    stamps: list[int] = ((batch.timestamps_us + offset) // 1000).tolist()
    return stamps


def iot_per_sample(batch: TelemetryBatch) -> bytes:
    """One JSON object per sample, newline-separated: the common key-value telemetry."""
    robot, stamps = str(batch.robot_id), _epoch_ms(batch)
    lines = [
        json.dumps({"ts": ts, "robot_id": robot, "metric": str(key), "value": value})
        for key, row in zip(batch.keys, batch.values.tolist(), strict=True)
        for ts, value in zip(stamps, row, strict=True)
    ]
    return "\n".join(lines).encode()


def iot_per_timestamp(batch: TelemetryBatch) -> bytes:
    """One JSON object per timestamp with every metric as a key."""
    robot, stamps, rows = str(batch.robot_id), _epoch_ms(batch), batch.values.T.tolist()
    names = [str(key) for key in batch.keys]
    objects = [
        {"ts": ts, "robot_id": robot, **dict(zip(names, row, strict=True))}
        for ts, row in zip(stamps, rows, strict=True)
    ]
    return "\n".join(json.dumps(o) for o in objects).encode()


def float32_columns(batch: TelemetryBatch, *, compress: bool) -> bytes:
    """Reference design not adopted: int64 timestamps + float32 columns, no envelope."""
    raw = batch.timestamps_us.astype("<i8").tobytes() + batch.values.astype("<f4").tobytes()
    if not compress:
        return raw
    shuffled = np.frombuffer(raw[SAMPLES * 8 :], np.uint8).reshape(-1, 4).T.tobytes()
    return zstandard.ZstdCompressor(level=3).compress(raw[: SAMPLES * 8] + shuffled)


def decode_per_sample(payload: bytes) -> dict[str, np.ndarray[Any, Any]]:
    columns: dict[str, list[float]] = {}
    stamps: dict[str, list[int]] = {}
    for line in payload.splitlines():
        record = json.loads(line)
        columns.setdefault(record["metric"], []).append(record["value"])
        stamps.setdefault(record["metric"], []).append(record["ts"])
    result = {name: np.asarray(values) for name, values in columns.items()}
    result |= {f"ts:{name}": np.asarray(values) for name, values in stamps.items()}
    return result


def decode_per_timestamp(payload: bytes) -> np.ndarray[Any, Any]:
    records = [json.loads(line) for line in payload.splitlines()]
    names = [k for k in records[0] if k not in ("ts", "robot_id")]
    return np.asarray([[r[name] for name in names] for r in records]).T


def best_rate(function: Callable[[], object], *, number: int, repeat: int) -> tuple[float, float]:
    """(best, median) seconds per call over `repeat` timings of `number` calls, after a warm-up
    (caches, lazily built tables, CPU frequency)."""
    for _ in range(number):
        function()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        timings.append((time.perf_counter() - start) / number)
    return min(timings), statistics.median(timings)


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"CPU {cpu}, {os.cpu_count()} logical cores visible (one used); Python "
        f"{platform.python_version()}, numpy {np.__version__}, zstandard "
        f"{zstandard.__version__}, {platform.system()} {platform.machine()}"
    )


def run(number: int, repeat: int) -> str:
    batch = realistic_batch()
    rows = batch.to_rows()  # what the agent builds: plain tuples, no numpy
    signer = RobotSigner.from_seed(bytes(32))
    binary = encode(batch, signer)
    assert encode(rows, signer) == binary
    binary_raw = encode(batch, signer, compress=False)
    debug_json = to_json(batch)
    per_sample, per_timestamp = iot_per_sample(batch), iot_per_timestamp(batch)
    zstd = zstandard.ZstdCompressor(level=3)
    sizes = [
        ("robocover v1 binary, shuffle+zstd blocks (default), signed", len(binary)),
        ("robocover v1 binary, raw blocks, signed", len(binary_raw)),
        ("robocover v1 JSON debug form", len(debug_json)),
        (
            "reference: float32 columns + int64 timestamps, no envelope",
            len(float32_columns(batch, compress=False)),
        ),
        (
            "reference: float32 columns byte-shuffled + zstd, no envelope",
            len(float32_columns(batch, compress=True)),
        ),
        ("baseline: IoT JSON, one object per sample", len(per_sample)),
        ("baseline: IoT JSON, one object per timestamp", len(per_timestamp)),
        (
            "baseline: IoT JSON per sample, whole batch zstd-compressed",
            len(zstd.compress(per_sample)),
        ),
    ]
    decoded = decode(binary)
    assert decoded.message == batch
    speeds = [
        ("robocover decode() shuffle+zstd -> numpy", lambda: decode(binary)),
        ("robocover decode() raw blocks -> numpy", lambda: decode(binary_raw)),
        ("robocover decode() JSON debug form -> numpy", lambda: decode(debug_json)),
        ("baseline: json.loads per-sample objects -> numpy", lambda: decode_per_sample(per_sample)),
        (
            "baseline: json.loads per-timestamp objects -> numpy",
            lambda: decode_per_timestamp(per_timestamp),
        ),
        (
            "robocover encode() + Ed25519 sign of TelemetryRows (agent side, pure Python)",
            lambda: encode(rows, signer),
        ),
        (
            "robocover encode() + Ed25519 sign of a numpy TelemetryBatch",
            lambda: encode(batch, signer),
        ),
        ("robocover verify() Ed25519 signature", lambda: verify(decoded, signer.public_key)),
    ]
    lines = [
        f"Generated by `python bench/protocol_bench.py` on {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        "",
        f"Typical batch: {METRICS} metrics x {SAMPLES} samples ({CELLS} samples) at 1 Hz, "
        "realistic noisy robot signals quantized to the catalogue resolutions "
        "(0.01 degC, 0.001 A, 0.1 %, ...). Target: <= 4 bytes/sample.",
        "",
        "| Encoding | Bytes per batch | Bytes per sample |",
        "|---|---:|---:|",
        *[f"| {name} | {size} | {size / CELLS:.2f} |" for name, size in sizes],
        "",
        f"Throughput, one core, best (median) of {repeat} x {number} calls. "
        "Target: decoding >= 5 000 000 samples/s.",
        "",
        "| Operation | us per batch | samples/s (best) | samples/s (median) |",
        "|---|---:|---:|---:|",
    ]
    for name, function in speeds:
        best, median = best_rate(function, number=number, repeat=repeat)
        lines.append(f"| {name} | {best * 1e6:.0f} | {CELLS / best:,.0f} | {CELLS / median:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=300, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=15, help="timings per operation")
    parser.add_argument(
        "--output",
        type=Path,
        help="also write the results into this markdown file, between "
        f"{START} and {END} (the rest of the file is kept)",
    )
    args = parser.parse_args(argv)
    section = run(args.number, args.repeat)
    sys.stdout.write(section)
    if args.output is not None:
        write_between_markers(args.output, section)
    return 0


START, END = "<!-- protocol-bench:start -->", "<!-- protocol-bench:end -->"


def write_between_markers(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else f"## Protocol\n\n{START}\n{END}\n"
    head, found, rest = text.partition(START)
    if not found:
        head, rest = text.rstrip("\n") + "\n\n", END + "\n"
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
