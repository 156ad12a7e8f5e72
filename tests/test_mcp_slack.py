"""A remote MCP server as a plugin, through Slack: a real server written with the `mcp` SDK
(tests/mcp_server.py) on 127.0.0.1, the bot's real Slack endpoint, the fake model.

Added by an admin, disabled until enabled; the agent calls its read-only tool at once and
waits for an admin before its destructive one; a changed tool list waits for an admin's
review (`mcp accept`); a server that goes away is an error result, the bot keeps
answering, and three failures in a row switch the plugin off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from bot import messages
from bot.plugin_host.contract.protocol import ErrorKind
from bot.slack import render
from tests.fakes.mcp_server import McpTestServer
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.slack_admin import approval_id, command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call
TOOLS = "pod_status, restart_pod, grow, explode, soften, storm, huge"


@pytest.fixture
def mcp_server() -> Iterator[McpTestServer]:
    server = McpTestServer().start()
    yield server
    server.stop()


async def added(bot: SlackBot, server: McpTestServer, *, enable: bool = True) -> str:
    text = await command(bot, f"mcp add incident <{server.url}>", "U_ADMIN")
    if enable:
        assert await command(bot, "enable incident", "U_ADMIN") == (
            f"Enabled incident 2.4.1 ({TOOLS}).")
    return text


async def test_an_admin_adds_a_server_disabled_and_the_agent_calls_its_read_only_tool(
        slack_bot: Make, mcp_server: McpTestServer) -> None:
    bot = await slack_bot()
    text = await added(bot, mcp_server, enable=False)
    assert text == messages.mcp_added(
        "incident", mcp_server.url, updated=False, server="incident-tools 2.4.1",
        tools=tuple(TOOLS.split(", ")), error=None, enabled=False)
    listing = await command(bot, "list", "U_SOMEONE")
    assert "incident  2.4.1    mcp     remote   disabled" in listing
    assert "pod_status" not in bot.services.registry.snapshot
    assert await command(bot, "enable incident", "U_ADMIN") == (
        f"Enabled incident 2.4.1 ({TOOLS}).")
    bot.ai.reply(tool_calls=[call("pod_status", {"namespace": "prod"}, "c1")])
    bot.ai.reply("checkout-api is Running in prod.")
    ts, _ = await bot.mention("is checkout-api running in prod?")
    answer = await until(lambda: [a for a in bot.answers(ts) if "Running" in a])
    assert answer == ["checkout-api is Running in prod."]
    assert bot.ai.messages(1)[-1]["content"] == "checkout-api-7d9f 1/1 Running in prod"
    assert mcp_server.calls == [("pod_status", {"namespace": "prod"})]
    assert approval_id(bot) is None  # read-only: no approval asked
    info = await command(bot, "info incident", "U_SOMEONE")
    for line in ("Source:      mcp", "Server:      incident-tools 2.4.1",
                 f"URL:         {mcp_server.url}", "Headers:     none",
                 "restart_pod [requires approval]:", "pod_status: Pods of a namespace"):
        assert line in info
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D1", "event_ts": bot.new_ts()})
    home = str((await until(lambda: bot.slack.calls_to("views.publish")))[-1]["view"])
    assert f"MCP server: incident-tools 2.4.1 · {mcp_server.url}" in home
    assert "`restart_pod` (approval)" in home and "`pod_status`," in home


async def test_its_destructive_tool_waits_for_an_admin(slack_bot: Make,
                                                       mcp_server: McpTestServer) -> None:
    bot = await slack_bot()
    await added(bot, mcp_server)
    bot.ai.reply(tool_calls=[call("restart_pod", {"name": "checkout-api-7d9f"}, "c1")])
    bot.ai.reply("Restarted it.")
    await bot.mention("restart checkout-api-7d9f")
    approval = await until(lambda: approval_id(bot))
    assert len(bot.ai.requests) == 1 and mcp_server.calls == []  # waiting, not run
    await bot.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: len(bot.ai.requests) >= 2)
    assert bot.ai.messages(1)[-1]["content"] == "pod checkout-api-7d9f deleted"
    assert mcp_server.calls == [("restart_pod", {"name": "checkout-api-7d9f"})]


async def test_an_admins_rule_overrides_the_servers_hints(slack_bot: Make,
                                                          mcp_server: McpTestServer) -> None:
    bot = await slack_bot()
    await added(bot, mcp_server)
    assert await command(bot, "approval pod_status required", "U_ADMIN") == (
        messages.approval_rule_set("pod_status", "required", True, False))
    bot.ai.reply(tool_calls=[call("pod_status", {"namespace": "prod"}, "c1")])
    bot.ai.reply("ok")
    await bot.mention("pods?")
    assert await until(lambda: approval_id(bot))
    assert mcp_server.calls == []


async def test_a_changed_tool_list_waits_for_an_admins_review(
        slack_bot: Make, mcp_server: McpTestServer) -> None:
    """The server grows a tool mid-run: the bot keeps offering what the admin reviewed,
    tells the admin channel once, shows it in `info`, and offers it after `mcp accept`."""
    bot = await slack_bot()
    await added(bot, mcp_server)
    bot.ai.reply(tool_calls=[call("grow", {}, "c1")])
    bot.ai.reply("grown.")
    ts, _ = await bot.mention("how is payments?")
    await until(lambda: [a for a in bot.answers(ts) if "grown" in a])
    assert "extra_status" not in bot.ai.tool_names(1)  # the run's next step: not offered
    notice = await until(lambda: [t for t in bot.slack.posted_texts("C_ADMIN")
                                  if "incident" in t])
    assert notice == [render.escape(messages.mcp_review_needed("incident",
                                                                "added extra_status"))]
    assert "To review:   the server lists other tools now (added extra_status)" in (
        await command(bot, "info incident", "U_ADMIN"))
    change = (await bot.services.audit.recent(1, target="incident"))[0]
    assert (change.action, change.outcome) == ("mcp-change", "pending review")
    assert await command(bot, "mcp accept incident", "U_SOMEONE") == messages.not_admin()
    assert "extra_status" not in bot.services.registry.snapshot
    assert await command(bot, "mcp accept incident", "U_ADMIN") == (
        messages.mcp_review_accepted("incident", ["pod_status", "restart_pod", "grow",
                                                  "explode", "soften", "storm", "huge",
                                                  "extra_status"]))
    assert "extra_status" in bot.services.registry.snapshot
    accepted = (await bot.services.audit.recent(1, target="incident"))[0]
    assert (accepted.action, accepted.actor, accepted.detail) == (
        "mcp-accept", "U_ADMIN", "added extra_status")
    assert await command(bot, "mcp accept incident", "U_ADMIN") == (
        messages.mcp_nothing_to_review("incident"))
    assert "To review" not in await command(bot, "info incident", "U_ADMIN")


async def test_a_change_told_on_the_sessions_own_stream_is_held_once_it_arrives(
        slack_bot: Make, mcp_server: McpTestServer) -> None:
    """Unordered with the call's answer (another HTTP stream): held for review as soon as
    it is heard, with no restart."""
    bot = await slack_bot()
    await added(bot, mcp_server)
    bot.ai.reply(tool_calls=[call("grow", {"aside": True}, "c1")])
    bot.ai.reply("grown.")
    ts, _ = await bot.mention("grow")
    await until(lambda: [a for a in bot.answers(ts) if "grown" in a])
    info = await until(lambda: _pending(bot))
    assert info == "added extra_status"
    assert "extra_status" not in bot.services.registry.snapshot
    assert mcp_server.calls == [("grow", {"aside": True})]


async def _pending(bot: SlackBot) -> str | None:
    """What `info incident` says is waiting for review."""
    server = (await bot.services.plugins.info("incident")).mcp
    return server.pending if server else None


async def test_a_server_that_goes_away_is_retried_and_comes_back_by_itself(
        slack_bot: Make, mcp_server: McpTestServer, builtin: Callable[..., object]) -> None:
    """A restarting MCP server: calls while it is away say so (at once, with when it is
    tried again), the other plugins answer meanwhile, it is never switched off however
    many calls fail — and it answers again by itself once it is back."""
    builtin("alpha")
    bot = await slack_bot(enabled=("alpha",), plugin_max_consecutive_failures=3)
    await added(bot, mcp_server)
    mcp_server.stop()
    bot.ai.reply(tool_calls=[call("pod_status", {"namespace": "prod"}, "c1")])
    bot.ai.reply("The incident tools are unreachable.")
    ts, _ = await bot.mention("pods?")
    await until(lambda: [a for a in bot.answers(ts) if "unreachable" in a])
    seen = bot.ai.messages(1)[-1]["content"]
    assert seen.startswith(f"the connection to the MCP server 127.0.0.1:{mcp_server.port} "
                           "broke") or "could not be reached" in seen
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "still here"}, "c2")])
    bot.ai.reply("alpha says still here")
    ts2, _ = await bot.mention("are you alive?")
    assert await until(lambda: [a for a in bot.answers(ts2) if "still here" in a])
    for _ in range(5):
        started = time.monotonic()
        result = await bot.services.registry.call("pod_status", {"namespace": "prod"})
        assert result.error == ErrorKind.UNAVAILABLE, result.text
        assert "could not be reached" in result.text
        assert time.monotonic() - started < 1.0  # told at once while it is away
    assert "it is tried again in" in result.text
    info = await bot.services.plugins.info("incident")
    assert info.enabled and "pod_status" in bot.services.registry.snapshot
    assert not [t for t in bot.slack.posted_texts("C_ADMIN") if "incident" in t]

    await asyncio.to_thread(mcp_server.start)  # back, on the same port
    back = await until(lambda: _answers(bot), 15)
    assert back.ok and "Running" in back.text
    assert (await bot.services.plugins.info("incident")).enabled


async def _answers(bot: SlackBot) -> Any:
    result = await bot.services.registry.call("pod_status", {"namespace": "prod"})
    return result if result.ok else None


async def test_bad_additions_are_refused_in_one_sentence_and_nothing_is_stored(
        slack_bot: Make, mcp_server: McpTestServer, builtin: Callable[..., object]) -> None:
    builtin("alpha")
    bot = await slack_bot()
    cases = {
        "mcp add incident": messages.mcp_usage(),
        "mcp remove incident": messages.mcp_usage(),
        "mcp add incident ftp://example.com/mcp": messages.mcp_url_not_http(
            "ftp://example.com/mcp"),
        "mcp add incident https://ops:hunter2@example.com/mcp":
            messages.mcp_url_has_credentials(),
        "mcp add Incident https://example.com/mcp": messages.bad_plugin_name("Incident"),
        f"mcp add alpha {mcp_server.url}": messages.shadows_builtin("alpha"),
        f"mcp add incident {mcp_server.url} header Host=evil":
            messages.mcp_header_reserved("Host"),
        f"mcp add incident {mcp_server.url} header Bad(name)=x":
            messages.mcp_header_name_bad("Bad(name)"),
        f"mcp add incident {mcp_server.url} header Authorization=Bearer abc":
            messages.secret_key_needed(),
        f"mcp add incident {mcp_server.url} header justaword":
            messages.mcp_header_unparsable("justaword"),
    }
    for text, expected in cases.items():
        assert await command(bot, text, "U_ADMIN") == expected, text
    assert await command(bot, f"mcp add incident {mcp_server.url}", "U_SOMEONE") == (
        messages.not_admin())
    assert [p.name for p in await bot.services.plugins.list()] == ["alpha"]
    assert mcp_server.calls == [] and mcp_server.seen_headers == []
    refused = (await bot.services.audit.recent(1))[0]
    assert (refused.actor, refused.action, refused.outcome) == ("U_SOMEONE", "mcp", "refused")


async def test_an_unreachable_server_is_saved_with_why_and_mcp_add_again_moves_it(
        slack_bot: Make) -> None:
    bot = await slack_bot()
    server = McpTestServer()  # not started yet: nothing listens on its port
    text = await command(bot, f"mcp add incident {server.url}", "U_ADMIN")
    why = f"the MCP server 127.0.0.1:{server.port} could not be reached: "
    assert text.startswith(f"Added MCP server incident at {server.url}, but could not "
                           f"reach it: {why}")
    enable = await command(bot, "enable incident", "U_ADMIN")
    assert why in enable
    moved = McpTestServer().start()
    try:
        text = await command(bot, f"mcp add incident {moved.url}", "U_ADMIN")
        assert text.startswith(f"Updated MCP server incident at {moved.url} (incident-tools")
        assert (await command(bot, "enable incident", "U_ADMIN")).startswith("Enabled")
        result = await bot.services.registry.call("pod_status", {"namespace": "a"})
        assert result.ok and moved.calls == [("pod_status", {"namespace": "a"})]
        moved2 = McpTestServer().start()
        try:  # an enabled plugin moves at once: the next call goes to the new address
            await command(bot, f"mcp add incident {moved2.url}", "U_ADMIN")
            result = await bot.services.registry.call("pod_status", {"namespace": "b"})
            assert result.ok and moved2.calls == [("pod_status", {"namespace": "b"})]
            assert len(moved.calls) == 1
        finally:
            moved2.stop()
        assert await command(bot, "remove incident", "U_ADMIN") == messages.removed("incident")
        assert "incident" not in [p.name for p in await bot.services.plugins.list()]
        assert "pod_status" not in bot.services.registry.snapshot
    finally:
        moved.stop()


async def test_a_server_that_never_finishes_its_handshake_gets_the_admin_a_reply(
        slack_bot: Make) -> None:
    """The admin adding a server that accepts the connection and never answers hears one
    sentence after MCP_CONNECT_TIMEOUT, and the server is saved (it used to be no reply at
    all: the command died with a CancelledError)."""
    from tests.fakes.mcp_server import SilentServer

    silent = SilentServer().start()
    try:
        bot = await slack_bot(mcp_connect_timeout=1)
        reply = await command(bot, f"mcp add stalled <{silent.url}>", "U_ADMIN")
    finally:
        silent.stop()
    label = f"127.0.0.1:{silent.port}"
    assert reply == messages.mcp_added(
        "stalled", silent.url, updated=False, server=None, tools=[],
        error=messages.mcp_connect_timeout(label, 1), enabled=False)
    info = await bot.services.plugins.info("stalled")
    assert info is not None and not info.enabled
