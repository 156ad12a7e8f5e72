"""k8sgpt's workload analyzers, with its conditions and texts: Pod (pkg/analyzer/pod.go),
Deployment (deployment.go), ReplicaSet (rs.go), StatefulSet (statefulset.go), DaemonSet
(daemonset.go), Job (job.go), CronJob (cronjob.go). Checks of ours, which k8sgpt lacks, are
marked "ours"."""

from __future__ import annotations

from .common import Finding, Obj, Snapshot, ident, latest_event, parent_of
from .cron import schedule_error

ERROR_REASONS = {"CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError",
                 "PreCreateHookError", "CreateContainerError", "PreStartHookError",
                 "RunContainerError", "ImageInspectError", "ErrImagePull", "ErrImageNeverPull",
                 "InvalidImageName"}
EVENT_REASONS = {"FailedCreatePodSandBox", "FailedMount"}


def pods(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for pod in snapshot.of("pods"):
        texts = _scheduling(pod) + _eviction(pod)
        for key in ("initContainerStatuses", "containerStatuses"):
            texts += _containers(snapshot, pod, pod.get("status", {}).get(key) or [])
        texts += _oom_while_running(pod, texts)
        if texts:
            findings.append(Finding("Pod", ident(pod), texts, parent_of(snapshot, pod)))
    return findings


def _scheduling(pod: Obj) -> list[str]:
    status, texts = pod.get("status", {}), []
    if status.get("phase") != "Pending":
        return texts
    for condition in status.get("conditions") or []:
        if condition.get("type") != "PodScheduled":
            continue
        if condition.get("reason") == "Unschedulable" and condition.get("message"):
            texts.append(condition["message"])
        if condition.get("reason") == "SchedulingGated":
            texts.append(condition.get("message") or (
                f"Pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']} is in a "
                "SchedulingGated state and is blocked from scheduling due to non-empty "
                "scheduling gates"))
    return texts


def _eviction(pod: Obj) -> list[str]:
    status = pod.get("status", {})
    if status.get("reason") != "Evicted":
        return []
    return [status.get("message") or f"Pod {pod['metadata']['name']} has been evicted"]


def _containers(snapshot: Snapshot, pod: Obj, statuses: list[Obj]) -> list[str]:
    """analyzeContainerStatusFailures."""
    name, phase, texts = pod["metadata"]["name"], pod.get("status", {}).get("phase"), []
    namespace = pod["metadata"].get("namespace")
    for status in statuses:
        state = status.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        last = (status.get("lastState") or {}).get("terminated")
        if waiting is not None:
            reason = waiting.get("reason")
            if reason == "ContainerCreating" and phase == "Pending":
                event = latest_event(snapshot, namespace, name)
                if event and event.get("reason") in EVENT_REASONS and event.get("message"):
                    texts.append(event["message"])
            elif reason == "CrashLoopBackOff" and last is not None:
                texts.append(f"the last termination reason is {last.get('reason', '')} "
                             f"container={status['name']} pod={name}")
            elif reason in ERROR_REASONS and waiting.get("message"):
                texts.append(waiting["message"])
        elif terminated is not None:
            if terminated.get("exitCode", 0) != 0:
                texts.append(f"the termination reason is {terminated.get('reason') or 'Unknown'}"
                             f" exitCode={terminated['exitCode']} container={status['name']} "
                             f"pod={name}")
        elif not status.get("ready") and phase == "Running":
            event = latest_event(snapshot, namespace, name)
            if event and event.get("reason") == "Unhealthy" and event.get("message"):
                texts.append(event["message"])
    return texts


def _oom_while_running(pod: Obj, already: list[str]) -> list[str]:
    """Ours: a container that was OOMKilled and is running again (k8sgpt sees it only while
    it is in CrashLoopBackOff)."""
    limits = {c["name"]: ((c.get("resources") or {}).get("limits") or {}).get("memory")
              for c in pod.get("spec", {}).get("containers") or []}
    texts = []
    for status in pod.get("status", {}).get("containerStatuses") or []:
        last = (status.get("lastState") or {}).get("terminated") or {}
        if last.get("reason") != "OOMKilled" or any(f"container={status['name']} " in t
                                                    for t in already):
            continue
        limit = limits.get(status["name"])
        texts.append(f"Container {status['name']} of pod {pod['metadata']['name']} was "
                     f"OOMKilled (exit code {last.get('exitCode', 137)})" +
                     (f": it needs more than its {limit} memory limit." if limit else "."))
    return texts


def deployments(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for deployment in snapshot.of("deployments"):
        spec, status, texts = deployment.get("spec", {}), deployment.get("status", {}), []
        desired, ready = spec.get("replicas"), status.get("readyReplicas", 0)
        if desired is not None and desired != ready:
            if status.get("replicas", 0) > desired:
                texts.append(f"Deployment {ident(deployment)} has {desired} replicas in spec "
                             f"but {status.get('replicas', 0)} replicas in status because "
                             "status field is not updated yet after scaling and "
                             f"{ready} replicas are available with status running")
            else:
                texts.append(f"Deployment {ident(deployment)} has {desired} replicas but "
                             f"{ready} are available with status running")
        for c in status.get("conditions") or []:
            if c.get("type") == "Progressing" and c.get("status") == "False":
                texts.append(f"Deployment {ident(deployment)} has condition {c['type']}="
                             f"{c['status']}, reason {c.get('reason', '')}: "
                             f"{c.get('message', '')}")
        if texts:
            findings.append(Finding("Deployment", ident(deployment), texts))
    return findings


def replicasets(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for rs in snapshot.of("replicasets"):
        status, texts = rs.get("status", {}), []
        for c in status.get("conditions") or []:
            if c.get("type") != "ReplicaFailure":
                continue
            if status.get("replicas", 0) == 0 and c.get("reason") == "FailedCreate":
                texts.append(c.get("message", ""))
            elif status.get("replicas", 0) > 0 and c.get("status") == "True":  # ours
                texts.append(f"ReplicaSet {ident(rs)} cannot create all its pods "
                             f"({c.get('reason', '')}): {c.get('message', '')}")
        if texts:
            findings.append(Finding("ReplicaSet", ident(rs), texts, parent_of(snapshot, rs)))
    return findings


def statefulsets(snapshot: Snapshot) -> list[Finding]:
    findings = []
    classes = {sc["metadata"]["name"] for sc in snapshot.of("storageclasses")}
    for sts in snapshot.of("statefulsets"):
        spec, ns, texts = sts.get("spec", {}), sts["metadata"].get("namespace"), []
        service = spec.get("serviceName", "")
        if not service or snapshot.missing("services", ns, service):
            texts.append(f"StatefulSet uses the service {ns}/{service} which does not exist.")
        for template in spec.get("volumeClaimTemplates") or []:
            wanted = (template.get("spec") or {}).get("storageClassName")
            if wanted is not None and snapshot.knows("storageclasses") and \
                    wanted not in classes:
                texts.append(f"StatefulSet uses the storage class {wanted} which does not "
                             "exist.")
        texts += _statefulset_pods(snapshot, sts)
        if texts:
            findings.append(Finding("StatefulSet", ident(sts), texts,
                                    parent_of(snapshot, sts)))
    return findings


def _statefulset_pods(snapshot: Snapshot, sts: Obj) -> list[str]:
    desired = sts.get("spec", {}).get("replicas")
    if desired is None or desired == sts.get("status", {}).get("availableReplicas", 0):
        return []
    ns, name = sts["metadata"].get("namespace"), sts["metadata"]["name"]
    for i in range(desired):
        pod = snapshot.find("pods", ns, f"{name}-{i}")
        if pod is None:
            event = latest_event(snapshot, ns, name) if i == 0 else None
            return [event["message"]] if event and event.get("type") != "Normal" else []
        if pod.get("status", {}).get("phase") != "Running":
            return [f"Statefulset pod {pod['metadata']['name']} in the namespace {ns} is not "
                    "in running state."]
    return []


def daemonsets(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for ds in snapshot.of("daemonsets"):
        status, ns, texts = ds.get("status", {}), ds["metadata"].get("namespace"), []
        if status.get("numberReady", 0) < status.get("desiredNumberScheduled", 0):
            texts.append(f"DaemonSet {ident(ds)} has {status.get('numberReady', 0)} ready "
                         f"replicas out of {status.get('desiredNumberScheduled', 0)} scheduled")
        template = (ds.get("spec", {}).get("template") or {}).get("spec") or {}
        for secret in template.get("imagePullSecrets") or []:
            if snapshot.missing("secrets", ns, secret.get("name", "")):
                texts.append(f"DaemonSet {ident(ds)} references non-existent ImagePullSecret "
                             f"{secret.get('name', '')}")
        if texts:
            findings.append(Finding("DaemonSet", ident(ds), texts, parent_of(snapshot, ds)))
    return findings


def jobs(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for job in snapshot.of("jobs"):
        name, status, texts = job["metadata"]["name"], job.get("status", {}), []
        if job.get("spec", {}).get("suspend"):
            texts.append(f"Job {name} is suspended")
        if status.get("failed", 0) > 0 and not _succeeded(job):
            event = latest_event(snapshot, job["metadata"].get("namespace"), name)
            texts.append(event["message"] if event and event.get("reason") ==
                         "BackoffLimitExceeded" and event.get("message") else
                         f"Job {name} has failed")
        if texts:
            findings.append(Finding("Job", ident(job), texts))
    return findings


def _succeeded(job: Obj) -> bool:
    return any(c.get("status") == "True" and c.get("type") in ("Complete",
                                                               "SuccessCriteriaMet")
               for c in job.get("status", {}).get("conditions") or [])


def cronjobs(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for cj in snapshot.of("cronjobs"):
        spec, name, texts = cj.get("spec", {}), cj["metadata"]["name"], []
        if spec.get("suspend"):
            texts.append(f"CronJob {name} is suspended")
        else:
            error = schedule_error(spec.get("schedule", ""))
            if error:
                texts.append(f"CronJob {name} has an invalid schedule: {error}")
            if (spec.get("startingDeadlineSeconds") or 0) < 0:
                texts.append(f"CronJob {name} has a negative starting deadline")
        texts += _last_run_failed(snapshot, cj)
        if texts:
            findings.append(Finding("CronJob", ident(cj), texts))
    return findings


def _last_run_failed(snapshot: Snapshot, cj: Obj) -> list[str]:
    """Ours: the CronJob's most recent job failed."""
    owned = [j for j in snapshot.in_namespace("jobs", cj["metadata"].get("namespace"))
             if any(r.get("kind") == "CronJob" and r.get("name") == cj["metadata"]["name"]
                    for r in j["metadata"].get("ownerReferences") or [])]
    latest = max(owned, key=lambda j: j["metadata"].get("creationTimestamp", ""), default=None)
    if latest is None or not any(c.get("type") == "Failed" and c.get("status") == "True"
                                 for c in latest.get("status", {}).get("conditions") or []):
        return []
    return [f"CronJob {ident(cj)}: its last run, job {latest['metadata']['name']}, failed."]
