from __future__ import annotations

import json

import pytest

from edge_agent.cli import main


def test_settings_command_prints_the_effective_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROBOCOVER_AGENT_STATE_DIR", "/tmp/agent-state")
    main(["settings"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["state_dir"] == "/tmp/agent-state"
    assert printed["mqtt_url"].startswith("mqtt")


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cloud.example.com", True),
        ("https://cloud.example.com:8443/base", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://cloud.example.com", False),
        ("http://127.0.0.1.evil.example", False),
        ("http://10.0.0.5", False),
        ("ftp://cloud.example.com", False),
        ("cloud.example.com", False),
        ("https://", False),
    ],
)
def test_enrollment_needs_https_except_on_loopback(url: str, allowed: bool) -> None:
    from edge_agent.enroll import EnrollmentError, check_cloud_url

    if allowed:
        check_cloud_url(url)
    else:
        with pytest.raises(EnrollmentError, match="https://"):
            check_cloud_url(url)
