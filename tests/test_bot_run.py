"""`bot run` as a black box: the runtime contract's settings in, Slack HTTP requests in."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bot import messages
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, sign
from tests.helpers.processes import (
    BotProcesses,
    free_port,
    mention_body,
    post_event,
    run_bot,
    stop,
)


def test_missing_settings_give_one_line_and_exit_2(base_env: dict[str, str]) -> None:
    result = run_bot(base_env, "run")
    assert result.returncode == 2
    assert result.stderr == "bot: " + messages.missing_for_run([
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)"]) + "\n"
    assert "SLACK_APP_TOKEN" in result.stderr


def test_http_mode_answers_a_signed_mention_and_stops_cleanly(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    env = bot_process.env(BOT_ADMIN_USERS="U_ADMIN")
    port = int(env["PORT"])
    fake_openai.reply("Hello from the bot.")
    proc = bot_process.start(env)
    body = mention_body("EvRUN1")
    assert post_event(port, body).status == 200
    bad = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events",
                                 data=body.encode(), headers={
                                     "Content-Type": "application/json",
                                     **sign(body, secret="wrong")})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=10)
    assert refused.value.code == 401
    fake_slack.wait_for(lambda: "Hello from the bot." in fake_slack.posted_texts("C1"))
    assert stop(proc) == 0


def test_sigterm_mid_answer_tells_the_thread_and_exits_cleanly(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    """A deploy: SIGTERM while the model is thinking. The thread is told to ask again, the
    status message says why, and the process exits 0 well within a pod's grace period."""
    env = bot_process.env()
    fake_openai.reply("too late", delay=20)
    proc = bot_process.start(env)
    assert post_event(int(env["PORT"]), mention_body("EvTERM1")).status == 200
    fake_slack.wait_for(lambda: fake_openai.requests)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = proc.wait(timeout=30)
    assert code == 0 and time.monotonic() - started < 10
    assert fake_slack.posted_texts("C1")[-1] == messages.run_interrupted([])
    updates = [c["text"] for c in fake_slack.calls_to("chat.update")]
    assert messages.STATUS_INTERRUPTED in updates[-1]


def test_a_hung_model_is_one_sentence_at_the_deadline(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    """A model that accepts the request and never answers: the thread hears one sentence
    once OPENAI_TIMEOUT has passed — retries included, not once per retry."""
    env = bot_process.env(OPENAI_TIMEOUT="2", OPENAI_MAX_RETRIES="3")
    for _ in range(4):
        fake_openai.reply("too late", delay=20)
    bot_process.start(env)
    started = time.monotonic()
    assert post_event(int(env["PORT"]), mention_body("EvHUNG")).status == 200
    said = messages.model_timeout(fake_openai.base_url, 2)
    fake_slack.wait_for(lambda: said in fake_slack.posted_texts("C1"), timeout=15)
    assert time.monotonic() - started < 2 + 3
    assert fake_slack.posted_texts("C1") == [messages.WORKING, said]
    assert len(fake_openai.requests) == 1


def test_socket_mode_answers_a_mention_and_acks_the_envelope(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    from tests.fakes.slack_server import APP_TOKEN
    from tests.fakes.socket_mode import FakeSocketMode

    socket_mode = FakeSocketMode().start()
    fake_slack.socket_url = socket_mode.url
    fake_openai.reply("Hello over Socket Mode.")
    proc = bot_process.start(bot_process.env(socket=True))
    try:
        socket_mode.wait_connected()
        envelope = socket_mode.send("events_api", {
            "type": "event_callback", "event_id": "EvSM1", "team_id": "T0TEST",
            "api_app_id": "A0TEST", "event": {"type": "app_mention", "user": "U1",
                                              "text": "<@UBOT> hi", "channel": "C1",
                                              "ts": "1700000000.000300"}})
        fake_slack.wait_for(lambda: any(a["envelope_id"] == envelope
                                        for a in socket_mode.acks))
        fake_slack.wait_for(lambda: "Hello over Socket Mode." in fake_slack.posted_texts("C1"))
    finally:
        code = stop(proc)
        socket_mode.stop()
    assert code == 0
    assert [c.token for c in fake_slack.calls if c.method == "apps.connections.open"] == [
        APP_TOKEN]


def read_until(proc: subprocess.Popen[str], text: str, seconds: float = 30) -> list[str]:
    """stderr lines up to the first that contains `text` (the positive signal)."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"never logged {text!r}: {''.join(lines)}")


def stop_within_10_s(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = proc.wait(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.stderr is not None
    return code, proc.stderr.read()


def test_sigterm_while_slack_is_unreachable_exits_at_once(bot_process: BotProcesses) -> None:
    closed = free_port()
    proc = bot_process.start(bot_process.env(socket=True, SLACK_APP_TOKEN="xapp-1-test",
                                             SLACK_API_URL=f"http://127.0.0.1:{closed}/api/"))
    seen = read_until(proc, "trying again in 1 s")
    assert f"Slack is unreachable at http://127.0.0.1:{closed}/api/" in seen[-1]
    code, rest = stop_within_10_s(proc)
    assert code == 0
    assert "Traceback" not in "".join(seen) + rest


def test_sigterm_during_the_socket_mode_connect_exits_at_once(
        bot_process: BotProcesses, fake_slack: FakeSlack) -> None:
    fake_slack.socket_url = f"ws://127.0.0.1:{free_port()}/link"  # nothing listens there
    proc = bot_process.start(bot_process.env(socket=True))
    seen = read_until(proc, "Failed to connect")
    code, rest = stop_within_10_s(proc)
    assert code == 0
    assert "Traceback" not in "".join(seen) + rest


@pytest.mark.parametrize(("mode", "rejected"), [("http", "SLACK_BOT_TOKEN"),
                                               ("socket", "SLACK_BOT_TOKEN"),
                                               ("socket", "SLACK_APP_TOKEN")])
def test_a_rejected_token_is_one_line_and_exit_2(bot_process: BotProcesses,
                                                 fake_slack: FakeSlack, mode: str,
                                                 rejected: str) -> None:
    fake_slack.socket_url = "ws://127.0.0.1:9/never-used"
    env = bot_process.env(socket=mode == "socket", **{rejected: "xoxb-not-the-right-one"})
    result = run_bot(env, "run")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "bot: " + messages.slack_token_rejected(rejected, "invalid_auth"))
    assert "Traceback" not in result.stderr and "will be unused" not in result.stderr


def test_a_port_in_use_names_the_port_and_the_setting(bot_process: BotProcesses) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_process.env(PORT=str(port), HOST="127.0.0.1")
        result = run_bot(env, "run")
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"bot: cannot listen on 127.0.0.1:{port} (") and "set PORT" in last
    assert "Traceback" not in result.stderr


def test_debug_logs_never_carry_request_bodies_or_tool_data(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI,
        tmp_path: Path) -> None:
    """LOG_LEVEL=DEBUG through `bot run`: a slash command (URL-encoded, which no pattern can
    mask), a mention whose words are secret but not shaped like a key, a tool call's
    arguments and output: none of them reach the log, and the bot's own DEBUG lines do."""
    env = bot_process.env(LOG_LEVEL="DEBUG", BOT_ADMIN_USERS="U_ADMIN")
    port = int(env["PORT"])
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("alpha_echo",
                                                       {"text": "dbg-tool-arg-99"}, "c1")])
    fake_openai.reply("All good.")
    log = tmp_path / "bot.log"
    proc = bot_process.start(env, log=log)
    try:
        form = urllib.parse.urlencode({
            "command": "/plugin", "text": "enable alpha dbg-slash-word", "user_id": "U_ADMIN",
            "channel_id": "C1", "team_id": "T0TEST", "response_url":
            fake_slack.url + "/response/dbg", "trigger_id": "1.2.3", "token": "legacy"})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events", data=form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **sign(form)})
        assert urllib.request.urlopen(request, timeout=10).status == 200
        fake_slack.wait_for(lambda: fake_slack.responses.get("/response/dbg"))
        body = json.loads(mention_body("EvDBG1"))
        body["event"]["text"] = "<@UBOT> our vault phrase is dbg-typed-secret-77, why?"
        assert post_event(port, json.dumps(body)).status == 200
        fake_slack.wait_for(lambda: "All good." in fake_slack.posted_texts("C1"))
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    assert " DEBUG bot." in text  # the bot's own DEBUG lines are there
    for leaked in ("dbg-slash-word", "dbg-typed-secret-77", "dbg-tool-arg-99"):
        assert leaked not in text, leaked


async def test_tasks_left_at_shutdown_are_stopped_and_one_that_will_not_is_named() -> None:
    """What still runs once `bot run` has drained and closed is cancelled; a task that
    ignores cancellation (asyncio.run would wait for it forever, and the process never
    exit) is named with where it waits, so that `bot run` can say so and exit."""
    import asyncio

    from bot.app import stop_leftover_tasks

    async def polite() -> None:
        await asyncio.sleep(60)

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                continue

    ok, bad = asyncio.create_task(polite()), asyncio.create_task(stubborn())
    await asyncio.sleep(0)  # both waiting
    stuck = await stop_leftover_tasks(0.2)
    assert ok.cancelled()
    assert len(stuck) == 1 and stuck[0].startswith(
        "test_tasks_left_at_shutdown_are_stopped_and_one_that_will_not_is_named.<locals>"
        ".stubborn at "), stuck
    assert "test_bot_run.py:" in stuck[0]
    bad.get_coro().close()  # what os._exit does to it in `bot run`
