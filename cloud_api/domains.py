"""The API's domains: what `robocover api --domains` serves and what the gateway routes.

Each domain answers the /v1 paths its pattern matches (the patterns are read in order, first
match wins: the risk routes sit under /v1/robots). app.py holds which routers make each domain;
this module is data only, so the gateway's renderer imports nothing of the API, and one test
holds the two together (every route of a domain's app matches that domain's pattern).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Domain = Literal[
    "identity", "policy", "billing", "claims", "robots", "risk", "notifications", "reports"
]
DOMAINS: tuple[Domain, ...] = get_args(Domain)
ALL = "all"

# Python's re and nginx's PCRE read these alike.
DOMAIN_PATTERNS: tuple[tuple[Domain, str], ...] = (
    ("risk", r"^/v1/robots/[^/]+/(rescore|risk-scores)$"),
    ("identity", r"^/v1/(auth|users|tenants|audit-events)(/|$)"),
    ("policy", r"^/v1/(products|quotes|policies|endorsement-proposals)(/|$)"),
    ("billing", r"^/v1/(invoices|webhooks)(/|$)"),
    ("claims", r"^/v1/claims(/|$)"),
    ("robots", r"^/v1/(robots|enrollments)(/|$)"),
    ("notifications", r"^/v1/notifications(/|$)"),
    ("reports", r"^/v1/reports(/|$)"),
)
_COMPILED = tuple((domain, re.compile(pattern)) for domain, pattern in DOMAIN_PATTERNS)


def domain_of(path: str) -> Domain | None:
    """The domain that answers ``path`` (a decoded path without its query), or None."""
    for domain, pattern in _COMPILED:
        if pattern.search(path):
            return domain
    return None


def parse_domains(text: str) -> tuple[Domain, ...]:
    """``"claims,notifications"`` (or ``"all"``) as domains, in DOMAINS' order, once each.

    Raises ValueError naming the unknown domain and the known ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"name at least one domain ({', '.join(DOMAINS)}) or {ALL}")
    if ALL in names:
        return DOMAINS
    for name in names:
        if name not in DOMAINS:
            raise ValueError(f"unknown domain {name!r}: the domains are {', '.join(DOMAINS)}")
    return tuple(domain for domain in DOMAINS if domain in names)
