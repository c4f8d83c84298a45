"""Every route of the application against the permission table, read from the routes
themselves: a route added without its ``Require`` fails here, and so does a route answering
403 to a role the table allows (or letting through one it refuses).

Then the tenant boundary on every robot route: a policyholder or service account of tenant B
gets a 404 without A's data for tenant A's robot (403 where its role may not act at all);
staff reach the robots of both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require, current_principal
from cloud_api.access.permissions import SERVICE_SCOPE_CEILING, is_allowed
from cloud_api.access.roles import Principal, Role
from cloud_api.robots.endpoints import get_robot_broker
from database.models import RobotStatus
from tests.integration.api.robot_factories import RecordingBroker, add_robot
from tests.support.api import ApiHarness, principal

PUBLIC = frozenset(
    {
        ("POST", "/v1/enrollments"),  # the robot's one-time token is its credential
        ("POST", "/v1/auth/token"),
        ("POST", "/v1/auth/refresh"),
        ("POST", "/v1/webhooks/payment-processor"),  # verified by its HMAC signature instead
        ("GET", "/health"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }
)
"""Routes anyone may call. (The docs and /openapi.json are not APIRoutes.)"""

ANY_PRINCIPAL = frozenset(
    {
        ("POST", "/v1/auth/logout"),
        ("GET", "/v1/auth/me"),
        ("POST", "/v1/auth/password"),
    }
)
"""Routes about the caller itself: authenticated, no action of the table."""

TENANT = "alpha"
OTHER_TENANT = "beta"


@dataclass(frozen=True)
class RouteUnderTest:
    method: str
    path: str
    actions: tuple[Action, ...]
    needs_principal: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def action(self) -> Action:
        (action,) = self.actions
        return action


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def routes_of(app: FastAPI) -> list[RouteUnderTest]:
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        calls = list(_calls(context.dependant))
        actions = tuple(call.action for call in calls if isinstance(call, Require))
        for method in sorted(context.methods or ()):
            found.append(
                RouteUnderTest(method, str(context.path), actions, current_principal in calls)
            )
    return found


def _url(route: RouteUnderTest, robot_id: uuid.UUID | None = None) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if "slug" in name:
            return OTHER_TENANT
        if name == "robot_id" and robot_id is not None:
            return str(robot_id)
        return str(uuid.uuid4())

    return re.sub(r"\{(\w+)\}", fill, route.path)


def _call(api: ApiHarness, who: Principal, route: RouteUnderTest, url: str, body: object) -> int:
    client = api.client(who)
    if route.method in {"POST", "PUT", "PATCH"}:
        return int(client.request(route.method, url, json=body).status_code)
    return int(client.request(route.method, url).status_code)


def test_every_protected_route_declares_exactly_one_action(api: ApiHarness) -> None:
    routes = routes_of(api.app)
    keys = {route.key for route in routes}
    assert keys >= PUBLIC | ANY_PRINCIPAL, "an allowlisted route no longer exists"
    wrong = [
        f"{route.method} {route.path}: {len(route.actions)} Require"
        for route in routes
        if route.key not in PUBLIC | ANY_PRINCIPAL and len(route.actions) != 1
    ]
    assert wrong == []
    for route in routes:
        if route.key in ANY_PRINCIPAL:
            assert route.actions == ()
            assert route.needs_principal, route.key
        if route.key in PUBLIC:
            assert not route.needs_principal, route.key
    assert len([r for r in routes if r.key not in PUBLIC | ANY_PRINCIPAL]) >= 20


def _principals(action: Action) -> list[Principal]:
    scoped = [action.value] if action in SERVICE_SCOPE_CEILING else [Action.ROBOTS_READ.value]
    return [
        *(principal(role) for role in Role if role.is_staff),
        principal(Role.POLICYHOLDER, TENANT),
        principal(Role.SERVICE, TENANT),
        principal(Role.SERVICE, TENANT, *scoped),
    ]


@pytest.fixture
def recorded_broker(api: ApiHarness) -> RecordingBroker:
    recorder = RecordingBroker()
    api.app.dependency_overrides[get_robot_broker] = lambda: recorder
    return recorder


def test_each_role_is_answered_as_the_permission_table_says(
    api: ApiHarness, recorded_broker: RecordingBroker
) -> None:
    api.tenant(TENANT)
    mismatches: list[str] = []
    checked = 0
    for route in routes_of(api.app):
        if route.key in PUBLIC | ANY_PRINCIPAL:
            continue
        for who in _principals(route.action):
            allowed = is_allowed(who, route.action)
            status = _call(api, who, route, _url(route), {})
            checked += 1
            if (status == 403) == allowed or status == 401:
                scopes = ",".join(sorted(who.scopes)) or "-"
                mismatches.append(
                    f"{route.method} {route.path} ({route.action}) as {who.role} [{scopes}]: "
                    f"{status}, allowed={allowed}"
                )
    assert mismatches == []
    assert checked > 150


def test_anonymous_callers_are_asked_to_authenticate(api: ApiHarness) -> None:
    client = api.client()
    for route in routes_of(api.app):
        if route.key in PUBLIC:
            continue
        response = client.request(route.method, _url(route))
        assert response.status_code == 401, route.key
        assert response.headers["www-authenticate"].startswith("Bearer")


ROBOT_BODIES: dict[str, object] = {
    "suspend": {"reason": "probe"},
    "revoke": {"reason": "probe"},
    "reinstate": {"reason": "probe"},
}


def _robot_routes(api: ApiHarness) -> list[RouteUnderTest]:
    routes = [r for r in routes_of(api.app) if r.path.startswith("/v1/robots/{robot_id}")]
    assert len(routes) >= 10
    return routes


def _robot_call(
    api: ApiHarness, who: Principal, route: RouteUnderTest, robot_id: uuid.UUID
) -> tuple[int, str]:
    url = _url(route, robot_id)
    client = api.client(who)
    params = {"metric": "x"} if route.path.endswith("/telemetry") else {}
    if route.method == "POST":
        response = client.post(url, json=ROBOT_BODIES.get(route.path.rsplit("/", 1)[-1], {}))
    else:
        response = client.request(route.method, url, params=params)
    return response.status_code, response.text


def test_another_tenants_robot_is_not_found_on_every_robot_route(
    api: ApiHarness, recorded_broker: RecordingBroker
) -> None:
    robot = add_robot(api.session, api.tenant(TENANT), serial_number="ALPHA-SECRET-1")
    api.tenant(OTHER_TENANT)
    for route in _robot_routes(api):
        outsiders = [
            principal(Role.POLICYHOLDER, OTHER_TENANT),
            principal(Role.SERVICE, OTHER_TENANT, *[a.value for a in SERVICE_SCOPE_CEILING]),
        ]
        for who in outsiders:
            status, text = _robot_call(api, who, route, robot.id)
            expected = 404 if is_allowed(who, route.action) else 403
            assert status == expected, (route.key, who.role, status, text)
            assert "ALPHA-SECRET-1" not in text
            assert TENANT not in text
    assert recorded_broker.applied == []
    assert recorded_broker.accounts == []
    assert api.client(principal(Role.ADMIN)).get(f"/v1/robots/{robot.id}").json()["status"] == (
        RobotStatus.ACTIVE
    )


def test_staff_reach_the_robots_of_every_tenant(api: ApiHarness) -> None:
    robots = [add_robot(api.session, api.tenant(slug)) for slug in (TENANT, OTHER_TENANT)]
    reads = [r for r in _robot_routes(api) if r.method == "GET"]
    for role in (Role.ADMIN, Role.UNDERWRITER, Role.CLAIMS_ADJUSTER, Role.AUDITOR):
        for robot in robots:
            for route in reads:
                who = principal(role)
                status, text = _robot_call(api, who, route, robot.id)
                # An export the role may not make is refused for every robot alike.
                assert status == (200 if is_allowed(who, route.action) else 403), (route.key, text)
    own = principal(Role.POLICYHOLDER, TENANT)
    for route in reads:
        assert _robot_call(api, own, route, robots[0].id)[0] == 200
