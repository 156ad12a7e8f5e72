"""App Home: the plugin management page, refreshed after every change, whoever made it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.slack import render
from bot.slack.context import SlackContext

log = logging.getLogger(__name__)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            ctx.home_viewers.add(event["user"])
            await publish(ctx, event["user"])

    @app.action("plugin_toggle")
    async def on_toggle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, name = body["user"]["id"], body["actions"][0]["value"]
        plugin = await ctx.services.plugins.info(name)
        verb = "disable" if plugin.enabled else "enable"
        await _change(ctx, user, f"{verb} {name}")

    @app.action("plugin_enable")
    async def on_enable_button(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user, name = body["user"]["id"], body["actions"][0]["value"]
        result = await _change(ctx, user, f"enable {name}")
        await respond(text=result, response_type="ephemeral", replace_original=False)

    async def refresh(action: str, name: str) -> None:
        if action == "auto-disable" and ctx.admin_channel:
            plugin = await ctx.services.plugins.info(name)
            await ctx.client.chat_postMessage(channel=ctx.admin_channel,
                                              text=render.escape(messages.auto_disabled_notice(
                                                  name, plugin.error)))
        for viewer in list(ctx.home_viewers):
            await publish(ctx, viewer)

    ctx.services.plugins.add_change_listener(refresh)


async def _change(ctx: SlackContext, user: str, command: str) -> str:
    result = await ctx.commands.run(command, actor=user, is_admin=ctx.is_admin(user))
    if not result.changed:
        await publish(ctx, user)  # a refusal changes nothing, but the clicker sees why
        await ctx.client.chat_postEphemeral(channel=user, user=user,
                                            text=render.escape(result.text))
    return render.escape(result.text)


async def publish(ctx: SlackContext, user: str) -> None:
    plugins = await ctx.services.plugins.list()
    view = render.home_view(plugins, is_admin=ctx.is_admin(user),
                            admin_channel=ctx.admin_channel)
    try:
        await ctx.client.views_publish(user_id=user, view=view)
    except Exception:
        log.warning("could not publish App Home for %s", user, exc_info=True)
