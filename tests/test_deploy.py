"""The container image and the Kustomize manifests (deploy/): the Dockerfile is hadolint
clean; every overlay renders with the real kubectl and validates against the Kubernetes
schemas; and the ClusterRole is enough and no more: every read the kube plugins make
passes the fake API server enforcing exactly its rules, and a Secret read is refused."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.app import Services
from tests.conftest import REPO
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.helpers.builtins import builtin_services
from tests.helpers.kube import (
    DESCRIBE_COMMANDS,
    GET_COMMANDS,
    LOG_COMMANDS,
    SERVICE_DESCRIBE_COMMANDS,
)

OVERLAYS = ["base", "overlays/postgres", "overlays/socket-mode", "overlays/secrets-view",
            "overlays/write-tools", "overlays/prometheus-operator", "overlays/bwrap-seccomp"]
OPERATOR_KINDS = {"PodMonitor"}  # the Prometheus Operator's CRDs: not in Kubernetes' schemas
KUBERNETES = "1.32.0"  # the kubectl on our machines; the manifests use nothing newer
AGE = re.compile(r"\b\d+[smhdy](\d+[smhd])?\b")  # kubectl's HumanDuration: 5s, 3h5m, 12d


def without_ages(answer: tuple[bool, str]) -> tuple[bool, str]:
    """An answer with its ages blanked: an event 11d23h59m old turns 12d between two reads."""
    ok, text = answer
    return ok, re.sub(r" +", " ", AGE.sub("<age>", text))


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None,
                                   reason="kubectl renders the Kustomize manifests")


def tool(name: str) -> str:
    """A tool the test extra installs into the virtualenv (its bin, or PATH)."""
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy" / overlay)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def cluster_role(docs: list[dict[str, Any]], name: str = "chatops-bot-read"
                 ) -> list[dict[str, Any]]:
    return next(d["rules"] for d in docs if d["kind"] == "ClusterRole"
                and d["metadata"]["name"] == name)


def test_the_dockerfile_is_hadolint_clean() -> None:
    done = subprocess.run([tool("hadolint"), str(REPO / "Dockerfile")], capture_output=True,
                          text=True)
    assert (done.returncode, done.stdout) == (0, "")


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_and_is_valid_kubernetes(overlay: str) -> None:
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    for doc in docs:
        if doc["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    if overlay == "overlays/bwrap-seccomp":  # the shipped profile (tests/test_seccomp.py)
        profile = pod["securityContext"]["seccompProfile"]
        assert profile == {"type": "Localhost", "localhostProfile": "profiles/chatops-bot.json"}
        assert (REPO / "deploy" / "seccomp" / Path(profile["localhostProfile"]).name).is_file()
        assert container["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}
    else:
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {probe["httpGet"]["path"] for probe in (container["readinessProbe"],
                                                   container["livenessProbe"])} == {
        "/readyz", "/healthz"}
    startup = container["startupProbe"]  # migrations at start: liveness waits for them
    assert startup["httpGet"]["path"] == "/healthz"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert pod["terminationGracePeriodSeconds"] >= 10 + 5  # the bot's drain, and margin
    # the credentials are created once (docs/deploy.md step 3): an `apply -k` never
    # overwrites them with a template's empty values
    assert "Secret" not in kinds
    assert {"secretRef": {"name": "chatops-bot"}} in container["envFrom"]


@needs_kubectl
def test_the_overlays_change_what_they_say_and_nothing_else() -> None:
    postgres = render("overlays/postgres")
    deployment = next(d for d in postgres if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "PersistentVolumeClaim" not in {d["kind"] for d in postgres}
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "chatops-bot-database"
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"  # a node lost: one replica
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"][
        "matchLabels"]
    socket_mode = render("overlays/socket-mode")
    assert "Service" not in {d["kind"] for d in socket_mode}
    monitor = next(d for d in render("overlays/prometheus-operator")
                   if d["kind"] == "PodMonitor")
    assert monitor["metadata"]["namespace"] == "chatops"
    assert monitor["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"][
        "matchLabels"]
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s"}]
    assert cluster_role(render("overlays/secrets-view"), "chatops-bot-secrets-view") == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
    writes = cluster_role(render("overlays/write-tools"), "chatops-bot-writes")
    assert {verb for rule in writes for verb in rule["verbs"]} == {"patch", "delete"}


@needs_kubectl
def test_the_network_policy_lets_in_only_port_http_and_out_never_to_the_metadata_service(
        ) -> None:
    docs = render("base")
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")["spec"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert policy["podSelector"]["matchLabels"] == deployment["spec"]["selector"][
        "matchLabels"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    blocks = [peer["ipBlock"] for rule in policy["egress"] for peer in rule["to"]]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    assert all(b["except"] for b in blocks)
    metadata = ipaddress.ip_address("169.254.169.254")
    assert any(metadata in ipaddress.ip_network(cidr) for b in blocks for cidr in b["except"])


@needs_kubectl
def test_the_cluster_role_only_reads_and_never_secrets() -> None:
    rules = cluster_role(render("base"))
    for rule in rules:
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
        assert "secrets" not in rule["resources"]
        reviews = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}
        allowed = {"create"} if set(rule["resources"]) <= reviews else {"get", "list", "watch"}
        assert set(rule["verbs"]) <= allowed, rule


@pytest.fixture
def enforced(tmp_path: Path) -> AsyncIterator[FakeKubernetes]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl renders the Kustomize manifests")
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "logs.yaml",
                              FIXTURES / "describe.yaml"]).start()
    cluster.rules = cluster_role(render("base"))
    yield cluster
    cluster.stop()


@pytest.fixture
async def kube_services(tmp_path: Path, enforced: FakeKubernetes) -> AsyncIterator[Services]:
    built = await builtin_services(tmp_path, "kubectl", "k8sgpt", db="d.db",
                                   kubeconfig=enforced.kubeconfig(tmp_path / "kc",
                                                                  namespace="prod"))
    yield built
    await built.close()


async def test_every_read_the_kube_tools_make_is_allowed_by_the_cluster_role(
        kube_services: Services, enforced: FakeKubernetes) -> None:
    """Each command answers exactly as it does with no RBAC at all (so no read is refused,
    and none fails for another reason the comparison would hide)."""
    commands = [c for c in GET_COMMANDS + DESCRIBE_COMMANDS + SERVICE_DESCRIBE_COMMANDS  # reads:
                if "secret" not in c and "get all" not in c and "can-i" not in c]  # can-i no
    commands += [f"{c} -n shop" for c in LOG_COMMANDS]
    commands += ["auth can-i list pods", "auth whoami", "top pods", "top nodes", "events",
                 "api-resources", "explain deployment.spec", "logs deploy/web --tail 1"]

    async def answer(command: str) -> tuple[bool, str]:
        if command == "k8sgpt_analyze":
            result = await kube_services.registry.call("k8sgpt_analyze", {})
        else:
            result = await kube_services.registry.call("run_kubectl", {"command": command})
        return result.ok, result.text

    role = enforced.rules
    unrestricted, restricted = {}, {}
    for command in [*commands, "k8sgpt_analyze"]:  # side by side, so the clock moves little
        enforced.rules = None
        unrestricted[command] = await answer(command)
        enforced.rules = role
        restricted[command] = await answer(command)
    differ = {c: restricted[c][1][:300] for c in restricted
              if without_ages(restricted[c]) != without_ages(unrestricted[c])}
    assert not differ, differ
    assert sum(ok for ok, _ in restricted.values()) > 0.9 * len(restricted)
    assert json.loads(restricted["k8sgpt_analyze"][1])["errors"] is None


async def test_a_secret_read_is_refused_in_one_sentence(kube_services: Services) -> None:
    result = await kube_services.registry.call("run_kubectl",
                                               {"command": "get secrets -n prod"})
    assert not result.ok
    assert "may not list secrets in namespace prod (HTTP 403, RBAC)" in result.text
    assert len(result.text.strip().splitlines()) == 1


def test_the_sample_alerts_use_only_metrics_the_bot_exports() -> None:
    import re

    from bot.metrics import Metrics

    exported = {sample.name for family in Metrics().registry.collect()
                for sample in family.samples} | {
        family.name + suffix for family in Metrics().registry.collect()
        for suffix in ("_total", "_bucket", "_count", "_sum", "")}
    rules = yaml.safe_load((REPO / "deploy" / "alerts.yaml").read_text())
    used = {name for group in rules["groups"] for rule in group["rules"]
            for name in re.findall(r"chatops_[a-z_]+", rule["expr"])}
    assert used and used <= exported, used - exported


def test_the_sample_alerts_are_valid_and_fire_when_they_should() -> None:
    """promtool, Prometheus' own checker: the rules load, and deploy/alerts_test.yaml's
    series fire each alert (and leave a healthy bot alone)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool must be installed in CI (.ci/run installs prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    for command in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts_test.yaml"]):
        done = subprocess.run([promtool, *command], cwd=REPO / "deploy", capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stdout + done.stderr


WRITE_CALLS = [
    ("kubectl_rollout_restart", {"kind": "deployment", "name": "web", "namespace": "prod"}),
    ("kubectl_rollout_restart", {"kind": "daemonset", "name": "node-exporter",
                                 "namespace": "ops"}),
    ("kubectl_scale", {"kind": "deployment", "name": "checkout-api", "namespace": "prod",
                       "replicas": 2}),
    ("kubectl_delete_pod", {"name": "image-broken-6c7d8e9f0-qwert", "namespace": "prod"}),
]


async def test_the_write_tools_need_the_write_overlay_and_nothing_more(
        tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl renders the Kustomize manifests")
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "describe.yaml"]).start()
    services = await builtin_services(tmp_path, "kubectl", db="w.db",
                                      kubeconfig=cluster.kubeconfig(tmp_path / "kc",
                                                                    namespace="prod"),
                                      config={"kubectl": {"allow_writes": True}})
    try:
        cluster.rules = cluster_role(render("base"))
        for name, args in WRITE_CALLS:
            refused = await services.registry.call(name, args)
            assert not refused.ok and "(HTTP 403, RBAC)" in refused.text, refused.text
        assert cluster.changes == []
        writes = render("overlays/write-tools")
        cluster.rules = cluster_role(writes) + cluster_role(writes, "chatops-bot-writes")
        for name, args in WRITE_CALLS:
            done = await services.registry.call(name, args)
            assert done.ok, done.text
        assert len(cluster.changes) == len(WRITE_CALLS)
    finally:
        await services.close()
        cluster.stop()
