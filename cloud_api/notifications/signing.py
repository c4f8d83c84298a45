"""The signature of a webhook delivery, for us and for receivers. Pure.

Each delivery carries ``Robocover-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is
HMAC-SHA256 with the subscription's secret over ``<t>.`` followed by the raw request body. A
receiver recomputes it over the bytes it received, compares in constant time, and refuses a
timestamp older than its tolerance (5 minutes here): a replayed request is then refused, and
``Robocover-Delivery`` (the delivery's id, the same on every retry) tells a retry from a new
delivery. ``verify`` is what a receiver in Python does.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Robocover-Signature"
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())
