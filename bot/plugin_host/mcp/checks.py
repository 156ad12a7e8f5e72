"""What an admin may give `mcp add`: checks on an MCP server's URL and headers, and the URL
as surfaces show it. Plain functions, no SDK: `info` and the commands use them too (the
operator's MCP_SERVERS are parsed with the settings, bot/config.py)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

from bot import messages
from bot.redaction import secret_key

HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an RFC 9110 token
# The protocol's own headers, and what the HTTP client sets: an admin never overrides them.
RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "accept", "connection",
                              "transfer-encoding", "mcp-session-id", "mcp-protocol-version",
                              "last-event-id", "upgrade", "te", "trailer"})
MAX_URL = 2048
MAX_HEADER_VALUE = 8192


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an MCP server's address, or None: not http(s), too long, or
    carrying credentials (a user:password, or a secret-named query parameter: headers are
    where credentials go, sealed)."""
    parts = urlsplit(url)
    if len(url) > MAX_URL:
        return messages.mcp_url_too_long(MAX_URL)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return messages.mcp_url_not_http(url)
    if parts.username is not None or parts.password is not None or any(
            secret_key(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return messages.mcp_url_has_credentials()
    if any(ord(c) < 33 for c in url):
        return messages.mcp_url_not_http(url)
    return None


# Where a URL must not lead unless the operator allows it (MCP_ALLOW_CIDRS): the bot's own
# machine, link-local networks (cloud metadata lives there), the metadata services at other
# addresses, and addresses that are no one's to reach.
_METADATA = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32", "169.254.170.2/32"))


def address_class(address: IPAddress) -> str | None:
    """What makes `address` off limits to an admin's MCP server ("loopback", "link-local",
    "cloud metadata", …), or None for an ordinary address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _METADATA):
        return "cloud metadata"
    for kind, test in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("unspecified", address.is_unspecified),
                       ("multicast", address.is_multicast), ("reserved", address.is_reserved)):
        if test:
            return kind
    if isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK:
        return "unspecified"
    return None


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # 0.0.0.1 reaches this machine on Linux
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def address_problem(host: str, addresses: Sequence[str], allow: Networks) -> str | None:
    """Why a server at `host`, which resolves to `addresses`, is off limits, or None:
    every address must be ordinary, or inside the operator's MCP_ALLOW_CIDRS."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = address_class(address)
        if kind and not any(address in network for network in allow):
            return messages.mcp_address_refused(host, str(address), kind)
    return None


async def resolve_problem(url: str, allow: Networks) -> str | None:
    """`address_problem` for `url`'s host as the resolver answers now (None also when it
    does not resolve: connecting then says it is unreachable)."""
    host = urlsplit(url).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return address_problem(host, [str(info[4][0]) for info in found], allow)


def header_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot be sent to an MCP server (the value is never quoted)."""
    if not HEADER_NAME_RE.match(name):
        return messages.mcp_header_name_bad(name)
    if name.lower() in RESERVED_HEADERS:
        return messages.mcp_header_reserved(name)
    if not value or len(value) > MAX_HEADER_VALUE or any(
            (ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        return messages.mcp_header_value_bad(name)
    return None


def display_url(url: str) -> str:
    """The URL as `info` shows it: a query string (which may carry a token) is hidden."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return shown + ("?…" if parts.query else "")
