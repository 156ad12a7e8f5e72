"""Slack's agent view (the AI split view): people open the bot there and talk to it in its
own threads. A new thread gets suggested prompts (SLACK_SUGGESTED_PROMPTS, else SRE
defaults); a message in the thread is a question like a mention — the same agent, tools,
approvals, audit, streaming and Stop, with the thread's messages as context — and
`assistant.threads.setStatus` says the bot is at work. Bolt's Assistant middleware routes
the events (assistant_thread_started, and message.im in those threads)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.slack.mentions import Mention, Mentions, accept

log = logging.getLogger(__name__)
DEFAULT_PROMPTS = (
    {"title": "What is broken?", "message": "What is failing in the prod namespace right now?"},
    {"title": "A crashlooping pod", "message": "Why is a pod crashlooping in prod, and what "
                                                "should I do about it?"},
    {"title": "Recent warnings", "message": "Which warning events happened in prod in the "
                                             "last hour?"},
    {"title": "Node health", "message": "Are all nodes healthy, and is any short of memory "
                                        "or disk?"})


def register(app: AsyncApp, m: Mentions, *, prompts: list[dict[str, str]] | None = None
             ) -> None:
    assistant = AsyncAssistant()
    shown = list(prompts or DEFAULT_PROMPTS)[:4]  # Slack shows at most four

    @assistant.thread_started
    async def on_started(set_suggested_prompts: Any) -> None:
        try:
            await set_suggested_prompts(prompts=shown, title=messages.AGENT_VIEW_PROMPTS_TITLE)
        except SlackApiError as exc:
            log.warning("could not set the suggested prompts (%s)", exc.response.get("error"))

    @assistant.user_message
    async def on_message(payload: dict[str, Any], body: dict[str, Any],
                         set_status: Any) -> None:
        try:
            await set_status(messages.AGENT_VIEW_STATUS)
        except SlackApiError as exc:  # a status is a nicety: the answer matters
            log.warning("could not set the thread's status (%s)", exc.response.get("error"))
        await accept(m, Mention.of(payload, body))

    app.use(assistant)
