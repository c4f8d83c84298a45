from __future__ import annotations

import hashlib

import pytest

from firmware_protocol import (
    ChainLink,
    LinkVerdict,
    RobotSigner,
    TamperReason,
    TelemetryBatch,
    classify_link,
    decode,
    encode,
    payload_digest,
)


def _d(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def test_next_duplicate_gap() -> None:
    link = ChainLink(5, _d("m5"), _d("m4"))
    next_ = classify_link(
        link, same_seq_digest=None, predecessor_digest=_d("m4"), successor_prev_digest=None
    )
    assert next_.verdict is LinkVerdict.NEXT
    assert next_.accepted
    assert not next_.fills_gap
    dup = classify_link(
        link, same_seq_digest=_d("m5"), predecessor_digest=_d("m4"), successor_prev_digest=None
    )
    assert dup.verdict is LinkVerdict.DUPLICATE
    assert not dup.accepted
    gap = classify_link(
        link, same_seq_digest=None, predecessor_digest=None, successor_prev_digest=None
    )
    assert gap.verdict is LinkVerdict.GAP
    assert gap.accepted
    late = classify_link(
        link, same_seq_digest=None, predecessor_digest=_d("m4"), successor_prev_digest=_d("m5")
    )
    assert late.verdict is LinkVerdict.NEXT
    assert late.fills_gap
    late_gap = classify_link(
        link, same_seq_digest=None, predecessor_digest=None, successor_prev_digest=_d("m5")
    )
    assert (late_gap.verdict, late_gap.fills_gap) == (LinkVerdict.GAP, True)


def test_genesis_is_next() -> None:
    first = ChainLink(0, _d("m0"), bytes(32))
    result = classify_link(
        first, same_seq_digest=None, predecessor_digest=None, successor_prev_digest=None
    )
    assert result.verdict is LinkVerdict.NEXT


@pytest.mark.parametrize(
    ("same", "pred", "succ", "reason"),
    [
        (_d("other5"), _d("m4"), None, TamperReason.FORK),
        (None, _d("other4"), None, TamperReason.BROKEN_BACK_LINK),
        (None, _d("m4"), _d("other5"), TamperReason.BROKEN_FORWARD_LINK),
        (None, None, _d("other5"), TamperReason.BROKEN_FORWARD_LINK),
    ],
)
def test_tampering(
    same: bytes | None, pred: bytes | None, succ: bytes | None, reason: TamperReason
) -> None:
    result = classify_link(
        ChainLink(5, _d("m5"), _d("m4")),
        same_seq_digest=same,
        predecessor_digest=pred,
        successor_prev_digest=succ,
    )
    assert result.verdict is LinkVerdict.TAMPERED
    assert result.reason is reason
    assert not result.accepted


def test_real_chain_detects_edit_deletion_and_replay(
    typical_batch: TelemetryBatch, signer: RobotSigner
) -> None:
    """Three signed batches; an owner re-signing an edited middle one forks the chain."""
    payloads, prev = [], bytes(32)
    for seq in range(3):
        batch = _reseq(typical_batch, seq, prev)
        payloads.append(encode(batch, signer))
        prev = payload_digest(payloads[-1])
    links = [decode(p).link for p in payloads]
    l0, l1, l2 = links
    assert l0 is not None
    assert l1 is not None
    assert l2 is not None
    # in order
    assert (
        classify_link(
            l1, same_seq_digest=None, predecessor_digest=l0.digest, successor_prev_digest=None
        ).verdict
        is LinkVerdict.NEXT
    )
    # deletion of l1: l2 arrives with a gap, l1 never does -> recorded gap, not accepted silently
    assert (
        classify_link(
            l2, same_seq_digest=None, predecessor_digest=None, successor_prev_digest=None
        ).verdict
        is LinkVerdict.GAP
    )
    # replay of l1 once held
    assert (
        classify_link(
            l1,
            same_seq_digest=l1.digest,
            predecessor_digest=l0.digest,
            successor_prev_digest=l2.prev_digest,
        ).verdict
        is LinkVerdict.DUPLICATE
    )
    # an edited l1, re-signed with the robot's key, no longer matches l2's prev_digest
    edited = encode(_reseq(typical_batch, 1, l0.digest, wall_us=1), signer)
    forged = decode(edited).link
    assert forged is not None
    result = classify_link(
        forged,
        same_seq_digest=None,
        predecessor_digest=l0.digest,
        successor_prev_digest=l2.prev_digest,
    )
    assert result.reason is TamperReason.BROKEN_FORWARD_LINK


def _reseq(batch: TelemetryBatch, seq: int, prev: bytes, wall_us: int = 0) -> TelemetryBatch:
    return TelemetryBatch(
        robot_id=batch.robot_id,
        boot_id=batch.boot_id,
        seq=seq,
        prev_digest=prev,
        wall_us=wall_us,
        mono_us=batch.mono_us,
        timestamps_us=batch.timestamps_us.copy(),
        keys=batch.keys,
        exponents=batch.exponents,
        quantized=batch.quantized.copy(),
    )
