"""The demo's gateway: Debian's nginx in front of the API processes, as deployed (docs/gateway.md):
its configuration rendered by `robocover gateway-config` (one pool of the two processes, each
serving every domain, balanced with passive health checks), TLS terminated with a certificate
of the run's own (a CA made for the run signs it for 127.0.0.1; the demo's clients, robots and
the processor's webhooks trust that CA only). nginx runs in the foreground from the run
directory, its error log and access log into the run's log file."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloud_api.demo.stack import BIN, Stack, free_port

NGINX = "nginx"
WORKERS_USER = "nobody"
"""nginx's workers' user when the demo runs as root (its built-in default)."""


def nginx_binary() -> str | None:
    return shutil.which(NGINX) or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA of the run and a certificate it signs for 127.0.0.1 and localhost, valid a week:
    (ca.pem, gateway.pem, gateway.key; the key 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"robocover demo CA {directory.parent.name}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "gateway.pem",
        directory / "gateway.key",
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(_pem(key))
    return ca_file, cert_file, key_file


def prepare_gateway(stack: Stack) -> None:
    """The gateway's address and certificate, before the processes that use them start."""
    if nginx_binary() is None:
        return
    port = free_port()
    stack.gateway_url = f"https://127.0.0.1:{port}"
    stack.ca_file, _, _ = make_tls(stack.run_dir / "gateway" / "tls")


def start_gateway(stack: Stack) -> None:
    """Render the configuration for the API processes and start nginx on it."""
    nginx = nginx_binary()
    if nginx is None or stack.gateway_url is None:
        return
    home = stack.run_dir / "gateway"
    temp = home / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # nginx's workers run as nobody: they write its temporary files
        nobody = pwd.getpwnam(WORKERS_USER)
        os.chown(temp, nobody.pw_uid, nobody.pw_gid)
    servers = ",".join(url.removeprefix("http://") for url in stack.api_urls)
    config = home / "nginx.conf"
    command = [
        str(BIN / "robocover"),
        "gateway-config",
        "--pool",
        f"api=all@{servers}",
        "--listen",
        stack.gateway_url.removeprefix("https://"),
        "--http-listen",
        "off",
        "--tls-cert",
        str(home / "tls" / "gateway.pem"),
        "--tls-key",
        str(home / "tls" / "gateway.key"),
        "--pid-file",
        str(home / "nginx.pid"),
        "--error-log",
        "stderr",
        "--access-log",
        "/dev/stdout",
        "--temp-dir",
        str(temp),
        "--output",
        str(config),
    ]
    if stack.group.run("gateway-config", command, stack.env()) != 0:
        raise RuntimeError("robocover gateway-config failed (see the log)")
    stack.group.start(
        "gateway",
        [nginx, "-p", f"{home}/", "-c", str(config), "-g", "daemon off;"],
        stack.env(),
        role="gateway",
        cwd=home,
    )
