"""The built-in plugins through the agent: the model calls kubectl, k8sgpt and netdiag
against the fake cluster and gets their real output back."""

from __future__ import annotations

import json
from pathlib import Path

from bot.plugin_host.contract.protocol import Caller
from tests.fakes.k8s_server import FakeKubernetes
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.builtins import builtin_services

call = FakeOpenAI.tool_call


async def test_agent_investigates_with_all_three_builtins(
        tmp_path: Path, fake_openai: FakeOpenAI, cluster: FakeKubernetes) -> None:
    services = await builtin_services(
        tmp_path, "kubectl", "k8sgpt", "netdiag", db="a.db",
        kubeconfig=cluster.kubeconfig(tmp_path / "kc", namespace="prod"),
        openai_base_url=fake_openai.base_url, openai_api_key=fake_openai.api_key)
    try:
        fake_openai.reply(tool_calls=[
            call("k8sgpt_analyze", {"namespace": "prod", "filters": ["Pod"]}, "c1"),
            call("run_kubectl", {"command": "logs checkout-api-7d9f8b6c5-abcde --previous "
                                            "--tail 1"}, "c2"),
            call("dns_lookup", {"host": "localhost"}, "c3")])
        fake_openai.reply("checkout-api cannot authenticate to Postgres.")
        result = await services.runs.ask("why is checkout-api crashlooping?",
                                         caller=Caller(user="U1", channel="C1"))
        assert result.text == "checkout-api cannot authenticate to Postgres."
        assert {"k8sgpt_analyze", "run_kubectl", "dns_lookup"} <= set(
            fake_openai.tool_names(0))
        tool_messages = {m["tool_call_id"]: m["content"] for m in fake_openai.messages(1)
                         if m["role"] == "tool"}
        report = json.loads(tool_messages["c1"])
        assert report["status"] == "ProblemDetected"
        assert "prod/checkout-api-7d9f8b6c5-abcde" in {r["name"] for r in report["results"]}
        assert tool_messages["c2"] == "exiting with code 1"
        assert json.loads(tool_messages["c3"])["ok"] is True
    finally:
        await services.close()
