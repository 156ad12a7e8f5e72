"""Slack failing under `bot run` (HTTP mode, SQLite, the fake Slack and the fake model):
each fault replayed 3 times, with the time from the mention to the whole answer in the
thread and whether it is there exactly once. Run: python bench/bench_slack_faults.py
[PATH] — with PATH, the `bot` package run is the one under PATH (another checkout, to
compare with the code before a change); an answer not whole after 40 s counts as lost."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bot_environment, checkout_argument, machine, markdown_table
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.helpers.processes import BotProcesses, mention_body, post_event

REPEATS = 3
THREAD = ("C1", "1700000000.000100")
ANSWER = "\n".join(f"line {i}: the pool is exhausted, 20 of 20 in use" for i in range(6))


@dataclass(frozen=True)
class Fault:
    name: str
    streaming: bool
    inject: Callable[[FakeSlack], None]


FAULTS = [
    Fault("none (baseline)", False, lambda slack: None),
    Fault("3 s of HTTP 500 on chat.postMessage", False,
          lambda slack: slack.outage("chat.postMessage", seconds=3, status=500)),
    Fault("3 s of HTTP 429 (Retry-After: 1) on chat.postMessage", False,
          lambda slack: slack.outage("chat.postMessage", seconds=3, status=429)),
    Fault("none, streamed (baseline)", True, lambda slack: None),
    Fault("3 s of HTTP 503 on chat.appendStream", True,
          lambda slack: slack.outage("chat.appendStream", seconds=3, status=503)),
    Fault("3 s of HTTP 429 (Retry-After: 1) on chat.appendStream", True,
          lambda slack: slack.outage("chat.appendStream", seconds=3, status=429)),
    Fault("chat.stopStream refused (stream timed out)", True,
          lambda slack: slack.failing.update({
              "chat.stopStream": "message_not_in_streaming_state"})),
]


def shown(slack: FakeSlack) -> str:
    """The answer as the thread shows it: streamed text and posted messages, in order."""
    parts = []
    for message in slack.threads[THREAD]:
        stream = slack.streams.get(message["ts"])
        parts.append(slack.stream_text(message["ts"]) if stream else message["text"])
    return "".join(p for p in parts if p != "Working on it…")


def replay(fault: Fault, directory: Path, code: str | None) -> tuple[float | None, bool, int]:
    """Seconds to the whole answer (None: lost), whether it is there exactly once, and the
    Slack calls made."""
    slack, model = FakeSlack().start(), FakeOpenAI().start()
    base = bot_environment(directory, code,
                           SLACK_STREAMING="on" if fault.streaming else "off")
    bots = BotProcesses(base, slack.api_url, model.base_url, model.api_key)
    try:
        env = bots.env()
        model.reply(ANSWER)
        bots.start(env)
        fault.inject(slack)
        started = time.monotonic()
        post_event(int(env["PORT"]), mention_body("EvFAULT"))
        try:
            slack.wait_for(lambda: ANSWER in shown(slack), timeout=40)
            took: float | None = time.monotonic() - started
        except AssertionError:
            took = None
        time.sleep(1.0)  # anything said twice would come now
        return took, shown(slack) == ANSWER, len(slack.calls)
    finally:
        bots.stop_all()
        slack.stop()
        model.stop()


def main() -> None:
    code = checkout_argument()
    rows = []
    for fault in FAULTS:
        runs = []
        for _ in range(REPEATS):
            with tempfile.TemporaryDirectory() as directory:
                runs.append(replay(fault, Path(directory), code))
        times = [t for t, _, _ in runs]
        found = [t for t in times if t is not None]
        rows.append([fault.name, ", ".join("lost" if t is None else f"{t:.2f}" for t in times),
                     f"{statistics.median(found):.2f}" if found else "-",
                     f"{sum(once for _, once, _ in runs)}/{REPEATS}",
                     f"{statistics.median(c for _, _, c in runs):.0f}"])
    print(f"Machine: {machine()}\n")
    print(markdown_table(["fault", "mention → whole answer (s), 3 runs", "median (s)",
                          "answer exactly once", "Slack calls (median)"], rows))


if __name__ == "__main__":
    main()
