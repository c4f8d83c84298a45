"""What the story's steps share: the deployment, the summary board, the robots, the people
signed in, and what each step leaves for the next (the policy, the claim...). The first steps
are here: the people (the first administrator from the command line, as an insurer starts; the
rest made by the administrator through the API) and the robots enrolled."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cloud_api.demo import fleet
from cloud_api.demo.client import Person, person
from cloud_api.demo.fleet import DemoRobot
from cloud_api.demo.stack import JOBS_QUEUE, Stack
from cloud_api.demo.summary import Board, RobotRow

STAFF = {
    "underwriter": "Uma Underwood",
    "claims_adjuster": "Adam Adjuster",
    "billing_agent": "Bea Billing",
    "auditor": "Otto Auditor",
}
TASK_TIMEOUT_S = 120.0


@dataclass
class Story:
    stack: Stack
    board: Board
    robots: list[DemoRobot]
    run: str
    people: dict[str, Person] = field(default_factory=dict)
    tenant: str = ""
    currency: str = "EUR"
    facts: dict[str, Any] = field(default_factory=dict)
    """What steps found out for later ones: policy, quote, claim, figures."""
    clients: list[httpx.Client] = field(default_factory=list)

    def http(self, base_url: str | None = None) -> httpx.Client:
        client = httpx.Client(
            base_url=base_url or self.stack.base_url, timeout=30, verify=self.stack.verify
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def __getitem__(self, role: str) -> Person:
        return self.people[role]

    def jobs(self, name: str, *args: object) -> Any:
        """Run one of the insurer's jobs now, through Celery, as the beat would; its result."""
        sent = self.stack.celery().send_task(name, args=list(args), queue=JOBS_QUEUE)
        return sent.get(timeout=TASK_TIMEOUT_S)

    def risk(self, name: str, *args: object) -> Any:
        """A task of the risk engine's worker, through Celery; its result."""
        return self.stack.celery().send_task(name, args=list(args)).get(timeout=TASK_TIMEOUT_S)

    def wait(self, what: str, condition: Callable[[], Any], timeout_s: float = 120.0) -> Any:
        """Poll until ``condition`` gives something truthy; raises after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = condition()
            if found:
                return found
            self.stack.alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {timeout_s:.0f} s")
            time.sleep(0.5)


def _password() -> str:
    return secrets.token_urlsafe(18)


def cast(story: Story) -> None:
    """The first administrator from the command line; then, through the API, the staff, the
    policyholder's tenant and its owner; everyone signs in."""
    title = "people"
    story.board.begin(title, "the first administrator, from the command line")
    email, password = f"admin.{story.run}@insurer.example", _password()
    code = story.stack.group.run(
        "admin-create-user",
        [
            str(Path(sys.executable).parent / "robocover"),
            "admin",
            "create-user",
            "--email",
            email,
            "--role",
            "admin",
            "--full-name",
            "Ada Admin",
        ],
        story.stack.env(),
        stdin=password.encode(),
    )
    if code != 0:
        raise RuntimeError("robocover admin create-user failed (see the log)")
    admin = person(story.http(), email, password, "admin")
    story.people["admin"] = admin
    for role, name in STAFF.items():
        story.people[role] = _user(story, admin, role, name, None)
    story.tenant = f"demo-{story.run}"
    admin.post("/v1/tenants", {"slug": story.tenant, "name": "Demo Robotics Ltd"}, create=True)
    # The owner reaches the other API process: staff and customers spread over both.
    owner_http = story.http(story.stack.api_urls[-1] if story.stack.gateway_url is None else None)
    story.people["policyholder"] = _user(
        story, admin, "policyholder", "Pat Owner", story.tenant, http=owner_http
    )
    story.board.done(
        title,
        f"admin (CLI); {', '.join(r.replace('_', ' ') for r in STAFF)}; tenant {story.tenant}"
        " and its owner, all signed in",
    )


def _user(
    story: Story,
    admin: Person,
    role: str,
    name: str,
    tenant: str | None,
    *,
    http: httpx.Client | None = None,
) -> Person:
    email = f"{role.replace('_', '.')}.{story.run}@insurer.example"
    made = admin.post(
        "/v1/users",
        {"email": email, "full_name": name, "role": role, "tenant": tenant},
        create=True,
    )
    return person(http or story.http(), email, made["initial_password"], role)


def enroll_robots(story: Story) -> None:
    """The owner registers the robots; each robot's agent enrolls itself over HTTP, then runs."""
    title = "robots enrolled"
    story.board.begin(title, f"{len(story.robots)} robots registered by their owner")
    owner = story["policyholder"]
    tokens = fleet.register(owner, story.robots)
    mqtt_url = str(story.stack.settings.mqtt_url).rstrip("/")
    for robot in story.robots:
        fleet.write_config(robot, mqtt_url, seed=robot.index + 1)
    env = story.stack.agent_env()
    fleet.enroll(story.stack.group, story.robots, tokens, story.stack.enroll_url, env)
    for robot in story.robots:
        fleet.start_agent(story.stack.group, robot, env)
    story.board.robots = [RobotRow(r.serial, r.kind, r.hazard) for r in story.robots]
    story.board.done(
        title,
        f"{len(story.robots)} robots: keys made on the robots, enrolled over HTTP"
        " (robocover-agent enroll), each agent streaming through the broker",
    )
