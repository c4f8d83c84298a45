"""The soak's open-loop load: a server that stops answering shows as requests not sent and as
latency counted from when each request was due, never as a queue inside the client."""

from __future__ import annotations

import asyncio

import httpx

from bench.soak_load import NOT_SENT, LoadReport, Window, open_loop

RATE = 200.0
DURATION_S = 0.5


async def _serve(hold: asyncio.Event, delay_s: float) -> tuple[asyncio.Server, str]:
    """A local HTTP/1.1 server: each answer waits for `hold`, then `delay_s`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")  # GETs: no body
                await hold.wait()
                await asyncio.sleep(delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _load(hold: asyncio.Event, delay_s: float, max_inflight: int) -> tuple[int, int, float]:
    server, url = await _serve(hold, delay_s)
    limits = httpx.Limits(max_connections=max_inflight, max_keepalive_connections=max_inflight)
    async with server, httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        if not hold.is_set():
            asyncio.get_running_loop().call_later(DURATION_S + 0.2, hold.set)
        report = await open_loop(
            client,
            ["/a", "/b"],
            rate=RATE,
            duration_s=DURATION_S,
            window_s=10.0,
            stop=asyncio.Event(),
            max_inflight=max_inflight,
        )
    latencies = [latency for window in report.windows for latency in window.latencies_s]
    return report.requests, report.not_sent, max(latencies)


def test_a_server_that_keeps_up_gets_every_request() -> None:
    hold = asyncio.Event()
    hold.set()
    answered, not_sent, _ = asyncio.run(_load(hold, 0.0, max_inflight=32))
    assert not_sent == 0
    assert answered == int(RATE * DURATION_S)


def test_a_stalled_server_shows_as_requests_not_sent_and_latency_from_when_due() -> None:
    answered, not_sent, slowest = asyncio.run(_load(asyncio.Event(), 0.0, max_inflight=4))
    assert answered == 4  # the four open when the server stalled, answered when it resumed
    assert not_sent == int(RATE * DURATION_S) - 4
    assert slowest >= DURATION_S  # the first request was due at once and held past the run
    assert NOT_SENT < 0


def test_the_whole_runs_answers_are_its_windows_put_together() -> None:
    first, second = Window(0.0, [0.1, 0.2]), Window(60.0, [0.3])
    first.statuses[200] += 2
    second.statuses[NOT_SENT] += 4
    second.statuses[503] += 1
    merged = LoadReport([first, second]).overall()
    assert sorted(merged.latencies_s) == [0.1, 0.2, 0.3]
    assert dict(merged.statuses) == {200: 2, NOT_SENT: 4, 503: 1}
    assert merged.errors == 5
    assert LoadReport([]).overall().errors == 0
