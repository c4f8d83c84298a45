"""Fuzz the protocol decoder: any byte string must decode or raise a ProtocolError.

Coverage-guided, with atheris (``pip install atheris``, the ``fuzz`` extra)::

    python fuzz/fuzz_decode.py -atheris_runs=3000000 -max_len=4096 tests/vectors/protocol/corpus

(libFuzzer options pass through; a corpus directory is optional.)

Without atheris, a seeded pure-Python mutation fuzzer over the golden vectors::

    python fuzz/fuzz_decode.py --mutate 2000000 --seed 1

Oracles for every input: decode() returns a Decoded or raises ProtocolError (nothing else);
no input takes longer than 1 s; a decoded message re-encodes (JSON form) to the same message
(where the JSON form is exact: quantized values below 2**50), and its signature check raises
nothing but SignatureError. Failing inputs are written to
fuzz/crashes/ and the run exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import firmware_protocol as fp  # noqa: E402 - after the path set-up above

VECTORS = ROOT / "tests" / "vectors" / "protocol"
CRASHES = Path(__file__).resolve().parent / "crashes"
TEST_KEY = bytes.fromhex(
    json.loads((ROOT / "tests/vectors/protocol/manifest.json").read_text())["test_public_key"]
)
SLOW_SECONDS = 1.0
JSON_EXACT_BELOW = 2**50


class OracleError(AssertionError):
    """A property of the decoder did not hold for one input."""


def check(data: bytes) -> None:
    """The oracle: raise OracleError (or let an unexpected exception escape) on a bug."""
    started = time.perf_counter()
    try:
        decoded = fp.decode(data)
    except fp.ProtocolError:
        decoded = None
    if time.perf_counter() - started > SLOW_SECONDS:
        raise OracleError(f"decoding took {time.perf_counter() - started:.2f} s")
    if decoded is None:
        return
    with contextlib.suppress(fp.SignatureError):
        fp.verify(decoded, TEST_KEY)
    message = decoded.message
    if (
        isinstance(message, fp.TelemetryBatch)
        and message.quantized.size
        and int(abs(message.quantized).max()) >= JSON_EXACT_BELOW
    ):
        return  # documented: the JSON form's float values are exact only below 2**50
    again = fp.decode(fp.to_json(message)).message
    if again != message:
        raise OracleError("the JSON form does not round-trip the decoded message")


def seeds() -> list[bytes]:
    """The golden vectors, and telemetry frames of every block codec (0 raw, 1 shuffle+zstd)
    and width (1, 2, 4): fuzz/seeds.py, which also writes them to fuzz/corpus/decode/."""
    from fuzz.seeds import codec_frames

    corpus = [bytes.fromhex(p.read_text().strip()) for p in sorted(VECTORS.glob("*.hex"))]
    return [payload for payload in corpus if payload] + [frame for _, frame in codec_frames()]


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        operation = rng.randrange(8)
        at = rng.randrange(len(buffer) + 1)
        if operation == 0 and buffer:
            buffer[min(at, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif operation == 1 and buffer:
            buffer[min(at, len(buffer) - 1)] = rng.choice(
                (0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256))
            )
        elif operation == 2:
            buffer[at:at] = rng.randbytes(rng.randrange(1, 9))
        elif operation == 3:
            del buffer[at : at + rng.randrange(1, 33)]
        elif operation == 4:
            other = rng.choice(corpus)
            start = rng.randrange(len(other))
            buffer[at:at] = other[start : start + rng.randrange(1, 64)]
        elif operation == 5:
            del buffer[at:]
        elif operation == 6 and len(buffer) > 10:
            # CBOR-aware: overwrite an initial byte with a length-carrying one
            buffer[min(at, len(buffer) - 1)] = rng.choice(
                (0x18, 0x19, 0x1A, 0x1B, 0x5B, 0x7B, 0x9B, 0xBB, 0x9F, 0xBF, 0xC2, 0xF9, 0xFB)
            )
        elif operation == 7:
            buffer = bytearray(rng.randbytes(rng.randrange(0, 64)))
    return bytes(buffer)


def report(data: bytes, error: BaseException) -> None:
    CRASHES.mkdir(exist_ok=True)
    path = CRASHES / f"crash-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    sys.stderr.write(f"FAIL {type(error).__name__}: {error}\n  input saved to {path}\n")


def run_mutation(count: int, seed: int) -> int:
    rng = random.Random(seed)  # noqa: S311 - fuzzing, not cryptography
    corpus = seeds()
    started = time.perf_counter()
    slowest = 0.0
    for index in range(count):
        data = mutate(rng, rng.choice(corpus), corpus)
        before = time.perf_counter()
        try:
            check(data)
        except Exception as error:  # every escape is a finding
            report(data, error)
            return 1
        slowest = max(slowest, time.perf_counter() - before)
        if index and index % 250_000 == 0:
            sys.stderr.write(f"{index:,} inputs, {time.perf_counter() - started:.0f} s\n")
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(
        f"mutation fuzz: {count:,} inputs from {len(corpus)} seeds (seed {seed}) in {elapsed:.0f} s"
        f" ({count / elapsed:,.0f}/s); slowest input {slowest * 1e3:.1f} ms; peak RSS"
        f" {peak_mib:.0f} MiB; no failures\n"
    )
    return 0


def _seed_corpus() -> Path:
    """libFuzzer wants raw files: the golden vectors, decoded from hex, in a fresh directory."""
    directory = Path(tempfile.mkdtemp(prefix="protocol-corpus-"))
    for index, payload in enumerate(seeds()):
        (directory / f"seed-{index:03d}").write_bytes(payload)
    return directory


def atheris_entry(data: bytes) -> None:
    check(data)


def main() -> int:
    parser = argparse.ArgumentParser(description="fuzz firmware_protocol.decode")
    parser.add_argument("--mutate", type=int, metavar="N", help="pure-Python mode: N inputs")
    parser.add_argument("--seed", type=int, default=1)
    args, rest = parser.parse_known_args()
    if args.mutate is not None:
        return run_mutation(args.mutate, args.seed)
    try:
        import atheris  # optional: the fuzz extra
    except ImportError:
        sys.stderr.write("atheris is not installed: running the mutation fuzzer instead\n")
        return run_mutation(100_000, args.seed)
    global fp  # noqa: PLW0603 - swap in the coverage-instrumented package
    for name in [m for m in sys.modules if m.startswith("firmware_protocol")]:
        del sys.modules[name]
    with atheris.instrument_imports(include=["firmware_protocol"]):
        import firmware_protocol as instrumented

        # The package loads its submodules lazily (PEP 562): load them all while instrumenting.
        for name in instrumented.__all__:
            getattr(instrumented, name)
    fp = instrumented
    if not any(Path(arg).is_dir() for arg in rest):
        rest.append(str(_seed_corpus()))
    atheris.Setup([sys.argv[0], *rest], atheris_entry)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
