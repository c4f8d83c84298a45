"""Telemetry columns in the JSON debug form: plain lists instead of encoded blocks.

Rendering needs no numpy (TelemetryRows is dequantized in pure Python, bit for bit as
TelemetryBatch.values). Decoding the JSON form is telemetry.json_columns (numpy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware_protocol.rows import TelemetryRows, dequantize_rows

if TYPE_CHECKING:
    from firmware_protocol.telemetry import TelemetryBatch


def telemetry_json(message: TelemetryRows | TelemetryBatch) -> dict[str, Any]:
    if isinstance(message, TelemetryRows):
        stamps: list[int] = list(message.timestamps_us)
        values: list[list[float]] = dequantize_rows(message.quantized, message.exponents)
    else:
        stamps, values = message.timestamps_us.tolist(), message.values.tolist()
    return {
        "timestamps_us": stamps,
        "metrics": [
            {"key": str(key), "exp": exp, "values": row}
            for key, exp, row in zip(message.keys, message.exponents, values, strict=True)
        ],
    }
