"""The OpenAPI document tells every error a route can give, from the same dependencies that
give it: a route that declares ``Require`` may answer 401 and 403, a listing (``ListParams``)
400 for a bad cursor, sort or filter, a route with a body 400 when it is not JSON, a route with
path parameters 404, one with parameters or a
body 422; every error is problem details. Endpoints document their own domain errors (409, 412,
428...) with ``problem_responses``; what they declare wins.

FastAPI would document 422 as its own ``HTTPValidationError`` in application/json, which is not
what errors.py answers; a route whose responses name 422 gets no default one, so each route's
422 is ``ValidationProblem`` in application/problem+json.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from cloud_api.access.dependencies import Require
from cloud_api.conventions import ListParams
from cloud_api.errors import Problem, problem_responses


class FieldError(BaseModel):
    location: list[str | int] = Field(examples=[["body", "reason"]])
    message: str = Field(examples=["String should have at least 1 character"])


class ValidationProblem(Problem):
    """A 422 of request validation: each failing field in ``errors``."""

    errors: list[FieldError]


@dataclass(frozen=True, slots=True)
class Operation:
    """One route of the app as served: its full path, methods and dependency tree."""

    path: str
    methods: frozenset[str]
    dependant: Dependant
    route: APIRoute


def operations(app: FastAPI) -> Iterator[Operation]:
    """Every APIRoute of the app, routers included (with their prefixes and dependencies)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        dependant = getattr(context, "dependant", None)
        yield Operation(
            path=context.path_format or route.path_format,
            methods=frozenset(context.methods or route.methods or ()),
            dependant=dependant if isinstance(dependant, Dependant) else route.dependant,
            route=route,
        )


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _has_parameters(dependant: Dependant) -> bool:
    return any(
        d.path_params or d.query_params or d.header_params or d.body_params or d.cookie_params
        for d in (dependant, *_dependencies(dependant))
    )


def required_actions(dependant: Dependant) -> list[Require]:
    """The ``Require`` dependencies of a route (a protected route has exactly one)."""
    return [d.call for d in _dependencies(dependant) if isinstance(d.call, Require)]


def error_statuses(operation: Operation) -> list[int]:
    """The problem statuses the route's dependencies can answer."""
    calls = [dependency.call for dependency in _dependencies(operation.dependant)]
    statuses: list[int] = []
    if required_actions(operation.dependant):
        statuses += [401, 403]
    has_body = any(
        d.body_params for d in (operation.dependant, *_dependencies(operation.dependant))
    )
    if any(isinstance(call, ListParams) for call in calls) or has_body:
        statuses.append(400)  # a bad cursor, sort or filter; a body that is not JSON
    if has_body:
        statuses.append(413)  # conventions/body_limit.py
    if operation.dependant.path_params:
        statuses.append(404)
    return statuses


def _validation_response() -> dict[str, Any]:
    return {
        "description": "The request does not validate: each failing field in `errors`",
        "content": {"application/problem+json": {"schema": ValidationProblem.model_json_schema()}},
    }


def _add_errors(app: FastAPI, document: dict[str, Any]) -> None:
    """Add each operation's error responses to the document (idempotent)."""
    paths: dict[str, Any] = document.get("paths", {})
    for operation in operations(app):
        item = paths.get(operation.path)
        if item is None:
            continue  # not in the schema (include_in_schema=False)
        for method in operation.methods:
            spec = item.get(method.lower())
            if spec is None:
                continue
            responses: dict[str, Any] = spec.setdefault("responses", {})
            for status, response in problem_responses(*error_statuses(operation)).items():
                responses.setdefault(str(status), response)  # what the endpoint says wins
            if "422" in responses or _has_parameters(operation.dependant):
                responses["422"] = _validation_response()


def document_errors(app: FastAPI) -> None:
    """Make the app's OpenAPI document name every error each route can give."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        _add_errors(app, document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
