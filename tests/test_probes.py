"""`/healthz`, `/readyz` and `/metrics` on `bot run`, in HTTP and Socket Mode, read the way
Kubernetes and Prometheus read them: over HTTP, the metrics parsed by prometheus-client's
own parser."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import messages
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.helpers import postgres
from tests.helpers.processes import (
    BotProcesses,
    free_port,
    mention_body,
    post_event,
    run_bot,
    stop,
    wait_for_port,
)

call = FakeOpenAI.tool_call


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["Content-Type"], refused.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


Start = Callable[[dict[str, str]], "subprocess.Popen[Any]"]


@pytest.fixture
def http_env(bot_process: BotProcesses) -> dict[str, str]:
    return bot_process.env(OPENAI_MAX_RETRIES="0")


@pytest.fixture
def start(bot_process: BotProcesses, tmp_path: Path) -> Start:
    """`bot run` with its log in tmp_path; the test waits for the port it needs."""
    return lambda env: bot_process.start(env, log=tmp_path / "bot.log", wait=False)


def test_http_mode_serves_health_readiness_and_metrics_after_a_tool_call(
        http_env: dict[str, str], fake_slack: FakeSlack, fake_openai: FakeOpenAI,
        start: Start) -> None:
    enabled = run_bot(http_env, "plugin", "enable", "alpha")
    assert enabled.returncode == 0, enabled.stderr
    port = int(http_env["PORT"])
    proc = start(http_env)
    try:
        wait_for_port(port)
        assert get(port, "/healthz")[::2] == (200, "ok\n")
        status, _, body = get(port, "/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True, "checks": {
            "database": "ok", "shutdown": "ok"}})
        fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "x"}, "c1"),
                                      call("made_up_tool_42", {}, "c2")])
        fake_openai.reply("All good.")
        assert post_event(port, mention_body("EvPROBE1")).status == 200
        fake_slack.wait_for(lambda: "All good." in fake_slack.posted_texts("C1"))
        status, content_type, text = get(port, "/metrics")
    finally:
        assert stop(proc) == 0
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    found = samples(text)
    assert found[("chatops_runs_total", (("status", "answered"),))] == 1
    assert found[("chatops_tool_calls_total", (("outcome", "ok"), ("plugin", "alpha"),
                                               ("tool", "alpha_echo")))] == 1
    assert found[("chatops_tool_calls_total", (("outcome", "unknown_tool"), ("plugin", "none"),
                                               ("tool", "unknown")))] == 1
    assert "made_up_tool_42" not in text  # the model's words never become a label
    assert found[("chatops_tool_call_duration_seconds_count", (("plugin", "alpha"),
                                                               ("tool", "alpha_echo")))] == 1
    assert found[("chatops_model_call_duration_seconds_count", ())] == 2
    assert found[("chatops_model_tokens_total", (("kind", "prompt"),))] == 20
    assert found[("chatops_slack_ack_duration_seconds_count", (("kind", "event"),))] == 1
    assert found[("chatops_run_duration_seconds_count", ())] == 1
    assert found[("chatops_plugins", (("status", "enabled"),))] == 1
    assert found[("chatops_runs_waiting", ())] == 0
    assert found[("chatops_approvals_pending", ())] == 0


def test_readyz_is_false_while_the_database_is_unreachable(
        http_env: dict[str, str], postgres_server: str, start: Start) -> None:
    import asyncio

    import asyncpg

    url = asyncio.run(postgres.fresh_database(postgres_server))
    name = url.rsplit("/", 1)[1]
    admin = postgres_server.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"

    async def allow(connections: bool) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {connections}')
            if not connections:
                await connection.execute("SELECT pg_terminate_backend(pid) FROM "
                                         f"pg_stat_activity WHERE datname = '{name}'")
        finally:
            await connection.close()

    port = int(http_env["PORT"])
    proc = start(http_env | {"DATABASE_URL": url})
    try:
        wait_for_port(port)
        assert get(port, "/readyz")[0] == 200
        asyncio.run(allow(False))
        status, _, body = get(port, "/readyz")
        checks = json.loads(body)["checks"]
        assert status == 503 and checks["database"].startswith("the database is unusable: ")
        assert get(port, "/healthz")[0] == 200  # alive: only not ready
        asyncio.run(allow(True))
        assert get(port, "/readyz")[0] == 200
    finally:
        asyncio.run(allow(True))
        assert stop(proc) == 0


def test_readyz_says_why_while_the_bot_drains_and_slack_is_sent_elsewhere(
        http_env: dict[str, str], fake_openai: FakeOpenAI, fake_slack: FakeSlack,
        start: Start) -> None:
    port = int(http_env["PORT"])
    fake_openai.reply("too late", delay=20)
    proc = start(http_env)
    try:
        wait_for_port(port)
        assert post_event(port, mention_body("EvDRAIN1")).status == 200
        fake_slack.wait_for(lambda: fake_openai.requests)
        # telling the thread to ask again meets a 429 (Retry-After 3 s): the drain lasts
        # that long, so the window the checks below look into does not close under them
        fake_slack.rate_limit("chat.postMessage", retry_after=3)
        proc.send_signal(signal.SIGTERM)
        answer: tuple[int, str, str] = (0, "", "")
        for _ in range(200):  # the drain takes a moment: the first 503 is the signal
            answer = get(port, "/readyz")
            if answer[0] == 503:
                break
            time.sleep(0.02)
        assert answer[0] == 503
        assert json.loads(answer[2])["checks"]["shutdown"] == messages.probe_stopping()
        with pytest.raises(urllib.error.HTTPError) as refused:
            post_event(port, mention_body("EvDRAIN2"))
        assert refused.value.code == 503
    finally:
        assert proc.wait(timeout=30) == 0


def test_socket_mode_serves_the_probes_on_port_too(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI,
        start: Start) -> None:
    from tests.fakes.socket_mode import FakeSocketMode

    socket_mode = FakeSocketMode().start()
    fake_slack.socket_url = socket_mode.url
    env = bot_process.env(socket=True)
    port = int(env["PORT"])
    enabled = run_bot(env, "plugin", "enable", "alpha")
    assert enabled.returncode == 0, enabled.stderr
    fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "y"}, "c1")])
    fake_openai.reply("Hello over Socket Mode.")
    proc = start(env)
    try:
        socket_mode.wait_connected()
        wait_for_port(port)
        ready: dict[str, Any] = {}
        for _ in range(100):
            status, _, body = get(port, "/readyz")
            ready = json.loads(body)
            if status == 200:
                break
            time.sleep(0.05)
        assert ready == {"ready": True, "checks": {"database": "ok", "shutdown": "ok",
                                                   "slack": "ok"}}
        socket_mode.send("events_api", {
            "type": "event_callback", "event_id": "EvSMP1", "team_id": "T0TEST",
            "api_app_id": "A0TEST", "event": {"type": "app_mention", "user": "U1",
                                              "text": "<@UBOT> hi", "channel": "C1",
                                              "ts": "1700000000.000300"}})
        fake_slack.wait_for(lambda: "Hello over Socket Mode." in fake_slack.posted_texts("C1"))
        found = samples(get(port, "/metrics")[2])
    finally:
        assert stop(proc) == 0
        socket_mode.stop()
    assert found[("chatops_slack_ack_duration_seconds_count", (("kind", "event"),))] == 1
    assert found[("chatops_runs_total", (("status", "answered"),))] == 1
    assert found[("chatops_tool_calls_total", (("outcome", "ok"), ("plugin", "alpha"),
                                               ("tool", "alpha_echo")))] == 1


def server_header(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return str(answer.headers["Server"])
    except urllib.error.HTTPError as refused:
        return str(refused.headers["Server"])


def test_metrics_port_keeps_the_probes_off_the_slack_port(http_env: dict[str, str],
                                                         start: Start) -> None:
    """With METRICS_PORT the port exposed for Slack serves /slack/events and nothing else;
    the probes and metrics answer on their own port; no response names a version."""
    slack_port, management = int(http_env["PORT"]), free_port()
    proc = start(http_env | {"METRICS_PORT": str(management)})
    try:
        wait_for_port(management)
        wait_for_port(slack_port)
        for path in ("/metrics", "/readyz", "/healthz"):
            assert get(slack_port, path)[0] == 404
        assert get(management, "/healthz")[0] == 200
        status, kind, body = get(management, "/metrics")
        assert status == 200 and "chatops_" in body and kind.startswith("text/plain")
        assert post_event(slack_port, mention_body("EvMP1")).status == 200
        assert get(management, "/slack/events")[0] in (404, 405)
        for port, path in ((slack_port, "/metrics"), (management, "/metrics"),
                           (management, "/nothing")):
            assert server_header(port, path) == "chatops-bot"
    finally:
        assert stop(proc) == 0


def test_metrics_port_equal_to_port_is_one_line_and_exit_2(http_env: dict[str, str]) -> None:
    done = run_bot(http_env | {"METRICS_PORT": http_env["PORT"]}, "run")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "METRICS_PORT" in done.stderr
