"""The demo's robots: each registered by its owner through the API, enrolled by its own agent
(`robocover-agent enroll`: the key made on the robot, only its public half sent, over HTTP),
then run by its own `robocover-agent run` process with the simulator collector at a known
hazard (the simulator's fault rates times the hazard)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cloud_api.demo.client import Person
from cloud_api.demo.processes import Managed, ProcessGroup

# (robot kind, manufacturer, model): the kinds of robot the simulator knows.
MODELS = [
    ("industrial_arm", "Kuka", "KR 10 R1100"),
    ("cobot", "Universal Robots", "UR10e"),
    ("mobile_robot", "MiR", "MiR250"),
]
CAREFUL, USUAL, ROUGH = 0.5, 1.0, 200.0
RECKLESS = 100_000.0
"""The hazard of the robot that turns reckless: a collision about every second."""
HAZARDS = [USUAL, CAREFUL, ROUGH, USUAL, CAREFUL, ROUGH]


@dataclass
class DemoRobot:
    index: int
    serial: str
    kind: str
    manufacturer: str
    model: str
    hazard: float
    state_dir: Path
    config: Path
    robot_id: str = ""
    process: Managed | None = None

    @property
    def name(self) -> str:
        return f"agent-{self.index:02d}"


def plan_fleet(count: int, run: str, fleet_dir: Path) -> list[DemoRobot]:
    """``count`` robots of the three kinds, with hazards known in advance."""
    robots = []
    for index in range(count):
        kind, manufacturer, model = MODELS[index % len(MODELS)]
        state_dir = fleet_dir / f"robot-{index:02d}"
        state_dir.mkdir(parents=True, mode=0o700)
        robots.append(
            DemoRobot(
                index=index,
                serial=f"DEMO-{run}-{index:02d}",
                kind=kind,
                manufacturer=manufacturer,
                model=model,
                hazard=HAZARDS[index % len(HAZARDS)],
                state_dir=state_dir,
                config=fleet_dir / f"agent-{index:02d}.toml",
            )
        )
    return robots


def write_config(robot: DemoRobot, mqtt_url: str, *, seed: int) -> None:
    """The agent's TOML file (its settings as on a controller, at the robot's hazard)."""
    robot.config.write_text(
        f"""mqtt_url = "{mqtt_url}"
state_dir = "{robot.state_dir}"
log_level = "INFO"
firmware_version = "demo-1.0"
vendor = "{robot.manufacturer}"
model = "{robot.model}"

[sampling]
read_interval_ms = 100
window_ms = 1000
batch_interval_s = 2

[publisher]
backoff_min_s = 0.5
backoff_max_s = 5.0

[collectors.simulator]
kind = "{robot.kind}"
hazard = {robot.hazard}
seed = {seed}
"""
    )


def register(owner: Person, robots: list[DemoRobot]) -> dict[str, str]:
    """The owner registers each robot (POST /v1/robots); its one-time token, by serial."""
    tokens = {}
    for robot in robots:
        answer = owner.post(
            "/v1/robots",
            {
                "serial_number": robot.serial,
                "robot_class": robot.kind,
                "manufacturer": robot.manufacturer,
                "model": robot.model,
            },
            create=True,
        )
        robot.robot_id = answer["robot"]["id"]
        tokens[robot.serial] = answer["enrollment_token"]
    return tokens


def agent_command() -> list[str]:
    return [str(Path(sys.executable).parent / "robocover-agent")]


def enroll(
    group: ProcessGroup,
    robots: list[DemoRobot],
    tokens: dict[str, str],
    cloud_url: str,
    env: dict[str, str],
) -> None:
    """Each robot's agent trades its token for its identity, all at once."""
    started = [
        group.start(
            f"enroll-{robot.index:02d}",
            [
                *agent_command(),
                "--config",
                str(robot.config),
                "enroll",
                "--token",
                tokens[robot.serial],
                "--cloud-url",
                cloud_url,
            ],
            env,
            role="command",
        )
        for robot in robots
    ]
    failed = [m.name for m in started if m.popen.wait(timeout=120) != 0]
    for managed in started:
        managed.copier.join(timeout=10)
        group.children.remove(managed)
    if failed:
        raise RuntimeError(f"enrollment failed: {', '.join(failed)} (see the log)")


def start_agent(group: ProcessGroup, robot: DemoRobot, env: dict[str, str]) -> Managed:
    robot.process = group.start(
        robot.name, [*agent_command(), "--config", str(robot.config), "run"], env, role="agent"
    )
    return robot.process


def restart_at(
    group: ProcessGroup, robot: DemoRobot, hazard: float, mqtt_url: str, env: dict[str, str]
) -> None:
    """The robot's agent restarts at another hazard (its safety scanner switched off, or
    repaired), from the same state directory: its identity, key and outbox are kept, and its
    simulated counters start where they started (the same seed)."""
    if robot.process is not None:
        group.stop([robot.process])
        group.children.remove(robot.process)
    robot.hazard = hazard
    write_config(robot, mqtt_url, seed=robot.index + 1)
    start_agent(group, robot, env)
