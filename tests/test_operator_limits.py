"""Operator limits are final: an admin's `/plugin set` may only set what a plugin declares
settable, and only narrow the operator's PLUGIN_CONFIG. Tried as a hostile admin over
Slack: each operator-only key is refused with one sentence and nothing is stored; a
kubeconfig whose `exec` credential an upload supplied never runs, even from a setting
stored before the rule; settings are shown to admins only."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from bot import messages
from bot.plugin_host.contract.protocol import Caller
from bot.plugin_host.contract.validation import validate_manifest
from bot.store.models import PluginSettingRow
from bot.store.repositories import PluginRepository
from tests.conftest import REPO
from tests.fakes.k8s_server import FakeKubernetes
from tests.helpers.slack_admin import command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
CHANNEL = "C0PAYMENTS"


@pytest.fixture
def kube_plugins(plugins_dir: Path) -> Path:
    for name in ("kubectl", "k8sgpt", "netdiag"):
        shutil.copytree(REPO / "plugins" / "builtins" / name, plugins_dir / "builtins" / name)
    return plugins_dir


@pytest.fixture
def exec_kubeconfig(tmp_path: Path, cluster: FakeKubernetes) -> tuple[Path, Path]:
    """A kubeconfig as an upload could ship it: its credential is a command, which would
    run as a child of the bot with the bot's environment. The command leaves a mark."""
    mark = tmp_path / "exec-ran"
    script = tmp_path / "credential.sh"
    script.write_text(f"#!/bin/sh\nenv > {mark}\necho '{{}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    config = yaml.safe_load(cluster.kubeconfig(tmp_path / "operator-kc").read_text())
    config["users"][0]["user"] = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(script)}}
    hostile = tmp_path / "uploaded-kubeconfig"
    hostile.write_text(yaml.safe_dump(config))
    return hostile, mark


async def kube_bot(slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path,
                   **config: object) -> SlackBot:
    kubeconfig = cluster.kubeconfig(tmp_path / "kc", namespace="prod")
    return await slack_bot(enabled=("kubectl", "k8sgpt", "netdiag"), kubeconfig=str(kubeconfig),
                           plugin_config={"kubectl": dict(config), "k8sgpt": dict(config)})


@pytest.mark.parametrize(("words", "plugin", "key"), [
    ("set kubectl kubeconfig=/tmp/uploaded-kubeconfig", "kubectl", "kubeconfig"),
    ("set kubectl namespace_deny=none", "kubectl", "namespace_deny"),
    ("set kubectl clusters=prod,staging", "kubectl", "clusters"),
    ("set kubectl allow_writes=true", "kubectl", "allow_writes"),
    ("set kubectl request_timeout=600", "kubectl", "request_timeout"),
    ("set k8sgpt binary=/bin/sh", "k8sgpt", "binary"),
    ("set k8sgpt concurrency=1000", "k8sgpt", "concurrency"),
    ("set netdiag allow_cidrs=0.0.0.0/0 in C0PAYMENTS", "netdiag", "allow_cidrs"),
])
async def test_operator_only_keys_are_refused_and_nothing_is_stored(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path,
        words: str, plugin: str, key: str) -> None:
    bot = await kube_bot(slack_bot, cluster, tmp_path, namespace_deny=["kube-system"])
    before = await bot.services.audit.recent(3)
    text = await command(bot, words, "U_ADMIN")
    declared = {"kubectl": ["context", "contexts", "default_namespace", "namespace_allow"],
                "k8sgpt": ["context", "contexts", "namespace_allow"], "netdiag": []}[plugin]
    assert text == messages.setting_not_settable(plugin, key, declared)
    assert (await bot.services.plugins.info(plugin)).settings == {}
    assert await bot.services.audit.recent(3) == before


async def test_an_admin_narrows_the_operators_namespaces_but_never_widens_them(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path) -> None:
    bot = await kube_bot(slack_bot, cluster, tmp_path, namespace_allow=["prod", "default"])
    assert await command(bot, "set kubectl namespace_allow=prod,kube-system", "U_ADMIN") == (
        messages.setting_widens("namespace_allow", ["kube-system"], "namespace_allow",
                                ["prod", "default"]))
    assert await command(bot, f"set kubectl namespace_allow=prod in {CHANNEL}", "U_ADMIN") \
        == messages.settings_changed("kubectl", {"namespace_allow": "prod"}, f"in {CHANNEL}")
    here, elsewhere = Caller(channel=CHANNEL), Caller(channel="C0OTHER")
    pods = {"command": "get pods -n default"}
    narrowed = await bot.services.registry.call("run_kubectl", pods, here)
    assert not narrowed.ok and "off limits" in narrowed.text
    assert (await bot.services.registry.call("run_kubectl", pods, elsewhere)).ok
    assert (await bot.services.registry.call("run_kubectl", {"command": "get pods"}, here)).ok


@pytest.mark.parametrize(("words", "sentence"), [
    ("set kubectl contexts=fake,other", messages.setting_widens("contexts", ["other"],
                                                                "clusters", ["fake"])),
    ("set kubectl contexts=", None),  # removing a setting never widens
])
async def test_contexts_stay_within_the_operators_clusters(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path,
        words: str, sentence: str | None) -> None:
    bot = await kube_bot(slack_bot, cluster, tmp_path, clusters=["fake"])
    text = await command(bot, words, "U_ADMIN")
    assert text == (sentence or messages.settings_changed("kubectl", {"contexts": ""},
                                                          "everywhere"))


async def test_an_uploaded_exec_kubeconfig_never_runs(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path,
        exec_kubeconfig: tuple[Path, Path]) -> None:
    """Refused from Slack; and a setting stored before the rule (or written into the
    database by hand) is ignored: the operator's kubeconfig answers, the command never
    runs."""
    hostile, mark = exec_kubeconfig
    bot = await kube_bot(slack_bot, cluster, tmp_path)
    text = await command(bot, f"set kubectl kubeconfig={hostile}", "U_ADMIN")
    assert text.startswith("kubeconfig of kubectl is the operator's to set")
    async with bot.services.db.write() as session:
        row = await PluginRepository(session).get("kubectl")
        assert row is not None
        row.settings.append(PluginSettingRow(scope="*", key="kubeconfig", value=str(hostile),
                                             set_by="U_ADMIN"))
        row.settings.append(PluginSettingRow(scope="*", key="namespace_deny", value="",
                                             set_by="U_ADMIN"))
    await bot.services.plugins.refresh()
    result = await bot.services.registry.call("run_kubectl", {"command": "get pods"},
                                              Caller(channel=CHANNEL))
    assert result.ok and "checkout-api" in result.text  # the operator's kubeconfig
    assert not mark.exists()


async def test_settings_are_shown_to_admins_only(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path) -> None:
    bot = await kube_bot(slack_bot, cluster, tmp_path)
    await command(bot, f"set kubectl default_namespace=prod in {CHANNEL}", "U_ADMIN")
    assert await command(bot, "settings kubectl", "U_SOMEONE") == (
        messages.settings_admins_only())
    assert "default_namespace=prod" in await command(bot, "settings kubectl", "U_ADMIN")
    assert "Setting:" not in await command(bot, "info kubectl", "U_SOMEONE")
    assert "default_namespace=prod" in await command(bot, "info kubectl", "U_ADMIN")
    for user, shown in (("U_SOMEONE", False), ("U_ADMIN", True)):
        seen = len(bot.slack.calls_to("views.publish"))
        await bot.event({"type": "app_home_opened", "user": user, "tab": "home",
                         "channel": "D1", "event_ts": bot.new_ts()})
        view = (await until(lambda s=seen: bot.slack.calls_to("views.publish")[s:]))[-1]
        card = next(b["text"]["text"] for b in view["view"]["blocks"]
                    if "*kubectl*" in b.get("text", {}).get("text", ""))
        assert ("default_namespace=prod" in card) is shown


async def test_a_value_of_the_wrong_type_or_outside_its_choices_is_refused(
        slack_bot: Make, cluster: FakeKubernetes, tmp_path: Path, kube_plugins: Path,
        builtin: Callable[..., Path]) -> None:
    builtin("typed", """
def get_manifest():
    return {'name': 'typed', 'version': '1.0.0', 'settings': {
        'tier': {'type': 'string', 'enum': ['silver', 'gold']},
        'verbose': {'type': 'boolean'}, 'lines': {'type': 'integer'}}}
def get_tools():
    return []
""")
    bot = await kube_bot(slack_bot, cluster, tmp_path)
    for words, key, value, problem in (
            ("set typed tier=bronze", "tier", "bronze", "must be one of silver, gold"),
            ("set typed verbose=maybe", "verbose", "maybe", "must be true or false"),
            ("set typed lines=ten", "lines", "ten", "must be a whole number")):
        assert await command(bot, words, "U_ADMIN") == messages.setting_value_bad(
            key, value, problem)
    assert (await bot.services.plugins.info("typed")).settings == {}


@pytest.mark.parametrize(("settings", "field"), [
    ("not a dict", "manifest.settings"),
    ({"Bad-Key": {"type": "string"}}, "manifest.settings.Bad-Key"),
    ({"tier": {"type": "dict"}}, "manifest.settings.tier"),
    ({"tier": {"type": "string", "within": "tiers"}}, "manifest.settings.tier"),
    ({"tier": {"type": "list", "enum": "gold"}}, "manifest.settings.tier"),
    ({"tier": {"type": "string", "default": "x"}}, "manifest.settings.tier"),
])
def test_a_manifest_declaring_settings_badly_is_refused(settings: object, field: str) -> None:
    problems: list[object] = []
    manifest, _ = validate_manifest({"name": "p", "version": "1.0.0", "settings": settings},
                                    problems)  # type: ignore[arg-type]
    assert manifest is None and any(p.field == field for p in problems)  # type: ignore[attr-defined]
