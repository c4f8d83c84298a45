"""The token signing key's rotation of docs/operations.md, step by step: keys made by the
documented openssl commands, the accepted keys given as ROBOCOVER_JWT_RETIRED_PUBLIC_KEYS in the
environment; during each restart, when processes of two neighbouring steps serve side by side,
a token either signs is accepted by the other. Skipping step 1 would refuse tokens, and the
last step refuses the old key's tokens."""

from __future__ import annotations

import itertools
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud_api.access.roles import Role
from cloud_api.identity.config import TokenConfig, token_config
from cloud_api.identity.tokens import TokenRejected, issue_access_token, verify_access_token
from cloud_api.settings import ApiSettings
from tests.support.api import principal

NOW = datetime.now(UTC)


def openssl_key(directory: Path, name: str) -> tuple[str, str]:
    """A key pair as the documented commands make it: (PKCS#8 private PEM, public PEM)."""
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    pipeline = (
        "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt > $1"
        " && openssl ec -in $1 -pubout > $2 2>/dev/null"
    )
    subprocess.run(["bash", "-c", pipeline, "bash", private, public], check=True, timeout=30)
    return private.read_text(), public.read_text()


def process(
    monkeypatch: pytest.MonkeyPatch,
    signing: tuple[str, str],
    accepted: list[tuple[str, str]],
) -> TokenConfig:
    """An API process's token configuration, its accepted keys from the environment."""
    listed = [{"kid": kid, "public_pem": pem} for kid, pem in accepted]
    monkeypatch.setenv("ROBOCOVER_JWT_RETIRED_PUBLIC_KEYS", json.dumps(listed))
    settings = ApiSettings(
        cursor_secret="c" * 32, jwt_key_id=signing[0], jwt_signing_key=signing[1]
    )
    return token_config(settings)


def token(config: TokenConfig) -> str:
    signed, _ = issue_access_token(
        config.keys,
        principal(Role.UNDERWRITER),
        NOW,
        config.access_ttl,
        issuer=config.issuer,
        audience=config.audience,
    )
    return signed


def accepts(config: TokenConfig, signed: str) -> bool:
    try:
        verify_access_token(
            config.keys, signed, NOW, issuer=config.issuer, audience=config.audience
        )
    except TokenRejected:
        return False
    return True


def test_each_step_accepts_the_tokens_of_the_steps_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_private, old_public = openssl_key(tmp_path, "old")
    new_private, new_public = openssl_key(tmp_path, "new")
    old, new = ("robocover-2026-12", old_private), ("robocover-2027-01", new_private)
    steps = [
        process(monkeypatch, old, []),  # before
        process(monkeypatch, old, [(new[0], new_public)]),  # 1: the new key accepted
        process(monkeypatch, new, [(old[0], old_public)]),  # 2: the new key signs
        process(monkeypatch, new, []),  # 3: the old key gone
    ]
    for before, after in itertools.pairwise(steps):
        assert accepts(after, token(before))
        assert accepts(before, token(after))
    assert not accepts(steps[0], token(steps[2]))  # why step 1 comes first
    assert not accepts(steps[3], token(steps[0]))  # the old key's tokens, refused at the end
    assert steps[2].access_ttl == timedelta(seconds=600)  # step 3 waits this, plus 30 s
