"""Per-tool approval rules (`/plugin approval TOOL required|auto|default`): an admin's rule
overrides what the tool's plugin declares, for the agent in Slack and in the console,
is audited, shown in `info` and App Home, and refused to anyone else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.agent.approvals import Decision
from bot.app import Services
from bot.commands import Actor, PluginCommands, run_text
from bot.plugin_host.contract.protocol import Caller
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.plugin_factory import GATED
from tests.helpers.slack_admin import approval_id, command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call


@pytest.fixture
def gated(builtin: Callable[..., Path]) -> None:
    builtin("gated", GATED)
    builtin("alpha")


async def test_a_rule_makes_a_builtin_tool_wait_for_an_admin_in_slack(
        slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("alpha",))
    assert await command(bot, "approval alpha_echo required", "U_ADMIN") == (
        messages.approval_rule_set("alpha_echo", "required", True, False))
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "x"}, "c1")])
    bot.ai.reply("done")
    await bot.mention("echo x", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    assert bot.ai.requests and len(bot.ai.requests) == 1  # waiting: the tool has not run
    await bot.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: len(bot.ai.requests) >= 2)
    assert bot.ai.messages(1)[-1]["content"] == "alpha:x"
    info = await command(bot, "info alpha", "U_ADMIN")
    assert "alpha_echo [requires approval: admins' rule]" in info
    event = (await bot.services.audit.recent(10, target="alpha_echo"))
    assert ("U_ADMIN", "approval", "ok", "required") in [
        (e.actor, e.action, e.outcome, e.detail) for e in event]


async def test_auto_lets_a_gated_tool_run_without_approval_and_default_restores_it(
        slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",))
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D1", "event_ts": bot.new_ts()})
    home = await until(lambda: bot.slack.calls_to("views.publish"))
    assert "`restart` (approval)" in str(home[-1]["view"])
    assert await command(bot, "approval restart auto", "U_ADMIN") == (
        messages.approval_rule_set("restart", "auto", False, True))
    republished = await until(lambda: bot.slack.calls_to("views.publish")[1:])
    assert "`restart` (approval)" not in str(republished[-1]["view"])  # the rule shows
    bot.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    bot.ai.reply("finished")
    await bot.mention("restart web", user="U_ASKER")
    await until(lambda: len(bot.ai.requests) >= 2)
    assert bot.ai.messages(1)[-1]["content"] == "restarted web"
    assert approval_id(bot) is None
    assert await command(bot, "approval restart default", "U_ADMIN") == (
        messages.approval_rule_set("restart", "default", True, True))
    assert "restart [requires approval]:" in await command(bot, "info gated", "U_ADMIN")


async def test_bad_rules_are_refused_with_one_sentence_and_change_nothing(
        slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",))
    assert await command(bot, "approval restart sometimes", "U_ADMIN") == (
        messages.approval_mode_unknown("sometimes"))
    assert await command(bot, "approval restrat auto", "U_ADMIN") == (
        "No tool named 'restrat'. Did you mean 'restart'?")
    assert await command(bot, "approval restart", "U_ADMIN") == messages.approval_usage()
    assert await command(bot, "approval restart auto", "U_ASKER") == messages.not_admin()
    refused = (await bot.services.audit.recent(1))[0]
    assert (refused.actor, refused.action, refused.outcome) == ("U_ASKER", "approval",
                                                                "refused")
    assert bot.services.plugins.approval_rules == {}


async def test_the_console_and_the_cli_apply_the_same_rule_and_other_processes_see_it(
        agent_services: Callable[..., Awaitable[Services]], fake_openai: FakeOpenAI,
        gated: None) -> None:
    first = await agent_services(enabled=("alpha",))
    commands = PluginCommands(first.plugins, first.audit)
    assert (await run_text(commands, "approval alpha_echo required", by=Actor("cli:ops", True))).ok
    asked: list[str] = []

    async def approver(*, tool: str, arguments: str, digest: str, caller: Caller,
                       run_id: str) -> Decision:
        asked.append(tool)
        return Decision(False, "U_ADMIN", "denied in the console")

    fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "x"}, "c1")])
    fake_openai.reply("not run")
    result = await first.runs.ask("echo", caller=Caller(user="U1"), approver=approver)
    assert result.ok and asked == ["alpha_echo"]
    assert fake_openai.messages(1)[-1]["content"] == "denied in the console"

    second = await agent_services(enabled=("alpha",))  # another process, same database
    tool = second.registry.snapshot.get("alpha_echo")
    assert tool is not None and second.registry.requires_approval(tool)
    assert (await run_text(commands, "approval alpha_echo default", by=Actor("cli:ops", True))).ok
    await second.plugins.refresh()
    assert not second.registry.requires_approval(tool)
