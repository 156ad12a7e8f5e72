"""The netdiag checks. Each returns a dict; none raises for a network failure."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from cryptography import x509

from bot.sdk import ToolContext

from .guard import Policy, Refused

DEFAULT_TIMEOUT = 5.0
MAX_REDIRECTS = 5


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"name resolution failed ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    return f"{type(exc).__name__}: {exc}"


async def dns_lookup(host: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), DEFAULT_TIMEOUT * 2)
    except (OSError, TimeoutError) as exc:
        return {"host": host, "ok": False, "error": _describe(exc), "latency_ms": _ms(started)}
    v4 = sorted({info[4][0] for info in infos if info[0] == socket.AF_INET})
    v6 = sorted({info[4][0] for info in infos if info[0] == socket.AF_INET6})
    return {"host": host, "ok": True, "ipv4": v4, "ipv6": v6, "latency_ms": _ms(started)}


def _policy(ctx: ToolContext | None) -> Policy:
    return Policy.from_config(ctx.config if ctx is not None else {})


async def tcp_check(host: str, port: int, timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 -- a tool argument
                    *, ctx: ToolContext | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        address = await asyncio.wait_for(asyncio.to_thread(_policy(ctx).resolve, host, port),
                                         timeout)
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except Refused as exc:
        return {"host": host, "port": port, "open": False, "refused": True, "error": str(exc)}
    except (OSError, TimeoutError) as exc:
        return {"host": host, "port": port, "open": False, "error": _describe(exc),
                "latency_ms": _ms(started)}
    peer = writer.get_extra_info("peername")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return {"host": host, "port": port, "open": True, "address": peer[0] if peer else None,
            "latency_ms": _ms(started)}


def _cert_summary(der: bytes) -> dict[str, Any]:
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n.value) for n in sans.value]
    except x509.ExtensionNotFound:
        names = []
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "san": names, "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": not_after.isoformat(),
            "days_until_expiry": (not_after - datetime.now(UTC)).days,
            "expired": not_after < datetime.now(UTC)}


def tls_cert(host: str, port: int = 443, timeout: float = DEFAULT_TIMEOUT, *,
             ctx: ToolContext | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    verify_error = None
    try:
        address = _policy(ctx).resolve(host, port)
        der = _fetch_cert(host, address, port, timeout, verify=True)
    except Refused as exc:
        return {"host": host, "port": port, "ok": False, "refused": True, "error": str(exc)}
    except ssl.SSLCertVerificationError as exc:
        verify_error = _describe(exc)
        try:
            der = _fetch_cert(host, address, port, timeout, verify=False)
        except (OSError, ssl.SSLError) as exc2:
            return {"host": host, "port": port, "ok": False, "error": _describe(exc2)}
    except (OSError, ssl.SSLError) as exc:
        return {"host": host, "port": port, "ok": False, "error": _describe(exc),
                "latency_ms": _ms(started)}
    summary = _cert_summary(der)
    return {"host": host, "port": port, "ok": verify_error is None and not summary["expired"],
            "verified": verify_error is None, "verify_error": verify_error, **summary,
            "latency_ms": _ms(started)}


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _fetch_cert(host: str, address: str, port: int, timeout: float, *, verify: bool) -> bytes:
    with socket.create_connection((address, port), timeout=timeout) as raw, \
            _tls_context(verify).wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def http_check(url: str, timeout: float = DEFAULT_TIMEOUT, verify_tls: bool = True, *,
               ctx: ToolContext | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    redirects: list[dict[str, Any]] = []
    current = url
    try:
        policy = _policy(ctx)
    except Refused as exc:  # a bad CIDR in the config
        return {"url": url, "ok": False, "refused": True, "error": str(exc)}
    for _ in range(MAX_REDIRECTS + 1):
        try:
            status, location, cert = _get_once(current, timeout, verify_tls, policy)
        except Refused as exc:
            return {"url": url, "ok": False, "refused": True, "error": str(exc),
                    "redirects": redirects, "latency_ms": _ms(started)}
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            return {"url": url, "ok": False, "error": _describe(exc), "redirects": redirects,
                    "latency_ms": _ms(started)}
        if status in (301, 302, 303, 307, 308) and location:
            redirects.append({"status": status, "from": current, "to": urljoin(current,
                                                                              location)})
            current = urljoin(current, location)
            continue
        result: dict[str, Any] = {"url": url, "final_url": current, "status": status,
                                  "ok": status < 400, "redirects": redirects,
                                  "latency_ms": _ms(started)}
        if cert is not None:
            result["tls"] = {k: cert[k] for k in ("subject", "not_after", "days_until_expiry",
                                                  "expired")}
        return result
    return {"url": url, "ok": False, "error": f"more than {MAX_REDIRECTS} redirects",
            "redirects": redirects, "latency_ms": _ms(started)}


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to the address the policy checked, whatever DNS says next."""

    pinned_address = ""  # set right after construction, before any connect

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection, _PinnedHTTP):
    """HTTPS over `_PinnedHTTP.connect`: TLS (SNI, hostname check) for the URL's host."""


def _get_once(url: str, timeout: float, verify: bool, policy: Policy
              ) -> tuple[int, str | None, dict[str, Any] | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url[:200]} is not an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = policy.resolve(parts.hostname, port)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: _PinnedHTTP = _PinnedHTTPS(parts.hostname, port, timeout=timeout,
                                         context=_tls_context(verify))
    else:
        conn = _PinnedHTTP(parts.hostname, port, timeout=timeout)
    conn.pinned_address = address
    try:
        conn.request("GET", path, headers={"User-Agent": "chatops-bot-netdiag/1.0"})
        cert = None
        if isinstance(conn.sock, ssl.SSLSocket):  # read before the server may close it
            der = conn.sock.getpeercert(binary_form=True)
            cert = _cert_summary(der) if der else None
        response = conn.getresponse()
        response.read(65536)
        return response.status, response.getheader("Location"), cert
    finally:
        conn.close()
