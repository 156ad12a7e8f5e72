"""The netdiag builtin, through the registry, against servers started on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.app import Services, build_services
from bot.config import load_settings
from tests.conftest import REPO
from tests.helpers.builtins import builtin_services


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {"/start": (302, "/middle"), "/middle": (301, "/ok"), "/loop": (302, "/loop"),
                  "/to-metadata": (302, "http://169.254.169.254/latest/meta-data/"),
                  "/to-file": (302, "file:///etc/passwd")}
        if self.path.startswith("/to-port-"):
            routes[self.path] = (302, "http://127.0.0.2:" + self.path.rsplit("-", 1)[1] + "/")
        if self.path in routes:
            status, location = routes[self.path]
            self.send_response(status)
            self.send_header("Location", location)
            self.end_headers()
        elif self.path == "/slow":
            threading.Event().wait(3)
        else:
            self.send_response(500 if self.path == "/broken" else 200)
            self.end_headers()
            self.wfile.write(b"hello")

    def log_message(self, *args: Any) -> None:
        pass


def serve(server: http.server.HTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    yield from serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture(scope="module")
def https_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netdiag-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30, hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


async def netdiag_services(tmp_path: Path, config: dict[str, Any]) -> Services:
    return await builtin_services(tmp_path, "netdiag", db="n.db", config={"netdiag": config})


@pytest.fixture
async def services(tmp_path: Path) -> Services:
    """netdiag allowed to reach this machine, where the test servers run."""
    built = await netdiag_services(tmp_path, {"allow_cidrs": ["127.0.0.0/8", "::1/128"]})
    yield built
    await built.close()


@pytest.fixture
async def default_services(tmp_path: Path) -> Services:
    built = await netdiag_services(tmp_path, {})
    yield built
    await built.close()


async def call(services: Services, tool: str, **args: Any) -> dict[str, Any]:
    result = await services.registry.call(tool, args)
    assert result.ok, result.text
    return json.loads(result.text)


async def test_netdiag_is_a_builtin_disabled_by_default(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
                             plugins_dir=REPO / "plugins")
    built = await build_services(settings)
    try:
        info = await built.plugins.info("netdiag")
        assert (info.source, info.status, info.permissions) == ("builtin", "disabled",
                                                               ("network",))
    finally:
        await built.close()


async def test_dns_lookup_resolves_localhost(services: Services) -> None:
    result = await call(services, "dns_lookup", host="localhost")
    assert result["ok"] and "127.0.0.1" in result["ipv4"]


async def test_dns_lookup_of_unknown_name_says_so(services: Services) -> None:
    result = await call(services, "dns_lookup", host="no-such-host.invalid")
    assert result["ok"] is False
    assert result["error"].startswith("name resolution failed")


async def test_tcp_check_open_and_closed_ports(services: Services, http_port: int) -> None:
    opened = await call(services, "tcp_check", host="127.0.0.1", port=http_port)
    assert (opened["open"], opened["address"]) == (True, "127.0.0.1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    closed = await call(services, "tcp_check", host="127.0.0.1", port=closed_port)
    assert (closed["open"], closed["error"]) == (False, "connection refused")


async def test_http_check_follows_redirects(services: Services, http_port: int) -> None:
    base = f"http://127.0.0.1:{http_port}"
    result = await call(services, "http_check", url=f"{base}/start")
    assert (result["ok"], result["status"], result["final_url"]) == (True, 200, f"{base}/ok")
    assert [r["status"] for r in result["redirects"]] == [302, 301]


async def test_http_check_reports_server_errors_and_redirect_loops(
        services: Services, http_port: int) -> None:
    broken = await call(services, "http_check", url=f"http://127.0.0.1:{http_port}/broken")
    assert (broken["ok"], broken["status"]) == (False, 500)
    looping = await call(services, "http_check", url=f"http://127.0.0.1:{http_port}/loop")
    assert (looping["ok"], looping["error"]) == (False, "more than 5 redirects")


async def test_http_check_times_out(services: Services, http_port: int) -> None:
    result = await call(services, "http_check", url=f"http://127.0.0.1:{http_port}/slow",
                        timeout=0.5)
    assert (result["ok"], result["error"]) == (False, "timed out")


async def test_https_self_signed_fails_verification_unless_asked(
        services: Services, https_port: int) -> None:
    url = f"https://localhost:{https_port}/ok"
    strict = await call(services, "http_check", url=url)
    assert strict["ok"] is False
    assert strict["error"].startswith("TLS certificate verification failed")
    loose = await call(services, "http_check", url=url, verify_tls=False)
    assert (loose["status"], loose["tls"]["days_until_expiry"]) == (200, 30)


async def test_tls_cert_reads_an_unverifiable_certificate(
        services: Services, https_port: int) -> None:
    result = await call(services, "tls_cert", host="localhost", port=https_port)
    assert (result["verified"], result["ok"], result["expired"]) == (False, False, False)
    assert result["subject"] == "CN=netdiag-test"
    assert result["san"] == ["localhost"] and result["days_until_expiry"] == 30
    assert "self-signed" in result["verify_error"]


async def test_bad_arguments_never_reach_the_network(services: Services) -> None:
    result = await services.registry.call("http_check", {"url": "ftp://example.com"})
    assert result.error == "bad_arguments"
    assert "does not match '^https?://'" in result.text


@pytest.mark.parametrize(("tool", "args"), [
    ("tcp_check", {"host": "127.0.0.1", "port": 0}),
    ("tcp_check", {"host": "localhost", "port": 0}),  # checked after DNS resolution
    ("tcp_check", {"host": "::ffff:127.0.0.1", "port": 0}),
    ("tcp_check", {"host": "169.254.169.254", "port": 80}),
    ("tcp_check", {"host": "fd00:ec2::254", "port": 80}),
    ("tcp_check", {"host": "100.100.100.200", "port": 80}),
    ("tls_cert", {"host": "localhost", "port": 0}),
    ("http_check", {"url": "http://127.0.0.1:0/"}),
    ("http_check", {"url": "http://169.254.169.254/latest/meta-data/"}),
])
async def test_loopback_and_metadata_are_refused_by_default(
        default_services: Services, http_port: int, tool: str, args: dict[str, Any]) -> None:
    """Attack: the agent was talked into probing cloud metadata and the bot's own ports."""
    args = {k: (http_port if v == 0 else v) for k, v in args.items()}
    if "url" in args:
        args["url"] = args["url"].replace(":0/", f":{http_port}/")
    result = await call(default_services, tool, **args)
    assert result["ok" if tool != "tcp_check" else "open"] is False
    assert result["refused"] is True
    assert "which netdiag does not connect to" in result["error"]
    assert "netdiag.allow_cidrs" in result["error"]


def test_private_ranges_stay_allowed_by_default() -> None:
    from plugins.builtins.netdiag.guard import Policy

    policy = Policy()
    for address in ("10.0.0.5", "172.16.3.4", "192.168.1.1", "fd12:3456::1", "8.8.8.8"):
        assert policy.permits(ipaddress.ip_address(address)), address


async def test_a_redirect_to_metadata_is_refused_at_that_hop(
        services: Services, http_port: int) -> None:
    result = await call(services, "http_check", url=f"http://127.0.0.1:{http_port}/to-metadata")
    assert (result["ok"], result["refused"]) == (False, True)
    assert result["error"].startswith("169.254.169.254 resolves to 169.254.169.254, which")
    assert [r["to"] for r in result["redirects"]] == ["http://169.254.169.254/latest/meta-data/"]


async def test_a_redirect_to_another_scheme_is_refused(services: Services,
                                                       http_port: int) -> None:
    result = await call(services, "http_check", url=f"http://127.0.0.1:{http_port}/to-file")
    assert (result["ok"], result["refused"]) == (False, True)
    assert result["error"] == "file:///etc/passwd is not an http(s) URL with a host"


async def test_deny_cidrs_win_over_allow_and_nothing_reaches_the_denied_host(
        tmp_path: Path, http_port: int) -> None:
    built = await netdiag_services(tmp_path, {"allow_cidrs": ["127.0.0.0/8"],
                                              "deny_cidrs": ["127.0.0.2/32"]})
    try:
        with socket.create_server(("127.0.0.2", 0)) as victim:
            port = victim.getsockname()[1]
            result = await call(built, "http_check",
                                url=f"http://127.0.0.1:{http_port}/to-port-{port}")
            assert (result["ok"], result["refused"]) == (False, True)
            victim.setblocking(False)
            with pytest.raises(BlockingIOError):
                victim.accept()  # the denied host never saw a connection
    finally:
        await built.close()


async def test_a_bad_cidr_in_the_config_is_one_sentence(tmp_path: Path) -> None:
    built = await netdiag_services(tmp_path, {"allow_cidrs": ["10.0.0.0/33"]})
    try:
        result = await call(built, "tcp_check", host="10.0.0.1", port=80)
        assert result["error"].startswith("netdiag.allow_cidrs holds an invalid CIDR: ")
    finally:
        await built.close()
