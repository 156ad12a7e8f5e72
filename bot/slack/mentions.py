"""@mentions: answer in the thread with the agent, showing progress in one status message."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.agent.approvals import Approver
from bot.agent.context import HistoryMessage
from bot.agent.events import Event, Queued, Thinking, ToolFinished, ToolStarted
from bot.agent.loop import RunResult, RunStatus
from bot.agent.runs import RunHandle, Runs, new_run_id
from bot.errors import DatabaseFault
from bot.plugin_host import Caller
from bot.slack import render
from bot.slack.context import SlackContext
from bot.slack.delivery import FAILED
from bot.slack.feedback import vote_buttons
from bot.slack.streaming import Held, StreamedAnswer, Streaming, always, stop_abandoned
from bot.slack.throttle import SlackBudgets, Throttle
from bot.store.shared_runs import LostRun, RunState, SharedRuns

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
STATUS_INTERVAL = 1.0  # chat.update is Tier 3 (~50/min): at most one a second per run
HISTORY_LIMIT = 200
HOLD_SECONDS = 120.0  # a question the database refused is tried again for this long
INLINE_LIMIT = 12_000  # longer answers are attached as a file, with their beginning inline
HEADLINES = {RunStatus.ANSWERED: messages.STATUS_DONE,
             RunStatus.CANCELLED: messages.STATUS_STOPPED,
             RunStatus.INTERRUPTED: messages.STATUS_INTERRUPTED}


@dataclass(frozen=True)
class Mentions:
    """What answering a mention uses: Slack, the thread's turn across replicas, the runs."""

    ctx: SlackContext
    shared: SharedRuns
    runs: Runs
    approver: Approver
    streaming: Streaming
    budgets: SlackBudgets = field(default_factory=SlackBudgets)  # per workspace and method
    # runs whose Stop button is shown but not yet in the database (run id -> asker), and
    # those stopped in that moment: a click then is this replica's to honour
    starting: dict[str, str | None] = field(default_factory=dict)
    stopped_early: set[str] = field(default_factory=set)


def register(app: AsyncApp, ctx: SlackContext, *, shared: SharedRuns, runs: Runs,
             approver: Approver, streaming: Streaming, budgets: SlackBudgets) -> Mentions:
    m = Mentions(ctx, shared, runs, approver, streaming, budgets)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        await accept(m, Mention.of(event, body))

    @app.action("stop_run")
    async def on_stop(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        run_id = body["actions"][0]["value"]
        user = body["user"]["id"]
        refusal = await _stop(m, run_id, user)
        if refusal:
            await respond(text=refusal, response_type="ephemeral", replace_original=False)

    return m


@dataclass(frozen=True)
class Mention:
    """A question as Slack delivered it (an @mention, or a message in an agent-view
    thread), read once at the edge."""

    delivery: str  # Slack's event id (else the message ts): one answer per delivery
    channel: str
    thread_ts: str  # the thread answered in (the message itself when it starts one)
    ts: str  # the message's own ts (left out of the thread history)
    user: str | None
    team: str | None
    question: str  # the text without the mentions

    @classmethod
    def of(cls, event: dict[str, Any], body: dict[str, Any]) -> Mention:
        return cls(delivery=str(body.get("event_id") or event["ts"]),
                   channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                   ts=event["ts"], user=event.get("user"),
                   team=event.get("team") or body.get("team_id"),
                   question=MENTION.sub("", str(event.get("text") or "")).strip())


async def accept(m: Mentions, mention: Mention) -> None:
    """Take a question: once per delivery, in its thread's turn, answered after Slack has
    been acknowledged."""
    try:
        row_id = await _enqueue(m, mention)
    except DatabaseFault as exc:
        m.ctx.spawn(_hold(m, mention, exc))
        return
    if row_id is None:
        log.info("ignoring a repeated delivery of %s", mention.delivery)
        return
    log.debug("question %s in %s/%s queued as row %d (its words are not logged)",
              mention.delivery, mention.channel, mention.thread_ts, row_id)
    m.ctx.spawn(answer(m, mention, row_id))


async def _enqueue(m: Mentions, mention: Mention) -> int | None:
    return await m.shared.enqueue(f"event:{mention.delivery}", mention.channel,
                                  mention.thread_ts, mention.ts, mention.user)


async def _hold(m: Mentions, mention: Mention, fault: DatabaseFault) -> None:
    """The database refused to record a question: the thread is told at once that it is
    held; it is tried again (0.5 s doubling to 5 s) for up to HOLD_SECONDS and answered
    once recorded — or, when the database stays away or the bot shuts down, the thread is
    told it was not taken. Either way, never dropped in silence."""
    log.error("a mention in %s/%s could not be recorded (%s): trying again for %.0f s",
              mention.channel, mention.thread_ts, fault, HOLD_SECONDS)
    await _say(m, mention, messages.mention_held(str(fault), HOLD_SECONDS))
    deadline = time.monotonic() + HOLD_SECONDS
    pause = 0.5
    while not m.runs.closed and time.monotonic() < deadline:
        await _nap(m, pause)
        pause = min(5.0, pause * 2)
        try:
            row_id = await _enqueue(m, mention)
        except DatabaseFault as exc:
            fault = exc
            continue
        log.info("the held mention in %s/%s is recorded now", mention.channel,
                 mention.thread_ts)
        if row_id is not None:  # None: its first try went in after all, and is answered
            await answer(m, mention, row_id)
        return
    await _not_saved(m, mention.channel, mention.thread_ts, fault)


async def _nap(m: Mentions, seconds: float) -> None:
    """Sleep, waking early when the bot starts shutting down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(m.runs.stopping.wait(), seconds)


async def _say(m: Mentions, mention: Mention, text: str) -> None:
    try:
        await m.ctx.client.chat_postMessage(channel=mention.channel,
                                            thread_ts=mention.thread_ts, text=text)
    except Exception:
        log.warning("could not tell %s/%s", mention.channel, mention.thread_ts, exc_info=True)


async def _stop(m: Mentions, run_id: str, user: str) -> str | None:
    """Stop a run wherever it runs; None, or the sentence that says why not."""
    starting = run_id in m.starting  # looked at before the read: it may end meanwhile
    asker = m.starting.get(run_id)
    run = await m.shared.find(run_id)
    if run is None and starting:  # its button is out, its row was not yet
        if user != asker and not m.ctx.is_admin(user):
            return messages.RUN_STOP_NOT_ALLOWED
        if not m.runs.cancel(run_id):
            m.stopped_early.add(run_id)  # cancelled as it starts
        return None
    if run is None or run.state == RunState.DONE:
        return messages.RUN_FINISHED  # or from before a restart
    if user != run.asker and not m.ctx.is_admin(user):
        return messages.RUN_STOP_NOT_ALLOWED
    finished = messages.RUN_FINISHED
    if run.replica == m.shared.replica:  # ours: Runs knows whether it still runs
        return None if m.runs.cancel(run_id) else finished
    if not run.alive:  # its replica died; the thread is told as the run is recovered
        return messages.RUN_LOST
    if await m.shared.request_stop(run_id, user):
        return None  # the replica running it stops it within a second
    return finished


async def tell_lost(ctx: SlackContext, lost: LostRun) -> None:
    """A run whose replica died (or lost its lease): finish its status message, and tell the
    thread — in the answer's stream when one was left open, which this stops."""
    if lost.status_ts:
        try:
            await ctx.client.chat_update(
                channel=lost.channel, ts=lost.status_ts, text=messages.STATUS_INTERRUPTED,
                blocks=render.status_blocks([messages.STATUS_INTERRUPTED], run_id=None, done=True))
        except Exception:
            log.warning("could not finish the status message of a lost run", exc_info=True)
    text = messages.run_interrupted([]) if lost.started else messages.run_not_started()
    if lost.stream_ts and await stop_abandoned(ctx, lost.channel, lost.stream_ts, text):
        return
    try:
        await ctx.client.chat_postMessage(channel=lost.channel, thread_ts=lost.thread_ts,
                                          text=text)
    except Exception:
        log.warning("could not tell %s/%s about a lost run", lost.channel, lost.thread_ts,
                    exc_info=True)


async def answer(m: Mentions, mention: Mention, row_id: int) -> None:
    channel, thread_ts = mention.channel, mention.thread_ts
    try:
        async with m.shared.turn(row_id, channel, thread_ts, mention.ts):
            try:
                if not await m.shared.holds(row_id):
                    return  # another replica took it over while this one was paused
                if m.runs.closed:  # its turn came during shutdown: say so, not start
                    await m.ctx.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                                        text=messages.run_not_started())
                    return
                await _answer(m, row_id, mention)
            except DatabaseFault:
                raise
            except Exception:
                log.exception("answering a mention in %s/%s failed", channel, thread_ts)
    except DatabaseFault as exc:
        await _not_saved(m, channel, thread_ts, exc)


async def _not_saved(m: Mentions, channel: str, thread_ts: str, fault: DatabaseFault) -> None:
    """The database failed under a mention: the thread hears it, not just the log."""
    log.error("a mention in %s/%s could not be recorded: %s", channel, thread_ts, fault)
    try:
        await m.ctx.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                            text=messages.mention_not_saved(str(fault)))
    except Exception:
        log.warning("could not tell %s/%s either", channel, thread_ts, exc_info=True)


async def _answer(m: Mentions, row_id: int, mention: Mention) -> None:
    ctx, client = m.ctx, m.ctx.client
    channel, thread_ts = mention.channel, mention.thread_ts
    if not mention.question:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                      text=messages.EMPTY_MENTION)
        return
    run_id = new_run_id()  # the status shows its Stop button from the start
    m.starting[run_id] = mention.user
    try:
        handle, status, stream = await _start(m, row_id, mention, run_id)
    finally:
        m.starting.pop(run_id, None)
        m.stopped_early.discard(run_id)
    status.run_id = handle.run_id
    held = functools.partial(m.shared.holds, row_id)
    result = await handle.result()
    if result.status == RunStatus.CANCELLED and m.runs.closed:
        result = replace(result, status=RunStatus.INTERRUPTED, text=messages.run_interrupted(
            [(t.tool, t.ok) for t in result.tools]))
    if not await held():  # taken over by another replica, which told the thread
        log.warning("run %s was taken over by another replica: its %s result is not "
                    "delivered", handle.run_id, result.status.value)
        return
    delivered = await _deliver(ctx, mention, result, stream)
    # after the answer, and without holding the thread's next question: a rate-limited
    # chat.update must not keep an answer back
    ctx.spawn(status.finish(result.status if delivered else None, result.tools))


async def _start(m: Mentions, row_id: int, mention: Mention, run_id: str
                 ) -> tuple[RunHandle, StatusMessage, StreamedAnswer | None]:
    """Post the status (its Stop button), open the stream, start the run and record it."""
    ctx, client = m.ctx, m.ctx.client
    channel, thread_ts = mention.channel, mention.thread_ts
    working = client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                      text=messages.WORKING,
                                      blocks=render.status_blocks([], run_id=run_id))
    history: list[HistoryMessage] = []
    if mention.ts == thread_ts:  # it opens the thread: nothing was said before it
        posted = await working
    else:  # the thread's history is read while the status is posted
        history, posted = await asyncio.gather(
            _history(ctx, channel, thread_ts, exclude=mention.ts), working)
    held = functools.partial(m.shared.holds, row_id)
    stream = await _stream(m, mention, held)
    status = StatusMessage(ctx, channel, posted["ts"], tools=stream is None,
                           budget=lambda: m.budgets.take("chat.update", mention.team),
                           last_edit_turn=lambda: m.budgets.wait("chat.update", mention.team),
                           held=held)
    handle = m.runs.start(mention.question, caller=Caller(user=mention.user, channel=channel,
                                                          thread_ts=thread_ts),
                          history=history, approver=m.approver, run_id=run_id,
                          observer=status.observe if stream is None else _both(status, stream))
    if run_id in m.stopped_early:  # Stop was clicked before the run had started
        await asyncio.sleep(0)  # its task begins: cancelled, it says what ran (nothing)
        m.runs.cancel(run_id)
    try:  # bookkeeping for Stop across replicas: the answer matters more
        await m.shared.running(row_id, handle.run_id, posted["ts"],
                               stream.ts if stream is not None else None)
    except DatabaseFault as exc:
        log.error("run %s continues unrecorded: %s", handle.run_id, exc)
    return handle, status, stream


async def _deliver(ctx: SlackContext, mention: Mention, result: RunResult,
                   stream: StreamedAnswer | None) -> bool:
    """The answer into the thread (streamed, attached or posted); False when Slack took
    none of it, even after bot/slack/delivery.py's retries."""
    channel, thread_ts = mention.channel, mention.thread_ts
    attached = len(result.text) > INLINE_LIMIT and await _upload_answer(
        ctx, channel, thread_ts, result.text)
    if stream is not None:
        return await stream.finish(result, attached=attached)
    if attached:
        return True
    parts = render.answer_messages(result.text)
    if result.ok and "blocks" in parts[-1] and len(parts[-1]["blocks"]) < 50:
        parts[-1]["blocks"] = [*parts[-1]["blocks"], vote_buttons(result.run_id)]
    try:
        for message in parts:
            await ctx.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
    except FAILED as exc:
        log.error("the answer in %s/%s could not be delivered (%s)", channel, thread_ts, exc)
        return False
    return True


async def _stream(m: Mentions, mention: Mention, held: Held) -> StreamedAnswer | None:
    """The answer's stream, when the workspace can stream; else None (status + post)."""
    if not m.streaming.wanted(mention.team):
        return None
    if not m.budgets.take("chat.startStream", mention.team):  # Tier 2: status and a post
        log.info("streams spent for now in workspace %s: this answer is posted whole",
                 mention.team)
        return None
    stream = StreamedAnswer(m.ctx, m.streaming, channel=mention.channel,
                            thread_ts=mention.thread_ts, user=mention.user, team=mention.team,
                            held=held,
                            budget=lambda: m.budgets.take("chat.appendStream", mention.team))
    return stream if await stream.start() else None


def _both(status: StatusMessage, stream: StreamedAnswer) -> Any:
    async def observe(event: Event) -> None:
        await status.observe(event)
        await stream.observe(event)
    return observe


async def _upload_answer(ctx: SlackContext, channel: str, thread_ts: str, text: str) -> bool:
    """A long answer: its beginning inline, the whole of it as a Markdown file."""
    head = render.split_text(render.to_mrkdwn(text), limit=2500)[0]
    try:
        await ctx.client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, content=text, filename="answer.md",
            title="Full answer", initial_comment=f"{head}\n\n{messages.answer_attached()}")
    except Exception:
        log.warning("uploading a long answer failed; posting it in parts", exc_info=True)
        return False
    return True


async def _history(ctx: SlackContext, channel: str, thread_ts: str, *,
                   exclude: str) -> list[HistoryMessage]:
    messages: list[dict[str, Any]] = []
    cursor = None
    while len(messages) < HISTORY_LIMIT:
        try:
            response = await ctx.client.conversations_replies(channel=channel, ts=thread_ts,
                                                              cursor=cursor, limit=100)
        except SlackApiError as exc:  # no history is no reason not to answer
            log.warning("thread history unavailable (%s): answering without it",
                        exc.response.get("error"))
            break
        messages += response.get("messages", [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    history = []
    for message in messages:
        if message.get("ts") == exclude or not message.get("text"):
            continue
        mine = bool(message.get("bot_id"))
        text = MENTION.sub("", message["text"]).strip()
        history.append(HistoryMessage("assistant" if mine else "user", text,
                                      None if mine else f"<@{message.get('user')}>"))
    return history


async def _at_once() -> None:
    return None


class StatusMessage:
    """The run's status message, updated as tools run, at most once a second: a header
    (queued, thinking, done) and one line per tool call, keyed by its call id."""

    def __init__(self, ctx: SlackContext, channel: str, ts: str, *, tools: bool = True,
                 budget: Callable[[], bool] = lambda: True, held: Held = always,
                 last_edit_turn: Callable[[], Awaitable[None]] = _at_once) -> None:
        self.ctx = ctx
        self.budget = budget  # whether a progress edit may go now (the workspace's budget)
        self.last_edit_turn = last_edit_turn  # waits until the last edit may go
        self.held = held  # whether this replica still answers the run (its lease)
        self.finished = False
        self.show_tools = tools  # not when the answer streams: its task cards show them
        self.channel = channel
        self.ts = ts
        self.run_id: str | None = None
        self.header: str | None = None
        self.tools: dict[str, str] = {}
        self.throttle = Throttle(STATUS_INTERVAL, self.flush)
        self._lock = asyncio.Lock()

    @property
    def lines(self) -> list[str]:
        return ([self.header] if self.header else []) + list(self.tools.values())

    async def observe(self, event: Event) -> None:
        if isinstance(event, Queued):
            self.header = f":hourglass: Waiting for a free slot (position {event.position})"
        elif isinstance(event, Thinking):
            first = self.header is None  # "Working on it…" says as much: no edit for it
            self.header = f":thought_balloon: Thinking (step {event.step})…"
            if first:
                return
        elif isinstance(event, ToolStarted) and self.show_tools:
            self.tools[event.call_id] = render.tool_line(event.tool, event.arguments)
        elif isinstance(event, ToolFinished) and self.show_tools:
            self.tools[event.call_id] = render.tool_done_line(
                event.tool, event.ok, event.duration_ms, event.summary)
        else:
            return
        self.throttle.later()

    async def flush(self, *, done: bool = False) -> None:
        """Show the lines as they are now; one update at a time, so that a slow one (Slack
        rate-limiting, retried) is followed by the newer lines, never overwrites them."""
        async with self._lock:
            if self.finished and not done:
                return  # a progress edit late for a finished run: it would undo the end
            self.throttle.ran()
            if done:
                await self.last_edit_turn()  # it must go: when the budget allows
            elif not self.budget():
                self.throttle.later()  # the workspace is at its budget: try again in a while
                return
            if not await self.held():
                self.finished = True  # taken over by another replica: it finishes the status
                return
            try:
                await self.ctx.client.chat_update(
                    channel=self.channel, ts=self.ts, text="\n".join(self.lines) or "Working…",
                    blocks=render.status_blocks(self.lines, run_id=self.run_id, done=done))
            except Exception:
                log.warning("could not update the status message", exc_info=True)

    async def finish(self, status: RunStatus | None, tools: Any) -> None:
        """The last update: how the run ended (None: its answer never reached Slack)."""
        self.finished = True
        self.throttle.cancel()
        headline = (messages.STATUS_UNDELIVERED if status is None
                    else HEADLINES.get(status, messages.STATUS_FAILED))
        self.header = headline + messages.tool_calls_count(len(tools) if tools else 0)
        await self.flush(done=True)
