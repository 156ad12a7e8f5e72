"""Slack failing under a running bot: seconds of 5xx, rate limits with Retry-After, streams
Slack will not append to or stop. Whatever fails, the thread gets the question's answer
once — nothing lost, nothing said twice — and the status says how it ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.agent.events import Thinking, ToolFinished, ToolStarted
from bot.agent.loop import RunStatus
from bot.slack.mentions import StatusMessage
from bot.slack.throttle import WorkspaceBudget
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import FakeSlack
from tests.helpers.processes import BotProcesses, mention_body, post_event
from tests.helpers.slack_harness import SlackBot, finished_status, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call
ASKED = ("C1", "1700000000.000100")  # mention_body's channel and thread
# several lines: an answer streams a line behind the model (bot/agent/loop.MaskedStream)
ANSWER = ("checkout-api restarts because its liveness probe times out.\n"
          "The probe calls /healthz, which waits for a database connection.\n"
          "The connection pool is exhausted: 20 of 20 in use.\n"
          "Raise the pool size or scale the database.")


def thread_texts(slack: FakeSlack) -> list[str]:
    """What the thread shows: the messages Slack took (failed attempts are not in it)."""
    return [m["text"] for m in slack.threads[ASKED]]


@pytest.mark.parametrize("status", [500, 429])  # 502-504 take 500's path
def test_seconds_of_slack_errors_lose_no_question(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI,
        status: int) -> None:
    """Slack's edge fails every chat.postMessage for 2 s (5xx, or 429 with Retry-After)
    as a mention arrives: the calls are tried again until Slack takes them, and the thread
    gets the placeholder and the answer once each."""
    env = bot_process.env()
    fake_openai.reply(ANSWER)
    bot_process.start(env)
    fake_slack.outage("chat.postMessage", seconds=2, status=status, retry_after=1)
    started = time.monotonic()
    assert post_event(int(env["PORT"]), mention_body(f"EvOUT{status}")).status == 200
    fake_slack.wait_for(lambda: ANSWER in thread_texts(fake_slack), timeout=30)
    recovered = time.monotonic() - started
    assert thread_texts(fake_slack) == [messages.WORKING, ANSWER]
    assert len(fake_slack.calls_to("chat.postMessage")) > 2  # refused, then tried again
    assert 2 <= recovered < 2 + 9  # at most one longest pause after Slack is back
    done = fake_slack.wait_for(lambda: finished_status(fake_slack))
    assert done == messages.STATUS_DONE


def test_a_streamed_answer_survives_seconds_of_append_errors(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    """chat.appendStream fails for 2 s from the stream's start: the answer's words wait
    and go in order once Slack takes them — the stream holds the answer whole, once."""
    env = bot_process.env(SLACK_STREAMING="on")
    fake_openai.reply(ANSWER)
    bot_process.start(env)
    fake_slack.outage("chat.appendStream", seconds=2, status=503)
    assert post_event(int(env["PORT"]), mention_body("EvAPPEND")).status == 200
    ts = fake_slack.wait_for(lambda: next((t for t, s in fake_slack.streams.items()
                                           if s["state"] == "stopped"), None), timeout=30)
    assert fake_slack.stream_text(ts) == ANSWER
    assert thread_texts(fake_slack) == [messages.WORKING, ANSWER]  # the stream, once
    assert len(fake_slack.calls_to("chat.appendStream")) > 1  # refused, then tried again
    assert fake_slack.wait_for(lambda: finished_status(fake_slack)) == messages.STATUS_DONE


@pytest.mark.parametrize("refused", [("chat.stopStream",),
                                     ("chat.appendStream", "chat.stopStream")])
async def test_a_stream_slack_will_not_finish_gives_the_rest_below_it_once(
        slack_bot: Make, refused: tuple[str, ...]) -> None:
    """Slack refuses to stop the stream (it timed out: `message_not_in_streaming_state`),
 to append to it too: what the stream did not show is posted below it, so the
    thread holds the answer exactly once."""
    bot = await slack_bot(slack_streaming=True)
    for method in refused:
        bot.slack.failing[method] = "message_not_in_streaming_state"
    bot.ai.reply(ANSWER)
    thread, _ = await bot.mention("why is checkout-api restarting?", user="U_ASKER")
    await until(lambda: bot.answers(thread))
    ts = next(t for t, s in bot.slack.streams.items() if s["thread_ts"] == thread)
    shown = bot.slack.stream_text(ts) + "".join(bot.answers(thread))
    assert shown == ANSWER
    assert (bot.slack.stream_text(ts) == "") == ("chat.appendStream" in refused)
    assert await until(bot.finished_status) == messages.STATUS_DONE


async def test_an_answer_slack_never_takes_is_said_in_the_status(slack_bot: Make) -> None:
    """Slack refuses the answer's post itself (not a retryable failure): the status says
    the answer did not reach Slack, in place of "Done"."""
    bot = await slack_bot()
    bot.ai.reply(ANSWER)
    original = bot.slack._m_chat_postMessage

    def refuse_answers(args: dict[str, Any]) -> dict[str, Any]:
        if args.get("text") == ANSWER:
            return {"ok": False, "error": "fatal_error"}
        return original(args)

    bot.slack._m_chat_postMessage = refuse_answers  # type: ignore[method-assign]
    thread, _ = await bot.mention("why is checkout-api restarting?")
    assert await until(bot.finished_status) == messages.STATUS_UNDELIVERED
    assert [m["text"] for m in bot.slack.threads[("C_INC", thread)]] == [messages.WORKING]


def test_the_progress_budget_refills_per_workspace() -> None:
    """chat.update is limited per workspace: one workspace spending its budget leaves
    another's whole, and the budget comes back at its rate."""
    budget = WorkspaceBudget(per_minute=600, burst=3)  # 10 a second
    assert [budget.take("T1") for _ in range(4)] == [True, True, True, False]
    assert budget.take("T2")
    time.sleep(0.15)
    assert budget.take("T1") and not budget.take("T1")


async def test_progress_edits_over_budget_wait_and_the_end_is_always_shown(
        slack_bot: Make) -> None:
    """With the workspace's budget spent, progress edits are held (the lines kept, tried
    again later) — and the final edit, how the run ended, goes regardless and is the
    last one: a held progress edit never undoes it."""
    bot = await slack_bot()
    posted = await bot.endpoint.ctx.client.chat_postMessage(channel="C_INC", text="Working")
    allowed: list[bool] = []
    status = StatusMessage(bot.endpoint.ctx, "C_INC", posted["ts"],
                           budget=lambda: bool(allowed and allowed.pop()))
    await status.observe(Thinking(1))
    await status.observe(ToolStarted("c1", "alpha_echo", {"text": "x"}))
    await asyncio.sleep(1.5)  # a held edit is tried again each second
    assert bot.slack.calls_to("chat.update") == []
    allowed.append(True)
    shown = await until(lambda: bot.slack.calls_to("chat.update"))
    assert "alpha_echo" in shown[-1]["text"]  # the lines held meanwhile, in one edit
    await status.observe(ToolFinished("c1", "alpha_echo", True, 12.0, "ok"))
    await status.finish(RunStatus.ANSWERED, ("c1",))
    await asyncio.sleep(1.5)
    updates = bot.slack.calls_to("chat.update")
    assert updates[-1]["text"].startswith(messages.STATUS_DONE)
    assert len(updates) == 2


async def test_parts_slack_refused_go_later_in_the_order_they_happened(
        slack_bot: Make, builtin: Callable[..., Path]) -> None:
    """Slack refuses the task cards' appends while the tools run; when it takes appends
    again the cards and the answer go together — cards first, as they happened, then the
    answer's text, each once."""
    builtin("alpha")
    bot = await slack_bot(enabled=("alpha",), slack_streaming=True)
    bot.slack.failing["chat.appendStream"] = "internal_error"
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "pods"}, "c1")])
    bot.ai.reply(ANSWER, delay=1.0)
    thread, _ = await bot.mention("why is checkout-api restarting?", user="U_ASKER")
    await until(lambda: len(bot.ai.requests) == 2)  # the tool ran; its cards were refused
    del bot.slack.failing["chat.appendStream"]
    ts = await until(lambda: next((t for t, s in bot.slack.streams.items()
                                   if s["thread_ts"] == thread and s["state"] == "stopped"),
                                  None))
    order = [c.get("status") or c["type"] for c in bot.slack.streams[ts]["chunks"]]
    assert order[:2] == ["in_progress", "complete"] and "markdown_text" in order[2:]
    assert bot.slack.stream_text(ts) == ANSWER


async def test_answers_at_once_stay_inside_slacks_tiers_and_lose_nothing(
        slack_bot: Make) -> None:
    """The fake Slack limits each method per minute as Slack's tiers do. Twenty-five
    questions at once in one workspace, streamed (Tier 2 allows 20 streams a minute): the
    budgets shared by the runs keep every method inside its tier — streams beyond the
    Tier 2 budget are answered as a status and a post instead, appends wait and go with
    the stream's stop, the statuses' last edits wait their turn — so Slack answers no
    call with 429 and each thread gets its answer once."""
    bot = await slack_bot(slack_streaming=True, agent_max_concurrent_runs=25)
    bot.slack.enforce_tiers()
    bot.ai.default = lambda body: Scripted(body=bot.ai.completion(
        "answer to " + body["messages"][-1]["content"] + "\nwith a second line"), delay=0.5)
    asked = await asyncio.gather(*(bot.mention(f"q{i}") for i in range(25)))
    threads = [ts for ts, _ in asked]
    await until(lambda: all(said(bot, ts) for ts in threads), 60)
    await until(lambda: len(finished_statuses(bot)) == 25, 30)  # the last edits, waited for
    assert bot.slack.tier_refusals == []
    for i, ts in enumerate(threads):
        assert said(bot, ts) == [f"answer to q{i}\nwith a second line"], ts
    streams = len(bot.slack.calls_to("chat.startStream"))
    assert 1 <= streams <= 12, streams  # the Tier 2 budget: a burst of 10, 20 a minute


def said(bot: SlackBot, thread_ts: str) -> list[str]:
    """The thread's answer as people see it: a stream's text, or posted messages."""
    out = []
    for message in bot.slack.threads.get(("C_INC", thread_ts), []):
        text = (bot.slack.stream_text(message["ts"]) if message["ts"] in bot.slack.streams
                else message["text"])
        if text and text != messages.WORKING:
            out.append(text)
    return out


def finished_statuses(bot: SlackBot) -> list[dict[str, Any]]:
    return [c for c in bot.slack.calls_to("chat.update")
            if str(c.get("text", "")).startswith(messages.STATUS_DONE)]


async def test_a_429_holds_the_optional_calls_of_that_method(fake_slack: FakeSlack) -> None:
    """Slack answers chat.update with 429 (Retry-After: 1): the call is retried and goes,
    and the progress edits of every run wait instead of earning 429s of their own."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.delivery import Redelivery
    from bot.slack.throttle import SlackBudgets
    from tests.fakes.slack_server import BOT_TOKEN

    budgets = SlackBudgets()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, retry_handlers=[
        Redelivery(on_rate_limited=budgets.rate_limited)])
    assert budgets.take("chat.update", "T0TEST")
    fake_slack.rate_limit("chat.update", times=1, retry_after=1)
    started = time.monotonic()
    await client.chat_update(channel="C1", ts="1.2", text="edited")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert not budgets.take("chat.update", "T0TEST")  # its budget waits it out too
    assert budgets.take("chat.appendStream", "T0TEST")  # another method's is untouched
