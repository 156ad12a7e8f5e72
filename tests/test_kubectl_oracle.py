"""The real kubectl is the oracle: the commands an on-call SRE types, run through both
`kubectl` (v1.32 on PATH) and `run_kubectl`, against the same fake API server, must print
the same thing. The fake speaks TLS, wants the bearer token and serves discovery, Tables
and CRDs as kube-apiserver does — so kubectl itself runs against it unchanged."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import pytest

from bot.app import Services
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.test_kubectl import make_services

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="the real kubectl is the oracle; it is not on PATH")

GET_COMMANDS = [
    "get pods", "get pods -o wide", "get pods -A", "get po -n kube-system",
    "get pods -l app=web", "get pods --field-selector status.phase=Running",
    "get pod checkout-api-7d9f8b6c5-abcde", "get pods -o name",
    "get deploy", "get deployments -o wide", "get deployments.apps", "get deploy.v1.apps",
    "get deploy web", "get rs", "get sts", "get ds", "get jobs", "get cj", "get svc",
    "get svc -o wide", "get ep", "get ing", "get hpa", "get cm", "get secrets", "get sa",
    "get pvc", "get pv", "get sc", "get pdb", "get nodes", "get nodes -o wide", "get ns",
    "get events", "get deploy,svc", "get all", "get all -A",
    "get pod/web-5f6d7c8b9-xyz12 deploy/web", "get po,svc -A", "get ingressclasses",
    "get rollouts", "get ro -o wide", "get certificates", "get cert", "get crd",
    "get leases -A", "get networkpolicies", "get pods --show-labels",
    "get deploy -L app", "get pods -L app,pod-template-hash --no-headers",
    "get nodes --no-headers -o wide", "get deploy web --show-labels", "api-resources",
    "events", "events -A", "events --for pod/checkout-api-7d9f8b6c5-abcde",
    "events --for deploy/web", "events --types=Warning", "events --types Normal",
    "events -n kube-system",
    "get pods -o jsonpath={.items[*].metadata.name}",
    "get pod web-5f6d7c8b9-xyz12 -o jsonpath={.status.podIP}",
    """get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}"""
    """{.status.phase}{"\\n"}{end}'""",
    "get deploy -o custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,"
    "IMAGE:.spec.template.spec.containers[*].image",
    "get pods --sort-by=.metadata.creationTimestamp",
    "get pods --sort-by=.status.containerStatuses[0].restartCount -o wide",
    "get ro -o jsonpath={.items[0].status.phase}",
    """get cert -o jsonpath='{.items[?(@.metadata.name=="checkout-tls")]"""
    """.status.conditions[0].message}'""",
    "get pods -o jsonpath={.items[0].metadata.labels}",
    "get nodes -o custom-columns=NAME:.metadata.name,KUBELET:.status.nodeInfo.kubeletVersion "
    "--no-headers",
    "get deploy web -o jsonpath={.spec.template.spec.containers[0].resources}",
    "auth can-i list pods", "auth can-i list pods -n secure", "auth can-i delete pods",
    "auth can-i get deployments.apps", "auth can-i list pods -A",
    "auth can-i get pod/web-5f6d7c8b9-xyz12", "auth can-i watch ro", "auth whoami",
    "auth can-i --list", "auth can-i --list -n secure", "auth can-i --list --no-headers",
    "get pods -o custom-columns=N:.metadata.name,P:.spec.priority --no-headers",
    "get --raw /healthz", "get --raw /readyz", "get --raw /version",
    "explain pods", "explain pod.spec", "explain pod.spec.containers",
    "explain pod.spec.restartPolicy", "explain deploy.spec.strategy --recursive",
    "explain svc.spec.type", "explain pod.metadata.labels", "explain hpa.spec.metrics",
    "explain cert", "explain cert.spec.issuerRef.name", "explain certificates.spec.privateKey",
    "explain ro", "explain pod.spec.containers.ports --recursive", "explain node.status",
    "top pods", "top nodes", "top pods -A", "top po -n kube-system",
    "rollout status deployment/web", "rollout history deployment/web",
    "rollout history sts/memhog", "rollout status deploy/checkout-api --watch=false",
]


@pytest.fixture(scope="module")
def fake() -> AsyncIterator[FakeKubernetes]:
    cluster = FakeKubernetes().start()
    cluster.forbidden_namespaces.add("secure")  # RBAC: the bot's role does not reach it
    cluster.denied.add(("delete", "pods", None))
    yield cluster
    cluster.stop()


@pytest.fixture
async def services(tmp_path: Path, fake: FakeKubernetes) -> AsyncIterator[Services]:
    built = await make_services(tmp_path, fake.kubeconfig(tmp_path / "kc", namespace="prod"))
    yield built
    await built.close()


def real_kubectl(kubeconfig: Path, command: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *shlex.split(command)],
                          capture_output=True, text=True, timeout=60)
    no = command.startswith("auth can-i") and done.stdout.strip() == "no"  # kubectl exits 1
    assert done.returncode == 0 or no, done.stderr
    text = (done.stdout or done.stderr).rstrip("\n")
    if command.startswith("top"):  # kubectl's top printer ends each line with its padding
        text = "\n".join(line.rstrip() for line in text.splitlines())
    return text


Same = Callable[[str, str, str], bool]  # command, ours, kubectl's


async def differences(services: Services, commands: list[str], kubectl: Callable[[str], str],
                      same: Same = lambda _, ours, theirs: ours == theirs) -> str:
    """Each command through kubectl and through run_kubectl: what differs, shown side by
    side (empty when nothing does)."""
    found = []
    for command in commands:
        expected = kubectl(command)
        result = await services.registry.call("run_kubectl", {"command": command})
        if not same(command, result.text, expected):
            found.append(f"$ kubectl {command}\n--- kubectl\n{expected}\n--- ours\n"
                         f"{result.text}")
    return "\n\n".join(found)


async def differences_on_new_services(tmp_path: Path, kubeconfig: Path, commands: list[str],
                                      kubectl: Callable[[Path, str], str], same: Same) -> str:
    """`differences` through services of their own on `kubeconfig` (another fake cluster)."""
    services = await make_services(tmp_path, kubeconfig)
    try:
        return await differences(services, commands, partial(kubectl, kubeconfig), same)
    finally:
        await services.close()


async def test_get_prints_what_kubectl_prints(services: Services, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    differ = await differences(services, GET_COMMANDS, partial(real_kubectl, kubeconfig))
    assert not differ, differ


LOG_COMMANDS = [
    "logs orders-7f8e9d0c1-aaaaa --tail 2", "logs orders-7f8e9d0c1-bbbbb --tail 2",
    "logs pod/orders-7f8e9d0c1-bbbbb -c orders --tail 3", "logs deploy/orders --tail 2",
    "logs deployment/orders -c envoy --tail 1", "logs -l app=orders",
    "logs -l app=orders --prefix --tail 1 -c envoy",
    "logs orders-7f8e9d0c1-aaaaa --all-containers --tail 1",
    "logs orders-7f8e9d0c1-aaaaa --all-containers --prefix --tail 1",
    "logs orders-7f8e9d0c1-bbbbb -c orders --timestamps --tail 2",
    "logs -l app=orders --all-containers --prefix --tail 1",
]


@pytest.fixture
def shop(tmp_path: Path) -> AsyncIterator[FakeKubernetes]:
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                              FIXTURES / "logs.yaml", FIXTURES / "describe.yaml"]).start()
    yield cluster
    cluster.stop()


def kubectl_with_notices(kubeconfig: Path, command: str) -> str:
    """What the SRE sees in a terminal: kubectl's notices (stderr) above the log."""
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *command.split()],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (done.stderr + done.stdout).rstrip("\n")


def same_log(command: str, ours: str, theirs: str) -> bool:
    """kubectl reads several streams (-l, --all-containers) concurrently, so their order
    varies from run to run; the lines must be the same."""
    if "-l" in command.split() or "--all-containers" in command.split():
        return sorted(ours.splitlines()) == sorted(theirs.splitlines())
    return ours == theirs


async def test_logs_print_what_kubectl_prints(shop: FakeKubernetes, tmp_path: Path) -> None:
    kubeconfig = shop.kubeconfig(tmp_path / "kc", namespace="shop")
    differ = await differences_on_new_services(tmp_path, kubeconfig, LOG_COMMANDS,
                                               kubectl_with_notices, same_log)
    assert not differ, differ


async def test_the_fake_pages_lists_as_kube_apiserver_does(services: Services,
                                                         tmp_path: Path) -> None:
    """kubectl reads lists in pages (limit/continue); two at a time it prints the same."""
    paged = real_kubectl(tmp_path / "kc", "get pods -A --chunk-size=2")
    result = await services.registry.call("run_kubectl", {"command": "get pods -A"})
    assert result.text == paged
    assert len(paged.splitlines()) > 5  # several pages were needed


async def test_version_names_the_server_as_kubectl_does(services: Services,
                                                        tmp_path: Path) -> None:
    theirs = real_kubectl(tmp_path / "kc", "version").splitlines()
    result = await services.registry.call("run_kubectl", {"command": "version"})
    assert result.text in theirs  # kubectl adds its own client's version; there is no client
    assert result.text == "Server Version: v1.30.2"


DESCRIBE_COMMANDS = [
    "describe pods", "describe pods -n default", "describe pod checkout-api-7d9f8b6c5-abcde",
    "describe po/memhog-0", "describe pods -n shop", "describe pods -l app=web",
    "describe pods -n ops", "describe deploy", "describe deploy web -n prod",
    "describe deploy -n shop", "describe rs", "describe sts memhog", "describe ds -n ops",
    "describe job", "describe job reindex -n ops", "describe cj", "describe hpa",
    "describe hpa -n ops", "describe svc", "describe svc -n ops", "describe ep",
    "describe ep -n ops", "describe ing", "describe ingressclass", "describe secret",
    "describe cm", "describe pvc", "describe pvc -n ops", "describe pv", "describe nodes",
    "describe node node-1", "describe ns prod", "describe ns ops", "describe quota -n ops",
    "describe limits -n ops", "describe ro", "describe ro payments", "describe cert",
    "describe certificates.cert-manager.io web-tls", "describe crd rollouts.argoproj.io",
    "describe lease node-1 -n kube-node-lease", "describe all -n ops",
    "describe pod/web-5f6d7c8b9-xyz12 deploy/web", "describe svc,ep -n ops",
]
# kubectl prints these from Go maps, whose order changes from run to run (a Secret's keys,
# a limit range's resources); ours are sorted, so the lines are compared as sets.
MAP_ORDER = ("describe secret", "describe ns ops", "describe limits -n ops")


def same_describe(command: str, ours: str, theirs: str) -> bool:
    if command in MAP_ORDER:
        return sorted(ours.splitlines()) == sorted(theirs.splitlines())
    return ours == theirs


async def test_describe_prints_what_kubectl_prints(shop: FakeKubernetes,
                                                   tmp_path: Path) -> None:
    """Every kind with a describer, and CRDs in the generic form: every line, alignment
    included."""
    kubeconfig = shop.kubeconfig(tmp_path / "kc", namespace="prod")
    differ = await differences_on_new_services(tmp_path, kubeconfig, DESCRIBE_COMMANDS,
                                               real_kubectl, same_describe)
    assert not differ, differ
