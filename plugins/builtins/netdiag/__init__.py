"""netdiag — network checks from the bot's point of view: DNS, TCP, HTTP(S) and TLS.

Built in, disabled by default (`/plugin enable netdiag`). Every check has a timeout and
returns a result dict; failures are reported in the result (`ok: false`, `error`) rather than
raised, because "the port is closed" is an answer, not a bug.
"""

from __future__ import annotations

from .checks import dns_lookup, http_check, tcp_check, tls_cert

_HOST = {"type": "string", "description": "Hostname or IP address", "minLength": 1,
         "maxLength": 253}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 30,
            "description": "Seconds to wait (default 5)"}


def get_manifest() -> dict:
    return {
        "name": "netdiag",
        "version": "1.0.0",
        "description": "Network checks: DNS lookup, TCP connect, HTTP(S) check, TLS certificate",
        "author": "SRE Team",
        "permissions": ["network"],
    }


def get_tools() -> list[dict]:
    return [
        {"schema": {"name": "dns_lookup",
                    "description": "Resolve a hostname to its IPv4/IPv6 addresses.",
                    "parameters": {"type": "object", "properties": {"host": _HOST},
                                   "required": ["host"], "additionalProperties": False}},
         "handler": dns_lookup, "timeout": 15},
        {"schema": {"name": "tcp_check",
                    "description": "Check whether a TCP port accepts connections, with latency.",
                    "parameters": {"type": "object",
                                   "properties": {"host": _HOST, "port": _PORT,
                                                  "timeout": _TIMEOUT},
                                   "required": ["host", "port"],
                                   "additionalProperties": False}},
         "handler": tcp_check, "timeout": 35},
        {"schema": {"name": "http_check",
                    "description": "GET a URL: status, latency, redirects followed, and the "
                                   "TLS certificate's expiry for https.",
                    "parameters": {"type": "object",
                                   "properties": {"url": {"type": "string",
                                                          "pattern": "^https?://"},
                                                  "timeout": _TIMEOUT,
                                                  "verify_tls": {"type": "boolean"}},
                                   "required": ["url"], "additionalProperties": False}},
         "handler": http_check, "timeout": 35},
        {"schema": {"name": "tls_cert",
                    "description": "Fetch a server's TLS certificate: subject, issuer, SANs, "
                                   "validity and days until expiry.",
                    "parameters": {"type": "object",
                                   "properties": {"host": _HOST, "port": _PORT,
                                                  "timeout": _TIMEOUT},
                                   "required": ["host"], "additionalProperties": False}},
         "handler": tls_cert, "timeout": 35},
    ]
