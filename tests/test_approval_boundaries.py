"""Approvals show exactly what will run, and run exactly what was shown. Tried as the
outage and the attacker would: arguments too long for a card, arguments that are not the
ones approved, a write tool an admin tries to wave through, and approvals waiting while
every run slot would otherwise be taken."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.plugin_host.contract.protocol import Caller, ErrorKind
from bot.plugin_host.runtime.registry import arguments_digest
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.helpers.slack_admin import approval_id, command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call

# `restart` needs approval and records what it was given; `wipe` is marked as a write.
GATED = """
RAN = []
def restart(text='x', note=''):
    RAN.append({'text': text, 'note': note})
    return 'restarted ' + text
def wipe(text='x'):
    RAN.append({'wiped': text})
    return 'wiped ' + text
def get_manifest():
    return {'name': 'gated', 'version': '1.0.0'}
def get_tools():
    args = {'type': 'object', 'properties': {'text': {'type': 'string'},
                                             'note': {'type': 'string'}}}
    return [{'schema': {'name': 'restart', 'parameters': args}, 'handler': restart,
             'requires_approval': True},
            {'schema': {'name': 'wipe', 'parameters': args}, 'handler': wipe,
             'requires_approval': True, 'writes': True}]
"""


@pytest.fixture
def gated(builtin: Callable[..., Path]) -> Path:
    return builtin("gated", GATED)


def ran(bot: SlackBot) -> list[dict[str, str]]:
    """What the gated plugin's handlers were given (the builtin runs in this process)."""
    module = next(m for name, m in sys.modules.items() if name.startswith("_bot_plugin_gated"))
    return list(module.RAN)


def card(bot: SlackBot) -> str:
    return next(b["text"]["text"] for c in bot.slack.calls_to("chat.postMessage")
                for b in c.get("blocks") or [] if "Approval needed" in b.get("text", {})
                .get("text", ""))


async def test_long_arguments_are_shown_whole_and_bound_to_what_runs(
        slack_bot: Make, gated: Path) -> None:
    """Nothing is silently cut: the card says the arguments are long and the whole of
    them (masked) is attached in the thread; the card's fingerprint is the digest of
    exactly what the handler then receives."""
    bot = await slack_bot(enabled=("gated",))
    note = "keep " * 1200 + "password=hunter2-in-args and the last words: namespace=kube-system"
    arguments = {"text": "web", "note": note}
    bot.ai.reply(tool_calls=[call("restart", arguments, "c1")])
    bot.ai.reply("finished")
    ts, _ = await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    shown = card(bot)
    digest = arguments_digest(arguments)
    assert digest[:12] in shown and "attached" in shown
    upload = await until(lambda: [u for u in bot.slack.uploads.values() if u["completed"]])
    body = upload[0]["body"].decode()
    assert "namespace=kube-system" in body and "hunter2" not in body
    assert upload[0]["completed"]["thread_ts"] == ts
    await bot.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: len(bot.ai.requests) >= 2)
    assert ran(bot) == [arguments]  # exactly what was shown, secret and all
    assert arguments_digest(ran(bot)[0]) == digest


async def test_arguments_other_than_the_approved_ones_never_run(slack_bot: Make,
                                                                gated: Path) -> None:
    bot = await slack_bot(enabled=("gated",))
    approved = arguments_digest({"text": "web"})
    result = await bot.services.registry.call("restart", {"text": "db"}, Caller(),
                                              approved=approved)
    assert (result.ok, result.error) == (False, ErrorKind.DENIED)
    assert result.text == messages.approval_arguments_changed("restart")
    assert ran(bot) == []
    same = await bot.services.registry.call("restart", '{"text": "web"}', Caller(),
                                            approved=approved)
    assert same.ok and ran(bot) == [{"text": "web", "note": ""}]


async def test_a_write_tool_cannot_be_waved_through(slack_bot: Make, gated: Path) -> None:
    bot = await slack_bot(enabled=("gated",))
    assert await command(bot, "approval wipe auto", "U_ADMIN") == (
        messages.approval_auto_refused_for_write("wipe", "gated"))
    assert await command(bot, "approval restart auto", "U_ADMIN") == (
        messages.approval_rule_set("restart", "auto", False, True))
    async with bot.services.db.write() as session:  # a rule stored before the refusal
        from bot.store.models import ApprovalRuleRow
        session.add(ApprovalRuleRow(tool="wipe", required=False, set_by="U_ADMIN"))
    await bot.services.plugins.refresh()  # as when another process stored it
    tool = bot.services.registry.snapshot.get("wipe")
    assert tool is not None and bot.services.registry.requires_approval(tool)


async def test_waiting_approvals_never_hold_the_run_slots(slack_bot: Make, gated: Path
                                                          ) -> None:
    """With one run slot, a question waiting for an admin does not stop another user's
    question from being answered; once approved, the first goes on and ends."""
    bot = await slack_bot(enabled=("gated",), agent_max_concurrent_runs=1,
                          approval_timeout_seconds=30)

    def answer(body: dict[str, Any]) -> Scripted:
        asked = json.dumps(body["messages"])
        if "restart web" in asked and '"role": "tool"' not in asked:
            return Scripted(body=bot.ai.completion(
                None, [call("restart", {"text": "web"}, "c1")]))
        return Scripted(body=bot.ai.completion("restarted" if "restart web" in asked
                                               else "all quiet"))
    bot.ai.default = answer
    first, _ = await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    second, _ = await bot.mention("anything on fire?", user="U_OTHER")
    await until(lambda: "all quiet" in bot.answers(second))
    assert "restarted" not in bot.answers(first)
    await bot.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: "restarted" in bot.answers(first))
    assert ran(bot) == [{"text": "web", "note": ""}]


async def test_a_run_stopped_while_its_approval_waits_closes_the_request(
        slack_bot: Make, gated: Path) -> None:
    """Stop (or a shutdown) ends a run waiting for an approval: its card is replaced by
    "expired: the run ended", and an admin's late click is told it is no longer pending —
    never "Approved" for a call nothing will run."""
    bot = await slack_bot(enabled=("gated",))
    bot.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    run_id = await until(lambda: bot.stop_button())
    await bot.click("stop_run", run_id, user="U_ASKER")
    closed = await until(lambda: [c for c in bot.slack.calls_to("chat.update")
                                  if c["text"] == messages.approval_run_ended_card("restart")])
    assert closed[0]["blocks"] == []  # the buttons are gone
    _, late = await bot.click("approve_tool", approval, user="U_ADMIN")
    said = await until(lambda: bot.responses(late))
    assert said[0]["text"] == messages.APPROVAL_NOT_PENDING
    assert ran(bot) == []
    audit = await command(bot, "audit 5", "U_ADMIN")
    assert "expire" in audit and "approve" not in audit.split("expire")[0]

