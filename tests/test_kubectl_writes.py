"""kubectl's optional write tools: absent unless allowed, and always behind an approval."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agent.approvals import Decision
from bot.app import Services
from bot.plugin_host.contract.protocol import Caller
from tests.fakes.k8s_server import FakeKubernetes
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.builtins import builtin_services

call = FakeOpenAI.tool_call
WRITES = {"kubectl_rollout_restart", "kubectl_scale", "kubectl_delete_pod"}


async def build(tmp_path: Path, cluster: FakeKubernetes, fake_openai: FakeOpenAI,
                **config: object) -> Services:
    return await builtin_services(
        tmp_path, "kubectl", db="w.db",
        kubeconfig=cluster.kubeconfig(tmp_path / "kc", namespace="prod"),
        config={"kubectl": config}, openai_base_url=fake_openai.base_url,
        openai_api_key=fake_openai.api_key)


@pytest.fixture
async def writable(tmp_path: Path, cluster: FakeKubernetes, fake_openai: FakeOpenAI
                   ) -> AsyncIterator[Services]:
    services = await build(tmp_path, cluster, fake_openai, allow_writes=True,
                           namespace_deny=["kube-system"])
    yield services
    await services.close()


def approver(answer: bool, asked: list[str]):  # type: ignore[no-untyped-def]
    async def decide(*, tool: str, arguments: str, digest: str, caller: Caller,
                     run_id: str) -> Decision:
        asked.append(f"{tool} {arguments}")
        return Decision(answer, "U_ADMIN", "approved" if answer else "denied by U_ADMIN")
    return decide


async def test_write_tools_do_not_exist_by_default(tmp_path: Path, cluster: FakeKubernetes,
                                                   fake_openai: FakeOpenAI) -> None:
    services = await build(tmp_path, cluster, fake_openai)
    try:
        assert not WRITES & set(services.registry.snapshot.tools)
        assert "run_kubectl" in services.registry.snapshot
    finally:
        await services.close()


async def test_allowed_write_tools_all_require_approval(writable: Services) -> None:
    tools = writable.registry.snapshot.tools
    assert set(tools) >= WRITES
    assert all(tools[name].spec.requires_approval for name in WRITES)


async def test_approved_restart_scale_and_delete_change_the_cluster(
        writable: Services, cluster: FakeKubernetes, fake_openai: FakeOpenAI) -> None:
    asked: list[str] = []
    fake_openai.reply(tool_calls=[
        call("kubectl_rollout_restart", {"kind": "deployment", "name": "web",
                                         "namespace": "prod"}, "c1"),
        call("kubectl_scale", {"kind": "deployment", "name": "checkout-api",
                               "namespace": "prod", "replicas": 0}, "c2"),
        call("kubectl_delete_pod", {"name": "image-broken-6c7d8e9f0-qwert",
                                    "namespace": "prod"}, "c3")])
    fake_openai.reply("done")
    await writable.runs.ask("fix things", caller=Caller(user="U1", channel="C1"),
                            approver=approver(True, asked))
    assert len(asked) == 3
    results = {m["tool_call_id"]: m["content"] for m in fake_openai.messages(1)
               if m["role"] == "tool"}
    assert results == {"c1": "deployment.apps/web restarted",
                       "c2": "deployment.apps/checkout-api scaled to 0",
                       "c3": 'pod "image-broken-6c7d8e9f0-qwert" deleted'}
    methods = {(m, p.rsplit("/", 2)[-2] if p.endswith("/scale") else p.rsplit("/", 1)[-1])
               for m, p, _ in cluster.changes}
    assert methods == {("PATCH", "web"), ("PATCH", "checkout-api"),
                       ("DELETE", "image-broken-6c7d8e9f0-qwert")}
    web = next(d for d in cluster.objects["deployments"] if d["metadata"]["name"] == "web")
    assert "kubectl.kubernetes.io/restartedAt" in web["spec"]["template"]["metadata"][
        "annotations"]
    checkout = next(d for d in cluster.objects["deployments"]
                    if d["metadata"]["name"] == "checkout-api")
    assert checkout["spec"]["replicas"] == 0


async def test_denied_writes_change_nothing(writable: Services, cluster: FakeKubernetes,
                                            fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[call("kubectl_delete_pod", {
        "name": "memhog-0", "namespace": "prod"}, "c1")])
    fake_openai.reply("ok")
    await writable.runs.ask("delete memhog", caller=Caller(user="U1", channel="C1"),
                            approver=approver(False, []))
    assert cluster.changes == []
    assert [m["content"] for m in fake_openai.messages(1) if m["role"] == "tool"] == [
        "denied by U_ADMIN"]


async def test_writes_respect_the_namespace_deny_list(writable: Services,
                                                      cluster: FakeKubernetes) -> None:
    result = await writable.registry.call("kubectl_delete_pod", {
        "name": "coredns-1", "namespace": "kube-system"})
    assert (result.ok, result.text) == (False, "The namespace 'kube-system' is off limits for "
                                               "this bot.")
    assert cluster.changes == []


async def test_writes_to_missing_objects_are_one_sentence(writable: Services) -> None:
    result = await writable.registry.call("kubectl_scale", {
        "kind": "statefulset", "name": "ghost", "namespace": "prod", "replicas": 1})
    assert result.text == ('Not found while scaling statefulset ghost in namespace prod: '
                           'statefulsets.apps "ghost" not found.')
