"""Several replicas (issue: several replicas on PostgreSQL).

1 `bot run` on SQLite vs 3 on one PostgreSQL 15 server (each with its own PLUGINS_DIR),
all in HTTP mode behind the fake Slack, the fake model answering in 200 ms (its own
process). 500 mentions over 20 s, each its own thread, spread round-robin over the
replicas as a load balancer would; every 10th is retried to the next replica 0.5 s later
(Slack's retry after a slow ack). Measured: answered exactly once, p50/p99 ack at the
client, drain time (last mention sent to last answer posted).

Then, on the 3 replicas, change propagation: `/plugin enable|disable alpha` on replica A,
timed until every replica runs (or has dropped) it, as their plugin_loads rows say —
with NOTIFY, and with polling only (the NOTIFY triggers dropped, PLUGIN_REFRESH_SECONDS
at its default 5 s). Run: python bench/bench_replicas.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_agent import start_fake
from bench.common import machine, markdown_table, percentile
from bot.store import Database
from bot.store.models import PluginLoadRow, ReplicaRow
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack, sign
from tests.helpers import postgres
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import free_port, wait_for_port

MENTIONS, SECONDS, RETRY_EVERY, REPEATS, TOGGLES = 500, 20, 10, 3, 10
if os.environ.get("BENCH_QUICK"):  # a smoke run of the bench itself, not a measurement
    MENTIONS, SECONDS, REPEATS, TOGGLES = 60, 3, 1, 4
PLACEHOLDER = "Working on it…"
PHASE = random.Random(17)


@contextmanager
def replicas(count: int, database_url: str, slack: FakeSlack, model_url: str,
             root: Path) -> Iterator[list[str]]:
    """`count` bot run processes on one database; their /slack/events URLs."""
    procs, urls = [], []
    for n in range(count):
        plugins = root / f"plugins-{n}"
        write_plugin(plugins / "builtins", "alpha")
        port = free_port()
        env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET":
               SIGNING_SECRET, "SLACK_API_URL": slack.api_url, "PORT": str(port),
               "OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "sk-test-key",
               "DATABASE_URL": database_url, "PLUGINS_DIR": str(plugins),
               "PLUGIN_SANDBOX": "process", "SLACK_STREAMING": "off",
               "AGENT_MAX_CONCURRENT_RUNS": "100", "BOT_ADMIN_USERS": "U_ADMIN",
               "LOG_LEVEL": "ERROR"}  # the fake Slack has no thread history: one warning each
        procs.append(subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env))
        wait_for_port(port)  # the first one has migrated the database by then
        urls.append(f"http://127.0.0.1:{port}/slack/events")
    try:
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)


async def post(session: aiohttp.ClientSession, url: str, body: str, content_type: str,
               headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    async with session.post(url, data=body.encode(), headers={
            "Content-Type": content_type, **sign(body), **(headers or {})}) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


def mention(n: int) -> tuple[str, str]:
    ts = f"1700000000.{n:06d}"
    return ts, json.dumps({"type": "event_callback", "event_id": f"EvR{n}", "team_id": "T0",
                           "api_app_id": "A0", "event": {
                               "type": "app_mention", "user": "U1", "ts": ts,
                               "text": "<@UBOT> status?", "channel": "C1"}})


def answered(slack: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in slack.calls_to("chat.postMessage"):
        if call.get("thread_ts") and call.get("text") != PLACEHOLDER:
            counts[call["thread_ts"]] = counts.get(call["thread_ts"], 0) + 1
    return counts


async def warm_up(session: aiohttp.ClientSession, urls: list[str], slack: FakeSlack,
                  first: int) -> None:
    """One answered mention per replica first: the steady state is what is measured, not
    each process's first request (its clients and Bolt's listeners built lazily)."""
    stamps = []
    for n, url in enumerate(urls):
        ts, body = mention(first + 90_000 + n)
        await post(session, url, body, "application/json")
        stamps.append(ts)
    for _ in range(600):
        if all(ts in answered(slack) for ts in stamps):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the warm-up mentions were not answered")


async def load(urls: list[str], slack: FakeSlack, first: int) -> dict[str, float]:
    acks: list[float] = []
    stamps = [mention(first + n)[0] for n in range(MENTIONS)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await warm_up(session, urls, slack, first)
        async def send(n: int) -> None:
            _, body = mention(first + n)
            url = urls[n % len(urls)]
            acks.append(await post(session, url, body, "application/json"))
            if n % RETRY_EVERY == 0:
                await asyncio.sleep(0.5)
                await post(session, urls[(n + 1) % len(urls)], body, "application/json",
                           {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

        started, tasks = time.perf_counter(), []
        for n in range(MENTIONS):
            delay = started + n * SECONDS / MENTIONS - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n)))
        sent = time.perf_counter()
        await asyncio.gather(*tasks)
        while time.perf_counter() - sent < 120:
            counts = answered(slack)
            if all(ts in counts for ts in stamps):
                break
            await asyncio.sleep(0.05)
        drain = time.perf_counter() - sent
    await asyncio.sleep(1.0)  # a duplicate would be posted by now
    counts = answered(slack)
    return {"once": sum(1 for ts in stamps if counts.get(ts) == 1),
            "twice": sum(1 for ts in stamps if counts.get(ts, 0) > 1),
            "missing": sum(1 for ts in stamps if ts not in counts),
            "p50": percentile(acks, 50), "p99": percentile(acks, 99), "drain": drain}


async def wait_replicas(url: str, count: int) -> None:
    db = Database(url)
    try:
        for _ in range(600):
            async with db.read() as session:
                if await session.scalar(select(func.count()).select_from(ReplicaRow)) >= count:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"fewer than {count} replicas started")
    finally:
        await db.dispose()


async def propagation(url: str, events_url: str, count: int, slack_url: str) -> list[float]:
    """Seconds from `/plugin enable|disable alpha` sent to replica A until every replica
    runs it (or none does), TOGGLES times."""
    db, samples = Database(url), []
    try:
        async with aiohttp.ClientSession() as session:
            for verb in itertools.islice(itertools.cycle(["enable", "disable"]), TOGGLES):
                body = urlencode({"command": "/plugin", "text": f"{verb} alpha",
                                  "user_id": "U_ADMIN", "channel_id": "C1", "team_id": "T0",
                                  "response_url": f"{slack_url}/response/bench"})
                started = time.perf_counter()
                await post(session, events_url, body, "application/x-www-form-urlencoded")
                while time.perf_counter() - started < 30:
                    async with db.read() as s:
                        loaded = await s.scalar(select(func.count()).select_from(
                            PluginLoadRow).where(PluginLoadRow.plugin_name == "alpha",
                                                 PluginLoadRow.version.is_not(None)))
                    if loaded == (count if verb == "enable" else 0):
                        break
                    await asyncio.sleep(0.01)
                samples.append(time.perf_counter() - started)
                await asyncio.sleep(PHASE.uniform(0.2, 5.0))  # at any point of a poll
        return samples
    finally:
        await db.dispose()


async def drop_notify(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as session:
            for table in ("plugins", "plugin_versions"):
                await session.execute(text(f"DROP TRIGGER bot_notify_{table} ON {table}"))
    finally:
        await db.dispose()


def one_repeat(repeat: int, base: str, model_url: str) -> dict[str, object]:
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slack = FakeSlack().start()
        sqlite = f"sqlite+aiosqlite:///{root}/bench.db"
        with replicas(1, sqlite, slack, model_url, root / "one") as urls:
            asyncio.run(wait_replicas(sqlite, 1))
            result["sqlite"] = asyncio.run(load(urls, slack, repeat * 100_000))
        slack.stop()
        slack = FakeSlack().start()
        url = asyncio.run(postgres.fresh_database(base))
        with replicas(3, url, slack, model_url, root / "three") as urls:
            asyncio.run(wait_replicas(url, 3))
            result["postgres"] = asyncio.run(load(urls, slack, repeat * 100_000 + 50_000))
            result["notify"] = asyncio.run(propagation(url, urls[0], 3, slack.url))
            asyncio.run(drop_notify(url))
            result["polling"] = asyncio.run(propagation(url, urls[0], 3, slack.url))
        slack.stop()
    return result


def main() -> None:
    model, model_url = start_fake(delay=0.2, tool_steps=0)
    try:
        with postgres.server() as base:
            results = [one_repeat(n, base, model_url) for n in range(REPEATS)]
    finally:
        model.kill()
    print(f"Machine: {machine()}\n")
    print(f"{MENTIONS} mentions over {SECONDS} s, every {RETRY_EVERY}th retried to the next "
          "replica, model 200 ms:\n")
    rows = []
    for n, result in enumerate(results, start=1):
        for key, label in (("sqlite", "1 replica, SQLite"),
                           ("postgres", "3 replicas, PostgreSQL")):
            r = result[key]
            assert isinstance(r, dict)
            rows.append([str(n), label, f"{r['once']}/{MENTIONS}", str(r["twice"]),
                         str(r["missing"]), f"{r['p50'] * 1000:.1f}", f"{r['p99'] * 1000:.1f}",
                         f"{r['drain']:.2f}"])
    print(markdown_table(["run", "setup", "answered once", "twice", "missing", "ack p50 ms",
                          "ack p99 ms", "drain s"], rows))
    print(f"\nChange propagation to all 3 replicas ({TOGGLES} enable/disable each, s):\n")
    rows = []
    for n, result in enumerate(results, start=1):
        for key in ("notify", "polling"):
            samples = result[key]
            assert isinstance(samples, list)
            rows.append([str(n), "LISTEN/NOTIFY" if key == "notify" else "polling (5 s)",
                         f"{percentile(samples, 50):.3f}", f"{percentile(samples, 99):.3f}",
                         f"{max(samples):.3f}"])
    print(markdown_table(["run", "how", "p50", "p99", "max"], rows))


if __name__ == "__main__":
    main()
