"""The load of bench/api_bench.py: one GET, authenticated, from locust's FastHttpUser.

Read from the environment (bench/api_bench.py sets it): BENCH_PATH (the path to GET),
BENCH_TOKEN (the bearer), BENCH_RATE (requests per second per simulated user; 0: as fast as it
answers).
"""

from __future__ import annotations

import os

from locust import constant, constant_throughput
from locust.contrib.fasthttp import FastHttpUser
from locust.user.task import task

RATE = float(os.environ.get("BENCH_RATE", "0"))
PATH = os.environ["BENCH_PATH"]
HEADERS = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}


class Reader(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    @task
    def read(self) -> None:
        with self.client.get(PATH, headers=HEADERS, name=PATH, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
