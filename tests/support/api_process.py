"""`robocover api` as a real process, for tests that must talk to it over HTTP as its clients
do (schemathesis over the whole document, the gateway's tests)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.support.managed_process import ManagedProcess, free_port

__all__ = ["ApiProcess", "free_port"]


class ApiProcess(ManagedProcess):
    """Runs `robocover api ARGUMENTS` with ``env`` (ROBOCOVER_* settings) on a free port until
    stop()."""

    def __init__(
        self, env: dict[str, str], *, port: int | None = None, arguments: Sequence[str] = ()
    ) -> None:
        self.port = port or free_port()
        self.arguments = list(arguments)
        super().__init__(
            {"ROBOCOVER_API_HOST": "127.0.0.1", "ROBOCOVER_API_PORT": str(self.port), **env}
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ApiProcess:
        self.launch(["api", *self.arguments], f"{self.url}/healthz", timeout_s)
        return self
