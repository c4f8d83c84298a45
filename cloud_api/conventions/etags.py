"""Weak entity tags of a representation, and the If-Match / If-None-Match checks.

The tag is a digest of the JSON representation the client receives, so it changes exactly when
what the client sees changes (a timestamp column would not: ``now()`` is the transaction's
start, the same for every change a transaction makes). A change to a versioned resource must
name the version it changes (``If-Match``): 428 without it, 412 when it is no longer current.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from cloud_api.errors import PreconditionFailedError, PreconditionRequiredError


def weak_etag(representation: BaseModel) -> str:
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _tags(header: str) -> set[str]:
    """The tags of an If-Match / If-None-Match header, compared weakly (RFC 9110 8.8.3.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def matches(header: str | None, current: str) -> bool:
    """Whether an If-None-Match header names the current tag (or ``*``)."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or current.removeprefix("W/") in tags


def require_match(header: str | None, current: str, resource: str) -> None:
    """428 without If-Match; 412 when it names another version than ``current``."""
    if not header:
        raise PreconditionRequiredError(
            f"changing {resource} requires If-Match with its ETag (read it first)"
        )
    if not matches(header, current):
        raise PreconditionFailedError(
            f"{resource} changed since it was read (ETag {current}); read it again"
        )
