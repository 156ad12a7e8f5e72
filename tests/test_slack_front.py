"""The Slack front (bot/slack/front.py): acks that never wait on the bot's loop, requests
that are never acknowledged into the void, and a front that is tied to its bot's life."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot import messages
from bot.slack import front
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, sign
from tests.helpers.processes import BotProcesses, mention_body, post_event
from tests.helpers.slack_harness import until


def _post(port: int, body: str, *, content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
        headers={"Content-Type": content_type, **sign(body), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _mention(event_id: str, *, channel: str = "C1", text: str = "hi") -> str:
    return json.dumps({"type": "event_callback", "event_id": event_id, "team_id": "T0TEST",
                       "api_app_id": "A0TEST", "event": {
                           "type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}",
                           "ts": f"1700000000.{abs(hash(event_id)) % 10**6:06d}",
                           "channel": channel}})


def _block_loop_until(done: threading.Event, seconds: float) -> bool:
    """Hold the calling event loop (as a long full garbage collection does) until `done`;
    whether it came before `seconds`."""
    return done.wait(seconds)


async def test_a_mention_is_acknowledged_while_the_bots_loop_is_held(slack_bot, fake_openai
                                                                      ) -> None:
    """The bot's loop is held for up to 5 s; Slack's 200 for a mention arrives meanwhile
    (the positive signal: the ack was seen before the loop let go), and once the loop is
    free the mention is answered."""
    bot = await slack_bot()
    fake_openai.reply("The pods are fine.")
    port = int(bot.url.split(":")[2].split("/")[0])
    body = _mention("EvHELD1")
    acked = threading.Event()
    status: list[int] = []

    def slack_sends() -> None:
        status.append(_post(port, body)[0])
        acked.set()

    sender = threading.Thread(target=slack_sends)
    sender.start()
    acked_while_held = _block_loop_until(acked, 5.0)  # on the bot's own loop
    await asyncio.to_thread(sender.join)
    assert acked_while_held and status == [200]
    await until(lambda: "The pods are fine." in bot.slack.posted_texts("C1"))


async def test_forged_malformed_and_oversized_requests_are_refused_at_the_front(
        slack_bot) -> None:
    bot = await slack_bot()
    port = int(bot.url.split(":")[2].split("/")[0])
    body = _mention("EvFORGED")

    def slack_and_strangers_send() -> None:  # on a thread: the bot's loop stays free
        forged = _post(port, body, headers=sign(body, secret="not-the-secret"))
        assert forged[0] == 401 and json.loads(forged[1]) == {"error": "invalid request"}
        assert _post(port, "{not json")[0] == 400
        assert _post(port, "[1, 2]")[0] == 400  # JSON, but not a request
        assert _post(port, "payload=%7Bbroken",
                     content_type="application/x-www-form-urlencoded")[0] == 400
        assert _post(port, "x" * (1024 * 1024 + 1), content_type="text/plain")[0] == 413
        unknown = urllib.request.Request(f"http://127.0.0.1:{port}/admin")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(unknown, timeout=10)
        assert missing.value.code == 404

    await asyncio.to_thread(slack_and_strangers_send)
    fine = await asyncio.to_thread(_post, port, _mention("EvFINE", text=""))
    assert fine[0] == 200

    def acks() -> float | None:
        return bot.services.metrics.registry.get_sample_value(
            "chatops_slack_ack_duration_seconds_count", {"kind": "event"})
    await until(acks)  # the valid one was handed over: the refused ones, before it, were not
    assert acks() == 1.0


async def test_a_bot_that_stops_reading_gets_503s_not_lost_events(slack_bot, monkeypatch,
                                                                   fake_openai) -> None:
    """The bot's loop is held while Slack keeps sending: once more than BACKLOG_LIMIT bytes
    wait unread, the front answers 503 (Slack retries later) instead of acknowledging into
    a queue that may never drain; when the loop is free, a new mention is answered."""
    monkeypatch.setattr(front, "BACKLOG_LIMIT", 1)
    bot = await slack_bot()
    for _ in range(6):  # the big mentions that got in are answered too
        fake_openai.reply("Back to normal.")
    port = int(bot.url.split(":")[2].split("/")[0])
    text = "why " + "x" * 300_000
    statuses: list[tuple[int, str]] = []
    sent = threading.Event()

    def slack_sends() -> None:  # more than the kernel's buffer for the link holds
        for n in range(5):
            statuses.append(_post(port, _mention(f"EvBIG{n}", channel="C_BIG", text=text)))
        sent.set()

    sender = threading.Thread(target=slack_sends)
    sender.start()
    assert _block_loop_until(sent, 10.0)
    await asyncio.to_thread(sender.join)
    assert statuses[0][0] == 200
    assert (503, messages.front_busy()) in statuses
    answered = await asyncio.to_thread(_post, port, _mention("EvAFTER", channel="C2"))
    assert answered[0] == 200  # the loop is free: the backlog drained
    await until(lambda: "Back to normal." in bot.slack.posted_texts("C2"), 30)


def _front_pid(bot_pid: int) -> int:
    children = Path(f"/proc/{bot_pid}/task/{bot_pid}/children").read_text().split()
    assert len(children) == 1, children  # the front, forked before anything else
    return int(children[0])


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_bot_run_serves_slack_from_a_process_of_its_own_that_dies_with_it(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    """`bot run` forks its front; when the bot is killed (no drain), the front stops
    listening at once instead of acknowledging mentions nobody will answer."""
    env = bot_process.env()
    port = int(env["PORT"])
    fake_openai.reply("Answered by the bot.")
    proc = bot_process.start(env)
    front_pid = _front_pid(proc.pid)
    assert post_event(port, mention_body("EvPROC1")).status == 200
    fake_slack.wait_for(lambda: "Answered by the bot." in fake_slack.posted_texts("C1"))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while not _refused(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _refused(port)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{front_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # reaped by init once it exited
    assert not Path(f"/proc/{front_pid}").exists() or "Z" in Path(
        f"/proc/{front_pid}/stat").read_text().split()[2]


def test_a_front_that_dies_stops_the_bot_with_one_line_and_exit_1(
        bot_process: BotProcesses) -> None:
    env = bot_process.env()
    proc = bot_process.start(env)
    os.kill(_front_pid(proc.pid), signal.SIGKILL)
    assert proc.wait(30) == 1
    assert messages.front_stopped() in proc.stderr.read()  # type: ignore[union-attr]


def test_every_listener_acknowledges_with_an_empty_body() -> None:
    """The front acknowledges events, commands and clicks itself, with an empty 200
    (front.ACK_AT_ONCE): that is only right while no listener puts anything in its ack. A
    listener that needs to (a view's errors, a command's immediate text) must be left to
    Bolt: change ACK_AT_ONCE with it."""
    import ast

    found = []
    for path in sorted((Path(front.__file__).parent).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == "ack":
                found.append((path.name, bool(node.args or node.keywords)))
    assert len(found) >= 6 and not any(with_body for _, with_body in found), found


async def test_questions_sent_back_to_back_in_a_thread_are_answered_in_order(
        slack_bot, fake_openai) -> None:
    """The front acknowledges each at once, so five questions reach the bot together; the
    link dispatches one thread's in the order they arrived, up to their queue rows, so the
    model is asked them in that order (the thread's order is by Slack's ts too)."""
    from tests.fakes.openai_server import Scripted

    bot = await slack_bot()
    asked: list[str] = []

    def model(body: dict) -> Scripted:
        asked.append(body["messages"][-1]["content"])
        return Scripted(body=fake_openai.completion("ok"))
    fake_openai.default = model
    parent, _ = await bot.mention("q0")
    for n in range(1, 5):
        await bot.mention(f"q{n}", thread_ts=parent)
    await until(lambda: len(asked) == 5, 20)
    assert asked == [f"q{n}" for n in range(5)]
