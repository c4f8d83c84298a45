"""docs/openapi.json is the API's document as the code builds it (`robocover openapi` writes
it): a route, a schema or a description changed without regenerating it fails here."""

from __future__ import annotations

import json
from pathlib import Path

from cloud_api.app import openapi_document
from tests.support.api import ApiHarness

PROBES = {"/health", "/healthz", "/metrics"}  # plain bodies, for orchestrators and Prometheus
DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_the_code_s(api: ApiHarness) -> None:
    assert DOCUMENT.exists(), "docs/openapi.json is missing: run `robocover openapi`"
    built = openapi_document(api.app)
    assert json.loads(DOCUMENT.read_text()) == json.loads(built), (
        "docs/openapi.json is stale: run `robocover openapi`"
    )
    assert DOCUMENT.read_text() == built  # same bytes: stable order, one trailing newline


def test_every_operation_is_documented(api: ApiHarness) -> None:
    """Each operation has a summary or description and an id, and its error responses are
    problem details."""
    document = json.loads(openapi_document(api.app))
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert operations
    for path, method, operation in operations:
        if path in PROBES:
            continue
        assert operation.get("summary") or operation.get("description"), (method, path)
        assert operation.get("operationId"), (method, path)
        for status, response in operation.get("responses", {}).items():
            if status.startswith(("4", "5")) and status != "422":
                assert "application/problem+json" in response.get("content", {}), (
                    method,
                    path,
                    status,
                )
