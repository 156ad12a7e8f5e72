"""Label and field selectors as kube-apiserver applies them (and the field labels it
refuses), and JSON merge patches: the fake API server's filtering and writing."""

from __future__ import annotations

from typing import Any


def labels_match(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "==" in term or "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def fields_match(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        key, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        if (_field(obj, key) == value) == negate:
            return False
    return True


# The field labels kube-apiserver registers per kind (every kind has the metadata ones).
FIELD_LABELS: dict[str, set[str]] = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
            "status.podIPs", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion",
              "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
              "reportingComponent", "source", "type"},
    "Node": {"spec.unschedulable"}, "Namespace": {"status.phase"},
    "Secret": {"type"}, "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"}, "ReplicationController": {"status.replicas"},
}


def unsupported_fields(kind: str, selector: str) -> str | None:
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(kind, set())
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key = term.replace("!=", "=").replace("==", "=").split("=", 1)[0]
        if key not in allowed:
            return key
    return None


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """JSON merge patch (RFC 7386)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
