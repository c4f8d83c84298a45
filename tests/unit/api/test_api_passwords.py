"""Passwords: argon2id hashes, verification that never raises, and the password policy."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from cloud_api.identity import passwords
from cloud_api.identity.passwords import (
    PasswordProblem,
    dummy_verify,
    hash_password,
    needs_rehash,
    password_problem,
    verify,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_the_hash_is_argon2id_with_rfc_9106s_second_option(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert stored != hash_password(PASSWORD)  # salted


def test_the_right_password_verifies(stored: str) -> None:
    assert verify(stored, PASSWORD)


@pytest.mark.parametrize("attempt", ["correct horse battery stapl", "", PASSWORD.upper()])
def test_a_wrong_password_does_not(stored: str, attempt: str) -> None:
    assert not verify(stored, attempt)


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "plaintext",
        "$argon2id$v=19$m=65536,t=3,p=4$zz$zz",
        "$argon2id$v=19$m=65536,t=3,p=4$",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$\udcff",
    ],
)
def test_a_malformed_stored_hash_verifies_nothing_and_raises_nothing(malformed: str) -> None:
    assert not verify(malformed, PASSWORD)
    assert needs_rehash(malformed)


def test_a_password_with_lone_surrogates_verifies_nothing(stored: str) -> None:
    assert not verify(stored, "\ud800" * 12)


def test_a_password_beyond_the_limit_verifies_nothing() -> None:
    long_password = "a" * (passwords.MAX_PASSWORD_BYTES + 1)
    stored = hash_password(long_password)
    assert not verify(stored, long_password)


def test_passwords_are_compared_after_nfkc_normalisation() -> None:
    stored = hash_password("ﬁnancial robots 2025")  # the "fi" ligature, U+FB01
    assert verify(stored, "financial robots 2025")


def test_hashes_with_other_parameters_need_rehashing(stored: str) -> None:
    cheaper = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify(cheaper, PASSWORD)  # still accepted, then replaced
    assert needs_rehash(cheaper)
    assert not needs_rehash(stored)


def test_dummy_verify_is_false_and_costs_a_real_verification() -> None:
    started = time.perf_counter()
    assert dummy_verify(PASSWORD) is False
    assert time.perf_counter() - started > 0.005  # argon2id over 64 MiB, not a shortcut
    assert dummy_verify("robocover dummy password, never a user") is False
    # The same parameters as real hashes, so the same time as a real verification.
    assert PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).verify(
        passwords._DUMMY_HASH, "robocover dummy password, never a user"
    )
    assert not needs_rehash(passwords._DUMMY_HASH)


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("short", "alice", PasswordProblem.TOO_SHORT),
        ("elevenchars", "alice", PasswordProblem.TOO_SHORT),
        ("é" * 11, "alice", PasswordProblem.TOO_SHORT),  # characters, not bytes
        ("a" * 1025, "alice", PasswordProblem.TOO_LONG),
        ("é" * 513, "alice", PasswordProblem.TOO_LONG),  # 1026 bytes of UTF-8
        ("underwriter.jane", "underwriter.jane", PasswordProblem.SAME_AS_USERNAME),
        ("Underwriter.Jane", "underwriter.jane", PasswordProblem.SAME_AS_USERNAME),
        ("\ud800" * 12, "alice", PasswordProblem.NOT_TEXT),
    ],
)
def test_the_policy_says_precisely_what_is_wrong(
    password: str, username: str, problem: PasswordProblem
) -> None:
    assert password_problem(password, username) is problem


@pytest.mark.parametrize(
    "password", ["twelve chars", "a" * 1024, "é" * 512, "ロボット保険の合言葉です"]
)
def test_the_policy_accepts_passwords_within_its_bounds(password: str) -> None:
    assert password_problem(password, "alice") is None
