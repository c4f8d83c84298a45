"""Robots enrolling at once: each enrollment opens its own admin connection, and the admin
account's connections take over each other and all hear every answer on the response topic.
Each request must get its own answer (its correlation data), or one robot's retried command
("Role already exists") fails another's enrollment."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from cloud_api.broker_accounts import robot_role
from tests.support.broker import MosquittoBroker

ROBOTS = 24


def test_robots_enrolling_at_once_each_get_their_own_account(
    mqtt_broker: MosquittoBroker,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    robots = [uuid.uuid4() for _ in range(ROBOTS)]
    with ThreadPoolExecutor(8) as pool:
        accounts = list(pool.map(lambda robot: mqtt_broker.add_robot(tenant, robot), robots))
    assert len({username for username, _ in accounts}) == ROBOTS
    for robot, (username, password) in zip(robots, accounts, strict=True):
        assert mqtt_broker.robot_connects(robot, username, password), username


def test_robots_accounts_and_roles_removed_are_gone_and_removing_again_is_no_error(
    mqtt_broker: MosquittoBroker,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    robots = [uuid.uuid4() for _ in range(3)]
    accounts = [mqtt_broker.add_robot(tenant, robot) for robot in robots]
    with mqtt_broker.admin() as admin:
        admin.delete_clients([username for username, _ in accounts])
        admin.delete_roles([robot_role(robot) for robot in robots])
        admin.delete_clients([username for username, _ in accounts])
        admin.delete_roles([robot_role(robot) for robot in robots])
        listed = admin.execute([{"command": "listRoles", "count": -1}])
    assert not set(map(robot_role, robots)) & set(listed[0]["data"]["roles"])
    for robot, (username, password) in zip(robots, accounts, strict=True):
        assert not mqtt_broker.robot_connects(robot, username, password), username
