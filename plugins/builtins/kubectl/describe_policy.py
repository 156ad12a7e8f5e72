"""kubectl's describers for policy objects: NetworkPolicy (describeNetworkPolicy: its pod
selector and each ingress/egress rule's ports and peers) and PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .describe_parts import Lines, header, selector
from .output import describe_events_lines

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]


def _go_time(timestamp: str | None) -> str:
    """metav1.Time as Go's time.Time.String() prints it (UTC)."""
    if not timestamp:
        return "0001-01-01 00:00:00 +0000 UTC"
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def describe_network_policy(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    out = Lines()
    header(out, meta, created=("Created on:", _go_time(meta.get("creationTimestamp"))))
    out.lines.append("Spec:")
    pods = selector(spec.get("podSelector"))
    out.lines.append("  PodSelector:     " + (
        pods or "<none> (Allowing the specific traffic to all pods in this namespace)"))
    types = spec.get("policyTypes") or []
    for direction, enabled in (("ingress", "Ingress" in types), ("egress", "Egress" in types)):
        if not enabled:
            out.lines.append(f"  Not affecting {direction} traffic")
            continue
        out.lines.append(f"  Allowing {direction} traffic:")
        _rules(out, direction, spec.get(direction) or [])
    out.lines.append(f"  Policy Types: {', '.join(types)}")
    return out.lines


def _rules(out: Lines, direction: str, rules: list[Obj]) -> None:
    """printNetworkPolicySpecIngressFrom / EgressTo."""
    indent = "    "
    peers, nobody = ("from", "From") if direction == "ingress" else ("to", "To")
    if not rules:
        out.lines.append(f"{indent}<none> (Selected pods are isolated for {direction} "
                         "connectivity)")
        return
    for index, rule in enumerate(rules):
        if not rule.get("ports"):
            out.lines.append(f"{indent}To Port: <any> (traffic allowed to all ports)")
        for port in rule.get("ports") or []:
            number = port.get("port")
            out.lines.append(f"{indent}To Port: {'<nil>' if number is None else number}/"
                             f"{port.get('protocol') or 'TCP'}")
        if not rule.get(peers):
            what = "source" if direction == "ingress" else "destination"
            out.lines.append(f"{indent}{nobody}: <any> (traffic not restricted by {what})")
        for peer in rule.get(peers) or []:
            out.lines.append(f"{indent}{nobody}:")
            _peer(out, indent, peer)
        if index != len(rules) - 1:
            out.lines.append(f"{indent}----------")


def _peer(out: Lines, indent: str, peer: Obj) -> None:
    pods, spaces, block = peer.get("podSelector"), peer.get("namespaceSelector"), \
        peer.get("ipBlock")
    if spaces is not None:
        out.lines.append(f"  {indent}NamespaceSelector: {selector(spaces, none='<none>')}")
    if pods is not None:
        out.lines.append(f"  {indent}PodSelector: {selector(pods, none='<none>')}")
    if pods is None and spaces is None and block is not None:
        out.lines.append(f"  {indent}IPBlock:")
        out.lines.append(f"    {indent}CIDR: {block.get('cidr', '')}")
        out.lines.append(f"    {indent}Except: {', '.join(block.get('except') or [])}")


def describe_pdb(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    if spec.get("minAvailable") is not None:
        out.add(0, "Min available:", str(spec["minAvailable"]))
    elif spec.get("maxUnavailable") is not None:
        out.add(0, "Max unavailable:", str(spec["maxUnavailable"]))
    out.add(0, "Selector:", selector(spec.get("selector"), none="<none>")
            if spec.get("selector") is not None else "<unset>")
    out.lines.append("Status:")
    out.add(2, "Allowed disruptions:", str(status.get("disruptionsAllowed", 0)))
    out.add(2, "Current:", str(status.get("currentHealthy", 0)))
    out.add(2, "Desired:", str(status.get("desiredHealthy", 0)))
    out.add(2, "Total:", str(status.get("expectedPods", 0)))
    return out.lines + describe_events_lines(events)


DESCRIBERS: dict[str, Describer] = {"NetworkPolicy": describe_network_policy,
                                    "PodDisruptionBudget": describe_pdb}
