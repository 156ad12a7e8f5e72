"""Three `bot run` processes (HTTP mode) on one PostgreSQL server behind the fake Slack,
each with its own PLUGINS_DIR, as behind a load balancer: Slack may send any request to
any of them. Plugin refresh polling is 60 s here, so whatever reaches another replica
within a second or two came by NOTIFY."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot import messages
from bot.store import Database
from bot.store.models import PluginLoadRow
from tests.conftest import subprocess_env
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers import postgres, zips
from tests.helpers.plugin_factory import GATED, write_plugin
from tests.helpers.processes import free_port, start_logged, stop, wait_for_port
from tests.helpers.slack_admin import approval_id, share
from tests.helpers.slack_harness import SlackSender, until

call = FakeOpenAI.tool_call
LEASE = 6  # seconds a replica may stay silent before another takes its runs over


@dataclass
class Replica:
    name: str
    env: dict[str, str]
    plugins_dir: Path
    log: Path
    sender: SlackSender
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = start_logged(self.env, self.log)

    async def ready(self) -> None:
        await until(lambda: "listening for changes on the database" in self.log.read_text(),
                    60)
        await asyncio.to_thread(wait_for_port, int(self.env["PORT"]))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop(self.proc, sig)


@dataclass
class Trio:
    replicas: list[Replica]
    slack: FakeSlack
    ai: FakeOpenAI
    url: str

    async def command(self, replica: Replica, text: str, user: str = "U_ADMIN") -> str:
        response, path = await replica.sender.command(text, user=user)
        assert response.status == 200
        return str((await until(lambda: replica.sender.responses(path), 15))[0]["text"])

    async def loads(self, plugin: str) -> list[tuple[str, str | None]]:
        db = Database(self.url)
        try:
            async with db.read() as session:
                rows = (await session.execute(select(PluginLoadRow).where(
                    PluginLoadRow.plugin_name == plugin))).scalars().all()
            return [(row.replica, row.version) for row in rows]
        finally:
            await db.dispose()


@pytest.fixture
async def trio(tmp_path: Path, postgres_server: str, fake_slack: FakeSlack,
               fake_openai: FakeOpenAI) -> AsyncIterator[Trio]:
    url = await postgres.fresh_database(postgres_server)
    session = aiohttp.ClientSession()
    stamps = itertools.count(100)  # one thread's ts never repeats across replicas
    replicas = []
    for name in "abc":
        plugins_dir = tmp_path / name / "plugins"
        write_plugin(plugins_dir / "builtins", "alpha")
        write_plugin(plugins_dir / "builtins", "gated", GATED)
        port = free_port()
        env = subprocess_env(tmp_path / name, plugins_dir, DATABASE_URL=url,
                             PLUGIN_SANDBOX="process", SLACK_STREAMING="off",
                             PLUGIN_REFRESH_SECONDS="60", PORT=str(port),
                             REPLICA_LEASE_SECONDS=str(LEASE),
                             SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                             SLACK_API_URL=fake_slack.api_url, BOT_ADMIN_USERS="U_ADMIN",
                             BOT_ADMIN_CHANNEL="C_ADMIN", OPENAI_MAX_RETRIES="0",
                             OPENAI_BASE_URL=fake_openai.base_url,
                             OPENAI_API_KEY=fake_openai.api_key)
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", fake_slack, session,
                             stamps)
        replicas.append(Replica(name, env, plugins_dir, tmp_path / f"{name}.log", sender))
    replicas[0].start()  # the first one migrates the database; then the others
    await replicas[0].ready()
    for replica in replicas[1:]:
        replica.start()
    for replica in replicas[1:]:
        await replica.ready()
    try:
        yield Trio(replicas, fake_slack, fake_openai, url)
    finally:
        for replica in replicas:
            replica.stop(signal.SIGKILL)
        await session.close()


async def test_a_delivery_retried_to_the_other_replicas_is_answered_once(trio: Trio) -> None:
    a, b, c = trio.replicas
    trio.ai.default = lambda body: Scripted(body=trio.ai.completion(
        "answer to " + body["messages"][-1]["content"]))
    ts, _ = await a.sender.mention("once", event_id="EvSAME")
    for retry, replica in enumerate((b, c), start=1):
        event = {"type": "app_mention", "user": "U_ASKER", "text": "<@UBOT> once", "ts": ts,
                 "channel": "C_INC", "event_ts": ts}
        response = await replica.sender.event(event, event_id="EvSAME", headers={
            "X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        assert response.status == 200
    markers = [await replica.sender.mention(f"marker {replica.name}") for replica in (b, c)]
    for marker_ts, _ in [(ts, None), *markers]:  # positive signals: the answer, and
        await until(lambda t=marker_ts: a.sender.answers(t), 15)  # later mentions'
    assert a.sender.answers(ts) == ["answer to once"]


async def test_a_thread_keeps_its_order_over_three_replicas(trio: Trio) -> None:
    def model(body: dict[str, Any]) -> Scripted:
        question = body["messages"][-1]["content"]
        return Scripted(body=trio.ai.completion(f"answer to {question}"),
                        delay=0.8 if question.endswith("0") else 0.1)

    trio.ai.default = model
    first, _ = await trio.replicas[0].sender.mention("question 0")
    # as in a real thread, the follow-ups come while the first is being answered (two
    # mentions recorded by two replicas within milliseconds, with nothing before them
    # live, may start in either order: docs/scaling.md)
    await until(lambda: trio.ai.requests, 15)
    for n in range(1, 6):
        await trio.replicas[n % 3].sender.mention(f"question {n}", thread_ts=first)
    asker = trio.replicas[0].sender  # any sender reads the one fake Slack
    await until(lambda: len(asker.answers(first)) == 6, 30)
    assert asker.answers(first) == [f"answer to question {n}" for n in range(6)]


async def test_approval_and_stop_clicked_on_another_replica_act_within_a_second(
        trio: Trio) -> None:
    a, b, c = trio.replicas
    assert "Enabled gated" in await trio.command(a, "enable gated")
    trio.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    trio.ai.reply("finished")
    await _until_loaded(trio, "gated", 3)
    await a.sender.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(a.sender), 15)
    started = time.monotonic()
    await b.sender.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: len(trio.ai.requests) >= 2, 10)
    assert time.monotonic() - started < 1.0
    assert trio.ai.messages(1)[-1]["content"] == "restarted web"

    trio.ai.reply("too late", delay=20)
    earlier = len(a.sender.status_calls())
    ts, _ = await a.sender.mention("a long question", user="U_ASKER")
    run_id = await until(lambda: a.sender.stop_button(after=earlier), 15)
    await until(lambda: len(trio.ai.requests) >= 3, 10)
    started = time.monotonic()
    await c.sender.click("stop_run", run_id, user="U_ASKER")
    await until(lambda: a.sender.answers(ts), 10)
    assert time.monotonic() - started < 1.5
    assert a.sender.answers(ts) == [messages.run_cancelled([])]


async def _until_loaded(trio: Trio, plugin: str, count: int, seconds: float = 10) -> float:
    """Seconds until `count` replicas run `plugin` (their plugin_loads rows say so)."""
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        loaded = [version for _, version in await trio.loads(plugin) if version]
        if len(loaded) == count:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{plugin} is not loaded on {count} replicas: "
                         f"{await trio.loads(plugin)}")


async def _until_unloaded(trio: Trio, plugin: str, seconds: float = 10) -> float:
    started = time.monotonic()
    while time.monotonic() < started + seconds:
        if not await trio.loads(plugin):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{plugin} is still loaded: {await trio.loads(plugin)}")


async def test_an_upload_on_one_replica_is_usable_on_all_and_survives_an_empty_dir(
        trio: Trio) -> None:
    a, b, c = trio.replicas
    data = zips.package("shared")
    await a.sender.event(share(a.sender, "F1", "shared.zip", data, user="U_ADMIN"))
    await until(lambda: any("shared" in t for t in trio.slack.posted_texts("C_ADMIN")), 30)
    assert "Enabled shared" in await trio.command(a, "enable shared")
    assert await _until_loaded(trio, "shared", 3) < 2.0
    for replica in (b, c):
        assert (replica.plugins_dir / "user_uploads" / "shared").is_dir()
    assert "loaded on 3 of 3 replicas" in await trio.command(c, "info shared")
    trio.ai.reply(tool_calls=[call("shared_echo", {"text": "c"}, "c0")])
    trio.ai.reply("done")
    await c.sender.mention("echo on c")
    await until(lambda: len(trio.ai.requests) >= 2, 15)
    assert trio.ai.messages(1)[-1]["content"] == "shared:c"

    b.stop()
    for path in sorted((b.plugins_dir / "user_uploads").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    b.start()
    await b.ready()
    await _until_loaded(trio, "shared", 3)
    trio.ai.reply(tool_calls=[call("shared_echo", {"text": "x"}, "c1")])
    trio.ai.reply("done")
    await b.sender.mention("echo please")
    await until(lambda: len(trio.ai.requests) >= 4, 15)
    assert trio.ai.messages(3)[-1]["content"] == "shared:x"
    info = await trio.command(a, "info shared")
    assert "Status:      enabled" in info and "loaded on 3 of 3 replicas" in info


async def test_a_disable_on_one_replica_is_gone_from_the_others_within_a_second(
        trio: Trio) -> None:
    a, b, _ = trio.replicas
    assert "Enabled alpha" in await trio.command(a, "enable alpha")
    await _until_loaded(trio, "alpha", 3)
    started = time.monotonic()
    assert "Disabled alpha" in await trio.command(a, "disable alpha")
    await _until_unloaded(trio, "alpha")
    assert time.monotonic() - started < 1.0
    trio.ai.reply("no tools")
    await b.sender.mention("what tools?")
    await until(lambda: trio.ai.requests, 15)
    offered = [t["function"]["name"] for t in trio.ai.requests[-1].get("tools", [])]
    assert "alpha_echo" not in offered


async def test_a_replica_killed_mid_run_has_its_thread_told_by_another(trio: Trio) -> None:
    """kill -9 while a run waits for an approval: another replica tells the thread, and
    an admin's click on the orphaned request expires it, saying so — not "Approved" for a
    call nothing will run."""
    a, b, _ = trio.replicas
    assert "Enabled gated" in await trio.command(a, "enable gated")
    await _until_loaded(trio, "gated", 3)
    trio.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    ts, _ = await a.sender.mention("a question for a dying replica")
    approval = await until(lambda: approval_id(a.sender), 15)
    a.stop(signal.SIGKILL)
    await until(lambda: messages.run_interrupted([]) in a.sender.answers(ts), 40)
    assert a.sender.answers(ts) == [messages.approval_needed("restart"),
                                    messages.run_interrupted([])]
    _, path = await b.sender.click("approve_tool", str(approval), user="U_ADMIN")
    said = await until(lambda: b.sender.responses(path), 10)
    assert said[0] == {"text": messages.approval_run_ended_card("restart"),
                       "replace_original": True}
    assert len(trio.ai.requests) == 1  # nothing ran, nothing asked the model again



async def test_a_replica_paused_past_its_lease_says_nothing_more(trio: Trio) -> None:
    """SIGSTOP mid-answer for longer than the lease: another replica takes the run over and
    stops its stream with the run's sentence; the paused one, resumed, delivers nothing of
    the run (an SRE who asked again gets one answer, not two) and answers what comes next."""
    a, *_ = trio.replicas
    a.stop()
    a.env["SLACK_STREAMING"] = "on"
    a.log = a.log.with_name("a-streaming.log")
    a.start()
    await a.ready()
    trio.ai.default = lambda body: Scripted(body=trio.ai.completion(
        "answer to " + body["messages"][-1]["content"]), delay=1.0)
    ts, _ = await a.sender.mention("slow")
    streams = trio.slack.streams
    stream = await until(lambda: next((s for s, v in streams.items() if v["thread_ts"] == ts),
                                      None), 15)
    await until(lambda: trio.ai.requests, 15)  # the model is answering
    assert a.proc is not None
    a.proc.send_signal(signal.SIGSTOP)
    paused = time.monotonic()
    try:
        await until(lambda: streams[stream]["state"] == "stopped", 4 * LEASE)
        taken = time.monotonic() - paused
    finally:
        a.proc.send_signal(signal.SIGCONT)
    # the lease runs from its last renewal, up to a heartbeat (LEASE / 4) before the pause
    assert LEASE * 3 / 4 - 1 < taken < 3 * LEASE, taken
    assert trio.slack.stream_text(stream) == messages.run_interrupted([])
    await until(lambda: "was taken over by another replica: its" in a.log.read_text(), 20)
    await a.sender.mention("after", thread_ts=ts)
    await until(lambda: a.sender.answers(ts) or streams_text(trio.slack, ts, stream), 20)
    assert streams_text(trio.slack, ts, stream) == "answer to after"
    assert "answer to slow" not in str(trio.slack.calls)  # not posted, appended or edited
    assert a.sender.answers(ts) == []  # all of it in the two streams


def streams_text(slack: FakeSlack, thread_ts: str, besides: str) -> str | None:
    """The text of the thread's other stream (not `besides`), once stopped."""
    for ts, stream in slack.streams.items():
        if stream["thread_ts"] == thread_ts and ts != besides and stream["state"] == "stopped":
            return slack.stream_text(ts)
    return None
