"""kubectl's describers for storage: persistent volume claims (with the pods using them) and
persistent volumes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.kube.names import api_path

from .describe_parts import (
    VOLUME_TYPES,
    Lines,
    VolumeType,
    annotations,
    labels,
    terminating,
    volume_source,
    when,
)
from .output import describe_events_lines
from .quantity import Quantity

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]
MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
         ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: Sequence[str] | None) -> str:
    return ",".join(short for mode, short in MODES if mode in (modes or []))


def storage_class(obj: Obj) -> str:
    """GetPersistentVolumeClaimClass and GetPersistentVolumeClass: the beta annotation wins
    over the field."""
    beta = (obj.get("metadata", {}).get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class")
    return beta if beta is not None else obj.get("spec", {}).get("storageClassName", "")


def _phase(meta: Obj, status: Obj) -> str:
    if meta.get("deletionTimestamp"):
        return terminating(meta)
    return status.get("phase", "")


def _storage(mapping: Obj | None) -> str:
    value = (mapping or {}).get("storage")
    return str(Quantity.parse(value)) if value is not None else "0"


def describe_pvc(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    out.add(0, "StorageClass:", storage_class(obj))
    out.add(0, "Status:", _phase(meta, status))
    out.add(0, "Volume:", spec.get("volumeName", ""))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    out.add(0, "Finalizers:", f"[{' '.join(meta.get('finalizers') or [])}]")
    bound = bool(spec.get("volumeName"))
    out.add(0, "Capacity:", _storage(status.get("capacity")) if bound else "")
    out.add(0, "Access Modes:", access_modes(status.get("accessModes")) if bound else "")
    if spec.get("volumeMode"):
        out.add(0, "VolumeMode:", spec["volumeMode"])
    if spec.get("dataSource"):
        source = spec["dataSource"]
        out.add(0, "DataSource:")
        if source.get("apiGroup") is not None:
            out.add(1, "APIGroup:", source["apiGroup"])
        out.add(1, "Kind:", source.get("kind", ""))
        out.add(1, "Name:", source.get("name", ""))
    users = _users(lookup, obj)
    out.multiline("Used By", sorted(users) if users is not None else [])
    if status.get("conditions"):
        out.lines.append("Conditions:")
        out.add(1, "Type", "Status", "LastProbeTime", "LastTransitionTime", "Reason", "Message")
        out.add(1, "----", "------", "-----------------", "------------------", "------",
                "-------")
        for c in status["conditions"]:
            out.add(1, f"{c.get('type', '')} ", f"{c.get('status', '')} ",
                    f"{when(c.get('lastProbeTime'))} ", f"{when(c.get('lastTransitionTime'))} ",
                    f"{c.get('reason', '')} ", c.get("message", ""))
    return out.lines + describe_events_lines(events)


def _users(lookup: Lookup, claim: Obj) -> list[str] | None:
    """getPodsForPVC: pods mounting the claim, and a pod owning it."""
    meta = claim["metadata"]
    pods = lookup.items(api_path("/api/v1", "pods", namespace=meta.get("namespace")),
                        "listing pods")
    if pods is None:
        return None
    names = [p["metadata"]["name"] for p in pods for volume in p.get("spec", {}).get(
        "volumes") or [] if (volume.get("persistentVolumeClaim") or {}).get(
        "claimName") == meta["name"]]
    owners = {ref.get("uid") for ref in meta.get("ownerReferences") or []
              if ref.get("kind") == "Pod"}
    names += [p["metadata"]["name"] for p in pods if p["metadata"].get("uid") in owners
              and p["metadata"]["name"] not in names]
    return names


PV_SOURCES: dict[str, VolumeType] = {
    "hostPath": VOLUME_TYPES["hostPath"], "nfs": VOLUME_TYPES["nfs"],
    "local": ("LocalVolume (a persistent volume backed by local storage on a node)",
              (("Path", "path"),)),
    "csi": ("CSI (a Container Storage Interface (CSI) volume source)",
            (("Driver", "driver"), ("FSType", "fsType"), ("VolumeHandle", "volumeHandle"),
             ("ReadOnly", "readOnly"))),
}


def describe_pv(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    out.add(0, "Finalizers:", f"[{' '.join(meta.get('finalizers') or [])}]")
    out.add(0, "StorageClass:", storage_class(obj))
    out.add(0, "Status:", _phase(meta, status))
    claim = spec.get("claimRef")
    out.add(0, "Claim:", f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim
            else "")
    out.add(0, "Reclaim Policy:", spec.get("persistentVolumeReclaimPolicy", ""))
    out.add(0, "Access Modes:", access_modes(spec.get("accessModes")))
    if spec.get("volumeMode"):
        out.add(0, "VolumeMode:", spec["volumeMode"])
    out.add(0, "Capacity:", _storage(spec.get("capacity")))
    out.add(0, "Node Affinity:", "<none>" if not (spec.get("nodeAffinity") or {}).get(
        "required") else "")
    out.add(0, "Message:", status.get("message", ""))
    out.add(0, "Source:")
    kind = next((k for k in PV_SOURCES if k in spec), None)
    if kind is None:
        out.add(1, "<unknown>")
    else:
        volume_source(out, PV_SOURCES, kind, spec[kind])
        if kind == "csi":
            attributes = labels(spec[kind].get("volumeAttributes"))
            out.lines.append(f"    VolumeAttributes:\t{attributes[0] if attributes else '<none>'}")
            out.lines += [f"\t{value}" for value in attributes[1:]]
    return out.lines + describe_events_lines(events)


DESCRIBERS: dict[str, Describer] = {"PersistentVolumeClaim": describe_pvc,
                                    "PersistentVolume": describe_pv}
