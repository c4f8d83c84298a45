"""The gateway's renderer (cloud_api/gateway.py) and the domains it routes (cloud_api/domains.py):
what each option becomes in nginx.conf, and every value that could smuggle a directive into the
file refused with a message naming it. nginx itself reads the rendered files in
tests/integration/gateway/."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from cloud_api.cli import app as cli
from cloud_api.domains import DOMAINS, domain_of, parse_domains
from cloud_api.gateway import (
    API_MAX_BODY_BYTES,
    PRESETS,
    Gateway,
    GatewayConfigError,
    Pool,
    parse_pool,
    render,
)

TLS = {"tls_cert": "/etc/robocover/tls/gateway.crt", "tls_key": "/etc/robocover/tls/gateway.key"}


def _gateway(*pools: str, **options: object) -> Gateway:
    return Gateway(pools=tuple(map(parse_pool, pools)), **(TLS | options))  # type: ignore[arg-type]


def test_domains_are_read_in_their_own_order_once_each() -> None:
    assert parse_domains(" risk,robots ,risk") == ("robots", "risk")
    assert parse_domains("all") == DOMAINS
    with pytest.raises(ValueError, match="unknown domain 'underwriting': the domains are identity"):
        parse_domains("claims,underwriting")
    with pytest.raises(ValueError, match="at least one domain"):
        parse_domains(" , ")


@pytest.mark.parametrize(
    ("path", "domain"),
    [
        ("/v1/robots/7/rescore", "risk"),
        ("/v1/robots/7/risk-scores", "risk"),
        ("/v1/robots/7", "robots"),
        ("/v1/robots/7/rescore/again", "robots"),
        ("/v1/enrollments", "robots"),
        ("/v1/tenants/acme/service-accounts", "identity"),
        ("/v1/audit-events", "identity"),
        ("/v1/endorsement-proposals/7/approve", "policy"),
        ("/v1/webhooks/payment-processor", "billing"),
        ("/v1/notifications/webhooks", "notifications"),
        ("/v1/claims", "claims"),
        ("/v1/reports/page", "reports"),
        ("/v1/usersx", None),
        ("/v1/", None),
        ("/metrics", None),
    ],
)
def test_each_path_has_one_domain(path: str, domain: str | None) -> None:
    assert domain_of(path) == domain


def test_pools_route_their_domains_in_the_patterns_order() -> None:
    text = render(
        _gateway("core=identity,policy@10.0.0.1:8000,10.0.0.2:8000", "field=robots,risk@api:80")
    )
    routes = re.findall(r'"~(\^[^"]+)" (robocover_\w+);  # (\w+)', text)
    assert [(pool, domain) for _, pool, domain in routes] == [
        ("robocover_field", "risk"),  # before robots: its paths are under /v1/robots
        ("robocover_core", "identity"),
        ("robocover_core", "policy"),
        ("robocover_field", "robots"),
    ]
    assert "server 10.0.0.2:8000 max_fails=1 fail_timeout=10s;" in text
    assert "# Not routed (404): billing, claims, notifications, reports." in text
    assert f"client_max_body_size {API_MAX_BODY_BYTES};" in text
    assert "proxy_next_upstream error timeout;" in text  # not non_idempotent
    assert "@" not in text.replace("$", "")  # every placeholder filled


def test_options_reach_the_file() -> None:
    base = _gateway("core=all@127.0.0.1:8001", listen="127.0.0.1:8443")
    text = render(base)
    assert "listen 127.0.0.1:8443 ssl default_server;" in text
    assert "return 308 https://$host:8443$request_uri;" in text
    assert "user " not in text
    assert "alias" not in text
    changed = render(
        replace(
            base,
            http_listen=None,
            user="www-data",
            rate_limit="600r/m",
            rate_burst=7,
            openapi_file="/srv/openapi.json",
            error_log="stderr",
        )
    )
    assert "return 308" not in changed
    assert changed.count("listen ") == 1
    assert "user www-data;" in changed
    assert "rate=600r/m;" in changed
    assert changed.count("burst=7 nodelay;") == 2
    assert "alias /srv/openapi.json;" in changed
    assert "error_log stderr warn;" in changed


@pytest.mark.parametrize(
    ("pools", "options", "message"),
    [
        (["core=identity@127.0.0.1:8000;evil"], {}, "server"),
        (["core=identity@127.0.0.1:70000"], {}, "port 1-65535"),
        (["core=identity@host name:80"], {}, "server"),
        (["Core{=identity@127.0.0.1:8000"], {}, "pool name"),
        (["core=identity"], {}, "NAME=DOMAIN"),
        (["core=identity@"], {}, "name its domains and its servers"),
        (["core=identity,nope@127.0.0.1:1"], {}, "unknown domain 'nope'"),
        (["a=claims@127.0.0.1:1", "b=claims@127.0.0.1:2"], {}, "claims is in pools a and b"),
        (["a=claims@127.0.0.1:1", "a=risk@127.0.0.1:2"], {}, "pool names repeat"),
        ([], {}, "at least one pool"),
        (["a=all@127.0.0.1:1"], {"tls_key": "/k; include /etc/shadow"}, "tls key"),
        (["a=all@127.0.0.1:1"], {"access_log": "relative.log"}, "access log"),
        (["a=all@127.0.0.1:1"], {"error_log": "/var/log/a b"}, "error log"),
        (["a=all@127.0.0.1:1"], {"server_name": "x;y"}, "server name"),
        (["a=all@127.0.0.1:1"], {"rate_limit": "5r/h"}, "rate limit"),
        (["a=all@127.0.0.1:1"], {"rate_burst": 0}, "rate burst"),
        (["a=all@127.0.0.1:1"], {"user": "root;"}, "user"),
        (["a=all@127.0.0.1:1"], {"listen": "443 ssl"}, "listen"),
        (["a=all@127.0.0.1:1"], {"docs_pool": "b"}, "docs pool b"),
    ],
)
def test_what_could_break_the_file_is_refused(
    pools: list[str], options: dict[str, object], message: str
) -> None:
    with pytest.raises(GatewayConfigError, match=re.escape(message)):
        _gateway(*pools, **options)


def test_a_pool_holds_servers_and_domains() -> None:
    with pytest.raises(GatewayConfigError):
        Pool("core", (), ("127.0.0.1:1",))


def test_the_presets_are_the_deployments() -> None:
    for preset in PRESETS.values():
        assert [(p.name, ",".join(p.domains)) for p in preset.pools] == [
            ("core", "identity,policy,billing,reports"),
            ("claims", "claims,notifications"),
            ("robots", "robots,risk"),
        ]
        assert preset.unrouted == ()
    assert PRESETS["kubernetes"].pools[1].servers == (
        "api-claims.robocover.svc.cluster.local:8000",
    )


def test_the_commands_refuse_unknown_domains_plainly() -> None:
    runner = CliRunner()
    api = runner.invoke(cli, ["api", "--domains", "claims,underwriting"])
    assert api.exit_code == 2
    assert "unknown domain 'underwriting'" in api.output
    pool = runner.invoke(cli, ["gateway-config", "--pool", "x=claims,nope@127.0.0.1:1"])
    assert pool.exit_code == 2
    assert "unknown domain 'nope'" in pool.output
    preset = runner.invoke(cli, ["gateway-config", "--preset", "compose", "--user", "root"])
    assert preset.exit_code == 2


def test_the_command_renders_to_stdout() -> None:
    result = CliRunner().invoke(
        cli,
        ["gateway-config", "--pool", "core=all@127.0.0.1:8001", "--tls-cert", "/c", "--tls-key",
         "/k", "--http-listen", "off", "--rate-limit", "9r/s"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "upstream robocover_core {" in result.output
    assert "rate=9r/s;" in result.output
    assert "return 308" not in result.output
