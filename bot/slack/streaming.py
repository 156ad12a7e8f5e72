"""A mention's answer streamed into its thread with Slack's streaming methods: one message
started with `chat.startStream` (recipient user and team: required outside DMs), each tool
call a `task_update` card (in progress, then complete or error with its one-line result),
the answer's text appended in batches as the model writes it (`chat.appendStream` is Tier 4:
at most one call a second per run, or sooner when 2,000 characters wait), and
`chat.stopStream` at the end. A workspace where streaming is unavailable (`unknown_method`,
`not_allowed_token_type`, a missing scope…) gets the status message and final post instead,
from then on; so does `SLACK_STREAMING=off`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import messages
from bot.agent.events import AnswerDelta, Event, ToolFinished, ToolStarted
from bot.agent.loop import RunResult, RunStatus
from bot.slack import render
from bot.slack.context import SlackContext
from bot.slack.feedback import feedback_buttons
from bot.slack.throttle import Throttle

log = logging.getLogger(__name__)
APPEND_INTERVAL = 1.0
APPEND_BATCH = 2_000
STREAM_LIMIT = 11_000  # of answer text in the stream; longer answers end in answer.md
UNAVAILABLE = frozenset({"unknown_method", "not_allowed_token_type", "missing_scope",
                         "method_deprecated", "not_supported", "feature_not_enabled"})


class Streaming:
    """Which workspaces can stream (learnt once each), and the setting."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.unavailable: set[str] = set()

    def wanted(self, team: str | None) -> bool:
        return self.enabled and (team or "") not in self.unavailable


class StreamedAnswer:
    def __init__(self, ctx: SlackContext, streaming: Streaming, *, channel: str,
                 thread_ts: str, user: str | None, team: str | None) -> None:
        self.ctx, self.streaming = ctx, streaming
        self.channel, self.thread_ts, self.user, self.team = channel, thread_ts, user, team
        self.ts: str | None = None
        self.text: list[str] = []  # answer text waiting for the next append
        self.told = ""  # answer text of the current step already in the stream
        self.step = 0
        self.size = 0
        self.throttle = Throttle(APPEND_INTERVAL, self._append)
        self._lock = asyncio.Lock()

    async def start(self) -> bool:
        """Start the stream; False (and the workspace remembered) when Slack cannot."""
        try:
            response = await self.ctx.client.chat_startStream(
                channel=self.channel, thread_ts=self.thread_ts, recipient_user_id=self.user,
                recipient_team_id=self.team, task_display_mode="timeline")
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in UNAVAILABLE:
                log.info("streaming is unavailable in workspace %s (%s): status messages "
                         "from now on", self.team, error)
                self.streaming.unavailable.add(self.team or "")
            else:
                log.warning("chat.startStream failed (%s): answering without streaming", error)
            return False
        self.ts = response["ts"]
        self.throttle.ran()
        return True

    async def observe(self, event: Event) -> None:
        if isinstance(event, ToolStarted):
            await self._append(chunks=[_task(event.call_id, event.tool, "in_progress")])
        elif isinstance(event, ToolFinished):
            await self._append(chunks=[_task(event.call_id, event.tool, "complete" if event.ok
                                             else "error", event.summary)])
        elif isinstance(event, AnswerDelta):
            if event.step != self.step:
                self.step, self.told = event.step, ""
            if self.size + len(event.text) > STREAM_LIMIT:
                return  # the rest comes with the whole answer, attached
            self.text.append(event.text)
            self.told += event.text
            self.size += len(event.text)
            first = self.size == len(event.text)  # the answer's first words go at once
            if first or sum(map(len, self.text)) >= APPEND_BATCH or self.throttle.due():
                await self._append()
            else:
                self.throttle.later()

    async def _append(self, *, chunks: list[dict[str, Any]] | None = None) -> None:
        async with self._lock:
            text = "".join(self.text)
            if not text and not chunks:
                return
            self.text = []
            parts = ([_markdown(text)] if text else []) + (chunks or [])
            assert self.ts is not None, "appended to a stream never started"
            try:
                await self.ctx.client.chat_appendStream(channel=self.channel, ts=self.ts,
                                                        chunks=parts)
            except SlackApiError as exc:
                log.warning("chat.appendStream failed (%s)", exc.response.get("error"))
            self.throttle.ran()

    async def finish(self, result: RunResult, *, attached: bool = False) -> None:
        """Stop the stream with the rest of the answer (or the run's sentence)."""
        self.throttle.cancel()
        await self._append()
        rest = self._rest(result, attached)
        overflow = ""
        if len(rest) > STREAM_LIMIT:  # could not be attached: the rest in messages below
            rest, overflow = messages.answer_continues(), rest
        blocks = feedback_buttons(result.run_id) if result.ok else None
        assert self.ts is not None, "finished a stream never started"
        try:
            await self.ctx.client.chat_stopStream(
                channel=self.channel, ts=self.ts, blocks=blocks,
                chunks=[_markdown(rest)] if rest else None)
        except SlackApiError as exc:
            log.warning("chat.stopStream failed (%s): posting the answer", exc.response.get(
                "error"))
            overflow = result.text
        for message in render.answer_messages(overflow) if overflow else ():
            await self.ctx.client.chat_postMessage(channel=self.channel,
                                                   thread_ts=self.thread_ts, **message)

    def _rest(self, result: RunResult, attached: bool) -> str:
        if result.status != RunStatus.ANSWERED:  # stopped, failed: what was said stays
            return ("\n\n" if self.size else "") + result.text
        if attached:
            return "\n\n" + messages.answer_attached()
        told = self.told.lstrip()  # the answer is stripped; what was told ends a line
        if told and result.text.startswith(told):
            return result.text[len(told):]
        if told and result.text.startswith(told.rstrip()):
            return result.text[len(told.rstrip()):].lstrip("\n")
        return ("\n\n" if self.size else "") + result.text


def _markdown(text: str) -> dict[str, Any]:
    """A streamed text chunk, escaped as every message the bot posts is."""
    return {"type": "markdown_text", "text": render.markdown_safe(text)}


def _task(call_id: str, tool: str, status: str, output: str | None = None) -> dict[str, Any]:
    """A tool call's card: its title and result line are escaped like any text the bot
    sends (a tool's output is not the bot's to trust)."""
    chunk: dict[str, Any] = {"type": "task_update", "id": call_id,
                             "title": render.escape(tool), "status": status}
    if output:
        chunk["output"] = render.escape(output[:300])
    return chunk
