"""A mention's answer streamed into its thread with Slack's streaming methods: one message
started with `chat.startStream` (recipient user and team: required outside DMs), each tool
call a `task_update` card (in progress, then complete or error with its one-line result),
the answer's text appended in batches as the model writes it (`chat.appendStream` is Tier 4:
at most one call a second per run, in the background), and `chat.stopStream` at the end.
A workspace where streaming is unavailable (`unknown_method`, `not_allowed_token_type`, a
missing scope…) gets the status message and final post instead, from then on; so does
`SLACK_STREAMING=off`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import messages
from bot.agent.events import AnswerDelta, Event, ToolFinished, ToolStarted
from bot.agent.loop import RunResult, RunStatus
from bot.slack import render
from bot.slack.context import SlackContext
from bot.slack.delivery import FAILED
from bot.slack.feedback import feedback_buttons
from bot.slack.throttle import Throttle

log = logging.getLogger(__name__)
APPEND_INTERVAL = 1.0
STREAM_LIMIT = 11_000  # of answer text in the stream; longer answers end in answer.md
Held = Callable[[], Awaitable[bool]]  # whether this replica still answers the run (its lease)


async def always() -> bool:
    return True


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
    """One answer's stream. Appends go out in the background (the run never waits on
    Slack), in order, at most one a second; an append Slack would not take even after
    bot/slack/delivery.py's retries stays pending and goes with the next one, or with
    `chat.stopStream`, or — when the stream cannot be finished — in a message below it:
    each part of the answer reaches the thread once."""

    def __init__(self, ctx: SlackContext, streaming: Streaming, *, channel: str,
                 thread_ts: str, user: str | None, team: str | None,
                 held: Held = always, budget: Callable[[], bool] = lambda: True) -> None:
        self.ctx, self.streaming = ctx, streaming
        self.budget = budget  # False: the workspace's appends are spent; it waits
        self.held = held  # False once another replica took the run over: it stops the stream
        self.channel, self.thread_ts, self.user, self.team = channel, thread_ts, user, team
        self.ts: str | None = None
        # not yet in the stream, in the order they happened: (step, answer text), or a card
        self.pending: list[tuple[int, str] | dict[str, Any]] = []
        self.step = 0  # the model's step the latest text came from
        self.told_step, self.told = 0, ""  # the text of that step already in the stream
        self.size = 0  # answer text taken for the stream (at most STREAM_LIMIT)
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
            self.pending.append(_task(event.call_id, event.tool, "in_progress"))
        elif isinstance(event, ToolFinished):
            self.pending.append(_task(event.call_id, event.tool, "complete" if event.ok
                                    else "error", event.summary))
        elif isinstance(event, AnswerDelta):
            self.step = event.step
            if self.size + len(event.text) > STREAM_LIMIT:
                return  # the rest comes with the whole answer, attached
            self.pending.append((event.step, event.text))
            self.size += len(event.text)
        else:
            return
        self.throttle.later()  # at once when a second has passed since the last append

    async def _append(self) -> bool:
        """Send what is pending; False when Slack would not take it (it stays pending)."""
        async with self._lock:
            if self.pending and not self.budget():  # kept for the next append or the stop
                return False
            sent, self.pending = self.pending, []
            if not sent or not await self.held():
                return True
            assert self.ts is not None, "appended to a stream never started"
            try:
                await self.ctx.client.chat_appendStream(channel=self.channel, ts=self.ts,
                                                        chunks=_chunks(sent))
            except FAILED as exc:
                log.warning("chat.appendStream failed (%s): kept for the next one",
                            _error(exc))
                self.pending = sent + self.pending
                return False
            finally:
                self.throttle.ran()
            self._delivered([p for p in sent if isinstance(p, tuple)])
            return True

    def _delivered(self, text: list[tuple[int, str]]) -> None:
        for step, piece in text:
            if step != self.told_step:
                self.told_step, self.told = step, ""
            self.told += piece

    async def finish(self, result: RunResult, *, attached: bool = False) -> bool:
        """Stop the stream with the rest of the answer (or the run's sentence): what the
        stream has not shown yet, and only that. False when Slack took none of it."""
        self.throttle.cancel()
        await self._append()
        rest = self._rest(result, attached)
        overflow = ""
        if len(rest) > STREAM_LIMIT:  # could not be attached: the rest in messages below
            rest, overflow = messages.answer_continues(), rest
        blocks = feedback_buttons(result.run_id) if result.ok else None
        assert self.ts is not None, "finished a stream never started"
        cards = [p for p in self.pending if isinstance(p, dict)]  # Slack refused them so far
        chunks = cards + ([_markdown(rest)] if rest else [])
        try:
            await self.ctx.client.chat_stopStream(
                channel=self.channel, ts=self.ts, blocks=blocks, chunks=chunks or None)
        except FAILED as exc:
            log.warning("chat.stopStream failed (%s): the rest of the answer goes below it",
                        _error(exc))
            overflow = overflow or rest
        return await self._post(overflow)

    async def _post(self, text: str) -> bool:
        try:
            for message in render.answer_messages(text) if text else ():
                await self.ctx.client.chat_postMessage(channel=self.channel,
                                                       thread_ts=self.thread_ts, **message)
        except FAILED as exc:
            log.error("the answer in %s/%s could not be delivered (%s)", self.channel,
                      self.thread_ts, _error(exc))
            return False
        return True

    def _rest(self, result: RunResult, attached: bool) -> str:
        told = self.told if self.told_step == self.step else ""
        shown = bool(self.size - sum(len(p[1]) for p in self.pending if isinstance(p, tuple)))
        if result.status != RunStatus.ANSWERED:  # stopped, failed: what was said stays
            return ("\n\n" if shown else "") + result.text
        if attached:
            return "\n\n" + messages.answer_attached()
        told = told.lstrip()  # the answer is stripped; what was told ends a line
        if told and result.text.startswith(told):
            return result.text[len(told):]
        if told and result.text.startswith(told.rstrip()):
            return result.text[len(told.rstrip()):].lstrip("\n")
        return ("\n\n" if shown else "") + result.text


async def stop_abandoned(ctx: SlackContext, channel: str, ts: str, text: str) -> bool:
    """End a stream its replica left open (it died or lost its run's lease) with `text`;
    False when Slack would not (the stream had ended or expired): say it in a message."""
    try:
        await ctx.client.chat_stopStream(channel=channel, ts=ts, chunks=[_markdown(text)])
    except FAILED as exc:
        log.info("could not stop the stream left open in %s (%s): telling the thread in a "
                 "message", channel, _error(exc))
        return False
    return True


def _chunks(pending: list[tuple[int, str] | dict[str, Any]]) -> list[dict[str, Any]]:
    """The pending parts as Slack chunks, in order: cards as they are, each run of text
    between them one markdown chunk."""
    chunks: list[dict[str, Any]] = []
    text: list[str] = []
    for part in pending:
        if isinstance(part, tuple):
            text.append(part[1])
            continue
        if text:
            chunks.append(_markdown("".join(text)))
            text = []
        chunks.append(part)
    if text:
        chunks.append(_markdown("".join(text)))
    return chunks


def _error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


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
