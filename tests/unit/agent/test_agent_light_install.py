"""The `agent` extra alone runs the agent: no module of the agent imports a server library or a
cloud-side package, even indirectly; nor the heavy libraries that would break its 40 MB budget
(numpy alone is 20 MB): pydantic, loguru, cryptography. numpy stays installed (the protocol's
decoder uses it) but is never imported by the agent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
BLOCKED = ["fastapi", "sqlalchemy", "psycopg", "aiomqtt", "typer", "rich", "uvicorn", "starlette",
           "alembic", "celery", "redis", "polars", "httpx", "ingest", "risk_engine", "cloud_api",
           "migrations", "numpy", "pydantic", "pydantic_settings", "loguru",
           "cryptography"]  # fmt: skip
MODULES = ["edge_agent.cli", "edge_agent.agent", "edge_agent.fleet", "edge_agent.enroll",
           "edge_agent.collectors.system", "edge_agent.collectors.simulator",
           "edge_agent.collectors.ros2"]  # fmt: skip


def test_agent_modules_import_with_server_packages_blocked(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import importlib, sys
        BLOCKED = {BLOCKED!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is not in the agent extra")
                return None

        sys.meta_path.insert(0, Block())
        for module in {MODULES!r}:
            importlib.import_module(module)
        from edge_agent.cli import main
        main(["settings"])
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "ROBOCOVER_AGENT_STATE_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert '"state_dir"' in result.stdout
