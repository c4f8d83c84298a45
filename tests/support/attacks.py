"""Hostile payloads, built as an attacker holding one robot's credentials would build them.

Shared by the protocol's unit tests, the adversarial suite (tests/adversarial/) and the fuzz
corpus: each function returns the bytes that go on the wire, nothing is patched in our code.
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2

from firmware_protocol.codec import SIGNING_CONTEXT
from firmware_protocol.signing import RobotSigner

ZSTD_MAGIC = 0xFD2FB528
RLE_BLOCK = 1
MAX_BLOCK = 128 * 1024


def rle_bomb_frame(declared: int, blocks: int, block_size: int = MAX_BLOCK) -> bytes:
    """A zstd frame that declares `declared` bytes of content but holds `blocks` RLE blocks of
    `block_size` bytes each: 4 bytes per block on the wire, up to 128 KiB each decompressed
    (a 240 KB frame of them is 7.5 GiB). The frame header is valid, so the content size check
    alone passes when `declared` is what the decoder expects."""
    out = bytearray(struct.pack("<I", ZSTD_MAGIC))
    out.append(2 << 6)  # Frame_Content_Size_flag 2: a 4-byte content size; not single segment
    out.append((17 - 10) << 3)  # window descriptor: 128 KiB
    out += struct.pack("<I", declared)
    for index in range(blocks):
        last = 1 if index == blocks - 1 else 0
        header = last | (RLE_BLOCK << 1) | (block_size << 3)
        out += header.to_bytes(3, "little") + b"\x00"
    return bytes(out)


def signed_frame(kind: int, body: dict[int, Any], signer: RobotSigner, *, minor: int = 0) -> bytes:
    """A frame around any body (valid or not), signed like the robot signs, or with a garbage
    signature when `signer` is None-like. The body is encoded as given: no field is checked."""
    raw_body = cbor2.dumps(body)
    header = b"RC" + bytes([1, minor, kind, 1]) + struct.pack(">I", len(raw_body))
    return header + raw_body + signer.sign(SIGNING_CONTEXT + header + raw_body)


def garbage_signed_frame(kind: int, body: dict[int, Any], *, minor: int = 0) -> bytes:
    """A frame whose signature is 64 bytes of nothing: what costs an attacker no key at all."""
    raw_body = cbor2.dumps(body)
    header = b"RC" + bytes([1, minor, kind, 1]) + struct.pack(">I", len(raw_body))
    return header + raw_body + bytes(64)


def telemetry_bomb_body(
    robot_id: bytes, boot_id: bytes, *, seq: int, prev_digest: bytes, wall_us: int, mono_us: int
) -> dict[int, Any]:
    """A telemetry body of 256 metrics x 256 samples whose value block is an RLE bomb that
    declares exactly the 256 KiB the decoder expects, then holds 60,000 blocks of 128 KiB."""
    metrics, samples, width = 256, 256, 4
    stamps = struct.pack(f"<{samples}b", *([0] + [1] * (samples - 1)))
    return {
        0: robot_id,
        1: boot_id,
        2: seq,
        3: prev_digest,
        4: wall_us,
        5: mono_us,
        10: mono_us,
        11: [0, 1, stamps],
        12: [f"x_evil_m{index}" for index in range(metrics)],
        13: bytes(metrics),
        14: bytes(metrics),
        15: bytes(8 * metrics),
        16: [1, width, rle_bomb_frame(metrics * samples * width, 60_000)],
    }


def body_of(payload: bytes) -> dict[int, Any]:
    """The CBOR body of a binary frame, as a map to mutate."""
    length = struct.unpack(">I", payload[6:10])[0]
    body: dict[int, Any] = cbor2.loads(payload[10 : 10 + length])
    return body
