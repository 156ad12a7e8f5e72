"""`logs` as kubectl does it: a pod, a workload (`deploy/x`: the pod kubectl would pick) or
a label selector (up to 10 pods, 10 lines each unless told); the default container (the
`kubectl.kubernetes.io/default-container` annotation, else the first, with kubectl's
notice), `--all-containers`, `--prefix`, `--timestamps`, `--since`, `--since-time`. kubectl's
notices (stderr there) come first, as the lines an SRE would see above the log."""

from __future__ import annotations

from typing import Any

from bot import kube as cluster
from bot.kube.names import api_path, check_name, object_path

from .command import Command, Refused

Obj = dict[str, Any]
MAX_PODS = 10
SELECTOR_TAIL = 10  # kubectl's default --tail when a selector picks the pods
LIMIT_BYTES = 1024 * 1024  # per container: a visible marker says when a log was cut
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
WORKLOADS = {"deployment", "replicaset", "statefulset", "daemonset", "job",
             "replicationcontroller", "service"}


def logs(api: cluster.Api, command: Command, namespace: str) -> str:
    notices: list[str] = []
    pods = _pods(api, command, namespace, notices)
    several = command.selector is not None
    tail = command.tail if command.tail is not None else (SELECTOR_TAIL if several else None)
    chunks = []
    for pod in pods:
        for container in _containers(pod, command, notices):
            text = _read(api, pod, container, command, namespace, tail)
            if command.prefix:
                label = f"[pod/{pod['metadata']['name']}/{container}] "
                text = "".join(label + line for line in text.splitlines(keepends=True))
            chunks.append(text)
    body = "".join(chunks).rstrip("\n")
    return "\n".join([*notices, body]) if notices else (body or "(no log lines)")


def _pods(api: cluster.Api, command: Command, namespace: str,
          notices: list[str]) -> list[Obj]:
    if command.selector is not None:
        pods = _list_pods(api, namespace, command.selector)
        if not pods:
            raise Refused(f"No pods in namespace {namespace} match {command.selector}.")
        return pods[:MAX_PODS]
    if not command.args:
        raise Refused("`kubectl logs` needs a pod, a workload (deploy/web) or -l SELECTOR.")
    target = command.args[0]
    kind, _, name = target.rpartition("/")
    if not kind or kind.lower() in ("pod", "pods", "po"):
        return [cluster.request(api, api_path("/api/v1", "pods", namespace=namespace,
                                              name=check_name(name, plural="pods")),
                                what=f"getting pod {name} in namespace {namespace}")]
    res = cluster.resource(api, kind)
    if res.kind.lower() not in WORKLOADS:
        raise Refused(f"logs reads pods and the pods of workloads (deploy/, sts/, ds/, job/, "
                      f"rs/, svc/), not {res.kind.lower()}s.")
    owner = cluster.request(api, object_path(res, name, namespace),
                            what=f"getting {res.kind.lower()} {name} in namespace {namespace}")
    pods = sorted(_list_pods(api, namespace, _selector_of(owner)), key=_logging_order)
    if not pods:
        raise Refused(f"{res.name_prefix}/{name} has no pods in namespace {namespace}.")
    if len(pods) > 1:
        notices.append(f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}")
    return pods[:1]


def _list_pods(api: cluster.Api, namespace: str, selector: str) -> list[Obj]:
    return cluster.request(api, api_path("/api/v1", "pods", namespace=namespace),
                           query={"labelSelector": selector},
                           what=f"listing pods {selector} in namespace {namespace}")["items"]


def _selector_of(owner: Obj) -> str:
    spec = owner.get("spec", {})
    labels = spec.get("selector") or {}
    if owner.get("kind") in ("Service", "ReplicationController") or "matchLabels" not in labels:
        labels = {k: v for k, v in labels.items() if isinstance(v, str)}
    else:
        labels = labels.get("matchLabels") or {}
    if not labels:
        raise Refused("That workload selects no pods by label.")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _logging_order(pod: Obj) -> tuple[Any, ...]:
    """kubectl's podutils.ByLogging: scheduled, running, ready, ready longest, most
    restarts, oldest — the pod whose log says most about the workload."""
    status = pod.get("status", {})
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                 None)
    is_ready = bool(ready and ready.get("status") == "True")
    phase = {"Running": 0, "Unknown": 1, "Pending": 2}.get(status.get("phase", ""), 3)
    restarts = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []),
                   default=0)
    ready_since = (ready or {}).get("lastTransitionTime") if is_ready else None
    return (not pod.get("spec", {}).get("nodeName"), phase, not is_ready,
            ready_since or "~", -restarts,  # "~" sorts after any timestamp
            pod["metadata"].get("creationTimestamp") or "~")


def _containers(pod: Obj, command: Command, notices: list[str]) -> list[str]:
    spec = pod.get("spec", {})
    names = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if command.all_containers:
        return inits + names
    if command.container:
        return [command.container]
    annotated = (pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER)
    if annotated in names + inits:
        return [annotated]
    if len(names) + len(inits) > 1:
        listed = ", ".join([*names, *(f"{n} (init)" for n in inits)])
        notices.append(f'Defaulted container "{names[0]}" out of: {listed}')
    return names[:1]


def _read(api: cluster.Api, pod: Obj, container: str, command: Command, namespace: str,
          tail: int | None) -> str:
    name = pod["metadata"]["name"]
    limit = LIMIT_BYTES if command.limit_bytes is None else min(command.limit_bytes,
                                                                LIMIT_BYTES)
    query = {"container": container, "tailLines": None if tail == -1 else tail,
             "timestamps": "true" if command.timestamps else None,
             "previous": "true" if command.previous else None,
             "sinceSeconds": command.since, "sinceTime": command.since_time,
             "limitBytes": limit}  # -1 is kubectl's "all": never sent (the API refuses it)
    text = cluster.request(api, api_path("/api/v1", "pods", namespace=namespace, name=name,
                                         sub="log"), query=query,
                           what=f"reading logs of pod {name} (container {container}) in "
                           f"namespace {namespace}", raw=True)
    if limit == LIMIT_BYTES and len(text.encode()) >= LIMIT_BYTES:
        text += f"\n… [log cut at {LIMIT_BYTES // 1024} KiB: use --tail or --since]\n"
    return text if not text or text.endswith("\n") else text + "\n"
