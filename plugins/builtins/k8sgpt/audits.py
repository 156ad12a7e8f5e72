"""k8sgpt's Security (pkg/analyzer/security.go) and Log (log.go) analyzers, which run only
when asked for by filter."""

from __future__ import annotations

import re

from .common import Finding, Obj, Snapshot, go_list, ident, parent_of

ERROR_PATTERN = re.compile(r"(error|exception|fail)")
TAIL_LINES = 100


def security(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for sa in snapshot.of("serviceaccounts"):
        if sa["metadata"]["name"] != "default":
            continue
        users = [p["metadata"]["name"] for p in snapshot.in_namespace(
            "pods", sa["metadata"].get("namespace"))
            if p.get("spec", {}).get("serviceAccountName") == "default"]
        if users:
            findings.append(Finding("Security/ServiceAccount", ident(sa), [
                f"Default service account is being used by pods: {go_list(users)}"]))
    for binding in snapshot.of("rolebindings"):
        ref = binding.get("roleRef") or {}
        role = snapshot.get("roles", binding["metadata"].get("namespace"), ref.get("name", ""))
        if role is None:
            continue
        texts = [f"RoleBinding {binding['metadata']['name']} references Role "
                 f"{role['metadata']['name']} which contains wildcard permissions - this is not "
                 "recommended for security best practices" for rule in role.get("rules") or []
                 if "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or [])]
        if texts:
            findings.append(Finding("Security/RoleBinding", ident(binding), texts))
    findings += [f for f in map(_pod_security, snapshot.of("pods")) if f]
    return findings


def _pod_security(pod: Obj) -> Finding | None:
    spec, name = pod.get("spec", {}), pod["metadata"]["name"]
    privileged = next((c for c in spec.get("containers") or []
                       if (c.get("securityContext") or {}).get("privileged")), None)
    if privileged is not None:
        text = (f"Container {privileged['name']} in pod {name} is running as privileged which "
                "poses security risks")
    elif spec.get("securityContext") is None:
        text = f"Pod {name} does not have a security context defined which may pose security risks"
    else:
        return None
    return Finding("Security/Pod", ident(pod), [text])


def logs(snapshot: Snapshot) -> list[Finding]:
    """Each container's last 100 lines (and its previous instance's, after a restart): the
    first line that mentions an error, exception or failure."""
    requests: list[tuple[Obj, str, bool]] = []
    for pod in snapshot.of("pods"):
        restarted = {s["name"] for s in pod.get("status", {}).get("containerStatuses") or []
                     if s.get("restartCount", 0) > 0}
        for container in pod.get("spec", {}).get("containers") or []:
            requests.append((pod, container["name"], False))
            if container["name"] in restarted:
                requests.append((pod, container["name"], True))
    answers = snapshot.logs(requests)
    texts: dict[tuple[str, str], list[str]] = {}
    pods: dict[tuple[str, str], Obj] = {}
    for (pod, container, previous), answer in zip(requests, answers, strict=True):
        key = (ident(pod), container)
        pods[key] = pod
        text = _log_failure(pod, answer, previous)
        if text:
            texts.setdefault(key, []).append(text)
    return [Finding("Pod", f"{name}/{container}", found, parent_of(snapshot, pods[
        (name, container)])) for (name, container), found in texts.items()]


def _log_failure(pod: Obj, answer: str | Exception, previous: bool) -> str | None:
    if isinstance(answer, Exception):
        return None if previous else f"Error {answer} from Pod {pod['metadata']['name']}"
    if not ERROR_PATTERN.search(answer.lower()):
        return None
    line = next(line for line in answer.split("\n") if ERROR_PATTERN.search(line.lower()))
    return f"previous container logs: {line}" if previous else line
