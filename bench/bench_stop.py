"""Stop clicked on another replica (issue 36: it took 8.1 s; target p99 < 2 s).

Two `bot run` processes (HTTP mode) on one PostgreSQL server behind the fake Slack, the fake
model answering every question only after 60 s. A mention goes to replica A; once its run
has asked the model, the asker clicks Stop on its status message, and Slack sends the click
to replica B. Timed: from the click to the thread being told the run was stopped (A's
doing, after B left the request in the database and PostgreSQL told A). 20 stops, each
its own thread, 3 repeats. Run as root or a user PostgreSQL runs as: python
bench/bench_stop.py
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile
from bot import messages
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers import postgres
from tests.helpers.processes import free_port, wait_for_port
from tests.helpers.slack_harness import SlackSender, until

STOPS, REPEATS = 20, 3


def start_replica(root: Path, name: str, url: str, slack: FakeSlack, model: FakeOpenAI
                  ) -> tuple[subprocess.Popen[bytes], int]:
    plugins = root / name / "plugins"
    (plugins / "builtins").mkdir(parents=True)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "DATABASE_URL": url,
           "PLUGINS_DIR": str(plugins), "PLUGIN_SANDBOX": "process", "PORT": str(port),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack.api_url, "SLACK_STREAMING": "off", "LOG_LEVEL": "WARNING",
           "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key or "",
           "OPENAI_MAX_RETRIES": "0", "PLUGIN_REFRESH_SECONDS": "60"}
    log = open(root / f"{name}.log", "wb")  # noqa: SIM115 - the process's, closed with it
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stderr=log)
    wait_for_port(port)
    return proc, port


async def stops(a: int, b: int, slack: FakeSlack, model: FakeOpenAI) -> list[float]:
    async with aiohttp.ClientSession() as session:
        stamps = itertools.count(100 + len(slack.calls))
        to_a = SlackSender(f"http://127.0.0.1:{a}/slack/events", slack, session, stamps)
        to_b = SlackSender(f"http://127.0.0.1:{b}/slack/events", slack, session, stamps)
        return [await one_stop(to_a, to_b, model) for _ in range(STOPS)]


async def one_stop(to_a: SlackSender, to_b: SlackSender, model: FakeOpenAI) -> float:
    """A question to A; Stop clicked on B once A's run asks the model; seconds from the
    click to the thread told."""
    earlier, asked = len(to_a.status_calls()), len(model.requests)
    ts, _ = await to_a.mention("why is checkout slow?", user="U_ASKER")
    run_id = await until(lambda: to_a.stop_button(after=earlier), 20)
    await until(lambda: len(model.requests) > asked, 20)  # it is asking the model
    started = time.monotonic()
    await to_b.click("stop_run", str(run_id), user="U_ASKER")
    await until(lambda: messages.run_cancelled([]) in to_a.answers(ts), 30)
    return time.monotonic() - started


def one_repeat(base: str) -> list[float]:
    slack, model = FakeSlack().start(), FakeOpenAI().start()
    model.default = lambda body: Scripted(body=model.completion("too late"), delay=30)
    url = asyncio.run(postgres.fresh_database(base))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, a_port = start_replica(root, "a", url, slack, model)  # it migrates the database
        b, b_port = start_replica(root, "b", url, slack, model)
        try:
            return asyncio.run(stops(a_port, b_port, slack, model))
        finally:
            for proc in (a, b):
                proc.send_signal(signal.SIGTERM)
            for proc in (a, b):
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            slack.stop()
            model.stop()


def main() -> None:
    rows = []
    with postgres.server() as base:
        for repeat in range(1, REPEATS + 1):
            taken = one_repeat(base)
            rows.append([str(repeat), str(len(taken)), f"{percentile(taken, 50):.3f}",
                         f"{percentile(taken, 99):.3f}", f"{max(taken):.3f}"])
            print(rows[-1], flush=True)
    print(f"\nMachine: {machine()}\n")
    print(f"Stop clicked on replica B for a run on replica A, {STOPS} per repeat (s):\n")
    print(markdown_table(["repeat", "stops", "p50", "p99", "max"], rows))


if __name__ == "__main__":
    main()
