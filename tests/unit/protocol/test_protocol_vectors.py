"""Our codec against the golden vectors, and the vectors against their generator."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from firmware_protocol import ProtocolError, decode, verify

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "protocol"
MANIFEST: dict[str, Any] = json.loads((VECTORS_DIR / "manifest.json").read_text())


def _payload(entry: dict[str, Any]) -> bytes:
    if "generate" in entry:
        spec = entry["generate"]
        return bytes.fromhex(spec["repeat_hex"]) * int(spec["count"])
    return bytes.fromhex((VECTORS_DIR / entry["file"]).read_text().strip())


@pytest.mark.parametrize("entry", MANIFEST["vectors"], ids=lambda e: e["name"])
def test_vector(entry: dict[str, Any], generator: ModuleType) -> None:
    payload = _payload(entry)
    if "error" in entry:
        with pytest.raises(ProtocolError) as caught:
            decode(payload)
        assert caught.value.code.value == entry["error"]
        return
    decoded = decode(payload)
    assert generator.summary(decoded) == entry["expect"]
    try:
        verify(decoded, bytes.fromhex(MANIFEST["test_public_key"]))
        outcome = "OK"
    except ProtocolError as exc:
        outcome = exc.code.value
    assert outcome == entry["verify"]


def test_manifest_covers_every_error_code_we_can_raise_from_bytes() -> None:
    codes = {e["error"] for e in MANIFEST["vectors"] if "error" in e}
    codes |= {e["verify"] for e in MANIFEST["vectors"] if "verify" in e}
    assert codes >= {
        "TOO_LARGE",
        "TRUNCATED",
        "TRAILING_BYTES",
        "BAD_MAGIC",
        "MALFORMED",
        "UNSUPPORTED_MAJOR_VERSION",
        "UNKNOWN_KIND",
        "MISSING_FIELD",
        "BAD_FIELD",
        "UNKNOWN_FIELD",
        "LIMIT_EXCEEDED",
        "UNSUPPORTED_ENCODING",
        "DECOMPRESSION_FAILED",
        "DECOMPRESSION_BOMB",
        "UNSIGNED",
        "BAD_SIGNATURE",
    }


def test_regenerating_gives_identical_bytes(generator: ModuleType, tmp_path: Path) -> None:
    generator.write(tmp_path)
    stored = sorted(p.name for p in VECTORS_DIR.iterdir() if p.suffix in (".hex", ".json"))
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == stored
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (VECTORS_DIR / name).read_bytes(), name
