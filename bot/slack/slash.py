"""`/plugin …`: acknowledged at once, answered ephemerally through response_url."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.commands import Actor, PluginCommands, run_text
from bot.slack import render
from bot.slack.context import SlackContext


def unescape(text: str) -> str:
    """The command as typed: Slack sends &, < and > as entities (its own <#C123|name>
    channel references are left for the parser)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def register(app: AsyncApp, ctx: SlackContext, *, commands: PluginCommands) -> None:
    @app.command("/plugin")
    async def on_plugin(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()  # within Slack's 3 s; the work finishes through response_url
        user = command["user_id"]
        result = await run_text(commands, unescape(command.get("text", "")),
                                by=Actor(user, ctx.is_admin(user)))
        await respond(text=render.code(result.text), response_type="ephemeral")
