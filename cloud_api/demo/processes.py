"""The demo's processes: each started as deployed (its own command and ``ROBOCOVER_*``
environment), its output prefixed with its name into one log file, none on the terminal, and
every one of them stopped when the demo ends, however it ends.

Children run in sessions of their own, so that a Ctrl-C at the terminal reaches the demo only
and the demo stops them in order (the robots first, then what they talk to); each child also
asks the kernel for a SIGTERM should the demo die without stopping it (``PR_SET_PDEATHSIG``)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Managed:
    """One child process, with the thread that copies its output into the log."""

    name: str
    popen: subprocess.Popen[bytes]
    role: str
    copier: threading.Thread

    @property
    def state(self) -> str:
        code = self.popen.poll()
        return "running" if code is None else f"exited {code}"


@dataclass
class ProcessGroup:
    """Starts, lists and stops the demo's children; their output goes to ``log_path``."""

    log_path: Path
    children: list[Managed] = field(default_factory=list)
    _log: IO[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")

    def write(self, name: str, line: bytes) -> None:
        """One line of ``name`` into the log."""
        with self._lock:
            if self._log is not None and not self._log.closed:
                self._log.write(name.encode() + b" | " + line.rstrip(b"\n") + b"\n")
                self._log.flush()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        role: str,
        cwd: Path | None = None,
        stdin: bytes | None = None,
    ) -> Managed:
        """Start ``argv`` (called from the main thread: a child's death signal follows the
        thread that started it)."""
        popen = subprocess.Popen(  # noqa: S603 - our own commands
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - prctl only, before exec
        )
        if stdin is not None and popen.stdin is not None:
            popen.stdin.write(stdin)
            popen.stdin.close()
        copier = threading.Thread(target=self._copy, args=(name, popen), daemon=True)
        copier.start()
        managed = Managed(name, popen, role, copier)
        self.children.append(managed)
        return managed

    def _copy(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None  # noqa: S101 - started with a pipe
        with popen.stdout:
            for line in popen.stdout:
                self.write(name, line)
        self.write(name, f"(exited {popen.wait()})".encode())

    def run(self, name: str, argv: Sequence[str], env: dict[str, str], **kwargs: object) -> int:
        """Run a short command to its end, its output into the log; its exit code."""
        managed = self.start(name, argv, env, role="command", **kwargs)  # type: ignore[arg-type]
        code = managed.popen.wait(timeout=300)
        managed.copier.join(timeout=10)
        self.children.remove(managed)
        return code

    def running(self, role: str | None = None) -> list[Managed]:
        return [c for c in self.children if role is None or c.role == role]

    def stop(self, children: Sequence[Managed], timeout_s: float = 30.0) -> None:
        """SIGTERM to each, then wait; SIGKILL what is still there after ``timeout_s``."""
        for child in children:
            if child.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in children:
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.write(child.name, b"(did not stop in time: killed)")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.popen.pid, signal.SIGKILL)
                child.popen.wait(timeout=10)
            child.copier.join(timeout=5)

    def stop_all(self, order: Sequence[str]) -> None:
        """Every child, role by role in ``order`` (then any other role)."""
        roles = [*order, *sorted({c.role for c in self.children} - set(order))]
        for role in roles:
            self.stop(self.running(role))
        self.children.clear()

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, alive: Callable[[], None]
) -> None:
    """Poll ``condition`` until true; ``alive`` raises if a process it waits on died."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(0.2)


def answers(url: str, verify: bool | str = True) -> bool:
    """Whether ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=2, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False
