"""The kubectl builtin against the fake Kubernetes API, through the registry."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.app import Services
from tests.conftest import REPO
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.helpers.kube import SECRET_VALUES, make_services
from tests.helpers.processes import run_bot


@pytest.fixture
async def services(tmp_path: Path, cluster: FakeKubernetes) -> AsyncIterator[Services]:
    built = await make_services(tmp_path, cluster.kubeconfig(tmp_path / "kc", namespace="prod"))
    yield built
    await built.close()


async def kubectl(services: Services, command: str) -> str:
    result = await services.registry.call("run_kubectl", {"command": command})
    assert result.ok, result.text
    return result.text


async def refused(services: Services, command: str) -> str:
    result = await services.registry.call("run_kubectl", {"command": command})
    assert not result.ok, result.text
    return result.text


def rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{3,}", line.strip()) for line in text.splitlines()]


async def test_get_pods_looks_like_kubectl(services: Services) -> None:
    table = rows(await kubectl(services, "get pods"))
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    by_name = {r[0]: r[1:4] for r in table[1:]}
    crashing = by_name["checkout-api-7d9f8b6c5-abcde"]
    assert crashing[:2] == ["0/1", "CrashLoopBackOff"]
    assert re.fullmatch(r"7 \(\d+d\d*h? ago\)", crashing[2])  # a current crash or an old one
    assert by_name["image-broken-6c7d8e9f0-qwert"] == ["0/1", "ImagePullBackOff", "0"]
    assert by_name["web-5f6d7c8b9-xyz12"] == ["1/1", "Running", "0"]
    assert by_name["pending-7b8c9d0e1-zzzzz"] == ["0/1", "Pending", "0"]
    assert all(re.fullmatch(r"\d+[smhdy][\dsmh]*", r[4]) for r in table[1:])


async def test_leading_kubectl_all_namespaces_and_wide(services: Services) -> None:
    table = rows(await kubectl(services, "kubectl get po -A -o wide"))
    assert table[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                        "NOMINATED NODE", "READINESS GATES"]
    assert {r[0] for r in table[1:]} == {"prod", "default"}
    pending = next(r for r in table if r[1].startswith("pending-"))
    assert pending[-4:] == ["<none>"] * 4


async def test_label_and_field_selectors_and_names(services: Services) -> None:
    assert (await kubectl(services, "get pods -l app=web -o name")).splitlines() == [
        "pod/web-5f6d7c8b9-xyz12", "pod/web-5f6d7c8b9-abc34", "pod/web-5f6d7c8b9-def56"]
    running = rows(await kubectl(services, "get pods --field-selector status.phase=Pending"))
    assert {r[0] for r in running[1:]} == {"image-broken-6c7d8e9f0-qwert",
                                           "pending-7b8c9d0e1-zzzzz"}


async def test_several_kinds_and_short_names(services: Services) -> None:
    text = await kubectl(services, "get deploy,svc")
    assert "deployment.apps/checkout-api   0/2" in text
    assert re.search(r"service/web\s+ClusterIP\s+10\.96\.\d+\.10\s+<none>\s+80/TCP", text)


@pytest.mark.parametrize(("command", "header"), [
    ("get nodes", ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]),
    ("get rs", ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]),
    ("get sts", ["NAME", "READY", "AGE"]),
    ("get pvc", ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                 "VOLUMEATTRIBUTESCLASS", "AGE"]),
    ("get ing", ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]),
    ("get cj", ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]),
    ("get jobs", ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]),
    ("get hpa", ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]),
    ("get ns", ["NAME", "STATUS", "AGE"]),
    ("get secrets", ["NAME", "TYPE", "DATA", "AGE"]),
])
async def test_columns_per_kind(services: Services, command: str, header: list[str]) -> None:
    assert rows(await kubectl(services, command))[0] == header


async def test_node_status_and_json_output(services: Services) -> None:
    nodes = {r[0]: r[1] for r in rows(await kubectl(services, "get nodes"))[1:]}
    assert nodes == {"node-1": "Ready", "node-2": "NotReady"}
    data = json.loads(await kubectl(services, "get deploy web -o json"))
    assert (data["kind"], data["metadata"]["name"], data["status"]["readyReplicas"]) == (
        "Deployment", "web", 3)


async def test_describe_shows_the_objects_events(services: Services) -> None:
    text = await kubectl(services, "describe pod checkout-api-7d9f8b6c5-abcde")
    assert text.startswith("Name:             checkout-api-7d9f8b6c5-abcde\n"
                           "Namespace:        prod")
    assert "CrashLoopBackOff" in text
    assert re.search(r"Warning\s+BackOff\s+\S+ \(x23 over \S+\)\s+kubelet", text)


async def test_logs_with_container_tail_previous_and_since(services: Services,
                                                          cluster: FakeKubernetes) -> None:
    assert await kubectl(services, "logs checkout-api-7d9f8b6c5-abcde --tail 1") == (
        'FATAL: password authentication failed for user "checkout"')
    previous = await kubectl(services, "logs pod/checkout-api-7d9f8b6c5-abcde -p --tail=2")
    assert previous.splitlines()[-1] == "exiting with code 1"
    assert await kubectl(services, "logs sidecar-app-0 -n default -c proxy") == "proxy ready"
    await kubectl(services, "logs web-5f6d7c8b9-xyz12 --since 5m")
    assert any("sinceSeconds=300" in r for r in cluster.requests)
    defaulted = await kubectl(services, "logs sidecar-app-0 -n default")  # no 400: as kubectl
    assert defaulted == 'Defaulted container "app" out of: app, proxy\napp ready'
    unknown = await refused(services, "logs sidecar-app-0 -n default -c nope")
    assert "container nope is not valid for pod sidecar-app-0" in unknown


async def test_events_sorted_by_time(services: Services) -> None:
    table = rows(await kubectl(services, "events"))  # `get events` is in the server's order
    assert table[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    reasons = [r[2] for r in table[1:]]
    assert reasons[0] == "ScalingReplicaSet" and reasons[-1] == "Unhealthy"
    listed = rows(await kubectl(services, "get events"))
    assert listed[0] == table[0] and len(listed) == len(table)


async def test_top_pods_and_nodes(services: Services, cluster: FakeKubernetes) -> None:
    pods = rows(await kubectl(services, "top pods"))
    assert pods[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert ["memhog-0", "250m", "240Mi"] in pods
    nodes = rows(await kubectl(services, "top nodes"))
    assert nodes[1] == ["node-1", "1250m", "32%", "6144Mi", "41%"]  # truncated, as kubectl
    cluster.metrics_installed = False
    assert "metrics-server is not installed" in await refused(services, "top pods")


async def test_rollout_status_and_history(services: Services) -> None:
    assert await kubectl(services, "rollout status deployment/web") == (
        'deployment "web" successfully rolled out')
    assert await kubectl(services, "rollout status deploy checkout-api") == (
        'Waiting for deployment "checkout-api" rollout to finish: 0 of 2 updated replicas are '
        "available...")
    history = await kubectl(services, "rollout history deployment/web")
    assert history.splitlines() == ["deployment.apps/web ", "REVISION  CHANGE-CAUSE",
                                    "2         deploy web revision 2",
                                    "3         deploy web revision 3"]
    assert "cannot watch" in await refused(services, "rollout status deployment/web -w")


async def test_api_resources(services: Services) -> None:
    table = rows(await kubectl(services, "api-resources"))
    assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in table


@pytest.mark.parametrize("command", [
    "delete pod x", "apply -f x.yaml", "exec -it web -- sh", "edit deploy web",
    "scale deploy web --replicas 0", "port-forward svc/web 8080:80", "cp web:/etc/passwd .",
    "proxy", "rollout restart deploy web", "rollout undo deploy web", "patch deploy web",
    "label pod x a=b", "drain node-1", "cordon node-1"])
async def test_changing_verbs_are_refused(services: Services, command: str) -> None:
    text = await refused(services, command)
    assert "not allowed" in text and "read-only" in text


@pytest.mark.parametrize("command", [
    "get pods; kubectl delete pod x", "get pods | grep web", "get pods && rm -rf /",
    "get pods $(whoami)", "get pods `id`", "get pods > /tmp/x", "get pods\ndelete pod x"])
async def test_shell_metacharacters_are_refused(services: Services, command: str) -> None:
    assert (await refused(services, command)).startswith("Shell syntax")


@pytest.mark.parametrize("command", [
    "get secret db-credentials -o yaml", "get secret db-credentials -o json",
    "get secrets -o yaml", "describe secret db-credentials", "get secrets",
    "get all-the-things", "describe secrets", "get secret applied-credentials -o json",
    "get secrets -o wide --show-labels", "get secrets -A -o yaml", "get secrets -o name",
    "describe secret applied-credentials",
    "get secret db-credentials -o jsonpath={.data.password}",
    "get secrets -o jsonpath={..data}", "get secrets -o custom-columns=N:.metadata.name,D:.data",
    "get secrets --sort-by=.data.password",
    "get secret applied-credentials -o jsonpath={.metadata.annotations}"])
async def test_secret_values_never_appear(services: Services, command: str) -> None:
    result = await services.registry.call("run_kubectl", {"command": command})
    for value in SECRET_VALUES:
        assert value not in result.text


async def test_secret_shows_keys_and_sizes(services: Services) -> None:
    data = yaml.safe_load(await kubectl(services, "get secret db-credentials -o yaml"))
    assert data["data"] == {"username": "<8 bytes>", "password": "<15 bytes>"}
    described = await kubectl(services, "describe secret db-credentials")
    assert "password:  15 bytes" in described


async def test_describe_hides_a_service_account_token_that_kubectl_would_print(
        tmp_path: Path) -> None:
    """kubectl describe prints a service-account token in full; the bot shows its size."""
    fake = FakeKubernetes([FIXTURES / "cluster.yaml", FIXTURES / "describe.yaml"]).start()
    services = await make_services(tmp_path, fake.kubeconfig(tmp_path / "kc", namespace="ops"))
    try:
        for command in ("describe secret exporter-sa-token", "describe secrets",
                        "get secret exporter-sa-token -o yaml"):
            text = await kubectl(services, command)
            assert "exporter-sa-token" in text  # the Secret was there to leak
            assert "sa-token-value" not in text and "ZXlKaGJHY2" not in text
        described = await kubectl(services, "describe secret exporter-sa-token")
        assert "token:      60 bytes" in described
    finally:
        await services.close()
        fake.stop()


async def test_explain_reads_the_clusters_openapi_and_says_when_a_field_is_missing(
        services: Services, cluster: FakeKubernetes) -> None:
    text = await kubectl(services, "explain cert.spec.issuerRef")
    assert text.startswith("GROUP:      cert-manager.io\nKIND:       Certificate\n")
    assert "name\t<string> -required-" in text
    assert await refused(services, "explain pod.spec.nope") == (
        'The field "nope" does not exist in Pod; `explain pod.spec` lists the fields there.')
    assert (await refused(services, "explain gizmos")).startswith(
        'The server has no resource type "gizmos".')
    documents = [r for r in cluster.requests if r.startswith("/openapi/v3/")]
    await kubectl(services, "explain cert.spec")  # the document's URL has its hash: cached
    assert [r for r in cluster.requests if r.startswith("/openapi/v3/")] == documents


async def test_namespace_deny_and_allow_lists(tmp_path: Path,
                                              cluster: FakeKubernetes) -> None:
    kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
    denied = await make_services(tmp_path / "a", kubeconfig, namespace_deny=["kube-system"])
    allowed = await make_services(tmp_path / "b", kubeconfig, namespace_allow=["prod"])
    try:
        assert await refused(denied, "get pods -n kube-system") == (
            "The namespace 'kube-system' is off limits for this bot.")
        assert (await denied.registry.call("run_kubectl", {"command": "get pods"})).ok
        assert await refused(allowed, "get pods -n default") == (
            "The namespace 'default' is off limits for this bot.")
        assert (await refused(allowed, "get pods -A")).startswith(
            "Listing across all namespaces (-A) is not allowed here")
    finally:
        await denied.close()
        await allowed.close()


async def test_api_errors_are_one_sentence_naming_the_object(services: Services,
                                                             cluster: FakeKubernetes) -> None:
    assert await refused(services, "get pod nope") == (
        'Not found while getting pod nope in namespace prod: pods "nope" not found.')
    cluster.forbidden_namespaces.add("secure")
    forbidden = await refused(services, "get pods -n secure")
    assert forbidden == (
        "The bot's Kubernetes identity system:serviceaccount:chatops:bot may not list pods in "
        "namespace secure (HTTP 403, RBAC): grant it a Role or ClusterRole with that verb, or "
        "ask about something it can read.")


async def test_bad_credentials_and_unreachable_server(tmp_path: Path,
                                                      cluster: FakeKubernetes) -> None:
    wrong = await make_services(tmp_path / "a", cluster.kubeconfig(tmp_path / "kc1",
                                                                   token="wrong"))
    gone_path = tmp_path / "kc2"
    gone_path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "u"}}]}))
    gone = await make_services(tmp_path / "b", gone_path)
    try:
        assert await refused(wrong, "get pods") == (
            "The cluster rejected the bot's credentials (HTTP 401) while discovering the "
            "cluster's resource types.")
        assert await refused(gone, "get nodes") == (
            "The Kubernetes API server at http://127.0.0.1:9 is unreachable (while "
            "discovering the cluster's resource types).")
    finally:
        await wrong.close()
        await gone.close()


async def test_run_kubectl_answers_through_the_registry_and_disabling_removes_it(
        services: Services) -> None:
    assert "run_kubectl" in services.registry.snapshot
    info = await services.plugins.info("kubectl")
    assert (info.source, info.status) == ("builtin", "enabled")
    await services.plugins.disable("kubectl", actor="U_ADMIN")
    result = await services.registry.call("run_kubectl", {"command": "get pods"})
    assert result.error == "unknown_tool"


async def test_slow_api_server_times_out_with_one_sentence(tmp_path: Path,
                                                           cluster: FakeKubernetes) -> None:
    services = await make_services(tmp_path, cluster.kubeconfig(tmp_path / "kc",
                                                                namespace="prod"),
                                   request_timeout=0.5)
    cluster.delay_paths["/api/v1/namespaces/prod/pods"] = 2
    try:
        assert await refused(services, "get pods") == (
            "The Kubernetes API server did not answer within 0.5 s while listing pods in "
            "namespace prod.")
    finally:
        await services.close()


def test_run_kubectl_through_the_cli(tmp_path: Path, cluster: FakeKubernetes) -> None:

    from tests.conftest import subprocess_env
    env = subprocess_env(tmp_path, REPO / "plugins",
                         KUBECONFIG=str(cluster.kubeconfig(tmp_path / "kc", namespace="prod")))
    ok = run_bot(env, "plugin", "call", "run_kubectl", '{"command": "get deploy web"}')
    assert ok.returncode == 0, ok.stderr
    assert rows(ok.stdout)[1][:4] == ["web", "3/3", "3", "3"]
    assert len(cluster.discovery_requests()) > 5
    cluster.requests.clear()  # the next process starts from the copy the first one saved
    again = run_bot(env, "plugin", "call", "run_kubectl", '{"command": "get deploy web"}')
    assert again.stdout == ok.stdout
    assert cluster.requests == ["/apis/apps/v1/namespaces/prod/deployments/web"]
    no = run_bot(env, "plugin", "call", "run_kubectl",
                 '{"command": "scale deploy web --replicas 0"}')
    assert no.returncode == 1 and no.stderr.startswith("`kubectl scale` is not allowed")


@pytest.mark.parametrize(("command", "says"), [
    ("get pods -o jsonpath={.items[0].metadata.name", "error parsing jsonpath template: "
                                                     "unclosed { in the template"),
    ("get pods -o jsonpath='{range .items[*]}{.metadata.name}'", "{range} without an {end}"),
    ("get pods -o jsonpath={.items[99].metadata.name}", "array index out of bounds: index 99"),
    ("get pods -o custom-columns=NAME", "custom-columns needs HEADER:PATH pairs"),
    ("get pods -o jsonpath={.items[x]}", "[x] is not an index"),
    ("get pods -o template={{.kind}}", "-o template={{.kind}} is not supported"),
])
async def test_bad_templates_are_one_sentence(services: Services, command: str,
                                              says: str) -> None:
    assert says in await refused(services, command)


async def test_raw_reads_only_health_and_version(services: Services,
                                                 cluster: FakeKubernetes) -> None:
    said = await refused(services, "get --raw /api/v1/namespaces/prod/secrets")
    assert said.startswith("get --raw reads only /healthz, /readyz, /livez, /version")
    assert "auth can-i|whoami" in await refused(services, "exec web -- sh")
    await kubectl(services, "auth can-i delete pods")  # a question, not a change
    assert [method for method, _, _ in cluster.changes] == ["POST"]
    assert cluster.changes[0][1].endswith("/selfsubjectaccessreviews")


@pytest.mark.parametrize(("seconds", "shown"), [
    (-5, "0s"), (59, "59s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (179 * 60, "179m"),
    (3 * 3600 + 60, "3h1m"), (47 * 3600, "47h"), (3 * 86400 + 3600, "3d1h"), (8 * 86400, "8d"),
    (729 * 86400, "729d"), (3 * 365 * 86400 + 5 * 86400, "3y5d"), (9 * 365 * 86400, "9y")])
def test_ages_read_as_kubectl_prints_them(seconds: int, shown: str) -> None:
    from bot.kube import human_duration

    assert human_duration(seconds) == shown


async def test_a_field_selector_the_server_does_not_support_is_its_sentence(
        services: Services) -> None:
    said = await refused(services, "get pods --field-selector spec.foo=bar")
    assert said == ("The Kubernetes API answered HTTP 400 while listing pods in namespace "
                    "prod: field label not supported: spec.foo")
    assert await kubectl(services, "get pods --field-selector spec.nodeName=node-1 -o name")


def test_the_fake_refuses_a_malformed_continue_token(cluster: FakeKubernetes,
                                                     tmp_path: Path) -> None:
    from bot import kube

    api = kube.connect(str(cluster.kubeconfig(tmp_path / "kc", namespace="prod"))).api()
    first = kube.request(api, "/api/v1/pods", query={"limit": 2}, what="listing pods")
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] > 0
    rest = kube.request(api, "/api/v1/pods", what="listing pods",
                        query={"limit": 100, "continue": first["metadata"]["continue"]})
    assert "continue" not in rest["metadata"]
    with pytest.raises(kube.ClusterError, match=r"HTTP 400 .*continue key is not valid"):
        kube.request(api, "/api/v1/pods", query={"limit": 2, "continue": "%%%"},
                     what="listing pods")


@pytest.mark.parametrize(("command", "read_only"), [
    ("delete pod web-1", True), ("exec web-1 -- sh", True), ("scale deploy/web --replicas 0",
                                                             True),
    ("wait --for=condition=Ready pod/web-1", False), ("config view", False),
    ("cluster-info dump", False), ("get pods --all-namespaces=maybe", False)])
async def test_a_refusal_says_why_and_calls_only_writes_read_only(
        services: Services, command: str, read_only: bool) -> None:
    """A read this tool does not run is never called a write (issue 30)."""
    text = await refused(services, command)
    assert ("this tool is read-only" in text) == read_only, text
    assert text.endswith(".")
