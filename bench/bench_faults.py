"""The model, the database and a replica failing under `bot run` (HTTP mode, against the
fake Slack and the fake model): each fault replayed 3 times, with how long the user waited
for the true outcome and whether it was said exactly once. Slack's own faults are in
bench_slack_faults.py. Run as root (the full disk is a 4 MB tmpfs; PostgreSQL runs as
`nobody`): python bench/bench_faults.py [FAULT …]

- model hangs: the model never answers; time from the mention to the one sentence saying
  so, at the default OPENAI_TIMEOUT (60 s);
- model 500s for 1.5 s: time from the mention to the answer;
- disk full for 6 s while a run ends (SQLite): the thread's next question, asked as the
  disk has room again; time from then to its answer;
- disk full when the question arrives (SQLite): time from the disk having room to the
  answer, after the "held" sentence;
- PostgreSQL down for 8 s while a run ends: the thread's next question, asked as the server
  is back; time from then to its answer;
- an MCP server away for 10 s (its tool called every 0.5 s meanwhile; in this process,
  through the registry and MCP host `bot run` uses): time from it being back to the first
  call it answers, and whether the plugin stayed on;
- a replica paused (SIGSTOP) for 30 s mid-answer, two replicas on PostgreSQL at the default
  REPLICA_LEASE_SECONDS (20): time from the pause to the thread told by the other replica,
  and whether the paused one, resumed, said anything more of that run."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bot_environment, machine, markdown_table
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import FakeSlack
from tests.helpers import postgres
from tests.helpers.disks import checkpoint, fill, small_tmpfs
from tests.helpers.processes import BotProcesses, post_event

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CHANNEL = "C1"
STATUS = "Working on it…"
_stamps = itertools.count(1)


@dataclass
class Outcome:
    seconds: float | None  # None: not within the wait
    once: bool  # the outcome said exactly once, nothing of it twice


@dataclass
class Rig:
    slack: FakeSlack
    model: FakeOpenAI
    bots: BotProcesses
    directory: Path

    def ask(self, env: dict[str, str], text: str, thread: str | None = None) -> str:
        """A mention (in `thread`, or opening one); the thread's ts."""
        ts = f"1700000{next(_stamps):03d}.000100"
        event: dict[str, Any] = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}",
                                 "ts": ts, "channel": CHANNEL}
        if thread:
            event["thread_ts"] = thread
        body = json.dumps({"type": "event_callback", "event_id": f"Ev{ts}", "team_id": "T0TEST",
                           "api_app_id": "A0TEST", "event": event})
        post_event(int(env["PORT"]), body)
        return thread or ts

    def said(self, thread: str) -> list[str]:
        """What the thread shows from the bot: streamed text and messages, in order."""
        edits = {c["ts"]: c.get("text", "") for c in self.slack.calls_to("chat.update")
                 if c.get("ts")}
        out = []
        for message in self.slack.threads.get((CHANNEL, thread), []):
            stream = self.slack.streams.get(message["ts"])
            text = (self.slack.stream_text(message["ts"]) if stream
                    else edits.get(message["ts"], message.get("text", "")))
            if text and text != STATUS:
                out.append(text)
        return out

    def count(self, thread: str, text: str) -> int:
        """In how many of the thread's messages `text` is."""
        return sum(text in said for said in self.said(thread))

    def wait(self, predicate: Callable[[], object], timeout: float) -> float | None:
        started = time.monotonic()
        try:
            self.slack.wait_for(predicate, timeout=timeout)
        except AssertionError:
            return None
        return time.monotonic() - started


@contextlib.contextmanager
def rig(**settings: str) -> Iterator[Rig]:
    slack, model = FakeSlack().start(), FakeOpenAI().start()
    with tempfile.TemporaryDirectory() as directory:
        base = bot_environment(Path(directory), None, **({"SLACK_STREAMING": "off"} | settings))
        bots = BotProcesses(base, slack.api_url, model.base_url, model.api_key)
        try:
            yield Rig(slack, model, bots, Path(directory))
        finally:
            bots.stop_all()
            slack.stop()
            model.stop()


def echo(model: FakeOpenAI, delay: float = 0.0) -> None:
    """The model answers every question with "answer to <question>"."""
    model.default = lambda body: Scripted(body=model.completion(
        "answer to " + body["messages"][-1]["content"].split("> ", 1)[-1]), delay=delay)


def model_hangs() -> Outcome:
    with rig() as r:
        env = r.bots.env()
        r.model.default = lambda body: Scripted(body=r.model.completion("late"), delay=400)
        r.bots.start(env)
        thread = r.ask(env, "why is checkout down?")
        took = r.wait(lambda: any("did not answer" in s for s in r.said(thread)), 300)
        time.sleep(1.0)
        return Outcome(took, r.count(thread, "did not answer") == 1)


def model_500s() -> Outcome:
    with rig() as r:
        env = r.bots.env()
        r.bots.start(env)
        until = time.monotonic() + 1.5
        answer = Scripted(body=r.model.completion("the pool is exhausted"))
        error = {"error": {"message": "The server had an error while processing your request.",
                           "type": "server_error", "param": None, "code": None}}
        r.model.default = lambda body: (Scripted(status=500, body=error)
                                        if time.monotonic() < until else answer)
        thread = r.ask(env, "why is checkout down?")
        took = r.wait(lambda: r.count(thread, "the pool is exhausted"), 120)
        time.sleep(1.0)
        return Outcome(took, r.count(thread, "the pool is exhausted") == 1)


def outage_as_a_run_ends(r: Any, breaks: Callable[[], object],
                         mends: Callable[[Any], object], seconds: float) -> Outcome:
    """The database goes away (`breaks`) while a run asks the model, and comes back
    (`mends`) `seconds` later; then the thread's next question: how long until it is
    answered, and was each question answered once."""
    env = r.bots.env()
    echo(r.model, delay=1.0)
    r.bots.start(env)
    thread = r.ask(env, "first")
    r.wait(lambda: r.model.requests, 20)
    broken = breaks()
    r.wait(lambda: r.count(thread, "answer to first"), 20)
    time.sleep(seconds - 1.0)
    mends(broken)
    r.ask(env, "second", thread)
    took = r.wait(lambda: r.count(thread, "answer to second"), 200)
    time.sleep(1.0)
    return Outcome(took, r.count(thread, "answer to first") == 1
                   and r.count(thread, "answer to second") == 1)


def disk_full_as_a_run_ends() -> Outcome:
    with tempfile.TemporaryDirectory() as scratch, small_tmpfs(Path(scratch)) as mount:
        db = mount / "bot.db"
        with rig(DATABASE_URL=f"sqlite+aiosqlite:///{db}") as r:
            def breaks() -> Path:
                checkpoint(db)
                return fill(mount)
            return outage_as_a_run_ends(r, breaks, lambda filler: filler.unlink(), 6.0)


def disk_full_as_a_question_arrives() -> Outcome:
    with tempfile.TemporaryDirectory() as scratch, small_tmpfs(Path(scratch)) as mount:
        db = mount / "bot.db"
        with rig(DATABASE_URL=f"sqlite+aiosqlite:///{db}") as r:
            env = r.bots.env()
            echo(r.model)
            r.bots.start(env)
            time.sleep(1.0)
            checkpoint(db)
            filler = fill(mount)
            thread = r.ask(env, "first")
            r.wait(lambda: r.said(thread), 20)  # the held sentence
            time.sleep(5.0)
            filler.unlink()
            took = r.wait(lambda: r.count(thread, "answer to first"), 200)
            time.sleep(1.0)
            return Outcome(took, r.count(thread, "answer to first") == 1
                           and r.count(thread, "I cannot record questions") == 1)


@contextlib.contextmanager
def postgres_database() -> Iterator[tuple[postgres.Cluster, str]]:
    """A throwaway PostgreSQL cluster, started, and a fresh database's URL on it."""
    cluster = postgres.Cluster()
    cluster.start()
    try:
        yield cluster, asyncio.run(postgres.fresh_database(cluster.url))
    finally:
        cluster.remove()


def postgres_down_as_a_run_ends() -> Outcome:
    with postgres_database() as (cluster, url), rig(DATABASE_URL=url) as r:
        return outage_as_a_run_ends(r, cluster.stop, lambda _: cluster.start(), 8.0)


def replica_paused() -> Outcome:
    from bot import messages

    with postgres_database() as (_, url), rig(DATABASE_URL=url, SLACK_STREAMING="on",
                                              BOT_ADMIN_USERS="U_ADMIN") as r:
        a_env = r.bots.env(PLUGINS_DIR=str(r.directory / "plugins"))
        r.bots.start(a_env)
        b_dir = r.directory / "b" / "plugins"
        (b_dir / "builtins").mkdir(parents=True)
        b_env = r.bots.env(PLUGINS_DIR=str(b_dir))
        r.bots.start(b_env)
        echo(r.model, delay=1.0)
        a = r.bots.started[0]
        thread = r.ask(a_env, "slow")
        r.wait(lambda: r.model.requests, 20)
        a.send_signal(signal.SIGSTOP)
        told = r.wait(lambda: r.count(thread, messages.run_interrupted([])), 120)
        time.sleep(max(0.0, 30.0 - (told or 0)))
        a.send_signal(signal.SIGCONT)
        time.sleep(10.0)  # what the resumed replica would say comes now
        calls = json.dumps([c.args for c in r.slack.calls])
        return Outcome(told, "answer to slow" not in calls
                       and r.count(thread, messages.run_interrupted([])) == 1)


def mcp_server_restarts() -> Outcome:
    return asyncio.run(_mcp_server_restarts())


async def _mcp_server_restarts() -> Outcome:
    """In this process (the registry and MCP host `bot run` uses): an MCP server away for
    10 s while the model calls its tool every 0.5 s; the time from the server being back
    to the first call it answers, and whether the plugin stayed on throughout."""
    from bot.app import build_services
    from bot.commands import Actor, run_text
    from bot.config import load_settings
    from tests.fakes.mcp_server import McpTestServer
    from tests.helpers.databases import migrated_sqlite_url

    server = McpTestServer().start()
    admin = Actor("U_ADMIN", True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "plugins" / "builtins").mkdir(parents=True)
        services = await build_services(load_settings(
            database_url=migrated_sqlite_url(Path(tmp) / "bot.db"),
            plugins_dir=str(Path(tmp) / "plugins"), mcp_allow_cidrs=["127.0.0.1/32"]))
        try:
            for command in (f"mcp add incident {server.url}", "enable incident"):
                done = await run_text(services.commands, command, by=admin)
                assert done.ok, done.text
            call = functools.partial(services.registry.call, "pod_status",
                                     {"namespace": "prod"})
            assert (await call()).ok
            server.stop()
            stayed_on = True
            for _ in range(20):
                assert not (await call()).ok
                stayed_on &= (await services.plugins.info("incident")).enabled
                await asyncio.sleep(0.5)
            await asyncio.to_thread(server.start)
            back = time.monotonic()
            while time.monotonic() - back < 120:
                if (await call()).ok:
                    return Outcome(time.monotonic() - back, stayed_on)
                await asyncio.sleep(0.1)
            return Outcome(None, stayed_on)
        finally:
            await services.close()
            server.stop()


FAULTS: dict[str, tuple[str, Callable[[], Outcome], str]] = {
    "hang": ("model hangs (OPENAI_TIMEOUT 60 s)", model_hangs,
             "182 s (3 × 60 s)"),
    "model500": ("model answers HTTP 500 for 1.5 s", model_500s, "failed"),
    "diskrun": ("disk full for 6 s as a run ends: next question", disk_full_as_a_run_ends,
                "never answered"),
    "diskheld": ("disk full as the question arrives: after room", disk_full_as_a_question_arrives,
                 "told to ask again"),
    "pgrun": ("PostgreSQL down for 8 s as a run ends: next question",
              postgres_down_as_a_run_ends, "165 s"),
    "mcp": ("MCP server away 10 s, called every 0.5 s: answers again after", mcp_server_restarts,
            "switched off after 3 calls"),
    "paused": ("replica paused 30 s mid-answer: thread told (lease 20 s)", replica_paused,
               "told at 19 s, then answered again"),
}


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: the full disk is a tmpfs this mounts")
    chosen = sys.argv[1:] or list(FAULTS)
    rows = []
    for key in chosen:
        name, replay, before = FAULTS[key]
        runs = [replay() for _ in range(REPEATS)]
        found = [o.seconds for o in runs if o.seconds is not None]
        rows.append([name, ", ".join("-" if o.seconds is None else f"{o.seconds:.2f}"
                                     for o in runs),
                     f"{statistics.median(found):.2f}" if found else "-",
                     f"{sum(o.once for o in runs)}/{REPEATS}", before])
        print(rows[-1], flush=True)
    print(f"\nMachine: {machine()}\n")
    print(markdown_table(["fault", "wait (s), 3 runs", "median (s)", "said exactly once",
                          "before issue 31"], rows))


if __name__ == "__main__":
    main()
