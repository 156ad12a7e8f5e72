"""kubectl's describers for namespaces (with their quotas and limit ranges), resource quotas
and limit ranges."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.kube.names import api_path

from .describe_parts import Lines, header, when
from .quantity import Quantity

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]


def describe_namespace(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, status = obj["metadata"], obj.get("status", {})
    out = Lines()
    header(out, meta, namespaced=False)
    out.add(0, "Status:", status.get("phase", ""))
    if status.get("conditions"):
        out.lines.append("Conditions:")
        out.add(1, "Type", "Status", "LastTransitionTime", "Reason", "Message")
        out.add(1, "----", "------", "------------------", "------", "-------")
        for c in status["conditions"]:
            out.add(1, c.get("type", ""), c.get("status", ""), when(c.get("lastTransitionTime")),
                    c.get("reason", ""), c.get("message", ""))
    quotas = lookup.items(api_path("/api/v1", "resourcequotas", namespace=meta["name"]),
                          "listing resource quotas")
    if quotas is not None:
        out.lines.append("")
        _quotas(out, quotas)
    ranges = lookup.items(api_path("/api/v1", "limitranges", namespace=meta["name"]),
                          "listing limit ranges")
    if ranges is not None:
        out.lines.append("")
        _limit_ranges(out, ranges)
    return out.lines


def _quotas(out: Lines, quotas: Sequence[Obj]) -> None:
    if not quotas:
        out.lines.append("No resource quota.")
        return
    out.lines.append("Resource Quotas")
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        out.add(1, "Name:", quota["metadata"]["name"])
        _scopes(out, quota, level=1)
        _usage(out, quota, level=1, rule="---")


def _scopes(out: Lines, quota: Obj, *, level: int) -> None:
    scopes = sorted((quota.get("spec") or {}).get("scopes") or [])
    if scopes:
        out.add(level, "Scopes:", ", ".join(scopes))


def _usage(out: Lines, quota: Obj, *, level: int, rule: str) -> None:
    status = quota.get("status") or {}
    out.add(level, "Resource", "Used", "Hard")
    out.add(level, "--------", rule, rule)
    for name, hard in sorted((status.get("hard") or {}).items()):
        hard_q = Quantity.parse(hard)
        used = Quantity.parse((status.get("used") or {}).get(name, 0))
        if used.binary != hard_q.binary:  # shown in the hard limit's format, as kubectl does
            used = Quantity(Decimal(used.whole()), hard_q.binary)
        out.add(level, name, str(used), str(hard_q))


def describe_quota(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    out = Lines()
    out.add(0, "Name:", obj["metadata"]["name"])
    out.add(0, "Namespace:", obj["metadata"].get("namespace", ""))
    _scopes(out, obj, level=0)
    _usage(out, obj, level=0, rule="----")
    return out.lines


def _limit_ranges(out: Lines, ranges: Sequence[Obj]) -> None:
    if not ranges:
        out.lines.append("No LimitRange resource.")
        return
    out.lines += ["Resource Limits", " Type\tResource\tMin\tMax\tDefault Request\tDefault Limit"
                  "\tMax Limit/Request Ratio", " ----\t--------\t---\t---\t---------------\t"
                  "-------------\t-----------------------"]
    for limit_range in ranges:
        out.lines += _limit_rows(limit_range, " ")


LIMIT_KEYS = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")


def _limit_rows(limit_range: Obj, prefix: str) -> list[str]:
    """One row per type and resource (kubectl's order is Go's map order; ours is sorted)."""
    rows = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        for name in sorted({name for key in LIMIT_KEYS for name in item.get(key) or {}}):
            cells = [str((item.get(key) or {}).get(name, "-")) for key in LIMIT_KEYS]
            rows.append(prefix + "\t".join([item.get("type", ""), name, *cells]))
    return rows


def describe_limitrange(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    out = Lines()
    out.add(0, "Name:", obj["metadata"]["name"])
    out.add(0, "Namespace:", obj["metadata"].get("namespace", ""))
    out.lines += ["Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\t"
                  "Max Limit/Request Ratio", "----\t--------\t---\t---\t---------------\t"
                  "-------------\t-----------------------", *_limit_rows(obj, "")]
    return out.lines




DESCRIBERS: dict[str, Describer] = {"Namespace": describe_namespace,
                                    "ResourceQuota": describe_quota,
                                    "LimitRange": describe_limitrange}
