"""/v1/products: versions written by underwriters as drafts, activated when the rating plan in
effect prices their coverages (retiring the version that was active), retired; every change
audited and made on the version the client read (If-Match)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud_api.access.roles import Role
from cloud_api.demo.underwriting import COVERAGES
from cloud_api.products import repository, service
from cloud_api.products.schemas import ProductTerms
from database.models import AuditEvent, Product
from tests.integration.risk.risk_factories import approve_starter_plan
from tests.support.api import ApiHarness, principal

UNDERWRITER = principal(Role.UNDERWRITER)

TERMS: dict[str, Any] = {
    "coverages": COVERAGES,
    "premium_tax_bp": {"DE": 1900, "US-CA": 325},
}


def product_body(code: str = "fleet_cover", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "Fleet cover",
        "currency": "EUR",
        "terms": copy.deepcopy(TERMS),
    }
    body.update(overrides)
    return body


@pytest.fixture
def rating_plan(api: ApiHarness) -> int:
    """The starter plan (machinery_breakdown, third_party_liability), in effect since 40 days."""
    return approve_starter_plan(
        api.session.connection(), effective_from=datetime.now(UTC) - timedelta(days=40)
    )


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/products", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def post_with_etag(client: TestClient, product_id: str, verb: str) -> tuple[int, dict[str, Any]]:
    etag = client.get(f"/v1/products/{product_id}").headers["etag"]
    response = client.post(f"/v1/products/{product_id}/{verb}", headers={"If-Match": etag})
    return response.status_code, response.json()


def events(api: ApiHarness, product_id: str) -> list[AuditEvent]:
    return list(
        api.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == "product", AuditEvent.target_id == product_id)
            .order_by(AuditEvent.id)
        )
    )


def test_versions_of_a_code_are_numbered_from_one(api: ApiHarness) -> None:
    client = api.client(UNDERWRITER)
    response = client.post("/v1/products", json=product_body())
    assert response.status_code == 201, response.text
    first = response.json()
    assert (first["code"], first["version"], first["status"]) == ("fleet_cover", 1, "draft")
    assert first["created_by"] == str(UNDERWRITER.id)
    assert first["terms"]["coverages"][0]["plan_coverage"] == "machinery_breakdown"
    assert first["terms"]["quote_valid_days"] == 30  # the default, stored with the terms
    assert response.headers["location"] == f"/v1/products/{first['id']}"
    read = client.get(f"/v1/products/{first['id']}")
    assert read.json() == first
    assert response.headers["etag"] == read.headers["etag"]

    second = create(client, product_body(name="Fleet cover 2027"))
    other = create(client, product_body("arm_cover"))
    assert (second["version"], second["name"], other["version"]) == (2, "Fleet cover 2027", 1)
    assert second["id"] != first["id"]

    (event,) = events(api, second["id"])
    assert (event.action, event.actor_id, event.tenant_id) == (
        "products:create",
        UNDERWRITER.id,
        None,
    )
    assert event.detail["after"]["version"] == 2
    assert event.detail["after"]["terms"]["premium_tax_bp"] == {"DE": 1900, "US-CA": 325}


def _coverage(**changes: Any) -> dict[str, Any]:
    terms = copy.deepcopy(TERMS)
    terms["coverages"][0].update(changes)
    return terms


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"terms": _coverage(deductible_minor=5_000_000)}, "deductible must be below the limit"),
        ({"terms": _coverage(aggregate_minor=4_999_999)}, "aggregate must be at least the limit"),
        ({"terms": _coverage(code="liability")}, "coverage codes must be distinct"),
        ({"terms": {**TERMS, "premium_tax_bp": {"Germany": 1900}}}, "premium_tax_bp"),
        ({"terms": {**TERMS, "premium_tax_bp": {"de": 1900}}}, "premium_tax_bp"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"code": "Fleet"}, "code"),
    ],
)
def test_terms_that_break_the_rules_are_refused(
    api: ApiHarness, overrides: dict[str, Any], reason: str
) -> None:
    response = api.client(UNDERWRITER).post("/v1/products", json=product_body(**overrides))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert api.session.scalar(select(func.count()).select_from(Product)) == 0


def test_activation_retires_the_version_that_was_active(api: ApiHarness, rating_plan: int) -> None:
    client = api.client(UNDERWRITER)
    first = create(client, product_body())
    status, active = post_with_etag(client, first["id"], "activate")
    assert status == 200, active
    assert (active["status"], active["activated_by"]) == ("active", str(UNDERWRITER.id))
    assert active["activated_at"] is not None

    second = create(client, product_body())
    status, now_active = post_with_etag(client, second["id"], "activate")
    assert status == 200, now_active
    assert now_active["status"] == "active"
    assert client.get(f"/v1/products/{first['id']}").json()["status"] == "retired"

    actions = [(e.action, e.detail) for e in events(api, first["id"])]
    assert [action for action, _ in actions] == [
        "products:create",
        "products:activate",
        "products:retire",
    ]
    assert actions[2][1]["before"] == {"status": "active"}
    assert actions[2][1]["after"] == {"status": "retired"}
    assert actions[2][1]["superseded_by"] == second["id"]
    activation = events(api, second["id"])[1]
    assert activation.detail["before"] == {
        "status": "draft",
        "activated_at": None,
        "activated_by": None,
    }
    assert activation.detail["after"]["activated_by"] == str(UNDERWRITER.id)


def test_activation_needs_a_plan_that_prices_every_coverage(api: ApiHarness) -> None:
    client = api.client(UNDERWRITER)
    product = create(client, product_body())
    status, problem = post_with_etag(client, product["id"], "activate")
    assert status == 409, problem
    assert "no approved rating plan" in problem["detail"]

    approve_starter_plan(
        api.session.connection(), effective_from=datetime.now(UTC) - timedelta(days=40)
    )
    terms = copy.deepcopy(TERMS)
    terms["coverages"][1]["plan_coverage"] = "cyber_liability"
    unpriced = create(client, product_body(terms=terms))
    status, problem = post_with_etag(client, unpriced["id"], "activate")
    assert status == 409, problem
    assert "cyber_liability" in problem["detail"]
    assert client.get(f"/v1/products/{unpriced['id']}").json()["status"] == "draft"
    # The same terms priced by the plan's coverages are activated.
    assert post_with_etag(client, product["id"], "activate")[0] == 200


def test_illegal_status_changes_name_the_current_status(api: ApiHarness, rating_plan: int) -> None:
    client = api.client(UNDERWRITER)
    product = create(client, product_body())
    status, problem = post_with_etag(client, product["id"], "retire")
    assert (status, "is draft" in problem["detail"]) == (409, True)

    assert post_with_etag(client, product["id"], "activate")[0] == 200
    status, problem = post_with_etag(client, product["id"], "activate")
    assert (status, "is active" in problem["detail"]) == (409, True)

    status, retired = post_with_etag(client, product["id"], "retire")
    assert (status, retired["status"]) == (200, "retired")
    assert retired["activated_by"] == str(UNDERWRITER.id)  # who activated it stays told
    status, problem = post_with_etag(client, product["id"], "activate")
    assert (status, "is retired" in problem["detail"]) == (409, True)
    status, problem = post_with_etag(client, product["id"], "retire")
    assert (status, "is retired" in problem["detail"]) == (409, True)
    assert [e.action for e in events(api, product["id"])] == [
        "products:create",
        "products:activate",
        "products:retire",
    ]


def test_a_change_needs_the_current_etag(api: ApiHarness, rating_plan: int) -> None:
    client = api.client(UNDERWRITER)
    product = create(client, product_body())
    url = f"/v1/products/{product['id']}"
    etag = client.get(url).headers["etag"]
    assert client.post(f"{url}/activate").status_code == 428
    assert client.post(f"{url}/activate", headers={"If-Match": 'W/"0"'}).status_code == 412
    assert client.get(url).json()["status"] == "draft"
    activated = client.post(f"{url}/activate", headers={"If-Match": etag})
    assert activated.status_code == 200, activated.text
    assert activated.headers["etag"] == client.get(url).headers["etag"] != etag
    assert client.post(f"{url}/retire").status_code == 428
    assert client.post(f"{url}/retire", headers={"If-Match": etag}).status_code == 412
    missing = client.post(f"/v1/products/{uuid.uuid4()}/retire", headers={"If-Match": etag})
    assert missing.status_code == 404


def test_staff_list_products_by_code_and_status(api: ApiHarness, rating_plan: int) -> None:
    writer = api.client(UNDERWRITER)
    old = create(writer, product_body("fleet_cover"))
    assert post_with_etag(writer, old["id"], "activate")[0] == 200
    create(writer, product_body("fleet_cover"))
    create(writer, product_body("arm_cover"))
    create(writer, product_body("mobile_cover"))

    reader = api.client(principal(Role.AUDITOR))
    everything = reader.get("/v1/products", params={"limit": "2"}).json()
    rest = reader.get(
        "/v1/products", params={"limit": "200", "cursor": everything["next_cursor"]}
    ).json()
    codes = [p["code"] for p in everything["items"] + rest["items"]]
    assert codes == ["arm_cover", "fleet_cover", "fleet_cover", "mobile_cover"]

    fleet = reader.get("/v1/products", params={"code": "fleet_cover"}).json()["items"]
    assert sorted(p["version"] for p in fleet) == [1, 2]
    active = reader.get("/v1/products", params={"status": "active"}).json()["items"]
    assert [(p["id"], p["status"]) for p in active] == [(old["id"], "active")]
    drafts = reader.get("/v1/products", params={"status": "draft", "sort": "-created_at"})
    assert len(drafts.json()["items"]) == 3
    assert reader.get("/v1/products", params={"status": "sold"}).status_code == 400
    assert reader.get("/v1/products", params={"sort": "name"}).status_code == 400


def test_a_policyholder_neither_writes_nor_reads_products(api: ApiHarness) -> None:
    api.tenant("acme")
    product = create(api.client(UNDERWRITER), product_body())
    holder = api.client(principal(Role.POLICYHOLDER, "acme"))
    assert holder.post("/v1/products", json=product_body("other_cover")).status_code == 403
    assert holder.post(f"/v1/products/{product['id']}/activate").status_code == 403
    assert holder.get("/v1/products").status_code == 403
    auditor = api.client(principal(Role.AUDITOR))
    assert auditor.get(f"/v1/products/{product['id']}").status_code == 200
    assert auditor.post("/v1/products", json=product_body("other_cover")).status_code == 403
    assert api.session.scalar(select(func.count()).select_from(Product)) == 1


def test_quotes_and_policies_are_made_under_an_active_version(
    api: ApiHarness, rating_plan: int
) -> None:
    client = api.client(UNDERWRITER)
    product = create(client, product_body())
    product_id = uuid.UUID(product["id"])
    with pytest.raises(service.ProductNotActiveError, match="is draft"):
        service.active_product(api.session, product_id)
    with pytest.raises(service.ProductNotFoundError):
        service.active_product(api.session, uuid.uuid4())
    assert post_with_etag(client, product["id"], "activate")[0] == 200
    active = service.active_product(api.session, product_id)
    assert active.id == product_id
    terms = service.terms_of(active)
    assert terms == ProductTerms.model_validate(TERMS)
    liability = terms.coverage("liability")
    assert liability is not None
    assert liability.limit_minor == 20_000_000


def test_a_version_written_meanwhile_leaves_the_transaction_usable(api: ApiHarness) -> None:
    first = create(api.client(UNDERWRITER), product_body())
    duplicate = Product(
        code="fleet_cover",
        version=first["version"],
        name="Written meanwhile",
        currency="EUR",
        terms=TERMS,
        created_by="someone",
    )
    assert repository.add(api.session, duplicate) is False
    assert repository.latest_version(api.session, "fleet_cover") == 1
    assert repository.latest_version(api.session, "never_written") == 0
