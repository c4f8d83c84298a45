"""Our codec against the golden vectors, and the vectors against their generator."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from firmware_protocol import ErrorCode, ProtocolError, Topic, decode, verify

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "protocol"
MANIFEST: dict[str, Any] = json.loads((VECTORS_DIR / "manifest.json").read_text())


def _payload(entry: dict[str, Any]) -> bytes:
    if "generate" in entry:
        spec = entry["generate"]
        return bytes.fromhex(spec["repeat_hex"]) * int(spec["count"])
    return bytes.fromhex((VECTORS_DIR / entry["file"]).read_text().strip())


def _decode(entry: dict[str, Any], payload: bytes) -> Any:
    """As a conforming decoder must: against the entry's topic when it names one."""
    if "topic" in entry:
        return decode(payload, topic=Topic.parse(entry["topic"]))
    return decode(payload)


@pytest.mark.parametrize("entry", MANIFEST["vectors"], ids=lambda e: e["name"])
def test_vector(entry: dict[str, Any], generator: ModuleType) -> None:
    payload = _payload(entry)
    if "error" in entry:
        with pytest.raises(ProtocolError) as caught:
            _decode(entry, payload)
        assert caught.value.code.value == entry["error"]
        return
    decoded = _decode(entry, payload)
    if "expect" in entry:
        assert generator.summary(decoded) == entry["expect"]
    try:
        verify(decoded, bytes.fromhex(entry.get("verify_key", MANIFEST["test_public_key"])))
        outcome = "OK"
    except ProtocolError as exc:
        outcome = exc.code.value
    assert outcome == entry["verify"]


def test_manifest_has_a_refusal_for_every_error_code() -> None:
    codes = {e["error"] for e in MANIFEST["vectors"] if "error" in e}
    codes |= {e["verify"] for e in MANIFEST["vectors"] if "verify" in e}
    assert codes == {code.value for code in ErrorCode} | {"OK"}


def test_every_precedence_vector_names_the_winner_in_its_description() -> None:
    precedence = [e for e in MANIFEST["vectors"] if e["name"].startswith("prec_")]
    assert len(precedence) >= 20
    for entry in precedence:
        assert entry["description"].endswith(entry["error"]), entry["name"]


def test_regenerating_gives_identical_bytes(generator: ModuleType, tmp_path: Path) -> None:
    generator.write(tmp_path)
    stored = sorted(p.name for p in VECTORS_DIR.iterdir() if p.suffix in (".hex", ".json"))
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == stored
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (VECTORS_DIR / name).read_bytes(), name
