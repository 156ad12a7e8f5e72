"""Slack ack latency (issue: Slack surface).

`bot run` (HTTP mode) in its own process; the fake Slack Web API and a fake model with 2 s
latency in theirs. 100 mentions start 100 agent runs; then mentions and /plugin commands
arrive at 50 requests/s for 10 s (more runs start meanwhile). Every request is signed; its
latency is measured at the client, from send to Slack-style 200 ack.
Run: python bench/bench_slack.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_agent import start_fake
from bench.common import machine, markdown_table, paced, percentile
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, sign

REPO = Path(__file__).resolve().parents[1]
RATE, SECONDS, IN_FLIGHT = 50, 10, 100
SLACK_SERVER = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.fakes.slack_server import FakeSlack
fake = FakeSlack().start()
print(fake.api_url, flush=True)
sys.stdin.read()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Load:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.latency: dict[str, list[float]] = {"burst": [], "mention": [], "command": []}
        self.errors = 0
        self._n = 0

    async def send(self, kind: str, *, record: str | None = None) -> None:
        self._n += 1
        if kind == "mention":
            ts = f"1700000000.{self._n:06d}"
            body = json.dumps({"type": "event_callback", "event_id": f"EvB{self._n}",
                               "team_id": "T0TEST", "api_app_id": "A0TEST", "event": {
                                   "type": "app_mention", "user": "U1", "ts": ts,
                                   "text": "<@UBOT> status?", "channel": "C1"}})
            content_type = "application/json"
        else:
            body = urlencode({"command": "/plugin", "text": "list", "user_id": "U1",
                              "channel_id": "C1", "team_id": "T0TEST",
                              "response_url": self.url.replace("/slack/events",
                                                               "/nowhere")})
            content_type = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        async with self.session.post(self.url, data=body.encode(), headers={
                "Content-Type": content_type, **sign(body)}) as response:
            await response.read()
            if response.status != 200:
                self.errors += 1
        self.latency[record or kind].append(time.perf_counter() - started)


async def drive(url: str) -> Load:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        load = Load(session, url)
        await asyncio.gather(*(load.send("mention", record="burst") for _ in range(IN_FLIGHT)))
        await paced(RATE * SECONDS, RATE,
                    lambda i: load.send("mention" if i % 2 else "command"))
        return load


def main() -> None:
    model, model_url = start_fake(delay=2.0, tool_steps=0)
    slack = subprocess.Popen([sys.executable, "-c", SLACK_SERVER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert slack.stdout is not None
    slack_url = slack.stdout.readline().strip()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        plugins = Path(tmp) / "plugins"
        (plugins / "builtins").mkdir(parents=True)
        env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET":
               SIGNING_SECRET, "SLACK_API_URL": slack_url, "PORT": str(port),
               "OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "sk-test-key",
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
               "PLUGINS_DIR": str(plugins), "AGENT_MAX_CONCURRENT_RUNS": "1000",
               "LOG_LEVEL": "WARNING"}
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            load = asyncio.run(drive(f"http://127.0.0.1:{port}/slack/events"))
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)
            model.kill()
            slack.kill()
    rows = []
    labels = {"burst": f"the {IN_FLIGHT} simultaneous mentions that start the runs "
                       "(not the measured condition)",
              "mention": f"mention at {RATE}/s, runs in flight",
              "command": f"/plugin list at {RATE}/s, runs in flight"}
    for kind, samples in load.latency.items():
        p99 = percentile(samples, 99)
        target = "< 50" if kind != "burst" else "-"
        met = "-" if kind == "burst" else ("yes" if p99 < 0.05 else "NO")
        rows.append([labels[kind], str(len(samples)), f"{percentile(samples, 50) * 1000:.1f}",
                     f"{p99 * 1000:.1f}", f"{max(samples) * 1000:.1f}", target, met])
    print(f"Machine: {machine()}\n")
    print(f"HTTP ack latency: {IN_FLIGHT} mentions first, then {RATE} requests/s for "
          f"{SECONDS} s (half mentions, half /plugin list), model latency 2 s, "
          f"non-200 answers: {load.errors} (ms):\n")
    print(markdown_table(["request", "count", "p50", "p99", "max", "target p99", "met"],
                         rows))


if __name__ == "__main__":
    main()
