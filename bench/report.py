"""What every benchmark shares: the machine it ran on, and its section of docs/benchmarks.md
between its markers (``<!-- NAME-bench:start -->`` ... ``<!-- NAME-bench:end -->``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_section(path: Path, name: str, heading: str, section: str) -> None:
    """Replace the text between the benchmark's markers, or append a new heading with them."""
    start, end = f"<!-- {name}-bench:start -->", f"<!-- {name}-bench:end -->"
    text = path.read_text() if path.exists() else ""
    head, found, rest = text.partition(start)
    if not found:
        head, rest = text.rstrip("\n") + f"\n\n## {heading}\n\n", end + "\n"
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{section}{end}{tail}")
