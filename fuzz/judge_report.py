"""What the judge fuzz target reports: a readable account of an input (`describe`, for
fuzz_judge.py --describe), the running counts printed every --report-every inputs (`Stats`),
and memory: RSS and address space now, and the C heap's free pages given back (`trim_heap`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from firmware_protocol import ProtocolError, Topic, decode
from fuzz.judge_plan import parse
from fuzz.judge_world import NOW_US
from ingest.bridge.writes import FlushOutcome


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim), so that RSS
    measures live memory: the flush's worker threads (asyncio.to_thread) each get a malloc
    arena, whose freed pages glibc keeps; measured here, that is 30-60 MB of RSS within a few
    thousand inputs, which malloc_trim returns."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


def rss_mb() -> float:
    """Resident memory now (not the peak): /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def vm_size_mb() -> float:
    """Address space now: /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Stats:
    """A run's running counts (the harness prints `line` every report_every inputs)."""

    inputs: int = 0
    flushes: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    gaps_opened: int = 0
    samples: int = 0
    committed_robots: int = 0
    operational_errors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    trimmed_rss: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, outcome: FlushOutcome, messages: int) -> None:
        self.flushes += 1
        self.messages += messages
        self.accepted += outcome.accepted
        self.duplicates += outcome.duplicates
        self.gaps_opened += outcome.gaps_opened
        self.samples += outcome.samples
        self.committed_robots += len(outcome.committed)
        self.reasons.update(outcome.dead_letters)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        return (
            f"[judge] {self.inputs} inputs in {elapsed:.0f} s ({self.inputs / elapsed:.1f}/s):"
            f" {self.flushes} flushes, {self.messages} messages, accepted {self.accepted},"
            f" duplicates {self.duplicates}, gaps opened {self.gaps_opened}, samples"
            f" {self.samples}, operational errors {self.operational_errors}; Python blocks"
            f" {sys.getallocatedblocks()}, RSS after the last"
            f" heap trim {self.trimmed_rss:.0f} MB, RSS {rss_mb():.0f} MB (peak"
            f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}), address space"
            f" {vm_size_mb():.0f} MB; dead letters {dict(self.reasons.most_common())}"
        )


def describe(data: bytes) -> str:
    """A readable account of an input: its flushes and messages, and how each decodes."""
    plan = parse(data)
    lines = [f"accept_json={plan.accept_json}, {len(plan.flushes)} flush(es)"]
    for number, flush in enumerate(plan.flushes, 1):
        for index, m in enumerate(flush):
            try:
                topic = Topic.parse(m.topic)
                decoded = decode(m.payload, topic=topic, allow_json=plan.accept_json)
                link = decoded.link
                what = f"{decoded.kind.name} minor {decoded.minor}" + (
                    f" seq {link.seq} digest {link.digest.hex()[:12]} prev"
                    f" {link.prev_digest.hex()[:12]}"
                    if link
                    else ""
                )
            except ProtocolError as exc:
                what = f"{exc.code.name}: {str(exc)[:120]}"
            lines.append(
                f"flush {number} message {index}: {m.note}; topic {m.topic!r};"
                f" received NOW{(m.received_us - NOW_US) / 1e6:+.3f} s;"
                f" {len(m.payload)} bytes; {what}\n    payload {m.payload[:96].hex()}"
                + ("..." if len(m.payload) > 96 else "")
            )
    return "\n".join(lines)
