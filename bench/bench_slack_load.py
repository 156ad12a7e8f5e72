"""A storm of questions on one replica: 200 mentions in 10 s (each its own thread), a model
that takes 1 s per answer (in a process of its own), `bot run` in HTTP mode at the default
AGENT_MAX_CONCURRENT_RUNS (8), against the fake Slack. Counted: questions answered exactly
once, `chat.update` calls per answer (Slack allows about 50 a minute per workspace), the
time to the last answer. 3 runs. Run: python bench/bench_slack_load.py [CHECKOUT] — with
CHECKOUT, the `bot` package run is the one there (to compare with another commit)."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    bot_environment,
    checkout_argument,
    machine,
    markdown_table,
    start_model_server,
)
from tests.fakes.slack_server import FakeSlack
from tests.helpers.processes import BotProcesses, post_event

MENTIONS, SECONDS, RUNS = 200, 10.0, 3
MODEL = """
import asyncio, json, sys, time
from aiohttp import web

async def handle(request):
    body = await request.json()
    await asyncio.sleep(1.0)
    question = body["messages"][-1]["content"]
    return web.json_response({"id": "c", "object": "chat.completion", "created": 0,
        "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "answer to " + question}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3}})
"""


def mention(i: int) -> str:
    return json.dumps({"type": "event_callback", "event_id": f"EvLOAD{i}", "team_id": "T0TEST",
                       "api_app_id": "A0TEST", "event": {
                           "type": "app_mention", "user": "U1", "text": f"<@UBOT> q{i}",
                           "ts": f"1700001{i:03d}.000100", "channel": "C1"}})


def answers(slack: FakeSlack, i: int) -> list[str]:
    return [m["text"] for m in slack.threads[("C1", f"1700001{i:03d}.000100")]
            if m["text"].startswith("answer to")]


def one_run(directory: Path, model_url: str, code: str | None) -> tuple[int, float, float]:
    """Answered exactly once, chat.update per answer, seconds to the last answer."""
    slack = FakeSlack().start()
    base = bot_environment(directory, code, SLACK_STREAMING="off", LOG_LEVEL="WARNING")
    bots = BotProcesses(base, slack.api_url, model_url, "sk-test")
    try:
        env = bots.env()
        proc = bots.start(env, log=directory / "bot.log")
        started = time.monotonic()
        try:
            for i in range(MENTIONS):
                time.sleep(max(0.0, started + i * SECONDS / MENTIONS - time.monotonic()))
                post_event(int(env["PORT"]), mention(i))
        except OSError:
            raise SystemExit(f"bot run stopped answering (exit {proc.poll()}):\n"
                             + (directory / "bot.log").read_text()[-2000:]) from None
        slack.wait_for(lambda: all(answers(slack, i) for i in range(MENTIONS)), timeout=180)
        last = time.monotonic() - started
        time.sleep(2.0)  # a second answer, or late status edits, would come now
        once = sum(len(answers(slack, i)) == 1 for i in range(MENTIONS))
        return once, len(slack.calls_to("chat.update")) / MENTIONS, last
    finally:
        bots.stop_all()
        slack.stop()


def main() -> None:
    code = checkout_argument()
    model, url = start_model_server(MODEL)
    results = []
    try:
        for _ in range(RUNS):
            with tempfile.TemporaryDirectory() as directory:
                results.append(one_run(Path(directory), url, code))
    finally:
        assert model.stdin is not None
        model.stdin.close()
        model.wait()
    print(f"Machine: {machine()}\n")
    rows = [[str(i + 1), f"{once}/{MENTIONS}", f"{updates:.2f}", f"{last:.1f}"]
            for i, (once, updates, last) in enumerate(results)]
    rows.append(["median", "", f"{statistics.median(r[1] for r in results):.2f}",
                 f"{statistics.median(r[2] for r in results):.1f}"])
    print(markdown_table(["run", "answered exactly once", "chat.update per answer",
                          "last answer after (s)"], rows))


if __name__ == "__main__":
    main()
