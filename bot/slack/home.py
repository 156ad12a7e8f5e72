"""App Home: the plugin management page, refreshed after every change, whoever made it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.commands import Actor, CommandResult, PluginCommands
from bot.errors import DatabaseFault
from bot.plugin_host import Action, PluginInfo, PluginManager
from bot.slack import render
from bot.slack.context import SlackContext
from bot.store.run_records import RunRecords

log = logging.getLogger(__name__)


@dataclass
class Home:
    ctx: SlackContext
    plugins: PluginManager
    commands: PluginCommands
    records: RunRecords | None = None
    viewers: set[str] = field(default_factory=set)  # refreshed after every change


def register(app: AsyncApp, ctx: SlackContext, *, plugins: PluginManager,
             commands: PluginCommands, records: RunRecords | None = None) -> None:
    home = Home(ctx, plugins, commands, records)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            home.viewers.add(event["user"])
            await publish(home, event["user"])

    @app.action("plugin_toggle")
    async def on_toggle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, name = body["user"]["id"], body["actions"][0]["value"]
        plugin, by = await plugins.info(name), Actor(user, ctx.is_admin(user))
        switch = home.commands.disable if plugin.enabled else home.commands.enable
        await _shown(home, user, await switch(name, by=by))

    @app.action("plugin_enable")
    async def on_enable_button(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user, name = body["user"]["id"], body["actions"][0]["value"]
        result = await home.commands.enable(name, by=Actor(user, ctx.is_admin(user)))
        await respond(text=await _shown(home, user, result), response_type="ephemeral",
                      replace_original=False)

    async def refresh(action: Action, name: str) -> None:
        if action == Action.AUTO_DISABLE and ctx.admin_channel:
            plugin = await plugins.info(name)
            await ctx.client.chat_postMessage(channel=ctx.admin_channel,
                                              text=render.escape(messages.auto_disabled_notice(
                                                  name, plugin.error)))
        if action == Action.MCP_REVIEW and ctx.admin_channel:  # a server changed its tools
            plugin = await plugins.info(name)
            if plugin.mcp is not None and plugin.mcp.pending:
                await ctx.client.chat_postMessage(channel=ctx.admin_channel, text=render.escape(
                    messages.mcp_review_needed(name, plugin.mcp.pending)))
        page = await _read_page(home)  # once for every viewer
        for viewer in list(home.viewers):
            await publish(home, viewer, page)

    plugins.add_change_listener(refresh)


async def _shown(home: Home, user: str, result: CommandResult) -> str:
    """A button's result, escaped; one that changed nothing is told to the clicker."""
    ctx = home.ctx
    if not result.changed:
        await publish(home, user)  # a refusal changes nothing, but the clicker sees why
        await ctx.client.chat_postEphemeral(channel=user, user=user,
                                            text=render.escape(result.text))
    return render.escape(result.text)


@dataclass(frozen=True)
class _Page:
    """What every viewer's Home shows alike; only the admin buttons differ."""

    plugins: list[PluginInfo]
    feedback: tuple[int, int] | None  # helpful, not helpful in the last 7 days


async def _read_page(home: Home) -> _Page:
    feedback = None
    if home.records is not None:
        try:
            feedback = await home.records.feedback_since(7)
        except DatabaseFault:
            log.warning("App Home: feedback counts unavailable", exc_info=True)
    return _Page(await home.plugins.list(), feedback)


async def publish(home: Home, user: str, page: _Page | None = None) -> None:
    ctx = home.ctx
    page = page or await _read_page(home)
    view = render.home_view(page.plugins, is_admin=ctx.is_admin(user),
                            admin_channel=ctx.admin_channel)
    if page.feedback is not None:
        view["blocks"].insert(1, {"type": "context", "elements": [
            {"type": "mrkdwn", "text": messages.feedback_summary(*page.feedback)}]})
    try:
        await ctx.client.views_publish(user_id=user, view=view)
    except Exception:
        log.warning("could not publish App Home for %s", user, exc_info=True)
