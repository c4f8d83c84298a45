"""The gateway's nginx configuration, rendered (`robocover gateway-config`; docs/gateway.md).

One nginx terminates TLS and routes each `/v1/<domain>` path to the pool of `robocover api
--domains ...` processes that serves the domain (domains.py's patterns, read by nginx as by
Python). Pools are balanced round robin with passive health checks: a process that refuses a
connection or times out is skipped for ``fail_timeout_s`` and the request goes to the next one.
A request is passed to the next process only when it was never sent (connection refused or
timed out): a POST that reached a process which then died is not replayed, the client gets a
503 and retries with its Idempotency-Key. Each client address has a request rate and a number
of connections (429 past them); bodies are bounded as the API bounds them (413). Every answer
of nginx's own is problem details (RFC 9457), a pool entirely down a 503 at once.

Every value that reaches the file is checked against a narrow pattern first: no option can
smuggle a directive into the configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cloud_api.domains import DOMAIN_PATTERNS, Domain, parse_domains
from cloud_api.settings import ApiSettings

TEMPLATE_FILE = (
    Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "gateway.conf.template"
)
API_MAX_BODY_BYTES: int = ApiSettings.model_fields["max_body_bytes"].default
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_HOST = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))"
_SERVER = re.compile(rf"^{_HOST}:(?P<port>[0-9]{{1,5}})$")
_LISTEN = re.compile(rf"^({_HOST}:)?(?P<port>[0-9]{{1,5}})$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+-]*$")
_RATE = re.compile(r"^[1-9][0-9]{0,5}r/[sm]$")
_SERVER_NAME = re.compile(r"^(_|[A-Za-z0-9*][A-Za-z0-9.*-]{0,252})$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
TLS_CIPHERS = (  # Mozilla's intermediate list for TLS 1.2; TLS 1.3 chooses its own
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
HSTS = 'add_header Strict-Transport-Security "max-age=63072000" always;'


class GatewayConfigError(ValueError):
    """An option the gateway cannot be rendered with; the message says which and why."""


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise GatewayConfigError(f"{what} {value!r} is not allowed here")
    return value


def _check_port(text: str, what: str) -> str:
    match = _LISTEN.match(text) or _SERVER.match(text)
    if match is None or not 1 <= int(match.group("port")) <= 65_535:
        raise GatewayConfigError(f"{what} {text!r}: give [host:]port with a port 1-65535")
    return text


@dataclass(frozen=True, slots=True)
class Pool:
    """Processes that serve the same domains (`robocover api --domains` of ``domains``)."""

    name: str
    domains: tuple[Domain, ...]
    servers: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(_NAME, self.name, "pool name")
        if not self.domains or not self.servers:
            raise GatewayConfigError(f"pool {self.name}: name its domains and its servers")
        for server in self.servers:
            _check_port(_check(_SERVER, server, f"pool {self.name}: server"), "server")

    @property
    def upstream(self) -> str:
        return f"robocover_{self.name}"


def parse_pool(text: str) -> Pool:
    """``core=identity,policy@127.0.0.1:8001,127.0.0.1:8002`` as a Pool."""
    name, equals, rest = text.partition("=")
    domains, at, servers = rest.partition("@")
    if not equals or not at:
        raise GatewayConfigError(f"pool {text!r}: write NAME=DOMAIN[,DOMAIN...]@HOST:PORT[,...]")
    try:
        chosen = parse_domains(domains)
    except ValueError as exc:
        raise GatewayConfigError(f"pool {name}: {exc}") from exc
    return Pool(name.strip(), chosen, tuple(s.strip() for s in servers.split(",") if s.strip()))


def _check_pools(pools: tuple[Pool, ...]) -> None:
    """At least one pool; each named once; each domain in one pool at most."""
    if not pools:
        raise GatewayConfigError("name at least one pool (--pool)")
    names = [pool.name for pool in pools]
    if len(set(names)) != len(names):
        raise GatewayConfigError(f"pool names repeat: {', '.join(names)}")
    served: dict[str, str] = {}
    for pool in pools:
        for domain in pool.domains:
            if domain in served:
                raise GatewayConfigError(
                    f"domain {domain} is in pools {served[domain]} and {pool.name}"
                )
            served[domain] = pool.name


@dataclass(frozen=True, slots=True)
class Gateway:
    """Everything the rendered nginx.conf says; the defaults are Debian's paths and ports."""

    pools: tuple[Pool, ...]
    tls_cert: str
    tls_key: str
    listen: str = "443"
    http_listen: str | None = "80"  # None: no plain-HTTP listener (redirect and /healthz)
    server_name: str = "_"
    pid_file: str = "/run/nginx.pid"
    error_log: str = "/var/log/nginx/error.log"
    access_log: str = "/var/log/nginx/access.log"
    temp_dir: str = "/var/lib/nginx"
    user: str | None = None  # the workers' user when the master runs as root
    max_body_bytes: int = API_MAX_BODY_BYTES
    rate_limit: str = "50r/s"
    rate_burst: int = 100
    connections_per_client: int = 100
    max_fails: int = 1
    fail_timeout_s: int = 10
    docs_pool: str | None = None  # serves /docs, /redoc, /openapi.json; default the first pool
    openapi_file: str | None = None  # a full document served at /openapi.json instead
    command: str = field(default="robocover gateway-config", compare=False)

    def __post_init__(self) -> None:
        _check_pools(self.pools)
        names = [pool.name for pool in self.pools]
        for what in ("tls_cert", "tls_key", "pid_file", "access_log", "temp_dir"):
            _check(_PATH, getattr(self, what), what.replace("_", " "))
        if self.error_log != "stderr":  # nginx's own word: its standard error, never reopened
            _check(_PATH, self.error_log, "error log")
        if self.openapi_file is not None:
            _check(_PATH, self.openapi_file, "openapi file")
        _check_port(self.listen, "listen")
        if self.http_listen is not None:
            _check_port(self.http_listen, "http listen")
        _check(_SERVER_NAME, self.server_name, "server name")
        if self.user is not None:
            _check(_USER, self.user, "user")
        _check(_RATE, self.rate_limit, "rate limit (e.g. 50r/s or 600r/m)")
        bounds = {
            "max_body_bytes": (1, 1 << 30),
            "rate_burst": (1, 100_000),
            "connections_per_client": (1, 100_000),
            "max_fails": (1, 100),
            "fail_timeout_s": (1, 3_600),
        }
        for what, (low, high) in bounds.items():
            if not low <= getattr(self, what) <= high:
                raise GatewayConfigError(f"{what.replace('_', ' ')} must be in [{low}, {high}]")
        if self.docs_pool is not None and self.docs_pool not in names:
            raise GatewayConfigError(f"docs pool {self.docs_pool} is not one of {names}")

    @property
    def unrouted(self) -> tuple[Domain, ...]:
        """Domains no pool serves: their paths answer 404 at the gateway."""
        served = {domain for pool in self.pools for domain in pool.domains}
        return tuple(domain for domain, _ in DOMAIN_PATTERNS if domain not in served)


HTTP_SERVER = """
    server {
        listen @HTTP_LISTEN@;
        server_name @SERVER_NAME@;
        location = /healthz {
            access_log off;
            default_type application/json;
            return 200 '{"status":"ok"}\\n';
        }
        location / {
            return 308 @REDIRECT@;
        }
    }
"""
OPENAPI_FILE = """\
        # The whole API's document, as docs/openapi.json holds it.
        location = /openapi.json {
            alias @OPENAPI_PATH@;
            default_type application/json;
            @HSTS@
        }
"""
PROBLEMS = {
    400: ("Bad request", "the gateway could not read the request"),
    404: ("Not found", "no domain of the API answers this path"),
    413: ("Content too large", "the body is larger than the gateway passes on: at most {} bytes"),
    429: ("Too many requests", "this client sent more requests than the gateway allows"),
    500: ("Internal error", "the gateway failed"),
    503: ("Service unavailable", "no process of the pool that serves this path answered"),
    504: ("Gateway timeout", "the pool that serves this path did not answer in time"),
}
PROBLEM_PAGE = """\
        location = /_problems/@STATUS@ {
            internal;
            default_type application/problem+json;
            add_header X-Request-ID "$robocover_request_id" always;
            add_header Cache-Control "no-store" always;
            @HSTS@@RETRY_AFTER@
            return @STATUS@ '@BODY@\\n';
        }"""
RETRY_AFTER = '\n            add_header Retry-After "1" always;'


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    if leftover := re.search(r"@[A-Z_]+@", template):
        raise AssertionError(f"placeholder {leftover.group()} left unfilled")
    return template


def _pool_map(gateway: Gateway) -> str:
    upstream = {domain: pool.upstream for pool in gateway.pools for domain in pool.domains}
    return "\n".join(
        f'        "~{pattern}" {upstream[domain]};  # {domain}'
        for domain, pattern in DOMAIN_PATTERNS
        if domain in upstream
    )


def _upstreams(gateway: Gateway) -> str:
    blocks = []
    for pool in gateway.pools:
        servers = "".join(
            f"        server {server} max_fails={gateway.max_fails}"
            f" fail_timeout={gateway.fail_timeout_s}s;\n"
            for server in pool.servers
        )
        # Idle connections are let go before uvicorn's own 5 s keep-alive ends them: a request
        # is never written into a connection the process is closing.
        blocks.append(
            f"    upstream {pool.upstream} {{\n"
            f"        # robocover api --domains {','.join(pool.domains)}\n{servers}"
            "        keepalive 16;\n        keepalive_timeout 4s;\n    }\n"
        )
    return "\n".join(blocks)


def _problem_pages(gateway: Gateway) -> str:
    pages = []
    for status, (title, detail) in PROBLEMS.items():
        values = {"STATUS": str(status), "HSTS": HSTS}
        values["BODY"] = (
            f'{{"type":"about:blank","title":"{title}","status":{status},'
            f'"detail":"{detail.format(gateway.max_body_bytes)}",'
            '"instance":"$robocover_instance","request_id":"$robocover_request_id"}'
        )
        values["RETRY_AFTER"] = RETRY_AFTER if status in (429, 503) else ""
        pages.append(_fill(PROBLEM_PAGE, values))
    return "\n".join(pages)


def render(gateway: Gateway, template: str | None = None) -> str:
    """The whole nginx.conf, from deploy/nginx/gateway.conf.template (or ``template``)."""
    text = TEMPLATE_FILE.read_text() if template is None else template
    text = "".join(line for line in text.splitlines(True) if not line.startswith("## "))
    summary = [
        f"# Pool {pool.name} ({', '.join(pool.domains)}): {', '.join(pool.servers)}."
        for pool in gateway.pools
    ]
    if gateway.unrouted:
        summary.append(f"# Not routed (404): {', '.join(gateway.unrouted)}.")
    port = gateway.listen.rpartition(":")[2]
    values = {  # blocks first: their own placeholders are filled after them
        "HTTP_SERVER": "" if gateway.http_listen is None else HTTP_SERVER,
        "OPENAPI_LOCATION": "" if gateway.openapi_file is None else OPENAPI_FILE,
        "PROBLEM_PAGES": _problem_pages(gateway),
        "COMMAND": gateway.command,
        "SUMMARY": "\n".join(summary) + "\n",
        "USER": f"user {gateway.user};\n" if gateway.user else "",
        "POOL_MAP": _pool_map(gateway),
        "UPSTREAMS": _upstreams(gateway),
        "ERROR_PAGES": "\n".join(
            f"        error_page {status} /_problems/{status};"
            for status in PROBLEMS
            if status != 503
        ),
        "UUID": "-?".join(f"[0-9A-Fa-f]{{{n}}}" for n in (8, 4, 4, 4, 12)),
        "DOCS_UPSTREAM": f"robocover_{gateway.docs_pool or gateway.pools[0].name}",
        "REDIRECT": "https://$host" + ("" if port == "443" else f":{port}") + "$request_uri",
        "OPENAPI_PATH": gateway.openapi_file or "",
        "HTTP_LISTEN": gateway.http_listen or "",
        "TEMP_DIR": gateway.temp_dir.rstrip("/"),
        "TLS_CIPHERS": TLS_CIPHERS,
        "CONNECTIONS": str(gateway.connections_per_client),
        "HSTS": HSTS,
    }
    for name in ("pid_file", "error_log", "access_log", "listen", "server_name", "tls_cert"):
        values[name.upper()] = str(getattr(gateway, name))
    for name in ("tls_key", "max_body_bytes", "rate_limit", "rate_burst"):
        values[name.upper()] = str(getattr(gateway, name))
    return _fill(text, values)


def _preset(hosts: dict[str, str], command: str) -> Gateway:
    pools = (
        ("core", "identity,policy,billing,reports"),
        ("claims", "claims,notifications"),
        ("robots", "robots,risk"),
    )
    return Gateway(
        pools=tuple(Pool(name, parse_domains(domains), (hosts[name],)) for name, domains in pools),
        tls_cert="/etc/robocover/tls/gateway.crt",
        tls_key="/etc/robocover/tls/gateway.key",
        error_log="stderr",
        access_log="/dev/stdout",
        user="www-data",
        command=command,
    )


PRESETS: dict[str, Gateway] = {
    "compose": _preset(
        {name: f"api-{name}:8000" for name in ("core", "claims", "robots")},
        "robocover gateway-config --preset compose",
    ),
    "kubernetes": _preset(
        {
            name: f"api-{name}.robocover.svc.cluster.local:8000"
            for name in ("core", "claims", "robots")
        },
        "robocover gateway-config --preset kubernetes",
    ),
}
