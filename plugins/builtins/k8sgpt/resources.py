"""k8sgpt's analyzers for nodes, storage, configuration and scaling, with its conditions and
texts: Node (pkg/analyzer/node.go), PersistentVolumeClaim (pvc.go), ConfigMap
(configmap.go), HorizontalPodAutoscaler (hpa.go), PodDisruptionBudget (pdb.go), Storage
(storage.go)."""

from __future__ import annotations

from decimal import Decimal

from .common import Finding, Obj, Snapshot, ident, latest_event, parent_of

KNOWN_NODE_CONDITIONS = {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure",
                         "NetworkUnavailable"}
GI = Decimal(2**30)
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
SIDECAR_LABELS = ("grafana_dashboard", "grafana_datasource", "prometheus_rule",
                  "fluentd_config")


def nodes(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for node in snapshot.of("nodes"):
        name, texts = node["metadata"]["name"], []
        for c in node.get("status", {}).get("conditions") or []:
            kind, status = c.get("type", ""), c.get("status")
            failing = status != "True" if kind == "Ready" else kind != "EtcdIsVoter" and (
                status in ("True", "Unknown") or kind not in KNOWN_NODE_CONDITIONS)
            if failing:
                texts.append(f"{name} has condition of type {kind}, reason "
                             f"{c.get('reason', '')}: {c.get('message', '')}")
        if texts:
            findings.append(Finding("Node", name, texts, parent_of(snapshot, node)))
    return findings


def pvcs(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for pvc in snapshot.of("persistentvolumeclaims"):
        if pvc.get("status", {}).get("phase") != "Pending":
            continue
        event = latest_event(snapshot, pvc["metadata"].get("namespace"),
                             pvc["metadata"]["name"])
        if event and event.get("reason") == "ProvisioningFailed" and event.get("message"):
            findings.append(Finding("PersistentVolumeClaim", ident(pvc), [event["message"]],
                                    parent_of(snapshot, pvc)))
    return findings


def _config_maps_used(snapshot: Snapshot) -> set[str]:
    """The names of the config maps the listed pods use (k8sgpt matches by name only)."""
    used: set[str] = set()
    for pod in snapshot.of("pods"):
        spec = pod.get("spec", {})
        for volume in spec.get("volumes") or []:
            if volume.get("configMap"):
                used.add(volume["configMap"].get("name", ""))
            for source in (volume.get("projected") or {}).get("sources") or []:
                if (source.get("configMap") or {}).get("name"):
                    used.add(source["configMap"]["name"])
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            used |= {e["configMapRef"].get("name", "") for e in container.get("envFrom") or []
                     if e.get("configMapRef")}
            used |= {e["valueFrom"]["configMapKeyRef"].get("name", "")
                     for e in container.get("env") or []
                     if (e.get("valueFrom") or {}).get("configMapKeyRef")}
    return used


def config_maps(snapshot: Snapshot) -> list[Finding]:
    used, findings = _config_maps_used(snapshot), []
    for cm in snapshot.of("configmaps"):
        meta, texts = cm["metadata"], []
        labels = meta.get("labels") or {}
        if any(key in labels for key in SIDECAR_LABELS) or labels.get(
                "k8sgpt.ai/dynamically-loaded") == "true":
            continue
        if (meta.get("annotations") or {}).get("k8sgpt.ai/skip-usage-check") == "true":
            continue
        name = meta["name"]
        if name not in used:
            texts.append(f"ConfigMap {name} is not used by any pods in the namespace")
        data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
        if not data and not binary:
            texts.append(f"ConfigMap {name} is empty")
        size = sum(len(v.encode()) for v in data.values()) + sum(
            len(v) * 3 // 4 for v in binary.values())
        if size > 1024 * 1024:
            texts.append(f"ConfigMap {name} is larger than 1MB ({size} bytes)")
        if texts:
            findings.append(Finding("ConfigMap", ident(cm), texts))
    return findings


HPA_TARGETS = {"Deployment": "deployments", "ReplicationController": "replicationcontrollers",
               "ReplicaSet": "replicasets", "StatefulSet": "statefulsets"}


def hpas(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for hpa in snapshot.of("horizontalpodautoscalers"):
        texts = _hpa_conditions(hpa) + _hpa_target(snapshot, hpa)
        if texts:
            findings.append(Finding("HorizontalPodAutoscaler", ident(hpa), texts,
                                    parent_of(snapshot, hpa)))
    return findings


def _hpa_conditions(hpa: Obj) -> list[str]:
    spec, status, texts = hpa.get("spec", {}), hpa.get("status", {}), []
    for c in status.get("conditions") or []:
        if c.get("type") == "ScalingLimited":
            at_min = spec.get("minReplicas") is not None and status.get(
                "desiredReplicas") == spec["minReplicas"]
            if c.get("status") == "True" and not (c.get("reason") == "TooFewReplicas"
                                                  and at_min):
                texts.append(c.get("message", ""))
        elif c.get("status") == "False":
            texts.append(c.get("message", ""))
    return texts


def _hpa_target(snapshot: Snapshot, hpa: Obj) -> list[str]:
    ref, ns = hpa.get("spec", {}).get("scaleTargetRef") or {}, hpa["metadata"].get("namespace")
    kind, name = ref.get("kind", ""), ref.get("name", "")
    texts = []
    plural = HPA_TARGETS.get(kind)
    if plural is None:
        texts.append(f"HorizontalPodAutoscaler uses {kind} as ScaleTargetRef which is not an "
                     "option.")
    target = snapshot.get(plural, ns, name) if plural else None
    if target is None:
        if plural and not snapshot.missing(plural, ns, name):
            return texts  # could not be read
        return [*texts, f"HorizontalPodAutoscaler uses {kind}/{name} as ScaleTargetRef "
                "which does not exist."]
    containers = ((target.get("spec", {}).get("template") or {}).get("spec") or {}).get(
        "containers") or []
    configured = [c for c in containers if (c.get("resources") or {}).get("requests")
                  is not None and (c.get("resources") or {}).get("limits") is not None]
    if not configured:
        texts.append(f"{kind} {ns}/{name} does not have resource configured.")
    return texts


def pdbs(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for pdb in snapshot.of("poddisruptionbudgets"):
        conditions = pdb.get("status", {}).get("conditions") or []
        if not conditions or (conditions[0].get("type"), conditions[0].get("status")) != (
                "DisruptionAllowed", "False"):
            continue
        wanted = ((pdb.get("spec", {}).get("selector") or {}).get("matchLabels") or {})
        texts = [f"{conditions[0].get('reason', '')}, expected pdb pod label {k}={v}"
                 for k, v in sorted(wanted.items())]
        if texts:
            findings.append(Finding("PodDisruptionBudget", ident(pdb), texts,
                                    parent_of(snapshot, pdb)))
    return findings


def _small(value: object) -> bool:
    from kubernetes.utils import parse_quantity  # not at load: the client is ~0.4 s

    return value is not None and parse_quantity(str(value)) < GI


def storage(snapshot: Snapshot) -> list[Finding]:
    findings = []
    classes = snapshot.of("storageclasses")
    defaults = sum((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
                   for c in classes)
    for sc in classes:
        name, texts = sc["metadata"]["name"], []
        if sc.get("provisioner") == "kubernetes.io/no-provisioner":
            texts.append(f"StorageClass {name} uses deprecated provisioner "
                         "'kubernetes.io/no-provisioner'")
        if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true" and \
                defaults > 1:
            texts.append(f"Multiple default StorageClasses found ({defaults}), which can cause "
                         "confusion")
        if texts:
            findings.append(Finding("Storage/StorageClass", name, texts))
    for pv in snapshot.of("persistentvolumes"):
        name, phase, texts = pv["metadata"]["name"], pv.get("status", {}).get("phase"), []
        if phase == "Released":
            texts.append(f"PersistentVolume {name} is in Released state and should be cleaned "
                         "up")
        if phase == "Failed":
            texts.append(f"PersistentVolume {name} is in Failed state")
        capacity = (pv.get("spec", {}).get("capacity") or {}).get("storage")
        if _small(capacity):
            texts.append(f"PersistentVolume {name} has small capacity ({capacity})")
        if texts:
            findings.append(Finding("Storage/PersistentVolume", name, texts))
    findings += [f for f in map(_storage_claim, snapshot.of("persistentvolumeclaims")) if f]
    return findings


def _storage_claim(pvc: Obj) -> Finding | None:
    """Only the first problem of a claim is reported, as k8sgpt reports it."""
    name, spec = pvc["metadata"]["name"], pvc.get("spec", {})
    phase = pvc.get("status", {}).get("phase")
    texts = []
    if phase in ("Pending", "Lost"):
        texts.append(f"PersistentVolumeClaim {name} is in {phase} state")
    else:
        requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if _small(requested):
            texts.append(f"PersistentVolumeClaim {name} has small capacity ({requested})")
        if spec.get("storageClassName") is None and not spec.get("volumeName"):
            texts.append(f"PersistentVolumeClaim {name} has no StorageClass specified")
    return Finding("Storage/PersistentVolumeClaim", ident(pvc), texts[:1]) if texts else None
