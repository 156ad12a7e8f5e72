"""Several clusters: two fake API servers behind two kubeconfig contexts, the built-in
kubectl and k8sgpt plugins, channels bound to each through `/plugin set`.

Each channel's answers come from its own cluster (the real kubectl, run with --context, is
the oracle), each result says which cluster it came from, the tools' `cluster` argument
lists exactly the allowed contexts, and a channel restricted to one cluster is refused the
other — over Slack and the console."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from bot.plugin_host.contract.protocol import Caller
from tests.conftest import REPO, subprocess_env
from tests.fakes.k8s_server import FakeKubernetes, write_kubeconfig
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.processes import run_bot
from tests.helpers.scopes import ask, tool_result
from tests.helpers.slack_admin import command
from tests.helpers.slack_harness import SlackBot

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="the real kubectl is the oracle; it is not on PATH")

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call
EU, STAGING = "C0PAYMENTS", "C0STAGING"  # channels bound to prod-eu and to staging
PODS = {"command": "get pods -n prod"}


@pytest.fixture
def kube_plugins(plugins_dir: Path) -> Path:
    for name in ("kubectl", "k8sgpt"):
        shutil.copytree(REPO / "plugins" / "builtins" / name, plugins_dir / "builtins" / name)
    return plugins_dir


@pytest.fixture
def two_clusters(tmp_path: Path, kube_plugins: Path
                 ) -> Iterator[tuple[Path, FakeKubernetes, FakeKubernetes]]:
    """prod-eu (the current context) serves the whole fixture; staging one pod of it, the
    crashlooping one."""
    eu, staging = FakeKubernetes(), FakeKubernetes()
    staging.objects["pods"] = [pod for pod in staging.objects["pods"]
                               if pod["metadata"]["name"] == "checkout-api-7d9f8b6c5-abcde"]
    eu.start(), staging.start()
    kubeconfig = write_kubeconfig(tmp_path / "kc", {"prod-eu": (eu, "prod"),
                                                    "staging": (staging, "prod")})
    yield kubeconfig, eu, staging
    eu.stop(), staging.stop()


def kubectl(kubeconfig: Path, context: str, line: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--context", context,
                           *shlex.split(line)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.rstrip("\n")


async def bound_bot(slack_bot: Make, kubeconfig: Path) -> SlackBot:
    bot = await slack_bot(enabled=("kubectl", "k8sgpt"), kubeconfig=str(kubeconfig))
    assert await command(bot, f"set kubectl context=prod-eu in <#{EU}|inc-payments>",
                         "U_ADMIN") == messages.settings_changed(
        "kubectl", {"context": "prod-eu"}, f"in {EU}")
    await command(bot, f"set kubectl context=staging contexts=staging in {STAGING}", "U_ADMIN")
    await command(bot, f"set k8sgpt context=staging in {STAGING}", "U_ADMIN")
    return bot


async def test_each_channel_answers_from_its_own_cluster_and_says_which(
        slack_bot: Make, two_clusters: tuple[Path, FakeKubernetes, FakeKubernetes]) -> None:
    kubeconfig, _, _ = two_clusters
    bot = await bound_bot(slack_bot, kubeconfig)
    for tool in ("run_kubectl", "k8sgpt_analyze"):
        spec = bot.services.registry.snapshot.get(tool)
        assert spec is not None
        assert spec.spec.parameters["properties"]["cluster"]["enum"] == ["prod-eu", "staging"]
    for channel, context in ((EU, "prod-eu"), (STAGING, "staging")):
        request = await ask(bot, channel, call("run_kubectl", PODS, "c1"))
        assert tool_result(bot, request + 1) == (
            f"[cluster {context}]\n" + kubectl(kubeconfig, context, "get pods -n prod"))
    asked = await ask(bot, EU, call("run_kubectl", PODS | {"cluster": "staging"}, "c2"))
    assert tool_result(bot, asked + 1).startswith("[cluster staging]\nNAME")
    analysis = await ask(bot, STAGING, call("k8sgpt_analyze", {"namespace": "prod",
                                                               "filters": ["Pod"]}, "c3"))
    found = json.loads(tool_result(bot, analysis + 1))
    assert found["cluster"] == "staging"
    assert [r["name"] for r in found["results"]] == ["prod/checkout-api-7d9f8b6c5-abcde"]
    whole = await ask(bot, EU, call("k8sgpt_analyze", {"namespace": "prod",
                                                       "filters": ["Pod"]}, "c4"))
    eu_found = json.loads(tool_result(bot, whole + 1))
    assert eu_found["cluster"] == "prod-eu"  # no k8sgpt context in EU: the current one
    assert len(eu_found["results"]) > 1  # the whole fixture: more than staging's one pod


async def test_a_channel_restricted_to_one_cluster_is_refused_the_other(
        slack_bot: Make, two_clusters: tuple[Path, FakeKubernetes, FakeKubernetes]) -> None:
    kubeconfig, eu, _ = two_clusters
    bot = await bound_bot(slack_bot, kubeconfig)
    before = len(eu.requests)
    refused = await ask(bot, STAGING, call("run_kubectl", PODS | {"cluster": "prod-eu"}, "c1"))
    assert tool_result(bot, refused + 1) == messages.cluster_not_allowed_here(
        "prod-eu", ["staging"])
    assert len(eu.requests) == before  # the answer came, and prod-eu was never asked
    wrong = await ask(bot, EU, call("run_kubectl", PODS | {"cluster": "prod-us"}, "c2"))
    assert "'prod-us' is not one of ['prod-eu', 'staging']" in tool_result(bot, wrong + 1)


async def test_the_clusters_allow_list_narrows_the_contexts(
        agent_services: Callable[..., Awaitable[Services]],
        two_clusters: tuple[Path, FakeKubernetes, FakeKubernetes]) -> None:
    kubeconfig, _, _ = two_clusters
    services = await agent_services(
        enabled=("kubectl",), kubeconfig=str(kubeconfig),
        plugin_config={"kubectl": {"clusters": "staging", "context": "staging"}})
    tool = services.registry.snapshot.get("run_kubectl")
    assert tool is not None and "cluster" not in tool.spec.parameters["properties"]
    result = await services.registry.call("run_kubectl", PODS, Caller(channel=EU))
    assert result.text == kubectl(kubeconfig, "staging", "get pods -n prod")  # one: no label
    narrowed = await agent_services(
        enabled=("kubectl",), kubeconfig=str(kubeconfig),
        plugin_config={"kubectl": {"clusters": ["staging"], "context": "prod-eu"}})
    refused = await narrowed.registry.call("run_kubectl", PODS, Caller(channel=EU))
    assert refused.text == messages.cluster_unknown("prod-eu", ["staging"])


def test_the_console_in_a_bound_channel_asks_its_cluster(
        tmp_path: Path, kube_plugins: Path, fake_openai: FakeOpenAI,
        two_clusters: tuple[Path, FakeKubernetes, FakeKubernetes]) -> None:
    kubeconfig, _, _ = two_clusters
    env = subprocess_env(tmp_path, kube_plugins, KUBECONFIG=str(kubeconfig),
                         OPENAI_BASE_URL=fake_openai.base_url,
                         OPENAI_API_KEY=fake_openai.api_key or "")
    fake_openai.reply(tool_calls=[call("run_kubectl", PODS, "c1")])
    fake_openai.reply("one pod")
    fake_openai.reply(tool_calls=[call("run_kubectl", PODS | {"cluster": "prod-eu"}, "c2")])
    fake_openai.reply("refused")
    lines = [f"/plugin set kubectl context=staging contexts=staging in {STAGING}",
             f"channel {STAGING}", "@bot pods in prod?", "@bot and in prod-eu?"]
    done = run_bot(env, "console", lines=lines)
    assert done.returncode == 0, done.stderr
    assert fake_openai.messages(1)[-1]["content"] == (
        "[cluster staging]\n" + kubectl(kubeconfig, "staging", "get pods -n prod"))
    assert fake_openai.messages(3)[-1]["content"] == messages.cluster_not_allowed_here(
        "prod-eu", ["staging"])
    assert "one pod" in done.stdout and "refused" in done.stdout
