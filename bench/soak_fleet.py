"""The soak's fleet: its robots registered by their owner and enrolled from the robot side,
their agents started (a `robocover-agent simulate` per share of the fleet) and stopped, and
their broker accounts removed at the end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cloud_api.broker_accounts import robot_role, robot_username
from cloud_api.demo import story
from cloud_api.demo.client import ApiError, Person
from cloud_api.demo.fleet import MODELS, DemoRobot, agent_command
from cloud_api.demo.stack import Stack, broker_admin
from edge_agent.enroll import enroll

AGENT_CONFIG = """mqtt_url = "{mqtt_url}"
state_dir = "{state_dir}"
log_level = "WARNING"
firmware_version = "soak-1.0"

[sampling]
read_interval_ms = 1000
window_ms = 10000
batch_interval_s = 10

[publisher]
backoff_min_s = 0.5
backoff_max_s = 10.0
"""


def retrying(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A call answered 503 (the database away a moment) made again, as a client would."""
    for attempt in range(10):
        try:
            return call(*args, **kwargs)
        except ApiError as error:
            if error.status != 503 or attempt == 9:
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def register_and_enroll(
    tale: story.Story, count: int, fleets: int, fleet_dir: Path, robots: list[DemoRobot]
) -> None:
    """Registered by the owner (straight to an API process: a thousand writes in a row would
    only meet the gateway's per-address limit), enrolled from the robot side, in threads; each
    robot lands in ``robots`` once registered."""
    owner = tale["policyholder"]
    direct = Person(tale.http(tale.stack.api_urls[0]), owner.email, owner.password, owner.role)
    direct.sign_in()
    tokens = []
    for index in range(count):
        kind, manufacturer, model = MODELS[index % len(MODELS)]
        fleet = fleet_dir / f"fleet-{index % fleets}"
        robot = DemoRobot(
            index=index,
            serial=f"SOAK-{tale.run}-{index:04d}",
            kind=kind,
            manufacturer=manufacturer,
            model=model,
            hazard=1.0,
            state_dir=fleet / f"robot-{index:04d}",
            config=fleet.with_suffix(".toml"),
        )
        robot.state_dir.mkdir(parents=True, mode=0o700)
        answer = retrying(
            direct.post,
            "/v1/robots",
            {
                "serial_number": robot.serial,
                "robot_class": kind,
                "manufacturer": manufacturer,
                "model": model,
            },
            create=True,
        )
        robot.robot_id = answer["robot"]["id"]
        robots.append(robot)
        tokens.append(answer["enrollment_token"])
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda robot, token: enroll(
                    cloud_url=tale.stack.api_urls[0], token=token, state_dir=robot.state_dir
                ),
                robots,
                tokens,
            )
        )


def remove_broker_accounts(stack: Stack, robots: list[DemoRobot]) -> None:
    """The soak's robots' broker accounts and roles removed at the end: on a shared broker a
    thousand more per run slow every later enrollment (the dynamic-security plugin rewrites its
    whole file on each change)."""
    ids = [uuid.UUID(robot.robot_id) for robot in robots if robot.robot_id]
    with broker_admin(stack.settings) as admin:
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            admin.delete_clients([robot_username(robot_id) for robot_id in chunk])
            admin.delete_roles([robot_role(robot_id) for robot_id in chunk])


def start_fleets(tale: story.Story, robots: list[DemoRobot], bound_s: float) -> None:
    """One `robocover-agent simulate` per fleet directory; the simulator's kinds follow the
    robots' order in it, as registered (MODELS and the simulator's KINDS are the same). Each
    runs until told to stop (SIGTERM, after the steady state's minutes; `soak`), or for
    ``bound_s`` at most, in case the soak itself dies."""
    mqtt_url = str(tale.stack.settings.mqtt_url).rstrip("/")
    for config in sorted({robot.config for robot in robots}):
        fleet_dir = config.with_suffix("")
        config.write_text(AGENT_CONFIG.format(mqtt_url=mqtt_url, state_dir=fleet_dir))
        tale.stack.group.start(
            config.stem,
            [
                *agent_command(),
                "--config",
                str(config),
                "simulate",
                "--fleet-dir",
                str(fleet_dir),
                "--duration",
                str(bound_s),
            ],
            tale.stack.agent_env(),
            role="agent",
        )
