"""The ceiling of bench/api_bench.py: a bare FastAPI endpoint, served by uvicorn exactly as
`robocover api` is (one process, the same event loop and HTTP parser), answering a robot-sized
JSON body after the cheapest possible bearer check. Everything the real API does beyond this
(authentication, authorization, the database, conventions) is what the benchmark measures.

    uvicorn bench.api_bare:app --port 8100 --no-access-log
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException

app = FastAPI(title="bare")

ROBOT: dict[str, Any] = {
    "id": "6f1c2a5e-8d4b-4a57-9a35-0f4e3b9a1c77",
    "tenant": "fleet-1",
    "serial_number": "SN-000001",
    "robot_class": "cobot",
    "manufacturer": "Acme",
    "model": "A1",
    "status": "active",
    "online": True,
    "firmware_version": "1.4.2",
    "software_version": "2.0.0",
    "last_seen_at": "2026-12-01T12:00:00+00:00",
}


@app.get("/bare/robot")
def robot(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(status_code=401)
    return ROBOT
