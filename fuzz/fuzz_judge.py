"""Fuzz the ingest's WHOLE judging path on a real PostgreSQL + TimescaleDB: decoding, signature
verification, chain judging and the flush's writes, through `Flusher.flush`.

Coverage-guided, with atheris (the ``fuzz`` extra); the services of ``make setup``::

    python fuzz/seeds.py                                   # seed corpus into fuzz/corpus/
    python fuzz/fuzz_judge.py -atheris_runs=1000000 -max_len=262144 -rss_limit_mb=448 \\
        -malloc_limit_mb=64 -timeout=30 -artifact_prefix=fuzz/crashes/ fuzz/corpus/judge
    python fuzz/fuzz_judge.py fuzz/crashes/crash-...        # run one input again
    python fuzz/fuzz_judge.py --describe fuzz/crashes/crash-...   # what it means, then run it
    python fuzz/fuzz_judge.py --cleanup                    # drop databases of finished runs

At start: a database of its own (``rc_fuzz_<pid>``), cloned from a template migrated once per
version of the migrations (``rc_fuzz_tpl_<digest>``, itself cloned from robocover_template
and upgraded with migrations.runner.upgrade); two tenants and four robots with known keys (one
suspended, one with a credential rotation pending), a base history committed through the real
Flusher (chains, an open gap, a 1.2 birth), dead-letter budgets a few messages short of full
and a tenant's metric catalogue a few keys short of its limit; one async psycopg connection
and one event loop (loop.run_until_complete per input).

Per input (judge_input.py gives the format, judge_plan.parse what it stands for): one or two
flushes of 1-8 messages in all, each raw fuzz bytes on a robot topic, a raw payload re-homed to
a robot and re-signed, a VALID message built from fuzzed fields and signed with a robot's real
key (telemetry, events, drop notices, status; seq, prev_digest, times and values at and past
the protocol's bounds), such a message mutated (and re-signed, or not), a redelivery, or a
replay of the base history; on the right topic, or another robot's, another tenant's, an
unknown robot's, another kind's, a malformed one. The flushes run in ONE transaction that is
rolled back, and the sequences are put back, so the database is the same for every input and a
crash file reproduces.

A finding (atheris records the input): any exception escaping Flusher.flush but
psycopg.OperationalError (the database went away: reconnect, go on); a FlushOutcome that does
not account for every message, or a dead letter holding an exception the judge contained
(judge_oracles.check_flush gives the invariant); a database left inconsistent by the flushes
(judge_oracles.check_database); resident memory grown more than --rss-margin-mb over
the idle target.

Modules (fuzz/, none instrumented): judge_input (the input format: Reader, Writer, modes),
judge_world (NOW, the fleet, its base history, a robot's chain state), judge_values (the value
ladders), judge_builder (valid messages from fuzzed fields), judge_frames (framing, overrides
past the bounds, signing, byte mutations), judge_plan (an input's flushes), judge_database (the
template, the fuzz database, the fleet and budgets in it), judge_oracles (the checks),
judge_report (--describe, the report lines, memory), judge_harness (the run loop).

Memory limits. The idle RSS is measured after a warm-up (a batch of 65 536 values, the most one
message holds, has gone through) and printed; -rss_limit_mb (libFuzzer's own check, once a
second, of the PEAK RSS) is meant to be that plus 128 MB. -malloc_limit_mb is accepted but does
nothing here: libFuzzer applies it through the sanitizers' malloc hooks, which atheris without
a sanitizer build does not install (checked: a 200 MB allocation passes -malloc_limit_mb=64).
What bounds one allocation instead is RLIMIT_AS, set in this process after the warm-up to its
address space then plus --as-margin-mb (a larger allocation raises MemoryError, a finding), and
the per-input RSS check.
"""

from __future__ import annotations

import argparse
import resource
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def warm_up_inputs() -> list[bytes]:
    """Typical inputs, then the largest batch a message may hold (4096 samples x 16 metrics),
    so that the idle RSS measured after them includes the buffers any input may reuse. (Bytes
    spelt out: the fuzz modules, which have a Writer, import firmware_protocol, which must first
    be imported inside atheris.instrument_imports.)"""
    largest = bytes(
        [
            0,  # header: one message, one flush
            *(0, 0, 0),  # built, robot A, received at NOW
            *(0, 0, 0, 0, 0),  # telemetry, the next seq, its prev_digest, wall, mono
            15,  # SAMPLES[15] = 4096
            10,  # METRICS[10] = 16
        ]
    )
    return [b"", bytes(64), bytes([7]) + bytes(200), largest]


NUMPY_KERNELS = ("ingest.bridge.rollups", "firmware_protocol.telemetry")
"""Modules left uninstrumented. Measured: instrumented, the harness's live Python blocks grow
by ~3,700 per 1000 inputs and RSS by ~2.5 MB (tracemalloc: rollups.py's and telemetry.py's
array comparisons); uninstrumented, by ~900 (the decoder's bounded LRU caches filling) and RSS
stays flat. A 10-line check reproduces it: `(a[1:] != a[:-1]).any()` in an instrumented module
keeps one object per call."""


def main() -> int:
    parser = argparse.ArgumentParser(description="fuzz the ingest's judging path (atheris)")
    parser.add_argument("--describe", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--cleanup", action="store_true", help="drop finished runs' databases")
    parser.add_argument("--rss-margin-mb", type=int, default=128)
    parser.add_argument("--as-margin-mb", type=int, default=1024)
    parser.add_argument("--report-every", type=int, default=10_000, metavar="INPUTS")
    args, rest = parser.parse_known_args()

    import atheris
    from loguru import logger

    # Not instrumented: two numpy kernels with next to no branches, where atheris 3.0.0's
    # comparison tracing keeps every array a comparison returns (`r[1:] != r[:-1]`): ~2.5 MB
    # of RSS per 1000 inputs, which no uninstrumented run shows (see NUMPY_KERNELS).
    with atheris.instrument_imports(
        include=["firmware_protocol", "ingest"], exclude=list(NUMPY_KERNELS)
    ):
        from fuzz.judge_database import drop_stale_databases
        from fuzz.judge_harness import Harness
        from fuzz.judge_oracles import Finding
        from fuzz.judge_report import describe, rss_mb, trim_heap, vm_size_mb

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    if args.cleanup:
        from ingest.settings import IngestSettings

        dropped = drop_stale_databases(IngestSettings().libpq_url)
        sys.stdout.write(f"dropped {len(dropped)} database(s): {', '.join(dropped)}\n")
        return 0

    harness = Harness.create()
    harness.report_every = args.report_every
    for data in warm_up_inputs():
        harness.run(data)
    trim_heap()
    idle_rss, idle_vm = rss_mb(), vm_size_mb()
    address_space = int((idle_vm + args.as_margin_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, resource.RLIM_INFINITY))
    rss_bound = idle_rss + args.rss_margin_mb
    sys.stderr.write(
        f"[judge] database {harness.url.rpartition('/')[2]}; idle RSS {idle_rss:.0f} MB"
        f" (libFuzzer -rss_limit_mb is meant to be {idle_rss + 128:.0f}); in-target RSS bound"
        f" {rss_bound:.0f} MB; RLIMIT_AS {address_space / 2**20:.0f} MB (address space"
        f" {idle_vm:.0f} MB + {args.as_margin_mb} MB)\n"
    )

    if args.describe:
        failed = 0
        for path in args.describe:
            data = path.read_bytes()
            sys.stdout.write(f"== {path} ({len(data)} bytes)\n{describe(data)}\n")
            try:
                harness.run(data)
            except Exception:
                failed += 1
                sys.stdout.write(traceback.format_exc())
            else:
                for number, outcome in enumerate(harness.outcomes, 1):
                    sys.stdout.write(f"flush {number}: {outcome}\n")
                sys.stdout.write("-> no finding\n")
        harness.close()
        return 1 if failed else 0

    def entry(data: bytes) -> None:
        harness.run(data)
        rss = rss_mb()
        if rss > rss_bound:
            raise Finding(f"RSS {rss:.0f} MB, idle {idle_rss:.0f} MB + {args.rss_margin_mb}")

    atheris.Setup([sys.argv[0], *rest], entry)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
