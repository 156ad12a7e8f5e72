"""The real kubectl is the oracle: the commands an on-call SRE types, run through both
`kubectl` and `run_kubectl`, against the same fake API server, must print
the same thing. The fake speaks TLS, wants the bearer token and serves discovery, Tables
and CRDs as kube-apiserver does — so kubectl itself runs against it unchanged. The kubectl
on PATH here is the Google Cloud SDK's dispatcher, which runs the client matching the
server's minor version, as the version-skew policy asks: v1.30.13 for the fake's v1.30.2
(v1.32 where a fake says it is 1.32: for what kubectl 1.31 changed)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import pytest

from bot.app import Services
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.helpers.kube import (
    DESCRIBE_COMMANDS,
    GET_COMMANDS,
    LOG_COMMANDS,
    SERVICE_DESCRIBE_COMMANDS,
    make_services,
)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="the real kubectl is the oracle; it is not on PATH")


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
                          capture_output=True, text=True)
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


# In four shares, so that parallel workers take them side by side: one at 127 kubectl runs
# was the suite's longest test and ended it on one core.
SHARES = 4


@pytest.mark.parametrize("share", range(SHARES))
async def test_get_prints_what_kubectl_prints(services: Services, tmp_path: Path,
                                              share: int) -> None:
    kubeconfig = tmp_path / "kc"
    differ = await differences(services, GET_COMMANDS[share::SHARES],
                               partial(real_kubectl, kubeconfig))
    assert not differ, differ


@pytest.fixture
def shop(tmp_path: Path) -> AsyncIterator[FakeKubernetes]:
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                              FIXTURES / "logs.yaml", FIXTURES / "describe.yaml"]).start()
    yield cluster
    cluster.stop()


def kubectl_with_notices(kubeconfig: Path, command: str) -> str:
    """What the SRE sees in a terminal: kubectl's notices (stderr) above the log."""
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *command.split()],
                          capture_output=True, text=True)
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


# kubectl prints these from Go maps, whose order changes from run to run (a Secret's keys,
# a limit range's resources); ours are sorted, so the lines are compared as sets.
MAP_ORDER = ("describe secret", "describe ns ops", "describe limits -n ops")


def same_describe(command: str, ours: str, theirs: str) -> bool:
    if command in MAP_ORDER:
        return sorted(ours.splitlines()) == sorted(theirs.splitlines())
    return ours == theirs


@pytest.mark.parametrize("share", range(2))
async def test_describe_prints_what_kubectl_prints(shop: FakeKubernetes, tmp_path: Path,
                                                   share: int) -> None:
    """Every kind with a describer, and CRDs in the generic form: every line, alignment
    included."""
    kubeconfig = shop.kubeconfig(tmp_path / "kc", namespace="prod")
    differ = await differences_on_new_services(tmp_path, kubeconfig, DESCRIBE_COMMANDS[share::2],
                                               real_kubectl, same_describe)
    assert not differ, differ


def kubectl_minor(kubeconfig: Path) -> int:
    """The minor version of the kubectl client that answers for this server."""
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "version", "-o", "json"],
                          capture_output=True, text=True, check=True)
    return int(json.loads(done.stdout)["clientVersion"]["minor"].rstrip("+"))


async def test_services_are_described_from_their_endpoint_slices_as_kubectl_does(
        tmp_path: Path) -> None:
    """Since 1.31 kubectl reads a service's endpoints (and an ingress backend's) from its
    EndpointSlices — ready ones only, IPv6 in brackets, a placeholder slice shown as nothing —
    and shows the Internal Traffic Policy. The fake says it is 1.32 and mirrors its Endpoints
    into slices as the EndpointSlice controller does; a list of slices the role may not make
    is "<none>" for a service and the API's reason for an ingress backend, as in kubectl."""
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                              FIXTURES / "describe.yaml", FIXTURES / "k8sgpt.yaml"],
                             version="1.32.0").start()
    try:
        kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
        if kubectl_minor(kubeconfig) < 31:
            pytest.skip("the kubectl on PATH is older than 1.31 (no EndpointSlices in describe)")
        differ = await differences_on_new_services(
            tmp_path, kubeconfig, SERVICE_DESCRIBE_COMMANDS, real_kubectl,
            lambda _, ours, theirs: ours == theirs)
        assert not differ, differ
        described = real_kubectl(kubeconfig, "describe svc -n ops")
        assert "[fd00:10:244::51]:9100,[fd00:10:244::52]:9100\n" in described  # not ::53
        assert "Internal Traffic Policy:  Local" in described

        cluster.denied.add(("list", "endpointslices", None))
        refused = ["describe svc -n ops", "describe ing -A"]
        differ = await differences_on_new_services(
            tmp_path, kubeconfig, refused, real_kubectl, lambda _, ours, theirs: ours == theirs)
        assert not differ, differ
        assert "endpointslices.discovery.k8s.io is forbidden" in real_kubectl(
            kubeconfig, "describe ing -A")
    finally:
        cluster.stop()


NO_TABLE_COMMANDS = [
    "get pods", "get pods -o wide", "get deploy -A", "get svc", "get nodes",
    "get pods --show-labels", "get pod checkout-api-7d9f8b6c5-abcde", "get deploy,svc",
    "get pods -L app", "get pods --no-headers", "get pods -l app=web", "get pods -n empty",
    "get po,svc -A", "get pods --sort-by=.metadata.name", "get pod/web-5f6d7c8b9-xyz12 svc/web",
]


async def test_a_server_without_tables_is_printed_as_kubectl_prints_it(
        tmp_path: Path) -> None:
    """Aggregated APIs and some proxies answer a plain List where a Table is asked for:
    kubectl then prints NAME and AGE — never "No resources found" while objects exist."""
    cluster = FakeKubernetes().start()
    cluster.without_tables = {"pods", "deployments", "services", "nodes"}
    try:
        kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
        differ = await differences_on_new_services(
            tmp_path, kubeconfig, NO_TABLE_COMMANDS, real_kubectl,
            lambda _, ours, theirs: ours == theirs)
        assert not differ, differ
        assert "No resources found" not in real_kubectl(kubeconfig, "get pods")  # it lists
    finally:
        cluster.stop()


async def test_log_options_the_api_refuses_are_never_sent(shop: FakeKubernetes,
                                                         tmp_path: Path) -> None:
    """kube-apiserver refuses tailLines < 0 and limitBytes < 1 (the fake too, as 422);
    `--tail=-1` means every line and is never sent; what kubectl itself refuses is one
    sentence, before any request."""
    from tests.fakes.k8s_server import TOKEN

    path = "/api/v1/namespaces/shop/pods/orders-7f8e9d0c1-aaaaa/log"
    for query in ({"container": "orders", "tailLines": "-1"},
                  {"container": "orders", "limitBytes": "0"}):
        status, body, _ = shop.answer(path, query, TOKEN)
        assert (status, body["reason"]) == (422, "Invalid"), query
    services = await make_services(tmp_path, shop.kubeconfig(tmp_path / "kc",
                                                             namespace="shop"))
    try:
        every = await services.registry.call(
            "run_kubectl", {"command": "logs orders-7f8e9d0c1-aaaaa --tail=-1"})
        assert every.ok and len(every.text.splitlines()) == 15
        assert not any("tailLines=-" in r for r in shop.requests)
        before = len(shop.requests)
        for command, says in (("--tail=-2", "--tail must be greater than or equal to -1"),
                              ("--limit-bytes=-5", "--limit-bytes must be greater than 0")):
            refused = await services.registry.call(
                "run_kubectl", {"command": f"logs orders-7f8e9d0c1-aaaaa {command}"})
            assert not refused.ok and refused.text.startswith(says), refused.text
        assert len(shop.requests) == before
    finally:
        await services.close()


ROLLOUTS = ["deploy/paused", "deploy/draining", "deploy/warming", "deploy/unseen",
            "deploy/steady", "ds/agent", "ds/collector", "sts/db", "sts/cache", "sts/queue",
            "sts/search"]
ROLLOUT_ERRORS = ["deploy/payments", "ds/legacy"]


@pytest.fixture
def rollouts(tmp_path: Path) -> AsyncIterator[FakeKubernetes]:
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "rollouts.yaml"]).start()
    yield cluster
    cluster.stop()


async def test_rollout_status_is_kubectls_for_every_kind_and_state(
        rollouts: FakeKubernetes, tmp_path: Path) -> None:
    """Deployments (progress deadline, paused, old replicas draining, spec not yet
    observed), daemon sets and stateful sets (partitions, revisions): what `kubectl rollout
    status --watch=false` prints; where kubectl exits 1, the same `error:` line as a
    failed call, never a "Waiting…" given with confidence."""
    kubeconfig = rollouts.kubeconfig(tmp_path / "kc", namespace="rollouts")

    def status(kubeconfig: Path, target: str) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "rollout", "status",
                               target, "--watch=false"], capture_output=True, text=True)
        error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        return done.stdout.rstrip("\n") if done.returncode == 0 else error[0]

    services = await make_services(tmp_path, kubeconfig)
    try:
        for target in ROLLOUTS + ROLLOUT_ERRORS:
            expected = status(kubeconfig, target)
            result = await services.registry.call(
                "run_kubectl", {"command": f"rollout status {target}"})
            assert result.text == expected, (target, result.text, expected)
            assert result.ok == (target not in ROLLOUT_ERRORS), target
    finally:
        await services.close()


TOP_COMMANDS = ["top pods", "top pods --sort-by=cpu", "top pods --sort-by=memory",
                "top pods -l app=web", "top pod web-5f6d7c8b9-xyz12", "top pods --containers",
                "top pods --containers --sort-by=cpu", "top pods -A",
                "top pods -A --sort-by=memory", "top nodes", "top nodes --sort-by=memory",
                "top node node-1", "top pods -n empty"]


async def test_top_sorts_selects_and_names_as_kubectl_does(tmp_path: Path) -> None:
    """"top pods by CPU" comes back by CPU; -l, a name and --containers are honoured;
    a node metrics-server has no metrics for is listed as <unknown>, as kubectl lists it."""
    cluster = FakeKubernetes().start()
    try:
        kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
        differ = await differences_on_new_services(tmp_path, kubeconfig, TOP_COMMANDS,
                                                   real_kubectl, lambda _, o, t: o == t)
        assert not differ, differ
        cluster.metrics["nodes"] = [m for m in cluster.metrics["nodes"]
                                    if m["metadata"]["name"] != "node-2"]
        differ = await differences_on_new_services(
            tmp_path / "again", kubeconfig, ["top nodes", "top nodes --sort-by=cpu"],
            real_kubectl, lambda _, o, t: o == t)
        assert not differ, differ
        assert "node-2   <unknown>" in real_kubectl(kubeconfig, "top nodes")
    finally:
        cluster.stop()


async def test_cluster_info_names_the_control_plane_and_the_cluster_services(
        tmp_path: Path) -> None:
    """What `kubectl cluster-info` prints, less its terminal colours: the control plane
    and each kube-system service labelled kubernetes.io/cluster-service (its first port,
    https guessed; a load balancer's address when it has one)."""
    import re

    cluster = FakeKubernetes()
    for name, label, ports, status in (
            ("kube-dns", "CoreDNS", [{"name": "dns", "port": 53}, {"name": "m", "port": 9153}],
             {}),
            ("dashboard", "", [{"port": 443}], {}),
            ("edge", "Edge", [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
             {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}})):
        labels = {"kubernetes.io/cluster-service": "true"} | (
            {"kubernetes.io/name": label} if label else {})
        cluster.objects["services"].append({
            "apiVersion": "v1", "kind": "Service", "status": status,
            "metadata": {"name": name, "namespace": "kube-system", "labels": labels,
                         "uid": f"svc-{name}", "creationTimestamp": "2026-10-01T00:00:00Z"},
            "spec": {"clusterIP": "10.96.0.10", "ports": ports}})
    cluster.start()
    try:
        kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
        differ = await differences_on_new_services(
            tmp_path, kubeconfig, ["cluster-info"],
            lambda kc, command: re.sub(r"\x1b\[[0-9;]*m", "", real_kubectl(kc, command)),
            lambda _, ours, theirs: ours == theirs)
        assert not differ, differ
    finally:
        cluster.stop()


POLICY_COMMANDS = ["describe netpol", "describe netpol api-ingress", "describe networkpolicy",
                   "describe pdb", "describe pdb api", "describe poddisruptionbudgets"]


async def test_network_policies_and_disruption_budgets_are_described_by_kubectls_describers(
        tmp_path: Path) -> None:
    """Each rule's ports and peers (pod and namespace selectors, IP blocks with exceptions),
    isolated and unaffected directions; a budget's min/max, selector and status."""
    cluster = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "policy.yaml"]).start()
    try:
        kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="policy")
        differ = await differences_on_new_services(tmp_path, kubeconfig, POLICY_COMMANDS,
                                                   real_kubectl, lambda _, o, t: o == t)
        assert not differ, differ
        assert "Except: 10.1.0.0/16, 10.2.0.0/16" in real_kubectl(kubeconfig,
                                                                  "describe netpol")
    finally:
        cluster.stop()


HISTORY_COMMANDS = ["rollout history deploy/web", "rollout history deploy/web --revision=2",
                    "rollout history deploy/web --revision 3", "rollout history deploy",
                    "rollout history ds -n ops", "rollout history sts/memhog",
                    "rollout history sts/memhog --revision=1",
                    "rollout history deploy/orders -n shop --revision=1"]


async def test_rollout_history_and_a_revisions_template_are_kubectls(
        shop: FakeKubernetes, tmp_path: Path) -> None:
    """History by revision (one workload, or every one of a kind), a revision's pod
    template, and a revision that does not exist as kubectl's error."""
    kubeconfig = shop.kubeconfig(tmp_path / "kc", namespace="prod")
    differ = await differences_on_new_services(tmp_path, kubeconfig, HISTORY_COMMANDS,
                                               real_kubectl, lambda _, o, t: o == t)
    assert not differ, differ
    services = await make_services(tmp_path / "more", kubeconfig)
    try:
        missing = await services.registry.call(
            "run_kubectl", {"command": "rollout history deploy/web --revision=1"})
        assert (missing.ok, missing.text) == (False,
                                              "error: unable to find the specified revision")
        every = await services.registry.call("run_kubectl",
                                             {"command": "rollout status deploy"})
        assert every.text == real_kubectl(kubeconfig, "rollout status deploy --watch=false")
    finally:
        await services.close()


async def test_version_as_json_or_yaml_is_kubectls_server_version(services: Services,
                                                                  tmp_path: Path) -> None:
    """kubectl adds its own client's version; there is no client here, so the server's
    object is the whole answer — the same fields, in the same order."""
    import json

    import yaml

    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        theirs = load(real_kubectl(tmp_path / "kc", f"version -o {fmt}"))["serverVersion"]
        result = await services.registry.call("run_kubectl", {"command": f"version -o {fmt}"})
        ours = load(result.text)
        assert list(ours) == ["serverVersion"] and ours["serverVersion"] == theirs
        assert list(ours["serverVersion"]) == list(theirs)
