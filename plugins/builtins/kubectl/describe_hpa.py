"""kubectl's describer for horizontal pod autoscalers (autoscaling/v2): each metric as
"current / target", the replica bounds, scaling behaviour and conditions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .describe_parts import Lines, header, when
from .output import describe_events_lines
from .quantity import Quantity

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]


def _q(value: object) -> str:
    return str(Quantity.parse(value)) if value is not None else "<nil>"


def _current(status: Obj, index: int, kind: str) -> Obj | None:
    metrics = status.get("currentMetrics") or []
    return (metrics[index].get(kind) or {}).get("current") if index < len(metrics) and \
        metrics[index].get(kind) else None


def _metric(out: Lines, metric: Obj, index: int, status: Obj) -> None:
    kind = metric.get("type", "")
    key = kind[:1].lower() + kind[1:]
    source = metric.get(key) or {}
    target, current = source.get("target") or {}, _current(status, index, key)
    name = (source.get("metric") or {}).get("name", "")
    if kind in ("Resource", "ContainerResource"):
        where = (f"resource {source.get('name', '')} on pods" if kind == "Resource" else
                 f"resource {source.get('name', '')} of container \"{source.get('container')}\""
                 " on pods")
        if target.get("averageValue") is not None:
            shown = _q(current.get("averageValue")) if current else "<unknown>"
            out.add(1, f"{where}:", f"{shown} / {_q(target['averageValue'])}")
            return
        shown = (f"{current['averageUtilization']}% ({_q(current.get('averageValue'))})"
                 if current and current.get("averageUtilization") is not None else "<unknown>")
        goal = (f"{target['averageUtilization']}%" if target.get("averageUtilization")
                is not None else "<auto>")
        out.add(1, f"{where}  (as a percentage of request):", f"{shown} / {goal}")
    elif kind == "Pods":
        shown = _q(current.get("averageValue")) if current else "<unknown>"
        out.add(1, f'"{name}" on pods:', f"{shown} / {_q(target.get('averageValue'))}")
    elif kind in ("External", "Object"):
        field = "averageValue" if target.get("type") == "AverageValue" or (
            kind == "External" and target.get("averageValue") is not None) else "value"
        label = "target average value" if field == "averageValue" else "target value"
        shown = _q(current.get(field)) if current else "<unknown>"
        described = source.get("describedObject") or {}
        where = (f'"{name}"' if kind == "External" else
                 f'"{name}" on {described.get("kind", "")}/{described.get("name", "")}')
        out.add(1, f"{where} ({label}):", f"{shown} / {_q(target.get(field))}")
    else:
        out.add(1, f'<unknown metric type "{kind}">')


def describe_hpa(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    header(out, meta)
    out.add(0, "CreationTimestamp:", when(meta.get("creationTimestamp")))
    target = spec.get("scaleTargetRef") or {}
    out.add(0, "Reference:", f"{target.get('kind', '')}/{target.get('name', '')}")
    out.add(0, "Metrics:", "( current / target )")
    for index, metric in enumerate(spec.get("metrics") or []):
        _metric(out, metric, index, status)
    out.add(0, "Min replicas:", str(spec.get("minReplicas", "<unset>")))
    out.add(0, "Max replicas:", str(spec.get("maxReplicas", 0)))
    if spec.get("behavior") is not None:
        out.lines.append("Behavior:")
        for key, label in (("scaleUp", "Scale Up"), ("scaleDown", "Scale Down")):
            _behaviour(out, label, spec["behavior"].get(key))
    out.add(0, f"{target.get('kind', '')} pods:", f"{status.get('currentReplicas', 0)} current"
            f" / {status.get('desiredReplicas', 0)} desired")
    if status.get("conditions"):
        out.lines.append("Conditions:")
        out.add(1, "Type", "Status", "Reason", "Message")
        out.add(1, "----", "------", "------", "-------")
        for c in status["conditions"]:
            out.add(1, c.get("type", ""), c.get("status", ""), c.get("reason", ""),
                    c.get("message", ""))
    return out.lines + describe_events_lines(events)


def _behaviour(out: Lines, label: str, rules: Obj | None) -> None:
    if rules is None:
        return
    out.add(1, f"{label}:")
    if rules.get("stabilizationWindowSeconds") is not None:
        out.add(2, f"Stabilization Window: {rules['stabilizationWindowSeconds']} seconds")
    if rules.get("policies"):
        out.add(2, f"Select Policy: {rules.get('selectPolicy', 'Max')}")
        out.add(2, "Policies:")
        for policy in rules["policies"]:
            out.add(3, f"- Type: {policy.get('type', '')}", f"Value: {policy.get('value', 0)}",
                    f"Period: {policy.get('periodSeconds', 0)} seconds")


DESCRIBERS: dict[str, Describer] = {"HorizontalPodAutoscaler": describe_hpa}
