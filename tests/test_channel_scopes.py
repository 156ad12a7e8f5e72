"""Plugins per channel, over Slack: the bot's real endpoint, the fake Slack and model.

A plugin enabled in one channel is offered in a mention there and not in another, where a
call the model makes anyway is refused before any approval is asked; `everywhere` and
`disable … in` move it; DMs and Agent-view threads are the `dm` scope; settings set per
channel reach the handler's `ctx.config` over PLUGIN_CONFIG; bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from bot.commands import Actor, PluginCommands, run_text
from bot.plugin_host.contract.protocol import Caller
from bot.plugin_host.policy.scopes import Where
from bot.slack.render import escape
from bot.store.shared_runs import SharedRuns
from tests.conftest import ServicesFactory, subprocess_env
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.processes import run_bot
from tests.helpers.scopes import ask, tool_result
from tests.helpers.slack_admin import approval_id, command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call

# `probe_config` says where it ran and what config it got; `probe_restart` needs approval.
PROBE = """
import json
RAN = []
def probe_config(*, ctx):
    return json.dumps({'channel': ctx.channel, 'config': dict(ctx.config)}, sort_keys=True)
def probe_restart(*, ctx):
    RAN.append(ctx.channel)
    return 'restarted'
def get_manifest():
    return {'name': 'probe', 'version': '1.0.0', 'description': 'where am I',
            'settings': {'tier': {'type': 'string', 'enum': ['silver', 'gold']},
                         'region': {'type': 'string'}, 'owner': {'type': 'string'}}}
def get_tools():
    empty = {'type': 'object', 'properties': {}}
    return [{'schema': {'name': 'probe_config', 'parameters': empty}, 'handler': probe_config},
            {'schema': {'name': 'probe_restart', 'parameters': empty},
             'handler': probe_restart, 'requires_approval': True}]
"""
PAYMENTS, OTHER = "C0PAYMENTS", "C0OTHER"


@pytest.fixture
def probe(builtin: Callable[..., Path]) -> Path:
    builtin("alpha")  # its tool alpha_echo: offered everywhere once enabled
    return builtin("probe", PROBE)


async def test_a_plugin_enabled_in_one_channel_is_offered_and_runs_there_only(
        slack_bot: Make, probe: Path) -> None:
    bot = await slack_bot(enabled=("alpha",))
    text = await command(bot, f"enable probe in <#{PAYMENTS}|inc-payments>", "U_ADMIN")
    assert text == messages.enabled("probe", "1.0.0", ["probe_config", "probe_restart"],
                                    f"in {PAYMENTS}")
    here = await ask(bot, PAYMENTS, call("probe_config", {}, "c1"))
    assert {"probe_config", "probe_restart"} <= set(bot.ai.tool_names(here))
    assert json.loads(tool_result(bot, here + 1))["channel"] == PAYMENTS
    there = await ask(bot, OTHER, call("probe_config", {}, "c2"), call("probe_restart", {}, "c3"))
    assert "probe_config" not in bot.ai.tool_names(there)
    assert "alpha_echo" in bot.ai.tool_names(there)  # enabled everywhere: still offered
    results = [m["content"] for m in bot.ai.messages(there + 1) if m["role"] == "tool"]
    assert results == [messages.tool_not_offered_here("probe_config", "probe"),
                       messages.tool_not_offered_here("probe_restart", "probe")]
    assert approval_id(bot) is None  # refused before anyone was asked to approve
    listing = await command(bot, "list", "U_SOMEONE")
    row = next(line.split() for line in listing.splitlines() if line.startswith("probe"))
    assert row[4:7] == ["enabled", PAYMENTS, "1/1"] and "WHERE" in listing
    assert f"Where:       in {PAYMENTS}" in await command(bot, "info probe", "U_SOMEONE")
    event = (await bot.services.audit.recent(1))[0]
    assert (event.action, event.target, event.detail) == ("enable", "probe",
                                                          f"1.0.0 in {PAYMENTS}")
    assert "region" in await command(bot, "set probe region=<eu>", "U_ADMIN")
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D1", "event_ts": bot.new_ts()})
    view = (await until(lambda: bot.slack.calls_to("views.publish")))[-1]["view"]
    card = next(b["text"]["text"] for b in view["blocks"]
                if "*probe*" in b.get("text", {}).get("text", ""))
    assert f"Where: <#{PAYMENTS}>" in card
    assert "Settings: region=&lt;eu&gt; (everywhere)" in card  # an admin's words, escaped


async def test_everywhere_and_disable_in_move_it_and_bad_input_changes_nothing(
        slack_bot: Make, probe: Path) -> None:
    bot = await slack_bot()
    await command(bot, f"enable probe in {PAYMENTS}", "U_ADMIN")
    for bad, sentence in [("enable probe in #inc-payments", messages.channel_unparsable(
                              "#inc-payments")),
                          ("enable probe somewhere", messages.scope_usage()),
                          ("enable probe in", messages.scope_usage()),
                          (f"disable probe in {OTHER}", messages.scope_not_there(
                              "probe", [OTHER], [PAYMENTS]))]:
        assert await command(bot, bad, "U_ADMIN") == sentence
    assert await command(bot, f"enable probe in {OTHER}", "U_SOMEONE") == messages.not_admin()
    hostile = await command(bot, "enable probe in <#C0X|<!channel>>", "U_ADMIN")
    assert hostile == escape(messages.channel_unparsable("<#C0X|<!channel>>"))
    assert "<!channel>" not in hostile  # shown, never a ping
    assert (await bot.services.plugins.info("probe")).channels == (PAYMENTS,)
    assert await command(bot, "enable probe everywhere", "U_ADMIN") == messages.enabled(
        "probe", "1.0.0", ["probe_config", "probe_restart"], "everywhere")
    assert "probe_config" in bot.ai.tool_names(await ask(bot, OTHER))
    assert await command(bot, f"disable probe in {OTHER}", "U_ADMIN") == (
        messages.scope_everywhere_cannot_remove("probe"))
    assert await command(bot, f"enable probe in {OTHER} {PAYMENTS}", "U_ADMIN") == (
        messages.enabled("probe", "1.0.0", ["probe_config", "probe_restart"],
                         f"in {OTHER}, {PAYMENTS}"))
    assert await command(bot, f"disable probe in <#{OTHER}>", "U_ADMIN") == (
        messages.still_enabled("probe", [PAYMENTS]))
    assert "probe_config" not in bot.ai.tool_names(await ask(bot, OTHER))
    assert "probe_config" in bot.ai.tool_names(await ask(bot, PAYMENTS))
    assert await command(bot, f"disable probe in {PAYMENTS}", "U_ADMIN") == (
        messages.disabled("probe"))
    info = await bot.services.plugins.info("probe")
    assert (info.enabled, info.channels) == (False, None)
    assert "probe_config" not in bot.services.registry.snapshot
    await command(bot, f"enable probe in {OTHER}", "U_ADMIN")
    assert await command(bot, "disable probe", "U_ADMIN") == messages.disabled("probe")
    assert await command(bot, "enable probe", "U_ADMIN") == messages.enabled(  # as it was
        "probe", "1.0.0", ["probe_config", "probe_restart"], f"in {OTHER}")
    await command(bot, "disable probe", "U_ADMIN")
    assert await command(bot, f"disable probe in {OTHER}", "U_ADMIN") == (
        messages.scope_kept("probe", None))


async def test_direct_messages_and_agent_view_threads_are_the_dm_scope(
        slack_bot: Make, probe: Path) -> None:
    bot = await slack_bot()
    await command(bot, "enable probe in dm", "U_ADMIN")
    assert "probe_config" not in bot.ai.tool_names(await ask(bot, PAYMENTS))
    thread = bot.new_ts()
    await bot.event({"type": "assistant_thread_started", "assistant_thread": {
        "user_id": "U_ASKER", "channel_id": "D0AGENT", "thread_ts": thread,
        "context": {"channel_id": PAYMENTS, "team_id": "T0TEST"}}, "event_ts": thread})
    bot.ai.reply(tool_calls=[call("probe_config", {}, "c1")])
    bot.ai.reply("done")
    first = len(bot.ai.requests)
    ts = bot.new_ts()
    await bot.event({"type": "message", "channel_type": "im", "channel": "D0AGENT",
                     "user": "U_ASKER", "text": "where am I?", "ts": ts, "thread_ts": thread,
                     "event_ts": ts})
    await until(lambda: len(bot.ai.requests) >= first + 2)
    assert "probe_config" in bot.ai.tool_names(first)
    assert json.loads(tool_result(bot, first + 1))["channel"] == "D0AGENT"


async def test_settings_per_channel_reach_ctx_config_over_plugin_config(
        slack_bot: Make, probe: Path) -> None:
    bot = await slack_bot(plugin_config={"probe": {"tier": "base", "region": "eu"}})
    await command(bot, "enable probe", "U_ADMIN")
    assert await command(bot, "set probe tier=gold", "U_ADMIN") == messages.settings_changed(
        "probe", {"tier": "gold"}, "everywhere")
    assert await command(bot, f"set probe region=us owner=payments in <#{PAYMENTS}|x>",
                         "U_ADMIN") == messages.settings_changed(
        "probe", {"region": "us", "owner": "payments"}, f"in {PAYMENTS}")
    here = await ask(bot, PAYMENTS, call("probe_config", {}, "c1"))
    assert json.loads(tool_result(bot, here + 1))["config"] == {
        "tier": "gold", "region": "us", "owner": "payments"}
    there = await ask(bot, OTHER, call("probe_config", {}, "c2"))
    assert json.loads(tool_result(bot, there + 1))["config"] == {"tier": "gold",
                                                                  "region": "eu"}
    assert (await command(bot, "settings probe", "U_ADMIN")).strip("`") == (
        f"Settings of probe:\n  everywhere: tier=gold\n  in {PAYMENTS}: owner=payments, "
        "region=us")
    assert await command(bot, f"set probe owner= in {PAYMENTS}", "U_ADMIN") == (
        messages.settings_changed("probe", {"owner": ""}, f"in {PAYMENTS}"))
    again = await ask(bot, PAYMENTS, call("probe_config", {}, "c3"))
    assert "owner" not in json.loads(tool_result(bot, again + 1))["config"]


@pytest.mark.parametrize(("words", "sentence"), [
    ("set probe api_token=abc123", messages.setting_looks_secret("api_token")),
    ("set probe note=xoxb-123456789012-abcdefghijkl", messages.setting_looks_secret("note")),
    ("set probe url=https://ops:hunter2@db.internal", messages.setting_looks_secret("url")),
    ("set probe Tier=gold", messages.setting_key_bad("Tier")),
    ("set probe tier", messages.setting_unparsable("tier")),
    ("set probe tier=gold in #general", messages.channel_unparsable("#general")),
    ("set probe", messages.settings_usage()),
])
async def test_bad_settings_are_refused_and_nothing_is_stored(
        slack_bot: Make, probe: Path, caplog: pytest.LogCaptureFixture, words: str,
        sentence: str) -> None:
    bot = await slack_bot()
    await command(bot, "set probe tier=silver", "U_ADMIN")
    assert await command(bot, words, "U_ADMIN") == sentence
    assert (await bot.services.plugins.info("probe")).settings == {"*": {"tier": "silver"}}
    for secret in ("abc123", "xoxb-123456789012", "hunter2"):
        assert secret not in caplog.text
        assert all(secret not in (e.detail or "") for e in await bot.services.audit.recent(5))


# -- the console, the CLI, and another process -----------------------------------------------

@pytest.fixture
def env(tmp_path: Path, plugins_dir: Path, probe: Path,
        fake_openai: FakeOpenAI) -> dict[str, str]:
    return subprocess_env(tmp_path, plugins_dir, PLUGIN_SANDBOX="process",
                          OPENAI_BASE_URL=fake_openai.base_url,
                          OPENAI_API_KEY=fake_openai.api_key or "")


def test_the_console_asks_from_a_channel_and_sees_its_plugins(
        env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    for _ in range(3):
        fake_openai.reply(tool_calls=[call("probe_config", {}, "c1")])
        fake_openai.reply("done")
    result = run_bot(env, "console", lines=[
        f"/plugin enable probe in {PAYMENTS}", f"/plugin set probe tier=gold in {PAYMENTS}",
        "@bot where am I?", f"channel <#{PAYMENTS}|inc-payments>", "@bot where am I now?",
        "channel #general", f"/plugin disable probe in {PAYMENTS}",
        "/plugin enable probe everywhere", "channel console", "@bot and here?"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert messages.enabled("probe", "1.0.0", ["probe_config", "probe_restart"],
                            f"in {PAYMENTS}") in out
    assert "probe_config" not in fake_openai.tool_names(0)  # the console's own: everywhere
    assert fake_openai.messages(1)[-1]["content"] == messages.tool_not_offered_here(
        "probe_config", "probe")
    assert messages.console_channel(PAYMENTS) in out
    assert "probe_config" in fake_openai.tool_names(2)
    assert json.loads(fake_openai.messages(3)[-1]["content"]) == {
        "channel": PAYMENTS, "config": {"tier": "gold"}}
    assert messages.channel_unparsable("#general") in out
    assert messages.disabled("probe") in out  # out of its last channel
    assert messages.enabled("probe", "1.0.0", ["probe_config", "probe_restart"],
                            "everywhere") in out
    assert "probe_config" in fake_openai.tool_names(4)  # the console's scope, now
    assert json.loads(fake_openai.messages(5)[-1]["content"]) == {
        "channel": "console", "config": {}}


def test_the_cli_scopes_with_channel_flags_and_calls_as_a_channel(
        env: dict[str, str]) -> None:
    enabled = run_bot(env, "plugin", "enable", "probe", "--channel", PAYMENTS,
                      "--channel", "dm")
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout.strip() == messages.enabled(
        "probe", "1.0.0", ["probe_config", "probe_restart"], f"in {PAYMENTS}, dm")
    assert run_bot(env, "plugin", "set", "probe", "tier=gold", "--channel",
                   PAYMENTS).returncode == 0
    here = run_bot(env, "plugin", "call", "probe_config", "--channel", PAYMENTS)
    assert json.loads(here.stdout) == {"channel": PAYMENTS, "config": {"tier": "gold"}}
    elsewhere = run_bot(env, "plugin", "call", "probe_config")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.strip() == messages.tool_not_offered_here("probe_config", "probe")
    secret = run_bot(env, "plugin", "set", "probe", "password=hunter2")
    assert (secret.returncode, secret.stderr.strip()) == (
        1, messages.setting_looks_secret("password"))
    out = run_bot(env, "plugin", "disable", "probe", "--channel", "dm")
    assert out.stdout.strip() == messages.still_enabled("probe", [PAYMENTS])
    assert run_bot(env, "plugin", "enable", "probe", "--everywhere").returncode == 0
    assert json.loads(run_bot(env, "plugin", "call", "probe_config").stdout)["config"] == {}
    both = run_bot(env, "plugin", "enable", "probe", "--everywhere", "--channel", "C1")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


async def test_another_process_follows_a_change_of_channels_and_settings(
        make_services: ServicesFactory, probe: Path) -> None:
    first, second = await make_services(), await make_services()
    commands = PluginCommands(first.plugins, first.audit)
    await run_text(commands, f"enable probe in {PAYMENTS}", by=Actor("U_ADMIN", True))
    await run_text(commands, f"set probe tier=gold in {PAYMENTS}", by=Actor("U_ADMIN", True))
    assert await second.plugins.refresh()
    here, there = Caller(channel=PAYMENTS), Caller(channel=OTHER)
    result = await second.registry.call("probe_config", {}, here)
    assert json.loads(result.text)["config"] == {"tier": "gold"}
    assert not (await second.registry.call("probe_config", {}, there)).ok
    await run_text(commands, f"enable probe in {OTHER}", by=Actor("U_ADMIN", True))
    assert await second.plugins.refresh()
    assert (await second.registry.call("probe_config", {}, there)).ok
    assert "probe_config" in [t["function"]["name"] for t in
                              second.registry.snapshot.openai_tools(OTHER)]


async def test_a_replica_says_at_once_that_it_loaded_what_was_just_enabled(
        make_services: ServicesFactory, probe: Path,
        replicas: Callable[[Services], Awaitable[SharedRuns]]) -> None:
    services = await make_services()
    await replicas(services)
    await services.plugins.enable("probe", actor="U_ADMIN", where=Where((PAYMENTS,)))
    info = await services.plugins.info("probe")  # not after the next refresh: now
    assert (info.replicas, info.loaded_count, info.channels) == (1, 1, (PAYMENTS,))
