"""Mentions over signed HTTP: answered in the thread, once, with progress; signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import sign
from tests.helpers.slack_harness import SlackBot, logged, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call


@pytest.fixture(autouse=True)
def plugins(builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text",
                            "alpha_hang": "async:import asyncio; await asyncio.sleep(30)"})



async def test_mention_is_answered_in_its_thread_with_tool_progress(slack_bot: Make) -> None:
    bot = await slack_bot(enabled=("alpha",))
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "pods"}, "c1")])
    bot.ai.reply("**All good**: alpha said `alpha:pods`.")
    ts, response = await bot.mention("are the pods ok?")
    assert response.status == 200
    await until(lambda: bot.answers(ts))
    assert bot.answers(ts) == ["*All good*: alpha said `alpha:pods`."]
    await until(bot.finished_status)  # the status's last edit follows the answer
    statuses = [c["text"] for c in bot.slack.calls_to("chat.update")]
    assert any("`alpha_echo`" in text and "white_check_mark" in text for text in statuses)
    assert bot.ai.messages(0)[-1] == {"role": "user", "content": "are the pods ok?"}


async def test_thread_history_is_the_context(slack_bot: Make) -> None:
    bot = await slack_bot()
    parent = bot.new_ts()
    bot.slack.add_thread_message("C_INC", parent, user="U_ONCALL", text="checkout is 500ing",
                                 ts=parent)
    bot.slack.add_thread_message("C_INC", parent, user="UBOT", text="Looking.", bot=True)
    bot.ai.reply("It is the database.")
    await bot.mention("any idea?", thread_ts=parent)
    await until(lambda: bot.answers(parent))
    sent = bot.ai.messages(0)
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "<@U_ONCALL>: checkout is 500ing"
    assert sent[2]["content"] == "Looking."


async def test_a_mention_that_opens_its_thread_reads_no_history(slack_bot: Make) -> None:
    """Nothing was said in a thread before the message that opens it: no
    conversations.replies call (Tier 3) stands between the question and its answer; a
    reply in a thread reads the thread (above)."""
    bot = await slack_bot()
    bot.ai.reply("It is the database.")
    ts, _ = await bot.mention("why is checkout down?")
    assert await until(lambda: bot.answers(ts)) == ["It is the database."]
    assert bot.slack.calls_to("conversations.replies") == []
    assert [m["role"] for m in bot.ai.messages(0)] == ["system", "user"]


async def test_credentials_people_type_never_reach_the_model(slack_bot: Make) -> None:
    """A key pasted earlier in the thread, and one in the question itself, are masked in
    what the model is sent; the rest of what they said is not."""
    bot = await slack_bot()
    parent = bot.new_ts()
    pasted = ("aws creds AKIAIOSFODNN7EXAMPL3 / password=Tr0ub4dor-and-3 and "
              "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789")
    bot.slack.add_thread_message("C_INC", parent, user="U_ONCALL", text=pasted, ts=parent)
    bot.ai.reply("Rotate those.")
    await bot.mention("checkout fails with db_pass=s3cr3t-db-pw pw=hunter22", thread_ts=parent)
    await until(lambda: bot.answers(parent))
    sent = json.dumps(bot.ai.messages(0))
    for secret in ("AKIAIOSFODNN7EXAMPL3", "Tr0ub4dor-and-3", "ghp_AbCdEfGhIjKlMnOp",
                   "s3cr3t-db-pw", "hunter22"):
        assert secret not in sent
    assert "aws creds [REDACTED]" in sent and "checkout fails with db_pass=[REDACTED]" in sent


async def test_retried_delivery_is_answered_once(slack_bot: Make,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.slack.mentions")
    bot = await slack_bot()
    bot.ai.default = lambda body: Scripted(body=bot.ai.completion("only once"))
    ts, first = await bot.mention("hello", event_id="EvRETRY1")
    event = {"type": "app_mention", "user": "U_ASKER", "text": "<@UBOT> hello", "ts": ts,
             "channel": "C_INC", "event_ts": ts}
    retry = await bot.event(event, event_id="EvRETRY1",
                            headers={"X-Slack-Retry-Num": "1",
                                     "X-Slack-Retry-Reason": "http_timeout"})
    assert (first.status, retry.status) == (200, 200)
    await until(lambda: bot.answers(ts))
    await until(lambda: logged(caplog, "ignoring a repeated delivery of EvRETRY1"))
    assert bot.answers(ts) == ["only once"]
    assert len(bot.ai.requests) == 1


async def test_dedupe_holds_across_a_restart(slack_bot: Make,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.slack.mentions")
    first = await slack_bot()
    first.ai.reply("answered before the restart")
    ts, _ = await first.mention("hello", event_id="EvRESTART")
    await until(lambda: first.answers(ts))
    second = await slack_bot()  # a new process on the same database
    event = {"type": "app_mention", "user": "U_ASKER", "text": "<@UBOT> hello", "ts": ts,
             "channel": "C_INC", "event_ts": ts}
    await second.event(event, event_id="EvRESTART", headers={"X-Slack-Retry-Num": "2"})
    await until(lambda: logged(caplog, "ignoring a repeated delivery of EvRESTART"))
    assert len(first.ai.requests) == 1


async def test_bad_and_stale_signatures_are_refused(slack_bot: Make) -> None:
    bot = await slack_bot()
    body = json.dumps({"type": "event_callback", "event_id": "EvX", "event": {
        "type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "ts": "1.1",
        "channel": "C1"}})
    forged = await bot.post(body, "application/json", signed=False,
                            headers=sign(body, secret="not-the-secret"))
    stale = await bot.post(body, "application/json", signed=False,
                           headers=sign(body, timestamp=int(time.time()) - 3600))
    unsigned = await bot.post(body, "application/json", signed=False)
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    # Bolt refuses before dispatching anything: the 401s are the positive signal
    assert bot.ai.requests == [] and bot.slack.calls_to("chat.postMessage") == []


async def test_rate_limited_post_is_retried_and_the_answer_arrives(slack_bot: Make) -> None:
    bot = await slack_bot()
    bot.ai.reply("despite the 429")
    bot.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    ts, _ = await bot.mention("hello")
    await until(lambda: bot.answers(ts))
    assert bot.answers(ts) == ["despite the 429"]
    assert time.monotonic() - started >= 1.0
    posts = [c for c in bot.slack.calls if c.method == "chat.postMessage"]
    assert len(posts) >= 3  # the 429, its retry, and the answer


async def test_stop_button_cancels_the_run_for_the_asker_only(slack_bot: Make) -> None:
    bot = await slack_bot(enabled=("alpha",), tool_timeout=20)
    bot.ai.reply(tool_calls=[call("alpha_hang", {}, "c1")])
    ts, _ = await bot.mention("hang please", user="U_ASKER")
    run_id = await until(bot.stop_button)
    await until(lambda: any("alpha_hang" in c["text"] for c in bot.slack.calls_to(
        "chat.update")) or bot.services.runs.running)
    _, stranger = await bot.click("stop_run", str(run_id), user="U_STRANGER")
    await until(lambda: bot.responses(stranger))
    assert bot.responses(stranger)[0]["text"] == messages.RUN_STOP_NOT_ALLOWED
    await bot.click("stop_run", str(run_id), user="U_ASKER")
    await until(lambda: bot.answers(ts))
    assert bot.answers(ts)[0].startswith(messages.run_cancelled([]).split(":")[0])


async def test_long_answers_fall_back_to_parts_under_slack_limits(slack_bot: Make) -> None:
    bot = await slack_bot()
    bot.slack.failing["files.getUploadURLExternal"] = "not_allowed_token_type"
    paragraph = "word " * 500 + "\n\n"
    bot.ai.reply(paragraph * 40)  # about 100,000 characters
    ts, _ = await bot.mention("essay please")

    def posts() -> list[dict[str, Any]]:
        return [c for c in bot.slack.calls_to("chat.postMessage")
                if c.get("thread_ts") == ts and c.get("blocks") and "word" in c["text"]]

    def sections(post: dict[str, Any]) -> list[dict[str, Any]]:  # not the feedback buttons
        return [b for b in post["blocks"] if b["type"] == "section"]

    def delivered() -> int:  # wait for every part, not just the first two
        return sum(len(b["text"]["text"]) for post in posts() for b in sections(post))

    await until(lambda: delivered() >= 99_000, seconds=15)
    assert len(posts()) >= 2
    for post in posts():
        assert len(post["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in sections(post))
        assert sum(len(b["text"]["text"]) for b in sections(post)) <= 40_000


async def test_very_long_answers_are_attached_as_a_file(slack_bot: Make) -> None:
    bot = await slack_bot()
    answer = "## Findings\n\n" + ("The pod restarted because of OOM. " * 600)
    bot.ai.reply(answer)
    ts, _ = await bot.mention("full report please")
    upload = await until(lambda: next((u for u in bot.slack.uploads.values()
                                       if u["completed"]), None))
    assert upload["filename"] == "answer.md"
    assert answer.strip().encode() in upload["body"]
    assert (upload["completed"]["channel"], upload["completed"]["thread_ts"]) == ("C_INC", ts)
    comment = upload["completed"]["initial_comment"]
    assert comment.startswith("*Findings*") and len(comment) < 3000
    assert comment.endswith(messages.answer_attached())


async def test_second_mention_in_a_thread_waits_for_the_first(
        slack_bot: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.store.shared_runs")
    bot = await slack_bot()
    bot.ai.reply("first answer", delay=0.6)
    bot.ai.reply("second answer")
    parent, _ = await bot.mention("first question")
    await until(lambda: bot.ai.requests)
    await bot.mention("second question", thread_ts=parent)
    await until(lambda: logged(caplog, "waits for the one before it in the thread"))
    assert len(bot.ai.requests) == 1  # the second run has not started yet
    await until(lambda: bot.answers(parent) == ["first answer", "second answer"])
    second = bot.ai.messages(1)
    assert second[-1] == {"role": "user", "content": "second question"}
    assert {"role": "assistant", "content": "first answer"} in second  # thread context


async def test_status_shows_each_parallel_call_of_the_same_tool(slack_bot: Make) -> None:
    bot = await slack_bot(enabled=("alpha",))
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "a"}, "c1"),
                             call("alpha_echo", {"text": "b"}, "c2")])
    bot.ai.reply("both done")
    ts, _ = await bot.mention("twice")
    await until(lambda: bot.answers(ts))
    final = (await until(bot.finished_status)).splitlines()
    assert final[0] == messages.STATUS_DONE + messages.tool_calls_count(2)
    assert final[0].endswith("— 2 tool calls")
    assert [line.split(" (")[0] for line in final[1:]] == [
        ":white_check_mark: `alpha_echo`", ":white_check_mark: `alpha_echo`"]


async def test_shutdown_tells_each_thread_to_ask_again(slack_bot: Make) -> None:
    """A deploy stops the bot mid-answer: the run in progress and the mention waiting for
    its turn each get a sentence, the status message says so, nothing new starts."""
    bot = await slack_bot(enabled=("alpha",))
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "x"}, "c1")])
    bot.ai.reply("too late", delay=5)
    ts, _ = await bot.mention("first question")
    await bot.mention("second question", thread_ts=ts)
    await until(lambda: len(bot.ai.requests) == 2)  # the first run is in its second step
    started = time.monotonic()
    await bot.endpoint.drain()
    assert time.monotonic() - started < 3
    assert bot.answers(ts) == [messages.run_interrupted([("alpha_echo", True)]),
                               messages.run_not_started()]
    assert messages.STATUS_INTERRUPTED in bot.slack.calls_to("chat.update")[-1]["text"]
    assert len(bot.ai.requests) == 2


async def test_stop_clicked_as_soon_as_the_button_shows_stops_the_run(slack_bot: Make) -> None:
    """The Stop button is shown before the run is recorded (here Slack is slow to open the
    answer's stream): a click in that moment stops the run before it asks the model, and
    nobody is told "already finished"."""
    bot = await slack_bot(slack_streaming=True)
    bot.slack.outage("chat.startStream", seconds=1.5, status=503)
    bot.ai.reply("never asked")
    await bot.mention("quick question", user="U_ASKER")
    run_id = await until(bot.stop_button)
    _, stranger = await bot.click("stop_run", str(run_id), user="U_STRANGER")
    await until(lambda: bot.responses(stranger))
    assert bot.responses(stranger)[0]["text"] == messages.RUN_STOP_NOT_ALLOWED
    _, asker = await bot.click("stop_run", str(run_id), user="U_ASKER")
    assert not bot.slack.outage_over("chat.startStream")  # clicked inside the window
    status = await until(bot.finished_status, 15)
    assert status.startswith(messages.STATUS_STOPPED)
    assert bot.ai.requests == [] and bot.responses(asker) == []
