"""The bot's Slack ack latency next to a bare Bolt app's, on the same machine, the same load
(issue 36: p99 within 2x of bare Bolt at 50 mentions/s, within 3x at 200/s).

Each side runs in its own process against the same fake Slack Web API (its own process)
and receives the same signed mentions, each opening a thread, at a steady rate for 10 s;
the latency is measured at the client, from send to the 200 ack. The bare app is what a
minimal Bolt bot is: an `app_mention` listener that waits 1 s (its "model") and posts a
reply in the thread. The bot is `bot run` in HTTP mode on SQLite, streaming its answers
from a fake model (its own process) that answers in 1 s, at the default concurrency.
Side by side per repeat (bare first, then the bot), 3 repeats.
Run: python bench/bench_ack_vs_bolt.py [RATE …]  (default: 50 200)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_agent import start_fake
from bench.bench_slack import SLACK_SERVER, free_port
from bench.common import machine, markdown_table, paced, percentile
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, sign
from tests.helpers.processes import wait_for_port

SECONDS, REPEATS = 10, 3
BARE_BOLT = """
import asyncio, sys
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

port, slack_url, token, secret = sys.argv[1:5]
app = AsyncApp(client=AsyncWebClient(token=token, base_url=slack_url),
               signing_secret=secret)

@app.event("app_mention")
async def mention(event, client):
    await asyncio.sleep(1.0)  # its model
    await client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"],
                                  text="the pods are fine")

app.start(port=int(port), path="/slack/events")
"""


async def drive(url: str, rate: int) -> tuple[list[float], int]:
    """Mentions at `rate` a second for SECONDS: each one's ack latency, and non-200s."""
    latency: list[float] = []
    errors = 0
    stamp = int(time.time() * 1000)

    async def send(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal errors
        ts = f"{stamp // 1000}.{n:06d}"
        body = json.dumps({"type": "event_callback", "event_id": f"Ev{stamp}{n}",
                           "team_id": "T0TEST", "api_app_id": "A0TEST", "event": {
                               "type": "app_mention", "user": "U1", "ts": ts,
                               "text": "<@UBOT> status?", "channel": "C1"}})
        started = time.perf_counter()
        async with session.post(url, data=body.encode(), headers={
                "Content-Type": "application/json", **sign(body)}) as response:
            await response.read()
            errors += response.status != 200
        latency.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(send(session, n) for n in range(3)))  # warm both sides
        latency.clear()
        await paced(rate * SECONDS, rate, lambda i: send(session, 10 + i))
    return latency, errors


def run_side(side: str, rate: int, slack_url: str, model_url: str) -> tuple[list[float], int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        if side == "bare":
            argv = [sys.executable, "-c", BARE_BOLT, str(port), slack_url, BOT_TOKEN,
                    SIGNING_SECRET]
            env = dict(os.environ)
        else:
            plugins = Path(tmp) / "plugins"
            (plugins / "builtins").mkdir(parents=True)
            argv = [sys.executable, "-m", "bot", "run"]
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SLACK_", "OPENAI_", "BOT_", "DATABASE_", "AGENT_"))}
            env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": slack_url, "PORT": str(port), "LOG_LEVEL": "WARNING",
                    "OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "sk-test-key",
                    "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                    "PLUGINS_DIR": str(plugins)}
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            return asyncio.run(drive(f"http://127.0.0.1:{port}/slack/events", rate))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    rates = [int(a) for a in sys.argv[1:]] or [50, 200]
    model, model_url = start_fake(delay=1.0, tool_steps=0)
    slack = subprocess.Popen([sys.executable, "-c", SLACK_SERVER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert slack.stdout is not None
    slack_url = slack.stdout.readline().strip()
    rows = []
    try:
        for rate in rates:
            for repeat in range(1, REPEATS + 1):
                measured = {side: run_side(side, rate, slack_url, model_url)
                            for side in ("bare", "bot")}
                bare_err, bot_err = measured["bare"][1], measured["bot"][1]
                p = {side: (percentile(s, 50) * 1000, percentile(s, 99) * 1000)
                     for side, (s, _) in measured.items()}
                rows.append([f"{rate}/s", str(repeat), f"{p['bare'][0]:.1f}",
                             f"{p['bare'][1]:.1f}", f"{p['bot'][0]:.1f}", f"{p['bot'][1]:.1f}",
                             f"{p['bot'][1] / p['bare'][1]:.2f}x",
                             f"{bare_err} / {bot_err}"])
                print(rows[-1], flush=True)
    finally:
        model.kill()
        slack.kill()
    print(f"\nMachine: {machine()}\n")
    print(f"Mentions at a steady rate for {SECONDS} s, each opening a thread; ack latency "
          "at the client (ms):\n")
    print(markdown_table(["rate", "repeat", "bare Bolt p50", "bare Bolt p99", "bot p50",
                          "bot p99", "bot p99 / bare p99", "non-200 (bare / bot)"], rows))


if __name__ == "__main__":
    main()
