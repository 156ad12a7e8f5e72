"""The Pod printer of kube-apiserver (printPod in pkg/printers/internalversion), read for
the behaviour: READY, STATUS (init containers, waiting and terminated reasons, Completed
with a running sidecar, Terminating), RESTARTS with "(6d5h ago)", and the wide columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.kube import human_duration
from tests.fakes.k8s_time import NOW, age, parse_time

Obj = dict[str, Any]
Column = tuple[str, str, int]

POD_COLUMNS: list[Column] = [("Name", "string", 0), ("Ready", "string", 0),
                             ("Status", "string", 0), ("Restarts", "string", 0),
                             ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1),
                             ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]


class _Tally:
    """What walking the container statuses adds up."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.ready = self.restarts = 0
        self.last_restart: datetime | None = None
        self.has_running = False

    def note(self, container: Obj) -> None:
        self.restarts += container.get("restartCount", 0)
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get(
            "finishedAt")
        if finished and (self.last_restart is None or parse_time(finished) > self.last_restart):
            self.last_restart = parse_time(finished)


def _condition(status: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in status.get("conditions") or [])


def _initializing(tally: _Tally, spec: Obj, status: Obj, sidecars: set[str]) -> bool:
    inits = spec.get("initContainers") or []
    for i, container in enumerate(status.get("initContainerStatuses") or []):
        tally.note(container)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if container["name"] in sidecars and container.get("started"):
            tally.ready += 1 if container.get("ready") else 0
            continue
        if terminated:
            tally.reason = ("Init:" + terminated["reason"] if terminated.get("reason") else
                            f"Init:Signal:{terminated['signal']}" if terminated.get("signal")
                            else f"Init:ExitCode:{terminated.get('exitCode', 0)}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            tally.reason = "Init:" + waiting["reason"]
        else:
            tally.reason = f"Init:{i}/{len(inits)}"
        return True
    return False


def _containers(tally: _Tally, status: Obj) -> None:
    for container in reversed(status.get("containerStatuses") or []):
        tally.note(container)
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            tally.reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            tally.reason = terminated["reason"]
        elif terminated:
            tally.reason = (f"Signal:{terminated['signal']}" if terminated.get("signal") else
                            f"ExitCode:{terminated.get('exitCode', 0)}")
        elif container.get("ready") and "running" in state:
            tally.has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and tally.has_running:
        tally.reason = "Running" if _condition(status, "Ready") else "NotReady"


def pod_row(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    sidecars = {c["name"] for c in spec.get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    tally = _Tally(status.get("reason") or status.get("phase") or "")
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        tally.reason = "SchedulingGated"
    if not _initializing(tally, spec, status, sidecars) or _condition(status, "Initialized"):
        _containers(tally, status)
    if pod["metadata"].get("deletionTimestamp"):
        tally.reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    restarts = str(tally.restarts)
    if tally.last_restart is not None:
        restarts += f" ({human_duration((NOW() - tally.last_restart).total_seconds())} ago)"
    total = len(spec.get("containers") or []) + len(sidecars)
    return [pod["metadata"]["name"], f"{tally.ready}/{total}", tally.reason, restarts,
            age(pod), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", _gates(spec, status)]


def _gates(spec: Obj, status: Obj) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
