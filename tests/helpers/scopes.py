"""Asking the bot in a channel and reading what a tool answered there (channel scopes)."""

from __future__ import annotations

from tests.helpers.slack_harness import SlackBot, until


async def ask(bot: SlackBot, channel: str, *tool_calls: dict[str, object]) -> int:
    """Mention the bot in `channel` (the model calls `tool_calls`, then answers); the
    index of the model request that offered the tools."""
    first = len(bot.ai.requests)
    if tool_calls:
        bot.ai.reply(tool_calls=list(tool_calls))
    bot.ai.reply("done")
    ts, _ = await bot.mention("what is going on?", channel=channel)
    await until(lambda: [a for a in bot.answers(ts) if a == "done"])
    return first


def tool_result(bot: SlackBot, request: int) -> str:
    return str(bot.ai.messages(request)[-1]["content"])
