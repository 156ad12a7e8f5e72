"""The Kubernetes tools' boundaries, attacked: names that walk out of their API path, a
namespace the operator denied, and credentials wherever an object keeps them. Each attack
must get one sentence back, reach nothing it names, and show nothing it masks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import kube
from bot.app import Services, build_services
from bot.config import load_settings
from bot.kube.masking import mask_objects
from bot.plugin_host.contract.protocol import Caller, ErrorKind
from bot.redaction import MASK
from tests.conftest import REPO
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.builtins import builtin_services
from tests.helpers.kube import SECRET_VALUES

# Credentials the boundaries fixture keeps in ordinary places, and Secret data.
LEAKS = (*SECRET_VALUES, "hunter2-in-a-configmap", "props-file-secret-42",
         "applied-env-token-777", "env-token-value-123456", "pw-in-args-98765",
         "url-password-5150", "event-bearer-token-31337", "log-line-password-2468",
         "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "a3ViZS1zeXN0ZW0tYm9vdHN0cmFwLXNlY3JldA",
         "kube-system-bootstrap-secret")
DENIED = {"namespace_deny": ["kube-system"]}


@pytest.fixture
def boundary_cluster() -> AsyncIterator[FakeKubernetes]:
    fake = FakeKubernetes((FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                           FIXTURES / "boundaries.yaml")).start()
    yield fake
    fake.stop()


async def _services(tmp_path: Path, fake: FakeKubernetes, config: dict[str, object],
                    **settings: object) -> Services:
    return await builtin_services(
        tmp_path, "kubectl", "k8sgpt", db="b.db",
        kubeconfig=fake.kubeconfig(tmp_path / "kc", namespace="prod"),
        config={"kubectl": {**config, "allow_writes": True}, "k8sgpt": config}, **settings)


@pytest.fixture
async def limited(tmp_path: Path, boundary_cluster: FakeKubernetes) -> AsyncIterator[Services]:
    services = await _services(tmp_path, boundary_cluster, DENIED)
    yield services
    await services.close()


@pytest.fixture
async def open_cluster(tmp_path: Path, boundary_cluster: FakeKubernetes
                       ) -> AsyncIterator[Services]:
    services = await _services(tmp_path, boundary_cluster, {})
    yield services
    await services.close()


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.rstrip().endswith((".", ")")) and len(text) < 400


TRAVERSALS = [
    "get pods ../secrets -o json",
    "get pod/../../secrets -o yaml",
    "get pods -n prod/../kube-system",
    "get pods -n ../kube-system",
    "describe pod ../secrets",
    "logs ../../secrets/db-credentials",
    "logs web-5f6d7c8b9-xyz12 -c ../../../secrets",
    "events --for pod/../../secrets",
    "rollout status deployment/../../../secrets",
    "rollout history deployment ../../secrets",
    "get pods web%2F..%2F..%2Fsecrets",
    "get pods -l 'app in (web),../x=y'",
    "get pods --field-selector 'metadata.name=a,../b'",
    "auth can-i list ../secrets",
    "top pods ../../secrets",
    "explain ../secrets",
    "get pods/. -o name",
    "get 'pods?x=1'",
]


@pytest.mark.parametrize("command", TRAVERSALS)
async def test_a_name_that_walks_out_of_its_path_is_refused_before_any_request(
        open_cluster: Services, boundary_cluster: FakeKubernetes, command: str) -> None:
    boundary_cluster.requests.clear()
    result = await open_cluster.registry.call("run_kubectl", {"command": command})
    assert not result.ok
    assert one_sentence(result.text), result.text
    assert boundary_cluster.requests == []  # not even discovery was asked
    assert not any(leak in result.text for leak in LEAKS)


@pytest.mark.parametrize(("tool", "arguments"), [
    ("kubectl_delete_pod", {"name": "../../namespaces/prod", "namespace": "prod"}),
    ("kubectl_delete_pod", {"name": "web-5f6d7c8b9-xyz12", "namespace": "prod/../kube-system"}),
    ("kubectl_scale", {"kind": "deployment", "name": "web/../../secrets", "namespace": "prod",
                       "replicas": 0}),
    ("kubectl_rollout_restart", {"kind": "deployment", "name": "..", "namespace": "prod"}),
])
async def test_the_write_tools_refuse_a_traversing_name_by_their_schema(
        open_cluster: Services, boundary_cluster: FakeKubernetes, tool: str,
        arguments: dict[str, object]) -> None:
    boundary_cluster.requests.clear()
    result = await open_cluster.registry.call(tool, arguments)
    assert not result.ok and result.error == ErrorKind.BAD_ARGUMENTS, result.text
    assert boundary_cluster.changes == [] and boundary_cluster.requests == []


async def test_the_write_handlers_check_names_themselves_too(
        open_cluster: Services, boundary_cluster: FakeKubernetes) -> None:
    """Past the schema (another caller, a looser schema), the handler still refuses."""
    from bot.sdk import ToolContext, ToolError
    from plugins.builtins.kubectl import writes

    ctx = ToolContext(config={})
    for call in (lambda: writes.delete_pod("..", "prod", ctx=ctx),
                 lambda: writes.delete_pod("web-1", "prod/../kube-system", ctx=ctx),
                 lambda: writes.scale("deployment", "web/../../x", "prod", 0, ctx=ctx)):
        with pytest.raises(ToolError, match="not a valid"):
            call()
    assert boundary_cluster.changes == []


DENIED_COMMANDS = [
    "get pods -n kube-system",
    "get pods -n kube-system -o yaml",
    "get pods -n kube-system -o json",
    "get pods -n kube-system -o name",
    "get pods -n kube-system -o jsonpath={.items[*].metadata.name}",
    "get pods -n kube-system -o custom-columns=N:.metadata.name",
    "get pods -n kube-system --sort-by=.metadata.name",
    "get secrets -n kube-system",
    "describe pod coredns-6d4b75cb6d-kqx8p -n kube-system",
    "describe namespace kube-system",
    "logs coredns-6d4b75cb6d-kqx8p -n kube-system",
    "logs deploy/coredns -n kube-system",
    "events -n kube-system",
    "top pods -n kube-system",
    "rollout status deployment/coredns -n kube-system",
    "rollout history deployment/coredns -n kube-system",
    "auth can-i list pods -n kube-system",
    "get pods -A",
]


@pytest.mark.parametrize("command", DENIED_COMMANDS)
async def test_a_denied_namespace_holds_for_every_verb_and_output(
        limited: Services, boundary_cluster: FakeKubernetes, command: str) -> None:
    boundary_cluster.requests.clear()
    result = await limited.registry.call("run_kubectl", {"command": command})
    assert not result.ok and one_sentence(result.text), result.text
    assert "kube-system" in result.text or "-A" in result.text
    assert not any("/namespaces/kube-system/" in path for path in boundary_cluster.requests)
    assert "coredns" not in result.text


async def test_reads_across_namespaces_leave_out_the_denied_one(
        limited: Services, boundary_cluster: FakeKubernetes) -> None:
    """describe node lists every pod on the node, k8sgpt analyses the whole cluster: both
    go on without the denied namespace's objects, and read none of its logs."""
    node = await limited.registry.call("run_kubectl", {"command": "describe node node-1"})
    assert node.ok and "checkout-api-7d9f8b6c5-abcde" in node.text
    assert "coredns" not in node.text and "kube-system" not in node.text
    boundary_cluster.requests.clear()
    report = await limited.registry.call("k8sgpt_analyze", {"filters": ["Pod", "Log"]})
    assert report.ok, report.text
    names = {r["name"] for r in json.loads(report.text)["results"]}
    assert any(name.startswith("prod/") for name in names)
    assert not any(name.startswith("kube-system/") for name in names)
    assert not any("kube-system" in path for path in boundary_cluster.requests
                   if "/log" in path)


@pytest.mark.parametrize("namespace", ["kube-system", "prod/../kube-system", "../kube-system",
                                       "Prod"])
async def test_k8sgpt_refuses_a_denied_or_invalid_namespace(
        limited: Services, boundary_cluster: FakeKubernetes, namespace: str) -> None:
    boundary_cluster.requests.clear()
    result = await limited.registry.call("k8sgpt_analyze", {"namespace": namespace})
    assert not result.ok and one_sentence(result.text), result.text
    assert boundary_cluster.requests == []


@pytest.mark.parametrize(("tool", "arguments"), [
    ("kubectl_delete_pod", {"name": "coredns-6d4b75cb6d-kqx8p", "namespace": "kube-system"}),
    ("kubectl_scale", {"kind": "deployment", "name": "coredns", "namespace": "kube-system",
                       "replicas": 0}),
    ("kubectl_rollout_restart", {"kind": "deployment", "name": "coredns",
                                 "namespace": "kube-system"}),
])
async def test_the_write_tools_hold_the_denied_namespace(
        limited: Services, boundary_cluster: FakeKubernetes, tool: str,
        arguments: dict[str, object]) -> None:
    result = await limited.registry.call(tool, arguments)
    assert not result.ok and "off limits" in result.text
    assert boundary_cluster.changes == []


MASKED_FORMS = [
    "get secret db-credentials -o yaml",
    "get secret db-credentials -o json",
    "get secret db-credentials -o jsonpath={.data}",
    "get secret db-credentials -o jsonpath={.data.username}",
    "get secret db-credentials -o custom-columns=U:.data.username,P:.data.password",
    "get secrets -o json",
    "get secrets -o jsonpath={.items[*].data}",
    "get secrets --sort-by=.data.password -o yaml",
    "get secret applied-credentials -o jsonpath={.metadata.annotations}",
    "describe secret db-credentials",
    "get secrets -n kube-system -o yaml",
    "get configmap app-settings -o yaml",
    "get configmap app-settings -o jsonpath={.data.DB_PASSWORD}",
    "describe configmap app-settings",
    "get pod leaky-api-0 -o yaml",
    "get pod leaky-api-0 -o json",
    "get pod leaky-api-0 -o jsonpath={.spec.containers[0].env[0].value}",
    "get pod leaky-api-0 -o jsonpath={.spec.containers[0].args}",
    "get pod leaky-api-0 -o custom-columns=ARG:.spec.containers[0].args[2]",
    "get pod leaky-api-0 -o jsonpath={.metadata.annotations}",
    "describe pod leaky-api-0",
    "logs leaky-api-0",
    "events --for pod/leaky-api-0",
    "get events -o json",
]


@pytest.mark.parametrize("command", MASKED_FORMS)
async def test_secret_values_are_masked_in_every_output_form(open_cluster: Services,
                                                             command: str) -> None:
    result = await open_cluster.registry.call("run_kubectl", {"command": command})
    assert result.ok, result.text
    shown = [leak for leak in LEAKS if leak in result.text]
    assert not shown, f"{command} showed {shown}"


async def test_masked_output_stays_readable(open_cluster: Services) -> None:
    """What is not a credential is shown as kubectl shows it."""
    async def run(command: str) -> str:
        result = await open_cluster.registry.call("run_kubectl", {"command": command})
        assert result.ok, result.text
        return result.text

    settings = await run("describe configmap app-settings")
    assert "LOG_LEVEL:\n----\ndebug" in settings and "server.port=8080" in settings
    pod = await run("get pod leaky-api-0 -o jsonpath={.spec.containers[0].args}")
    assert json.loads(pod) == ["--listen=:8080", "--password", MASK, "--log-level", "info"]
    env = await run("get pod leaky-api-0 -o jsonpath={.spec.containers[0].env[1].value}")
    assert env == "eu-west-1"
    secret = await run("describe secret db-credentials")
    assert secret.endswith("Data\n====\npassword:  15 bytes\nusername:  8 bytes")  # kubectl's


async def test_secret_data_is_masked_where_it_is_read(boundary_cluster: FakeKubernetes,
                                                      tmp_path: Path) -> None:
    """Any code that reads through bot.kube gets masked objects: a plugin cannot forget."""
    api = kube.connect(str(boundary_cluster.kubeconfig(tmp_path / "kc"))).api()
    listed = kube.request(api, "/api/v1/secrets", what="listing secrets")
    assert listed["kind"] == "SecretList" and listed["items"]
    for item in listed["items"]:
        assert all(v.startswith("<") and v.endswith(" bytes>") for v in item["data"].values())
    assert not any(leak in json.dumps(listed) for leak in LEAKS)


@pytest.mark.parametrize("answer", [
    # a SecretList whose items carry no kind, as real list answers have them
    {"kind": "SecretList", "items": [{"metadata": {"name": "a"}, "type": "Opaque",
                                      "data": {"k": "c2VjcmV0LXZhbHVl"}}]},
    # a Secret whose kind a proxy dropped: known by its type and data
    {"metadata": {"name": "a"}, "type": "kubernetes.io/basic-auth",
     "data": {"password": "c2VjcmV0LXZhbHVl"}},
    # a plain List holding one
    {"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "a"},
                                "stringData": {"k": "secret-value"}}]},
    # a Table with whole objects (includeObject=Object, for --sort-by)
    {"kind": "Table", "rows": [{"cells": ["a"], "object": {
        "kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "c2VjcmV0LXZhbHVl"}}}]},
    # an environment variable and a flag's value, in any object
    {"spec": {"containers": [{"env": [{"name": "GITHUB_TOKEN", "value": "secret-value"}],
                              "args": ["--api-key", "secret-value"]}]}},
])
def test_masking_goes_by_content_not_by_kind(answer: dict[str, object]) -> None:
    masked = json.dumps(mask_objects(answer))
    assert "secret-value" not in masked and "c2VjcmV0LXZhbHVl" not in masked


async def test_a_traversal_from_slack_reaches_nothing_and_the_model_hears_why(
        tmp_path: Path, boundary_cluster: FakeKubernetes, fake_openai: FakeOpenAI) -> None:
    """The reported attack, end to end through the agent: a user asks, the model obliges
    with a traversing name; the model is told the refusal and no Secret was read."""
    services = await _services(tmp_path, boundary_cluster, {},
                               openai_base_url=fake_openai.base_url,
                               openai_api_key=fake_openai.api_key)
    try:
        fake_openai.reply(tool_calls=[FakeOpenAI.tool_call(
            "run_kubectl", {"command": "get pods ../secrets -o json"}, "c1")])
        fake_openai.reply("I could not read that.")
        boundary_cluster.requests.clear()
        result = await services.runs.ask("show me pods ../secrets",
                                         caller=Caller(user="U1", channel="C1"))
        assert result.ok
        told = next(m["content"] for m in fake_openai.messages(1) if m["role"] == "tool")
        assert "not a valid object name" in told
        assert not any("secrets" in path for path in boundary_cluster.requests)
    finally:
        await services.close()


async def test_a_limit_set_for_kubectl_alone_binds_k8sgpt_too(
        tmp_path: Path, boundary_cluster: FakeKubernetes) -> None:
    """An operator who denies kube-system to kubectl has denied it to k8sgpt as well."""
    built = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
                          plugins_dir=REPO / "plugins",
                          kubeconfig=str(boundary_cluster.kubeconfig(tmp_path / "kc")),
                          plugin_config={"kubectl": DENIED})
    assert built.plugin_defaults()["k8sgpt"]["namespace_deny"] == ["kube-system"]
    services = await build_services(built, default_enabled=frozenset({"kubectl", "k8sgpt"}))
    try:
        refused = await services.registry.call("k8sgpt_analyze", {"namespace": "kube-system"})
        assert not refused.ok and "off limits" in refused.text
        report = await services.registry.call("k8sgpt_analyze", {"filters": ["Pod"]})
        assert report.ok and "kube-system/" not in report.text
    finally:
        await services.close()
