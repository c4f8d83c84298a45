"""Attachments of a claim through the API, kept by the local attachment store: a photo
attached by the policyholder is listed and read back byte for byte (as an attachment, with
nosniff); a file whose first bytes contradict its type, a type not taken, an empty or
oversized file are refused; its name cannot leave the store; another tenant's claim does not
exist for it; a closed claim takes none."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from cloud_api.access.roles import Role
from cloud_api.claims.attachments import safe_name
from cloud_api.settings import ApiSettings
from database.models import Claim
from tests.integration.api.claim_factories import InsuredFleet, insured_fleet
from tests.support.api import ApiHarness, principal

HOLDER = principal(Role.POLICYHOLDER, "alpha")
OTHER = principal(Role.POLICYHOLDER, "beta")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def claim(api: ApiHarness) -> Any:
    api.tenant("beta")
    insured: InsuredFleet = insured_fleet(api)
    response = api.client(HOLDER).post(
        "/v1/claims",
        json={
            "robot_id": str(insured.robots[0].id),
            "coverage": "breakdown",
            "loss_at": insured.term_start.isoformat(),
            "description": "Dented housing.",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload(api: ApiHarness, claim: Any, data: bytes, content_type: str, name: str = "a.png") -> Any:
    return api.client(HOLDER).post(
        f"/v1/claims/{claim['id']}/attachments",
        params={"filename": name},
        content=data,
        headers={"Content-Type": content_type},
    )


def test_a_photo_is_kept_listed_and_read_back(
    api: ApiHarness, api_settings: ApiSettings, claim: Any
) -> None:
    response = upload(api, claim, PNG, "image/png", "../../etc/passwd photo.png")
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["filename"] == "passwd photo.png"
    assert made["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert made["size_bytes"] == len(PNG)
    stored = list(api_settings.attachments_dir.glob(f"{claim['id']}/*"))
    assert [p.name for p in stored] == [made["id"]]
    assert stored[0].stat().st_mode & 0o777 == 0o600
    listed = api.client(HOLDER).get(f"/v1/claims/{claim['id']}/attachments").json()
    assert [a["id"] for a in listed] == [made["id"]]
    read = api.client(HOLDER).get(f"/v1/claims/{claim['id']}/attachments/{made['id']}")
    assert read.status_code == 200
    assert read.content == PNG
    assert read.headers["content-type"] == "image/png"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert read.headers["content-disposition"] == 'attachment; filename="passwd photo.png"'
    other = api.client(OTHER)
    assert other.get(f"/v1/claims/{claim['id']}/attachments/{made['id']}").status_code == 404
    assert other.get(f"/v1/claims/{claim['id']}/attachments").status_code == 404


@pytest.mark.parametrize(
    "case",
    [
        (b"GIF89a" + b"x" * 10, "image/png", 415),  # not the PNG it says it is
        (PNG, "image/gif", 415),  # a type not taken
        (PNG, "text/html", 415),
        (b"\xff\xfe\x00bad", "text/plain", 415),
        (b"", "image/png", 422),
        (PNG * 2000, "image/png", 413),  # over the API's body limit
    ],
)
def test_files_that_are_not_what_they_say_or_too_big_are_refused(
    api: ApiHarness, api_settings: ApiSettings, claim: Any, case: tuple[bytes, str, int]
) -> None:
    data, content_type, status = case
    response = upload(api, claim, data, content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert not list(api_settings.attachments_dir.glob(f"{claim['id']}/*"))


def test_a_closed_claim_takes_no_attachment(api: ApiHarness, claim: Any) -> None:
    row = api.session.get(Claim, claim["id"])
    assert row is not None
    row.status = "closed"
    api.session.flush()
    assert upload(api, claim, PNG, "image/png").status_code == 409


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("a/b/c.pdf", "c.pdf"),
        ("..", "attachment"),
        ("x\\y.txt", "y.txt"),
        ("é<script>.png", "__script_.png"),
    ],
)
def test_names_are_reduced_to_safe_characters(given: str, kept: str) -> None:
    assert safe_name(given) == kept
