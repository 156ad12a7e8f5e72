"""Answers streamed into the thread with Slack's streaming methods (chat.startStream,
appendStream, stopStream): task cards per tool call, the text in batches, Stop and
approvals mid-stream, the fallback for a workspace that cannot stream; in HTTP mode and in
Socket Mode (`bot run`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import messages
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import FakeSlack
from tests.helpers.plugin_factory import GATED, write_plugin
from tests.helpers.processes import BotProcesses, run_bot, stop
from tests.helpers.slack_admin import approval_id
from tests.helpers.slack_harness import SlackBot, stop_button, until

Make = Callable[..., Awaitable[SlackBot]]
ANSWER = ("checkout-api is crashlooping because its database password was rotated.\n"
          "The pod exits with code 1 seconds after start.\n"
          "Restart it once the Secret is fixed:\n"
          "`kubectl rollout restart deploy/checkout-api -n prod`\n"
          "The other pods are healthy.")


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return FakeOpenAI.tool_call(name, args, call_id)


def stream_of(bot: SlackBot, thread_ts: str) -> str | None:
    return next((ts for ts, s in bot.slack.streams.items() if s["thread_ts"] == thread_ts),
                None)


def stopped(bot: SlackBot, thread_ts: str) -> str | None:
    ts = stream_of(bot, thread_ts)
    return ts if ts and bot.slack.streams[ts]["state"] == "stopped" else None


async def test_an_answer_streams_with_a_task_card_per_tool_call(
        slack_bot: Make, builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    bot = await slack_bot(enabled=("alpha",), slack_streaming=True)
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "pods"}, "c1"),
                             call("alpha_echo", {"text": "events"}, "c2")])
    bot.ai.reply(ANSWER)
    thread, _ = await bot.mention("why is checkout-api crashlooping?", user="U_ASKER")
    ts = await until(lambda: stopped(bot, thread))
    start = bot.slack.calls_to("chat.startStream")[0]
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U_ASKER", "T0TEST")
    assert start["thread_ts"] == thread and start["task_display_mode"] == "timeline"
    assert bot.slack.stream_text(ts) == ANSWER  # whole, once
    tasks = [(t["id"], t["status"]) for t in bot.slack.tasks(ts)]
    assert tasks[:2] == [("c1", "in_progress"), ("c2", "in_progress")]
    assert sorted(tasks[2:]) == [("c1", "complete"), ("c2", "complete")]
    assert len(bot.slack.calls_to("chat.stopStream")) == 1
    # the cards go out as soon as a second allows, coalesced (on a busy machine the tools
    # may be done before the first append, which then holds all four) — and in the order
    # things happened: every card before the answer's text
    first = bot.slack.calls_to("chat.appendStream")[0]["chunks"][0]
    assert first.get("status") == "in_progress"
    order = [c.get("status") or c["type"] for c in bot.slack.streams[ts]["chunks"]]
    assert order.index("markdown_text") > max(
        i for i, kind in enumerate(order) if kind in ("in_progress", "complete"))
    status = await until(bot.finished_status)
    assert status == messages.STATUS_DONE + messages.tool_calls_count(2)  # no tool lines
    assert bot.answers(thread) == []  # the answer is the stream, not another post


async def test_stop_mid_stream_ends_it_with_what_was_said(slack_bot: Make,
                                                          builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    bot = await slack_bot(enabled=("alpha",), slack_streaming=True)
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "pods"}, "c1")])
    bot.ai.respond_with(lambda _: Scripted(body=bot.ai.completion("too late"), delay=5))
    thread, _ = await bot.mention("look into it", user="U_ASKER")
    ts = await until(lambda: stream_of(bot, thread) and bot.slack.tasks(stream_of(bot, thread))
                     and len(bot.slack.tasks(stream_of(bot, thread))) >= 2
                     and stream_of(bot, thread))
    run_id = await until(bot.stop_button)
    await bot.click("stop_run", run_id, user="U_ASKER")
    await until(lambda: stopped(bot, thread), seconds=4)
    text = bot.slack.stream_text(ts)
    assert text.strip().startswith("Stopped") and "alpha_echo" in text
    assert "too late" not in text


async def test_an_approval_mid_stream_then_the_answer(slack_bot: Make,
                                                      builtin: Callable[..., Path]) -> None:
    builtin("gated", GATED)
    bot = await slack_bot(enabled=("gated",), slack_streaming=True)
    bot.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    bot.ai.reply("Restarted web; it is healthy again.")
    thread, _ = await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    ts = stream_of(bot, thread)
    assert ts and [t["status"] for t in await until(lambda: bot.slack.tasks(ts))] == [
        "in_progress"]  # waiting
    await bot.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: stopped(bot, thread))
    assert bot.slack.stream_text(ts) == "Restarted web; it is healthy again."
    assert [t["status"] for t in bot.slack.tasks(ts)] == ["in_progress", "complete"]


async def test_a_workspace_that_cannot_stream_gets_the_status_message_once_asked(
        slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=True)
    bot.slack.failing["chat.startStream"] = "unknown_method"
    bot.ai.reply("first answer")
    bot.ai.reply("second answer")
    first, _ = await bot.mention("one?")
    await until(lambda: "first answer" in bot.answers(first))
    second, _ = await bot.mention("two?")
    await until(lambda: "second answer" in bot.answers(second))
    assert len(bot.slack.calls_to("chat.startStream")) == 1  # learnt once per workspace
    assert bot.slack.streams == {}


async def test_streaming_off_posts_as_before(slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=False)
    bot.ai.reply("plain answer")
    thread, _ = await bot.mention("q?")
    await until(lambda: "plain answer" in bot.answers(thread))
    assert bot.slack.calls_to("chat.startStream") == []


@dataclass
class SocketSlack:
    """`bot run` over the fake Socket Mode, streaming, with `gated` enabled and U_ADMIN an
    admin: what a test sends it and reads back."""

    proc: subprocess.Popen[Any]
    socket_mode: Any
    slack: FakeSlack

    def event(self, event_id: str, body: dict[str, Any]) -> None:
        self.socket_mode.send("events_api", {
            "type": "event_callback", "event_id": event_id, "team_id": "T0TEST",
            "api_app_id": "A0TEST", "event": body})

    def mention(self, event_id: str, ts: str, text: str) -> None:
        self.event(event_id, {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}",
                              "channel": "C1", "ts": ts})

    def click(self, action_id: str, value: str, user: str, path: str) -> None:
        self.socket_mode.send("interactive", {
            "type": "block_actions", "team": {"id": "T0TEST"}, "user": {"id": user},
            "api_app_id": "A0TEST", "token": "legacy", "trigger_id": "1.2.3",
            "response_url": self.slack.url + path, "channel": {"id": "C1"},
            "container": {"type": "message"},
            "actions": [{"type": "button", "action_id": action_id, "value": value,
                         "block_id": "b", "action_ts": "1"}]})

    def stopped_in(self, thread: str) -> str | None:
        return next((t for t, s in self.slack.streams.items()
                     if s["state"] == "stopped" and s["thread_ts"] == thread), None)

    def approval(self) -> str | None:
        return next((str(b["elements"][0]["value"]) for c in self.slack.calls_to(
            "chat.postMessage") for b in c.get("blocks") or []
            if b.get("block_id") == "approval"), None)

    def stop_button(self) -> str | None:
        return stop_button(self.slack)


@pytest.fixture
def socket_bot(bot_process: BotProcesses, plugins_dir: Path, fake_slack: FakeSlack
               ) -> Iterator[SocketSlack]:
    from tests.fakes.socket_mode import FakeSocketMode

    write_plugin(plugins_dir / "builtins", "gated", GATED)
    socket_mode = FakeSocketMode().start()
    fake_slack.socket_url = socket_mode.url
    env = bot_process.env(socket=True, SLACK_STREAMING="true", BOT_ADMIN_USERS="U_ADMIN")
    enabled = run_bot(env, "plugin", "enable", "gated")
    assert enabled.returncode == 0, enabled.stderr
    proc = bot_process.start(env)
    socket_mode.wait_connected()
    yield SocketSlack(proc, socket_mode, fake_slack)
    bot_process.stop_all()
    socket_mode.stop()


def test_socket_mode_streams_a_mentions_answer_and_takes_its_feedback(
        socket_bot: SocketSlack, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    """Over Socket Mode (`bot run`): a mention's streamed answer, then a 👍 on it."""
    fake_openai.reply(ANSWER)
    socket_bot.mention("EvSM2", "1700000000.000400", "why?")
    ts = fake_slack.wait_for(lambda: socket_bot.stopped_in("1700000000.000400"))
    good = fake_slack.streams[ts]["blocks"][0]["elements"][0]["positive_button"]["value"]
    socket_bot.socket_mode.send("interactive", {
        "type": "block_actions", "team": {"id": "T0TEST"}, "user": {"id": "U1"},
        "api_app_id": "A0TEST", "token": "legacy", "trigger_id": "1.2.3",
        "response_url": fake_slack.url + "/response/sm-feedback",
        "channel": {"id": "C1"}, "container": {"type": "message"},
        "actions": [{"type": "feedback_buttons", "action_id": "answer_feedback",
                     "value": good, "block_id": "feedback", "action_ts": "1"}]})
    fake_slack.wait_for(lambda: fake_slack.responses.get("/response/sm-feedback"))
    assert stop(socket_bot.proc) == 0
    assert fake_slack.stream_text(ts) == ANSWER
    assert fake_slack.streams[ts]["recipient"] == "U1"
    assert fake_slack.responses["/response/sm-feedback"][0]["text"] == (
        messages.feedback_recorded("good", None))


def test_socket_mode_answers_in_an_agent_view_thread_with_prompts_and_status(
        socket_bot: SocketSlack, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply("Nothing is failing.")
    socket_bot.event("EvSM3", {"type": "assistant_thread_started",
                               "event_ts": "1700000000.000500",
                               "assistant_thread": {"user_id": "U1", "channel_id": "D1",
                                                    "thread_ts": "1700000000.000500"}})
    fake_slack.wait_for(lambda: fake_slack.calls_to("assistant.threads.setSuggestedPrompts"))
    socket_bot.event("EvSM4", {"type": "message", "channel_type": "im", "channel": "D1",
                               "user": "U1", "text": "anything failing?",
                               "ts": "1700000000.000600", "thread_ts": "1700000000.000500"})
    agent = fake_slack.wait_for(lambda: socket_bot.stopped_in("1700000000.000500"))
    assert stop(socket_bot.proc) == 0
    assert fake_slack.stream_text(agent) == "Nothing is failing."
    assert fake_slack.calls_to("assistant.threads.setStatus")[0]["channel_id"] == "D1"


@pytest.mark.parametrize("missing", ["recipient_user_id", "recipient_team_id"])
def test_the_fake_refuses_a_channel_stream_without_recipients(fake_slack: FakeSlack,
                                                             missing: str) -> None:
    args = {"channel": "C1", "thread_ts": "1.2", "recipient_user_id": "U1",
            "recipient_team_id": "T1"}
    del args[missing]
    answer = fake_slack._api("chat.startStream", args)
    assert answer["error"] == "invalid_arguments"
    ok = fake_slack._api("chat.startStream", {"channel": "D1", "thread_ts": "1.2"})
    assert ok["ok"]
    assert fake_slack._api("chat.appendStream", {"channel": "D1", "ts": ok["ts"],
                                                 "markdown_text": "x" * 12_001}
                           )["error"] == "msg_too_long"
    fake_slack._api("chat.stopStream", {"channel": "D1", "ts": ok["ts"]})
    assert fake_slack._api("chat.appendStream", {"channel": "D1", "ts": ok["ts"],
                                                 "markdown_text": "late"}
                           )["error"] == "message_not_in_streaming_state"


async def test_feedback_on_a_streamed_answer_is_recorded_and_changed(slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=True)
    bot.ai.reply("The node is out of memory.")
    thread, _ = await bot.mention("why?", user="U_ASKER")
    ts = await until(lambda: stopped(bot, thread))
    blocks = bot.slack.streams[ts]["blocks"]
    buttons = blocks[0]["elements"][0]
    assert (blocks[0]["type"], buttons["type"]) == ("context_actions", "feedback_buttons")
    good, bad = buttons["positive_button"]["value"], buttons["negative_button"]["value"]
    _, first = await bot.click("answer_feedback", good, user="U_ASKER")
    assert (await until(lambda: bot.responses(first)))[0]["text"] == (
        messages.feedback_recorded("good", None))
    _, second = await bot.click("answer_feedback", bad, user="U_ASKER")
    assert (await until(lambda: bot.responses(second)))[0]["text"] == (
        messages.feedback_recorded("bad", "good"))
    _, third = await bot.click("answer_feedback", good, user="U_OTHER")
    await until(lambda: bot.responses(third))
    run_id = good.split(":")[1]
    usage = next(r for r in await bot.services.records.recent_usage(5) if r.run_id == run_id)
    assert (usage.good, usage.bad) == (1, 1)  # one vote per user; the asker changed theirs
    assert await bot.services.records.feedback_since(7) == (1, 1)


async def test_feedback_on_a_posted_answer_and_a_forged_value(slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=False)
    bot.ai.reply("Posted answer.")
    thread, _ = await bot.mention("q?", user="U_ASKER")
    await until(lambda: "Posted answer." in bot.answers(thread))
    post = next(c for c in bot.slack.calls_to("chat.postMessage")
                if c.get("thread_ts") == thread and c["text"] == "Posted answer.")
    block = post["blocks"][-1]
    assert [e["action_id"] for e in block["elements"]] == ["answer_feedback_good",
                                                           "answer_feedback_bad"]
    _, path = await bot.click("answer_feedback_good", block["elements"][0]["value"],
                              user="U_ASKER")
    assert (await until(lambda: bot.responses(path)))[0]["text"] == (
        messages.feedback_recorded("good", None))
    _, again = await bot.click("answer_feedback_good", block["elements"][0]["value"],
                               user="U_ASKER")
    await until(lambda: bot.responses(again))
    _, forged = await bot.click("answer_feedback_bad", "bad:'; DROP TABLE x; --", user="U_X")
    assert (await until(lambda: bot.responses(forged)))[0]["text"] == (
        messages.FEEDBACK_UNREADABLE)
    assert await bot.services.records.feedback_since(7) == (1, 0)
    votes = {s.labels["vote"]: s.value for family in text_string_to_metric_families(
        bot.services.metrics.render().decode()) for s in family.samples
        if s.name == "chatops_feedback_total"}
    assert votes == {"good": 1}  # the same vote again and the forged one count nothing


async def test_feedback_counts_only_for_a_real_answer_from_its_own_channel(
        slack_bot: Make) -> None:
    """A well-formed value for no run, and a real one clicked from another channel, each
    get one sentence and record nothing."""
    bot = await slack_bot(slack_streaming=False)
    bot.ai.reply("Posted answer.")
    thread, _ = await bot.mention("q?", user="U_ASKER", channel="C_INC")
    await until(lambda: "Posted answer." in bot.answers(thread))
    post = next(c for c in bot.slack.calls_to("chat.postMessage")
                if c.get("thread_ts") == thread and c["text"] == "Posted answer.")
    good = post["blocks"][-1]["elements"][0]["value"]
    _, nowhere = await bot.click("answer_feedback_good", "good:0123456789ab", user="U_X")
    assert (await until(lambda: bot.responses(nowhere)))[0]["text"] == (
        messages.FEEDBACK_NO_SUCH_ANSWER)
    _, elsewhere = await bot.click("answer_feedback_good", good, user="U_X",
                                   channel="C_ELSEWHERE")
    assert (await until(lambda: bot.responses(elsewhere)))[0]["text"] == (
        messages.FEEDBACK_OTHER_CHANNEL)
    assert await bot.services.records.feedback_since(7) == (0, 0)
    _, here = await bot.click("answer_feedback_good", good, user="U_X", channel="C_INC")
    assert (await until(lambda: bot.responses(here)))[0]["text"] == (
        messages.feedback_recorded("good", None))


async def test_app_home_shows_the_last_weeks_feedback(slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=True)
    bot.ai.reply("An answer.")
    thread, _ = await bot.mention("q?", user="U_ASKER")
    ts = await until(lambda: stopped(bot, thread))
    value = bot.slack.streams[ts]["blocks"][0]["elements"][0]["negative_button"]["value"]
    _, path = await bot.click("answer_feedback", value, user="U_ASKER")
    await until(lambda: bot.responses(path))
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D2", "event_ts": bot.new_ts()})
    view = (await until(lambda: bot.slack.calls_to("views.publish")))[-1]["view"]
    texts = [e.get("text") for b in view["blocks"] for e in b.get("elements") or []]
    assert messages.feedback_summary(0, 1) in texts


async def test_the_agent_view_suggests_prompts_and_answers_in_its_thread(
        slack_bot: Make) -> None:
    bot = await slack_bot(slack_streaming=True)
    thread = bot.new_ts()
    await bot.event({"type": "assistant_thread_started", "assistant_thread": {
        "user_id": "U_ASKER", "channel_id": "D_AGENT", "thread_ts": thread,
        "context": {"channel_id": "C_INC", "team_id": "T0TEST"}}, "event_ts": thread})
    prompts = (await until(lambda: bot.slack.calls_to(
        "assistant.threads.setSuggestedPrompts")))[0]
    assert prompts["channel_id"] == "D_AGENT" and prompts["thread_ts"] == thread
    assert 1 <= len(prompts["prompts"]) <= 4 and prompts["prompts"][0]["title"]
    bot.slack.add_thread_message("D_AGENT", thread, user="U_ASKER", text="earlier: prod is slow",
                                 ts=thread)
    bot.ai.reply("Three pods in prod are crashlooping.")
    ts = bot.new_ts()
    await bot.event({"type": "message", "channel_type": "im", "channel": "D_AGENT",
                     "user": "U_ASKER", "text": "what is failing?", "ts": ts,
                     "thread_ts": thread, "event_ts": ts})
    stream = await until(lambda: stopped(bot, thread))
    assert bot.slack.stream_text(stream) == "Three pods in prod are crashlooping."
    status = bot.slack.calls_to("assistant.threads.setStatus")[0]
    assert (status["channel_id"], status["thread_ts"], status["status"]) == (
        "D_AGENT", thread, messages.AGENT_VIEW_STATUS)
    sent = bot.ai.messages(0)
    assert any("prod is slow" in str(m.get("content")) for m in sent)  # the thread is context
    assert sent[-1]["content"].endswith("what is failing?")


async def test_suggested_prompts_come_from_the_setting(slack_bot: Make) -> None:
    mine = [{"title": "Payments", "message": "Is the payments API healthy?"}]
    bot = await slack_bot(slack_streaming=True, slack_suggested_prompts=mine)
    thread = bot.new_ts()
    await bot.event({"type": "assistant_thread_started", "assistant_thread": {
        "user_id": "U1", "channel_id": "D9", "thread_ts": thread}, "event_ts": thread})
    call = (await until(lambda: bot.slack.calls_to("assistant.threads.setSuggestedPrompts")))[0]
    assert call["prompts"] == mine


def test_socket_mode_approval_clicked_mid_stream_runs_and_the_stream_ends(
        socket_bot: SocketSlack, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    fake_openai.reply("Restarted web.")
    socket_bot.mention("EvA1", "1700000000.000700", "restart web")
    socket_bot.click("approve_tool", fake_slack.wait_for(socket_bot.approval), "U_ADMIN",
                     "/response/approve")
    first = fake_slack.wait_for(lambda: socket_bot.stopped_in("1700000000.000700"))
    assert stop(socket_bot.proc) == 0
    assert fake_slack.stream_text(first) == "Restarted web."
    assert [t["status"] for t in fake_slack.tasks(first)] == ["in_progress", "complete"]


def test_socket_mode_stop_clicked_mid_stream_ends_the_stream_saying_so(
        socket_bot: SocketSlack, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    fake_openai.respond_with(lambda _: Scripted(body=fake_openai.completion("late"),
                                                delay=5))
    socket_bot.mention("EvA2", "1700000000.000800", "look into it")
    socket_bot.click("stop_run", fake_slack.wait_for(socket_bot.stop_button), "U1",
                     "/response/stop")
    second = fake_slack.wait_for(lambda: socket_bot.stopped_in("1700000000.000800"))
    assert stop(socket_bot.proc) == 0
    assert fake_slack.stream_text(second).strip().startswith("Stopped")


def test_socket_mode_a_workspace_that_cannot_stream_gets_the_answer_posted(
        socket_bot: SocketSlack, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    fake_slack.failing["chat.startStream"] = "unknown_method"
    fake_openai.reply("Posted the old way.")
    socket_bot.mention("EvA3", "1700000000.000900", "and now?")
    fake_slack.wait_for(lambda: "Posted the old way." in fake_slack.posted_texts("C1"))
    assert stop(socket_bot.proc) == 0


HOSTILE = ("Deploy now <!channel> and ping <@U0BOSS> in <#C0SECRET>, <!subteam^S0ONCALL>.\n"
           "Dashboard: <https://evil.test/x|grafana.example.com> or "
           "[grafana.example.com](https://evil.test/steal) — the runbook is "
           "[here](https://runbooks.example.com/checkout).\n"
           "Done & dusted.\n")


async def test_slack_markup_in_streamed_chunks_is_escaped(
        slack_bot: Make, builtin: Callable[..., Path]) -> None:
    """What the model writes and what a tool says reach the stream as text: no mention,
    no broadcast, no disguised link, in the answer's chunks and in the task cards alike."""
    builtin("alpha", tools={"alpha_echo": "return '<!here> <@U0BOSS> rollback now'"})
    bot = await slack_bot(enabled=("alpha",), slack_streaming=True)
    bot.ai.reply(tool_calls=[call("alpha_echo", {"text": "x"}, "c1")])
    bot.ai.reply(HOSTILE)
    thread, _ = await bot.mention("what now?", user="U_ASKER")
    ts = await until(lambda: stopped(bot, thread))
    sent = json.dumps(bot.slack.streams[ts]["chunks"])
    for markup in ("<!channel>", "<!here>", "<@U0BOSS>", "<#C0SECRET>", "<!subteam",
                   "<https://evil.test/x|", "[grafana.example.com](https://evil.test"):
        assert markup not in sent, markup
    text = bot.slack.stream_text(ts)
    assert "&lt;!channel&gt;" in text and "Done &amp; dusted." in text
    assert "grafana.example.com (https://evil.test/steal)" in text
    assert "[here](https://runbooks.example.com/checkout)" in text  # an honest link stays
    outputs = [t.get("output", "") for t in bot.slack.tasks(ts)]
    assert "&lt;!here&gt; &lt;@U0BOSS&gt; rollback now" in outputs


async def test_a_posted_answer_shows_a_disguised_link_for_what_it_is(slack_bot: Make) -> None:
    bot = await slack_bot()
    bot.ai.reply(HOSTILE)
    thread, _ = await bot.mention("what now?", user="U_ASKER")
    answer = "\n".join(await until(lambda: bot.answers(thread)))
    assert "grafana.example.com (https://evil.test/steal)" in answer
    assert "<https://runbooks.example.com/checkout|here>" in answer
    assert "<!channel>" not in answer and "<@U0BOSS>" not in answer
