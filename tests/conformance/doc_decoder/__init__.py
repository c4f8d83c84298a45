"""Clean-room decoder of the robocover wire protocol 1.2, written from docs/protocol.md alone.

Binary form only. ``decode`` returns a plain dictionary (see the module's README in the brief)
or raises ``Refusal`` carrying one of the error codes of section 17; it raises nothing else.

The package, by part: core.py (the refusal and the limits), cbor.py (the CBOR reader), fields.py
(the field rules), telemetry.py (the telemetry columns) and message.py (header, body, topic and
``decode``). It imports nothing of firmware_protocol: that is the point of a clean-room decoder.
"""

from __future__ import annotations

from tests.conformance.doc_decoder.core import Refusal
from tests.conformance.doc_decoder.message import decode

__all__ = ["Refusal", "decode"]
