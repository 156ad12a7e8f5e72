"""Where netdiag may connect: never, by default, to this machine or a cloud metadata service.

An agent can be talked (by a prompt, or by text in a tool's output) into probing
http://169.254.169.254/ for credentials, or the bot's own loopback services. Every
connection is checked after DNS resolution, on every redirect hop, and made to the very
address that was checked (no second lookup an attacker's DNS could answer differently).
Private ranges stay reachable: internal services are what SREs check.

PLUGIN_CONFIG `{"netdiag": {"allow_cidrs": [...], "deny_cidrs": [...]}}` adjusts it:
deny wins over allow, allow wins over the defaults.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_DENY = ("127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128",
                "100.100.100.200/32", "0.0.0.0/8", "::/128")


class Refused(Exception):
    """The check may not connect there; the message says why and how to allow it."""


@dataclass(frozen=True)
class Policy:
    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    defaults: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in DEFAULT_DENY)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        return cls(allow=_networks(config.get("allow_cidrs"), "allow_cidrs"),
                   deny=_networks(config.get("deny_cidrs"), "deny_cidrs"))

    def permits(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in net for net in self.deny):
            return False
        if any(address in net for net in self.allow):
            return True
        return not any(address in net for net in self.defaults)

    def resolve(self, host: str, port: int) -> str:
        """The first address of `host` this policy permits; Refused when there is none."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"name resolution failed ({exc.strerror or exc})") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for text in addresses:
            if self.permits(ipaddress.ip_address(text.split("%", 1)[0])):
                return text
        shown = ", ".join(addresses[:3])
        raise Refused(f"{host} resolves to {shown}, which netdiag does not connect to "
                      "(loopback, link-local and cloud metadata addresses are refused; an "
                      "admin can allow them with PLUGIN_CONFIG netdiag.allow_cidrs)")


def _networks(values: Any, key: str) -> tuple[Network, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise Refused(f"netdiag.{key} must be a list of CIDRs such as [\"10.0.0.0/8\"]")
    try:
        return tuple(ipaddress.ip_network(str(v), strict=False) for v in values)
    except ValueError as exc:
        raise Refused(f"netdiag.{key} holds an invalid CIDR: {exc}") from None
