"""deploy/systemd: every unit through `systemd-analyze verify` (no warning either) and
`systemd-analyze security --offline` (an exposure ceiling), templates as their instances.

verify checks that each ExecStart= program exists. The units run robocover from
/opt/robocover/venv (the image's place too), which this machine does not have: in a private
mount namespace of the verify process alone, /opt/robocover/venv is this checkout's own
virtual environment, so the programs checked are the real entry points the units would run."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.deploy_files import SYSTEMD_DIR, unit, values

VENV = Path(sys.executable).parent.parent
INSTANCES = {
    "robocover-api@.service": ["core", "claims", "robots"],
    "robocover-ingest@.service": ["1", "2"],
}
ANALYZE = "/usr/bin/systemd-analyze"
EXPOSURE_CEILING = 2.0
"""systemd-analyze's exposure (0 safest, 10 unprotected); the units score 1.4."""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or not Path(ANALYZE).exists(),
    reason="needs root, unshare and systemd-analyze (Debian's systemd), as make test has",
)


@pytest.fixture(scope="module")
def unit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as systemd would load them: each template under each of its instances."""
    target = tmp_path_factory.mktemp("units")
    for path in SYSTEMD_DIR.iterdir():
        if path.suffix not in {".service", ".target"}:
            continue
        shutil.copy(path, target / path.name)
        for instance in INSTANCES.get(path.name, []):
            (target / path.name.replace("@.", f"@{instance}.")).symlink_to(path)
    return target


def _in_namespace(command: list[str]) -> subprocess.CompletedProcess[str]:
    inner = (
        "mount -t tmpfs tmpfs /opt && mkdir -p /opt/robocover/venv"
        f" && mount --bind {shlex.quote(str(VENV))} /opt/robocover/venv && exec "
        + shlex.join(command)
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _loadable(unit_dir: Path) -> list[Path]:
    return sorted(p for p in unit_dir.iterdir() if "@." not in p.name)


def test_every_unit_verifies_without_a_word(unit_dir: Path) -> None:
    units = _loadable(unit_dir)
    assert len(units) == 11  # agent, 3 API pools, 2 ingest, jobs, beat, risk, migrate, target
    result = _in_namespace(["systemd-analyze", "verify", *map(str, units)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not output.strip(), output


def test_verify_would_complain(tmp_path: Path) -> None:
    """The check above can fail: a misspelt setting and a missing program are reported."""
    bad = tmp_path / "robocover-bad.service"
    bad.write_text(
        "[Unit]\nDescription=x\n[Service]\nExecStart=/opt/robocover/venv/bin/robocover-nope\n"
        "ProtectSystem=stricter\n"
    )
    result = _in_namespace(["systemd-analyze", "verify", str(bad)])
    output = result.stdout + result.stderr
    assert "robocover-nope" in output
    assert "stricter" in output


def test_every_service_is_hardened(unit_dir: Path) -> None:
    for path in _loadable(unit_dir):
        if path.suffix != ".service":
            continue
        result = _in_namespace(
            [
                "systemd-analyze",
                "security",
                "--offline=yes",
                f"--threshold={int(EXPOSURE_CEILING * 10)}",
                str(path),
            ]
        )
        assert result.returncode == 0, f"{path.name}: {result.stdout[-300:]}{result.stderr}"
        parsed = unit(path.resolve())
        assert values(parsed, "Service", "ProtectSystem") == ["strict"], path.name
        assert values(parsed, "Service", "NoNewPrivileges") == ["yes"], path.name
        assert values(parsed, "Service", "User"), path.name
        if values(parsed, "Service", "Type") != ["oneshot"]:
            assert values(parsed, "Service", "Restart") == ["on-failure"], path.name


def test_the_agent_keeps_its_outbox_in_its_state_directory() -> None:
    parsed = unit(SYSTEMD_DIR / "robocover-agent.service")
    assert values(parsed, "Service", "StateDirectory") == ["robocover-agent"]
    assert values(parsed, "Service", "Environment") == [
        "ROBOCOVER_AGENT_STATE_DIR=/var/lib/robocover-agent"
    ]
    assert values(parsed, "Unit", "StartLimitIntervalSec") == ["300"]
