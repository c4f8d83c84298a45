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
