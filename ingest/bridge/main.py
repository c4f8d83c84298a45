"""`robocover ingest`: the bridge process, with its HTTP endpoints, retention and signals."""

from __future__ import annotations

import asyncio
import signal

from loguru import logger

from ingest.bridge.http import serve
from ingest.bridge.metrics import Health, IngestMetrics
from ingest.bridge.service import Bridge
from ingest.retention import retention_loop
from ingest.settings import IngestSettings


async def run_ingest(
    settings: IngestSettings, stop: asyncio.Event | None = None, *, retire: bool = False
) -> None:
    """Run until SIGTERM or SIGINT (or `stop`): then finish the flush under way, acknowledge
    what it committed, and disconnect. With `retire`, drain this process's broker session and
    end it instead (scaling the share group down)."""
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics, health = IngestMetrics(), Health()
    server = serve(settings.http_host, settings.http_port, metrics, health)
    logger.bind(client_id=settings.client_id, share_group=settings.mqtt_share_group).info(
        "ingest starting; health and metrics on http://{}:{}", *server.server_address[:2]
    )
    retention = asyncio.create_task(
        retention_loop(
            settings.libpq_url,
            settings.telemetry_retention_days,
            settings.retention_interval_s,
            stop,
        )
    )
    try:
        bridge = Bridge(settings, metrics, health, stop)
        await (bridge.retire() if retire else bridge.run())
    finally:
        health.update(stopping=True)
        stop.set()
        await retention
        server.shutdown()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        logger.info("ingest stopped")
