"""`robocover api --domains`: each domain's app serves exactly the routes the gateway sends to
that domain (cloud_api/domains.py's patterns, which nginx routes by), the domains together serve
the whole API once, and the probes, /metrics and the documents are served by every subset."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError

from cloud_api.app import create_app
from cloud_api.domains import DOMAINS, domain_of
from cloud_api.openapi import operations
from cloud_api.settings import ApiSettings

Operation = tuple[str, str]  # path template, method


def _operations(app: FastAPI) -> set[Operation]:
    return {(op.path, method) for op in operations(app) for method in op.methods}


def _outside_v1(app: FastAPI) -> set[str]:
    """Every route's path (documents and /metrics included) not under /v1."""
    paths = {str(context.path_format) for context in iter_route_contexts(app.routes)}
    return {path for path in paths if not path.startswith("/v1/")}


def _concrete(template: str) -> str:
    """A path the template matches, as nginx sees one: each parameter an id."""
    return re.sub(r"\{[^}]+\}", "0b6b4f4e-4c9e-4d5e-9d1e-3f1c2b7a8e90", template)


def test_each_domain_serves_what_the_gateway_routes_to_it(api_settings: ApiSettings) -> None:
    whole = create_app(api_settings)
    served: dict[Operation, str] = {}
    for domain in DOMAINS:
        app = create_app(api_settings.model_copy(update={"api_domains": (domain,)}))
        operations = {op for op in _operations(app) if op[0].startswith("/v1/")}
        assert operations, domain
        for path, method in operations:
            assert domain_of(_concrete(path)) == domain, (domain, method, path)
            assert (path, method) not in served, (path, method, served.get((path, method)))
            served[path, method] = domain
        # Probes, /health, /metrics and the documents are every process's.
        assert _outside_v1(app) == _outside_v1(whole)
        assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= _outside_v1(app)
    assert set(served) == {op for op in _operations(whole) if op[0].startswith("/v1/")}


def test_a_subset_s_document_lists_its_routes_only(api_settings: ApiSettings) -> None:
    app = create_app(api_settings.model_copy(update={"api_domains": ("robots", "risk")}))
    document = app.openapi()
    paths = {path for path in document["paths"] if path.startswith("/v1/")}
    assert "/v1/robots/{robot_id}/rescore" in paths
    assert "/v1/robots/{robot_id}/telemetry" in paths
    assert {domain_of(_concrete(path)) for path in paths} == {"robots", "risk"}
    assert "serves the domains robots, risk" in document["info"]["description"]
    whole = create_app(api_settings).openapi()
    assert "serves the domains" not in whole["info"]["description"]


def test_the_domains_come_from_the_environment_and_unknown_ones_are_refused(
    api_settings: ApiSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets: dict[str, Any] = {
        "cursor_secret": api_settings.cursor_secret,
        "jwt_signing_key": api_settings.jwt_signing_key,
        "jwt_key_id": api_settings.jwt_key_id,
    }
    monkeypatch.setenv("ROBOCOVER_API_DOMAINS", " notifications, claims ")
    assert ApiSettings(**secrets).api_domains == ("claims", "notifications")  # DOMAINS' order
    monkeypatch.setenv("ROBOCOVER_API_DOMAINS", "all")
    assert ApiSettings(**secrets).api_domains == DOMAINS
    monkeypatch.delenv("ROBOCOVER_API_DOMAINS")
    assert ApiSettings(**secrets).api_domains == DOMAINS
    monkeypatch.setenv("ROBOCOVER_API_DOMAINS", "claims,underwriting")
    with pytest.raises(ValidationError, match="unknown domain 'underwriting'"):
        ApiSettings(**secrets)
