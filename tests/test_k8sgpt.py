"""The k8sgpt builtin: each analyzer finds its planted problem and nothing on healthy
objects; the JSON shape is k8sgpt's; a k8sgpt binary on PATH is used when present."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services
from plugins.builtins.k8sgpt.analysis import ANALYZERS
from plugins.builtins.k8sgpt.hints import HINTS
from plugins.builtins.k8sgpt.runner import summary
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.helpers.builtins import builtin_services


@pytest.fixture
async def services(tmp_path: Path, cluster: FakeKubernetes,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no real k8sgpt binary in these tests
    built = await builtin_services(tmp_path, "k8sgpt", db="g.db",
                                   kubeconfig=cluster.kubeconfig(tmp_path / "kc"))
    yield built
    await built.close()


async def analyze(services: Services, **args: Any) -> dict[str, Any]:
    result = await services.registry.call("k8sgpt_analyze", args)
    assert result.ok, result.text
    return json.loads(result.text)


def texts(report: dict[str, Any], kind: str) -> dict[str, list[str]]:
    return {r["name"]: [e["Text"] for e in r["error"]] for r in report["results"]
            if r["kind"] == kind}


async def test_the_report_has_k8sgpts_shape(services: Services) -> None:
    report = await analyze(services)
    # k8sgpt's keys, and ours: a summary of findings per kind before them (issue 30)
    assert set(report) == {"provider", "errors", "status", "problems", "summary", "results"}
    assert report["summary"] == {kind: sum(r["kind"] == kind for r in report["results"])
                                 for kind in report["summary"]}
    assert (report["status"], report["errors"]) == ("ProblemDetected", None)
    # analysis/output.go: problems counts failure texts, not results
    assert report["problems"] == sum(len(r["error"]) for r in report["results"])
    assert report["problems"] > len(report["results"])
    for result in report["results"]:
        assert set(result) == {"kind", "name", "error", "details", "parentObject"}
        for error in result["error"]:
            assert set(error) == {"Text", "KubernetesDoc", "Sensitive"}


# Golden results on the incident cluster (tests/fakes/k8s/cluster.yaml, namespace prod), each
# from the k8sgpt source file named (pkg/analyzer/ in k8sgpt-ai/k8sgpt).
PROD = {
    "Pod": {  # pod.go
        "prod/api-gw-5c6d7e8f9-notok": [  # running, not ready: the latest Unhealthy event
            "Readiness probe failed: HTTP probe failed with statuscode: 503"],
        "prod/checkout-api-7d9f8b6c5-abcde": [
            "the last termination reason is Error container=checkout-api "
            "pod=checkout-api-7d9f8b6c5-abcde"],
        "prod/image-broken-6c7d8e9f0-qwert": [
            'Back-off pulling image "registry.example.com/image-broken:9.9.9"'],
        "prod/memhog-0": [  # ours: OOMKilled and running again, which k8sgpt does not see
            "Container memhog of pod memhog-0 was OOMKilled (exit code 137): it needs more "
            "than its 256Mi memory limit."],
        "prod/pending-7b8c9d0e1-zzzzz": [
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
            "{node.kubernetes.io/not-ready: }. preemption: 0/2 nodes are available."]},
    "Deployment": {  # deployment.go
        f"prod/{name}": [f"Deployment prod/{name} has {n} replicas but 0 are available with "
                         "status running"]
        for name, n in (("api-gw", 1), ("checkout-api", 2), ("image-broken", 1),
                        ("pending", 1))},
    "ReplicaSet": {  # rs.go needs 0 replicas; ours reports a partial failure too
        "prod/quota-starved-1a2b3c4d5": [
            'ReplicaSet prod/quota-starved-1a2b3c4d5 cannot create all its pods (FailedCreate): '
            'pods "quota-starved-1a2b3c4d5-" is forbidden: exceeded quota: compute, requested: '
            "cpu=2, used: cpu=8, limited: cpu=8"]},
    "PersistentVolumeClaim": {  # pvc.go: the latest ProvisioningFailed event
        "prod/data-pending": ['storageclass.storage.k8s.io "fast-ssd" not found']},
    "Service": {  # service.go
        "prod/api-gw": ["Service has no endpoints, expected label app=api-gw"],
        "prod/checkout": ["Service has not ready endpoints, pods: "
                          "[Pod/checkout-api-7d9f8b6c5-abcde], expected 1"]},
    "Ingress": {  # ingress.go
        "prod/legacy": ["Ingress uses the ingress class traefik which does not exist."],
        "prod/shop": ["Ingress uses the service prod/cart which does not exist."]},
    "StatefulSet": {  # statefulset.go
        "prod/memhog": ["StatefulSet uses the service prod/memhog which does not exist."]},
    "Job": {  # job.go (no BackoffLimitExceeded event about these: the plain text)
        "prod/cleanup-29400000": ["Job cleanup-29400000 has failed"],
        "prod/migrate-db": ["Job migrate-db has failed"]},
    "CronJob": {  # cronjob.go, with robfig/cron's own error; the last-run check is ours
        "prod/bad-schedule": ["CronJob bad-schedule has an invalid schedule: expected exactly "
                              "5 fields, found 3: [every 5 minutes]"],
        "prod/cleanup": ["CronJob prod/cleanup: its last run, job cleanup-29400000, failed."],
        "prod/nightly-report": ["CronJob nightly-report is suspended"]},
    "ConfigMap": {  # configmap.go
        "prod/checkout-config": [
            "ConfigMap checkout-config is not used by any pods in the namespace"]},
}


@pytest.mark.parametrize("analyzer", sorted(PROD))
async def test_golden_results_on_the_incident_cluster(services: Services,
                                                      analyzer: str) -> None:
    report = await analyze(services, namespace="prod", filters=[analyzer])
    assert texts(report, analyzer) == PROD[analyzer]


async def test_nodes_name_each_failing_condition(services: Services) -> None:
    # node.go: Ready not True, or another condition True/Unknown
    found = texts(await analyze(services, filters=["Node"]), "Node")
    assert found == {"node-2": [
        "node-2 has condition of type MemoryPressure, reason KubeletHasInsufficientMemory: "
        "kubelet has insufficient memory available",
        "node-2 has condition of type Ready, reason KubeletNotReady: container runtime is "
        "down"]}


async def test_namespace_filter_and_explain(services: Services) -> None:
    report = await analyze(services, namespace="kube-system", filters=["Pod"], explain=True)
    assert report["results"] == [] and report["status"] == "OK"
    report = await analyze(services, namespace="prod", filters=["Service"], explain=True)
    assert {r["details"] for r in report["results"]} == {HINTS["Service"]}
    assert all(r["name"].startswith("prod/") for r in report["results"])


async def test_parent_object_is_the_top_owner(services: Services) -> None:
    report = await analyze(services, filters=["pod"])
    parents = {r["name"]: r["parentObject"] for r in report["results"]}
    assert parents["prod/checkout-api-7d9f8b6c5-abcde"] == "Deployment/checkout-api"
    assert parents["prod/memhog-0"] == "StatefulSet/memhog"


async def test_binary_on_path_is_used(services: Services, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    canned = {"provider": "openai", "errors": None, "status": "ProblemDetected",
              "problems": 1, "results": [{"kind": "Pod", "name": "x/y", "error": [
                  {"Text": "from the binary", "KubernetesDoc": "", "Sensitive": []}],
                  "details": "", "parentObject": ""}]}
    script = bin_dir / "k8sgpt"
    script.write_text("#!/bin/sh\n"
                      f"echo \"$@\" > {tmp_path / 'args'}\n"
                      f"cat <<'JSON'\n{json.dumps(canned)}\nJSON\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    report = await analyze(services, namespace="prod", filters=["Pod"], explain=True)
    assert report == canned | {"summary": summary(canned["results"])}
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["analyze", "--output", "json"]
    assert {"--namespace", "prod", "--filter", "Pod", "--explain"} <= set(args)


async def test_binary_gets_none_of_the_bots_secrets(services: Services, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: a k8sgpt child inherited the bot's whole environment (tokens, keys)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "k8sgpt"
    script.write_text(f"#!/bin/sh\nenv > {tmp_path / 'env'}\n"
                      "echo '{\"status\": \"OK\", \"problems\": 0, \"results\": []}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    for name in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        monkeypatch.setenv(name, "s3cr3t-value")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    assert (await analyze(services, namespace="prod"))["status"] == "OK"
    seen = (tmp_path / "env").read_text()
    assert f"PATH={bin_dir}" in seen
    assert "s3cr3t-value" not in seen


async def test_cluster_errors_are_one_sentence(tmp_path: Path, cluster: FakeKubernetes,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    built = await builtin_services(tmp_path, "k8sgpt", db="e.db",
                                   kubeconfig=cluster.kubeconfig(tmp_path / "kc", token="bad"))
    try:
        result = await built.registry.call("k8sgpt_analyze", {"filters": ["Node"]})
        assert result.text == ("The cluster rejected the bot's credentials (HTTP 401) while "
                               "discovering the cluster's resource types.")
    finally:
        await built.close()


@pytest.fixture
def lab() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                           FIXTURES / "k8sgpt.yaml"]).start()
    yield fake
    fake.stop()


async def services_for(tmp_path: Path, fake: FakeKubernetes, **config: Any) -> Services:
    return await builtin_services(tmp_path, "k8sgpt", db="l.db",
                                  kubeconfig=fake.kubeconfig(tmp_path / "kc"),
                                  config={"k8sgpt": config} if config else {})


# Golden results for the cases tests/fakes/k8s/k8sgpt.yaml plants in namespace lab.
LAB = {
    "Pod": {  # pod.go: init containers too, Evicted, SchedulingGated, FailedMount events
        "lab/done-badly": ["the termination reason is Unknown exitCode=137 container=app "
                           "pod=done-badly"],
        "lab/evicted": ["The node was low on resource: memory. Threshold quantity: 100Mi, "
                        "available: 50Mi."],
        "lab/gated": ["Pod lab/gated is in a SchedulingGated state and is blocked from "
                      "scheduling due to non-empty scheduling gates"],
        "lab/init-fails": ["the termination reason is Error exitCode=2 container=migrate "
                           "pod=init-fails"],
        "lab/mount-fails": ['MountVolume.SetUp failed for volume "data" : '
                            'persistentvolumeclaim "lab-data" not found']},
    "DaemonSet": {"lab/agent": [  # daemonset.go
        "DaemonSet lab/agent has 0 ready replicas out of 2 scheduled",
        "DaemonSet lab/agent references non-existent ImagePullSecret registry-creds"]},
    "ReplicaSet": {"lab/no-sa-7c9d": [  # rs.go: no replicas, FailedCreate
        'pods "no-sa-7c9d-" is forbidden: error looking up service account lab/builder: '
        'serviceaccount "builder" not found']},
    "PersistentVolumeClaim": {"lab/lab-data": [  # pvc.go: the latest event, not the first
        'storageclass.storage.k8s.io "gold" not found']},
    "Deployment": {"lab/stuck": [  # deployment.go: Progressing=False
        "Deployment lab/stuck has condition Progressing=False, reason "
        'ProgressDeadlineExceeded: ReplicaSet "stuck-5d8f7c9b6" has timed out progressing.']},
    "Service": {"lab/db": [  # service.go: a non-Normal event
        'Service lab/db has event Error updating Endpoint Slices for Service lab/db: node '
        '"node-9" not found']},
    "Ingress": {"lab/no-class": [  # ingress.go: no class, a missing TLS secret
        "Ingress lab/no-class does not specify an Ingress class.",
        "Ingress uses the secret lab/lab-tls as a TLS certificate which does not exist."]},
    "StatefulSet": {"lab/db": [  # statefulset.go: storage class, then its pods
        "StatefulSet uses the storage class gold which does not exist.",
        "Statefulset pod db-0 in the namespace lab is not in running state."]},
    "Job": {  # job.go: suspended; failed, with the BackoffLimitExceeded event's message
        "lab/gave-up": ["Job has reached the specified backoff limit"],
        "lab/paused": ["Job paused is suspended"]},
    "CronJob": {"lab/too-early": [  # cronjob.go
        "CronJob too-early has an invalid schedule: end of range (25) above maximum (23): 25",
        "CronJob too-early has a negative starting deadline"]},
    "ValidatingWebhookConfiguration": {  # validating_webhook.go (keyed "/name" as k8sgpt)
        "/check.receiver.example.com": ["Validating Webhook (check.receiver.example.com) is "
                                        "pointing to an inactive receiver pod (done-badly)"],
        "/validate.policy.example.com": ["Service policy-webhook not found as mapped to by "
                                         "Validating Webhook validate.policy.example.com"]},
    "MutatingWebhookConfiguration": {"/inject.db.example.com": [  # mutating_webhook.go
        "Mutating Webhook (inject.db.example.com) is pointing to an inactive receiver pod "
        "(db-0)"]},
    "ConfigMap": {"lab/leftover": [  # configmap.go (the grafana sidecar's map is skipped)
        "ConfigMap leftover is not used by any pods in the namespace",
        "ConfigMap leftover is empty"]},
    "HorizontalPodAutoscaler": {  # hpa.go
        "lab/odd-target": [
            "HorizontalPodAutoscaler uses Rollout as ScaleTargetRef which is not an option.",
            "HorizontalPodAutoscaler uses Rollout/payments as ScaleTargetRef which does not "
            "exist."],
        "lab/stuck": [
            "the HPA was unable to compute the replica count: failed to get cpu utilization: "
            "missing request for cpu",
            "the desired replica count is more than the maximum replica count",
            "Deployment lab/stuck does not have resource configured."]},
    "PodDisruptionBudget": {"lab/db": [  # pdb.go
        "InsufficientPods, expected pdb pod label app=db"]},
    "NetworkPolicy": {  # netpol.go
        "lab/allow-everything": ["Network policy allows traffic to all pods: allow-everything"],
        "lab/orphan": ["Network policy is not applied to any pods: orphan"]},
    "HTTPRoute": {"lab/shop": [  # httproute.go
        "HTTPRoute uses the Gateway 'lab/missing-gw' which does not exist in the same "
        "namespace.",
        "HTTPRoute's backend service 'receiver' is using port '80' but the corresponding K8s "
        "service 'lab/receiver' isn't configured with the same port.",
        "HTTPRoute uses the Service 'lab/nowhere' which does not exist."]},
    "Gateway": {  # gateway.go
        "lab/edge": ["Gateway 'lab/edge' has condition Programmed=False, reason "
                     "AddressNotAssigned: No addresses have been assigned to the Gateway"],
        "lab/orphan": ["Gateway uses the GatewayClass istio which does not exist."]},
}
LAB_KINDS = {"GatewayClass": ("GatewayClass", {"envoy": [  # gatewayclass.go
    "GatewayClass 'envoy' with a controller name 'gateway.envoyproxy.io/gatewayclass-"
    "controller' is not accepted. Message: 'parametersRef not found'."]}),
    "Storage": ("Storage/StorageClass", {  # storage.go
        "local": ["StorageClass local uses deprecated provisioner "
                  "'kubernetes.io/no-provisioner'",
                  "Multiple default StorageClasses found (2), which can cause confusion"],
        "standard": ["Multiple default StorageClasses found (2), which can cause confusion"]}),
    "Security": ("Security/Pod", {  # security.go
        "lab/init-fails": ["Pod init-fails does not have a security context defined which may "
                           "pose security risks"],
        "lab/mount-fails": ["Container app in pod mount-fails is running as privileged which "
                            "poses security risks"]}),
    "Log": ("Pod", {  # log.go: the first error line of a restarted container's last run
        "lab/done-badly/app": ["previous container logs: shutting down after failure"]})}


async def test_golden_results_of_every_analyzer(tmp_path: Path, lab: FakeKubernetes) -> None:
    services = await services_for(tmp_path, lab)
    try:
        for analyzer, expected in LAB.items():
            report = await analyze(services, namespace="lab", filters=[analyzer])
            assert report["errors"] is None, analyzer
            assert texts(report, analyzer) == expected, analyzer
        for analyzer, (kind, expected) in LAB_KINDS.items():
            found = texts(await analyze(services, namespace="lab", filters=[analyzer]), kind)
            assert {k: v for k, v in found.items() if k in expected} == expected, analyzer
        report = await analyze(services, namespace="lab", filters=["Storage", "Security"])
        assert texts(report, "Storage/PersistentVolume") == {"pv-old": [
            "PersistentVolume pv-old is in Released state and should be cleaned up",
            "PersistentVolume pv-old has small capacity (512Mi)"]}
        assert texts(report, "Storage/PersistentVolumeClaim") == {
            "lab/lab-data": ["PersistentVolumeClaim lab-data is in Pending state"],
            "lab/tiny": ["PersistentVolumeClaim tiny has small capacity (100Mi)"]}
        assert texts(report, "Security/ServiceAccount") == {"lab/default": [
            "Default service account is being used by pods: [init-fails]"]}
        assert texts(report, "Security/RoleBinding") == {"lab/ci-everything": [
            "RoleBinding ci-everything references Role everything which contains wildcard "
            "permissions - this is not recommended for security best practices"]}
        nodes = texts(await analyze(services, filters=["Node"]), "Node")
        assert nodes["node-lab"] == [  # node.go: Unknown, and a condition type it does not know
            "node-lab has condition of type Ready, reason NodeStatusUnknown: Kubelet stopped "
            "posting node status.",
            "node-lab has condition of type DiskPressure, reason NodeStatusUnknown: Kubelet "
            "stopped posting node status.",
            "node-lab has condition of type KernelDeadlock, reason KernelHasNoDeadlock: kernel "
            "has no deadlock"]
    finally:
        await services.close()


@pytest.mark.parametrize("analyzer", list(ANALYZERS))
async def test_every_k8sgpt_name_is_a_filter(tmp_path: Path, lab: FakeKubernetes,
                                             analyzer: str) -> None:
    services = await services_for(tmp_path, lab)
    try:
        for spelling in (analyzer, analyzer.lower()):
            report = await analyze(services, namespace="lab", filters=[spelling])
            assert report["errors"] is None
            assert report["results"], f"{analyzer} found nothing in lab"
            assert {r["kind"].split("/")[0] for r in report["results"]} <= {
                analyzer.split("/")[0], "Pod"}  # Log reports as Pod, as k8sgpt does
    finally:
        await services.close()


async def test_without_filters_only_the_core_analyzers_run(tmp_path: Path,
                                                           lab: FakeKubernetes) -> None:
    services = await services_for(tmp_path, lab)
    try:
        kinds = {r["kind"] for r in (await analyze(services, namespace="lab"))["results"]}
    finally:
        await services.close()
    core = {name for name, a in ANALYZERS.items() if a.core}
    assert kinds <= core and {"Pod", "DaemonSet", "ConfigMap",
                              "ValidatingWebhookConfiguration"} <= kinds
    assert not kinds & {"NetworkPolicy", "HorizontalPodAutoscaler", "Storage/StorageClass"}


async def test_one_forbidden_kind_is_an_error_and_the_rest_still_report(
        tmp_path: Path, cluster: FakeKubernetes) -> None:
    cluster.denied.update({("list", "ingressclasses", None), ("list", "pods", "prod")})
    services = await services_for(tmp_path, cluster)
    try:
        report = await analyze(services, namespace="prod")
    finally:
        await services.close()
    forbidden = ('pods is forbidden: User "system:serviceaccount:chatops:bot" cannot list '
                 'resource "pods" in API group "" in the namespace "prod"')
    classes = ('ingressclasses.networking.k8s.io is forbidden: User '
               '"system:serviceaccount:chatops:bot" cannot list resource "ingressclasses" in API '
               'group "networking.k8s.io" at the cluster scope')
    # analysis.go: "[name] error"; Pod and ConfigMap list pods themselves. The analyzers
    # that only look things up in a forbidden kind say what they could not verify (issue 30)
    assert sorted(report["errors"]) == sorted([
        f"[Pod] {forbidden}", f"[ConfigMap] {forbidden}",
        f"[Ingress] not verified: ingressclasses could not be read ({classes})",
        f"[StatefulSet] not verified: pods could not be read ({forbidden})"])
    assert texts(report, "Deployment") == PROD["Deployment"]
    # the ingress classes it may not read are not reported missing; the service still is
    assert texts(report, "Ingress") == {
        "prod/shop": ["Ingress uses the service prod/cart which does not exist."]}
    assert report["status"] == "ProblemDetected"


async def test_an_api_the_cluster_does_not_serve_is_named(services: Services) -> None:
    """The Gateway API is not installed on the incident cluster: the filters that need it say
    so as k8sgpt does, and the others report."""
    report = await analyze(services, namespace="prod", filters=["Gateway", "HTTPRoute", "Job"])
    assert report["errors"] == [
        '[Gateway] no matches for kind "Gateway" in version "gateway.networking.k8s.io/v1"',
        '[HTTPRoute] no matches for kind "HTTPRoute" in version '
        '"gateway.networking.k8s.io/v1"']
    assert texts(report, "Job") == PROD["Job"]
    default = await analyze(services, namespace="prod")
    assert default["errors"] is None  # they are not core: not run without a filter


async def test_unknown_filter_is_reported_and_the_rest_run(services: Services) -> None:
    report = await analyze(services, namespace="prod", filters=["DaemonSets", "Job"])
    assert report["errors"][0].startswith('"DaemonSets" filter does not exist. Available '
                                          "filters: Pod, DaemonSet, Deployment")
    assert texts(report, "Job") == PROD["Job"]


async def test_lists_run_concurrently_within_the_bound(tmp_path: Path,
                                                       cluster: FakeKubernetes) -> None:
    cluster.delay_paths["/api/v1/namespaces/prod/"] = 0.05
    cluster.delay_paths["/apis/"] = 0.05
    for bound in (3, 1):
        cluster.most_in_flight = 0
        (tmp_path / str(bound)).mkdir()
        services = await services_for(tmp_path / str(bound), cluster, concurrency=bound)
        try:
            assert (await analyze(services, namespace="prod"))["problems"] > 0
        finally:
            await services.close()
        assert cluster.most_in_flight == bound


async def test_an_unreachable_cluster_fails_the_call(tmp_path: Path) -> None:
    gone = FakeKubernetes().start()
    services = await services_for(tmp_path, gone)
    url = gone.url
    gone.stop()
    try:
        result = await services.registry.call("k8sgpt_analyze", {"namespace": "prod"})
        assert not result.ok
        assert result.text.startswith(f"The Kubernetes API server at {url} is unreachable")
    finally:
        await services.close()


@pytest.mark.parametrize(("schedule", "error"), [  # robfig/cron parser.go, as k8sgpt uses it
    ("*/5 * * * *", None), ("0 9 * * mon-fri", None), ("@daily", None), ("@every 90s", None),
    ("CRON_TZ=Europe/Paris 0 3 * * *", None), ("0 0 1 jan,jul ?", None),
    ("", "empty spec string"),
    ("every 5 minutes", "expected exactly 5 fields, found 3: [every 5 minutes]"),
    ("0 25 * * *", "end of range (25) above maximum (23): 25"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"')])
def test_cron_schedules_are_checked_as_robfig_cron_checks_them(schedule: str,
                                                               error: str | None) -> None:
    from plugins.builtins.k8sgpt.cron import schedule_error

    assert schedule_error(schedule) == error


LOOKED_UP = sorted({plural for a in ANALYZERS.values() for plural in a.reads})


def _findings(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["name"], e["Text"]) for r in report["results"] for e in r["error"]}


async def test_each_looked_up_kind_forbidden_in_turn_is_said_never_dropped_or_invented(
        tmp_path: Path, lab: FakeKubernetes) -> None:
    """Partial RBAC (issue 30): with each kind the analyzers look things up in forbidden
    in turn, no object is flagged that the full view does not flag, and every finding that
    goes missing or reads differently (k8sgpt's plainer text without the event) is
    explained by an `errors` entry of its analyzer."""
    services = await services_for(tmp_path, lab)
    try:
        everything = list(ANALYZERS)
        full = await analyze(services, namespace="lab", filters=everything)
        assert full["errors"] is None and len(_findings(full)) > 20
        for plural in LOOKED_UP:
            lab.denied = {("*", plural, None)}
            report = await analyze(services, namespace="lab", filters=everything)
            seen, errors = _findings(report), report["errors"] or []
            flagged = {(kind, name) for kind, name, _ in _findings(full)}
            assert {(k, n) for k, n, _ in seen} <= flagged, (plural, seen - _findings(full))
            for kind, name, text in (_findings(full) - seen) | (seen - _findings(full)):
                analyzer = kind.split("/")[0]  # Security/RoleBinding: the Security analyzer
                assert any(e.startswith(f"[{analyzer}]") for e in errors), (plural, kind, name,
                                                                         text, errors)
    finally:
        lab.denied = set()
        await services.close()


async def test_secrets_are_read_by_name_as_metadata_never_listed(
        tmp_path: Path, lab: FakeKubernetes) -> None:
    services = await services_for(tmp_path, lab)
    try:
        report = await analyze(services, namespace="lab", filters=["Ingress", "DaemonSet"])
    finally:
        await services.close()
    secret_requests = [r for r in lab.requests if "/secrets" in r]
    assert secret_requests and all(not r.split("?")[0].endswith("/secrets")
                                   for r in secret_requests), secret_requests
    assert "secret" in json.dumps(report["results"]).lower()  # a missing TLS secret found


async def test_at_5000_pods_the_first_page_has_the_node_and_the_service_and_grep_finds_a_pod(
        tmp_path: Path) -> None:
    """The model sees the head of a long result first (TOOL_OUTPUT_LIMIT, 16,000
    characters) and greps the rest: the NotReady node and the broken Service come before
    5,000 crashlooping pods, the summary counts them, and one pod's finding is one line."""
    import copy

    from bot.agent.paging import _grep
    from bot.config import Settings

    fake = FakeKubernetes()
    template = next(p for p in fake.objects["pods"]
                    if p["metadata"]["name"].startswith("checkout-api"))
    for i in range(5000):
        pod = copy.deepcopy(template)
        pod["metadata"].update(name=f"bulk-{i:05d}", namespace=f"team-{i % 40:02d}",
                               uid=f"00000000-0000-0000-0000-{i:012d}")
        fake.objects["pods"].append(pod)
    fake.start()
    services = await services_for(tmp_path, fake)
    try:
        result = await services.registry.call("k8sgpt_analyze", {})
    finally:
        await services.close()
        fake.stop()
    assert result.ok, result.text[:300]
    report = json.loads(result.text)
    assert report["summary"]["Pod"] > 5000
    head = result.text[:Settings.model_fields["tool_output_limit"].default]
    assert '"kind": "Node"' in head and '"kind": "Service"' in head
    assert head.index('"kind": "Service"') < head.index('"kind": "Pod"')
    ok, found = _grep(result.text, "bulk-04321", 4000)
    lines = [line for line in found.splitlines() if line.split(":")[0].isdigit()]
    assert ok and len(lines) == 1
    finding = json.loads(lines[0].split(": ", 1)[1].rstrip(","))
    assert finding["name"] == "team-01/bulk-04321" and finding["kind"] == "Pod"
