"""The gateway's configurations as nginx reads them: the committed deploy/nginx/compose.conf and
kubernetes.conf are what `robocover gateway-config --preset ...` renders today (as
docs/openapi.json is the code's), and Debian's nginx accepts them (`nginx -t`), as it accepts a
configuration rendered with every option.

nginx -t resolves the upstreams' host names and opens the certificate, so the committed files
are checked in a copy where the deployment's hosts and paths are swapped for this machine's:
each swap must find what it replaces, or the test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud_api.cli import app as cli
from cloud_api.gateway import PRESETS, Gateway, parse_pool, render
from tests.support.nginx import GatewayDir, local_listen, nginx_test

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "nginx"


@pytest.fixture
def directory() -> Iterator[GatewayDir]:
    made = GatewayDir.make()
    yield made
    made.remove()


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_committed_configuration_is_what_the_renderer_makes(preset: str) -> None:
    committed = DEPLOY / f"{preset}.conf"
    assert committed.read_text() == render(PRESETS[preset]), (
        f"{committed} is stale: run `robocover gateway-config --preset {preset}`"
    )
    checked = CliRunner().invoke(cli, ["gateway-config", "--preset", preset, "--check"])
    assert checked.exit_code == 0, checked.output


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "compose.conf"
    stale.write_text(render(PRESETS["compose"]).replace("max_fails=1", "max_fails=2"))
    checked = CliRunner().invoke(
        cli, ["gateway-config", "--preset", "compose", "--check", "--output", str(stale)]
    )
    assert checked.exit_code == 1
    assert "stale" in checked.output


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_nginx_accepts_the_committed_configuration(preset: str, directory: GatewayDir) -> None:
    text = (DEPLOY / f"{preset}.conf").read_text()
    options = directory.options(preset)
    swaps = {
        "/etc/robocover/tls/gateway.crt": options["tls_cert"],
        "/etc/robocover/tls/gateway.key": options["tls_key"],
        "/run/nginx.pid": options["pid_file"],
        "/var/lib/nginx/": options["temp_dir"] + "/",
        "listen 443 ssl": f"listen {local_listen()} ssl",
        "listen 80;": f"listen {local_listen()};",
        **{
            server: "127.0.0.1:8000"
            for pool in PRESETS[preset].pools
            for server in pool.servers  # host names of the deployment's network only
        },
    }
    for original, here in swaps.items():
        assert original in text, original
        text = text.replace(original, here)
    config = directory.path / preset / "nginx.conf"
    config.write_text(text)
    checked = nginx_test(config, config.parent)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_nginx_accepts_a_configuration_rendered_with_every_option(directory: GatewayDir) -> None:
    document = directory.path / "openapi.json"
    document.write_text("{}")
    gateway = Gateway(
        pools=(
            parse_pool("core=identity,policy,billing,reports@127.0.0.1:9001,127.0.0.1:9002"),
            parse_pool("field=claims,notifications,robots,risk@localhost:9003"),
        ),
        listen=local_listen(),
        http_listen=None,
        server_name="api.robocover.test",
        max_body_bytes=4096,
        rate_limit="600r/m",
        rate_burst=5,
        connections_per_client=10,
        max_fails=3,
        fail_timeout_s=30,
        docs_pool="field",
        openapi_file=str(document),
        **directory.options("every"),
    )
    config = directory.path / "every" / "nginx.conf"
    config.write_text(render(gateway))
    checked = nginx_test(config, config.parent)
    assert checked.returncode == 0, checked.stderr
