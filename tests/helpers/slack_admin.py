"""An admin's moves in Slack: a /plugin command, the approval waiting in a thread, a
file shared in the admin channel."""

from __future__ import annotations

from tests.helpers.slack_harness import SlackBot, SlackSender, until


async def command(bot: SlackBot, text: str, user: str) -> str:
    response, path = await bot.command(text, user=user)
    assert response.status == 200
    replies = await until(lambda: bot.responses(path))
    assert replies[0]["response_type"] == "ephemeral"
    return replies[0]["text"]


def share(bot: SlackSender, file_id: str, name: str, body: bytes, *, user: str,
          channel: str = "C_ADMIN", url: str | None = None, size: int | None = None
          ) -> dict[str, object]:
    bot.slack.add_file(file_id, name, body, user=user, channel=channel, url=url, size=size)
    return {"type": "file_shared", "file_id": file_id, "user_id": user, "channel_id": channel,
            "file": {"id": file_id}, "event_ts": bot.new_ts()}


def approval_id(bot: SlackSender) -> str | None:
    for c in bot.slack.calls_to("chat.postMessage"):
        for block in c.get("blocks") or []:
            if block.get("block_id") == "approval":
                return str(block["elements"][0]["value"])
    return None
