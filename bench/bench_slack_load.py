"""A storm of questions on one replica: 200 mentions in 10 s (each its own thread), a model
that takes 1 s per answer (in a process of its own), `bot run` in HTTP mode at the default
AGENT_MAX_CONCURRENT_RUNS, against the fake Slack. Counted: questions answered exactly
once, `chat.update` calls per answer (Slack allows about 50 a minute per workspace), the
time from each mention to the first text of its answer in Slack (p50, p99; issue 36's
target p99 < 2 s), the time to the last answer. 3 runs with SLACK_STREAMING=off (the
status message is edited), then 3 streamed. Run: python bench/bench_slack_load.py [CHECKOUT] — with
CHECKOUT, the `bot` package run is the one there (to compare with another commit)."""

from __future__ import annotations

import json
import re
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
    percentile,
    start_model_server,
)
from tests.fakes.slack_server import FakeSlack
from tests.helpers.processes import BotProcesses, post_event

MENTIONS, SECONDS, RUNS = 200, 10.0, 3
ANSWER = re.compile(r"answer to q(\d+)")
MODEL = """
import asyncio, json, sys, time
from aiohttp import web

async def handle(request):
    body = await request.json()
    question = body["messages"][-1]["content"]
    if not body.get("stream"):
        await asyncio.sleep(1.0)
        return web.json_response({"id": "c", "object": "chat.completion", "created": 0,
            "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "answer to " + question}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 3}})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await asyncio.sleep(0.5)  # to its first token, then the rest over another 0.5 s
    pieces = ["answer to " + question, ": the pool", " is exhausted"]
    for n, piece in enumerate(pieces):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": piece},
                              "finish_reason": "stop" if n == len(pieces) - 1 else None}]}
        await response.write(f"data: {json.dumps(chunk)}\\n\\n".encode())
        await asyncio.sleep(0.25)
    await response.write(b"data: [DONE]\\n\\n")
    await response.write_eof()
    return response
"""


def mention(i: int) -> str:
    return json.dumps({"type": "event_callback", "event_id": f"EvLOAD{i}", "team_id": "T0TEST",
                       "api_app_id": "A0TEST", "event": {
                           "type": "app_mention", "user": "U1", "text": f"<@UBOT> q{i}",
                           "ts": f"1700001{i:03d}.000100", "channel": "C1"}})


def answers(slack: FakeSlack, i: int) -> list[str]:
    """The thread's answers: posted, or streamed (a stream's text once it has any)."""
    said = []
    for message in slack.threads[("C1", f"1700001{i:03d}.000100")]:
        text = (slack.stream_text(message["ts"]) if message["ts"] in slack.streams
                else message["text"])
        if text.startswith("answer to"):
            said.append(text)
    return said


def first_text(slack: FakeSlack, asked: list[float]) -> list[float]:
    """Seconds from each mention to the first Slack call carrying its answer's text."""
    firsts: dict[int, float] = {}
    for call in slack.calls:
        text = json.dumps(call.args)
        for found in ANSWER.finditer(text):
            i = int(found.group(1))
            firsts[i] = min(firsts.get(i, call.at), call.at)
    return [firsts[i] - asked[i] for i in sorted(firsts)]


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(directory: Path, model_url: str, code: str | None, streaming: str
            ) -> tuple[int, float, float, list[float], float]:
    """Answered exactly once, chat.update per answer, seconds to the last answer, each
    mention's seconds to its first answer text, and `bot run`'s peak RSS (MB)."""
    slack = FakeSlack().start()
    base = bot_environment(directory, code, SLACK_STREAMING=streaming, LOG_LEVEL="WARNING")
    bots = BotProcesses(base, slack.api_url, model_url, "sk-test")
    try:
        env = bots.env()
        proc = bots.start(env, log=directory / "bot.log")
        started = time.monotonic()
        asked = []
        try:
            for i in range(MENTIONS):
                time.sleep(max(0.0, started + i * SECONDS / MENTIONS - time.monotonic()))
                asked.append(time.monotonic())
                post_event(int(env["PORT"]), mention(i))
        except OSError:
            raise SystemExit(f"bot run stopped answering (exit {proc.poll()}):\n"
                             + (directory / "bot.log").read_text()[-2000:]) from None
        slack.wait_for(lambda: all(answers(slack, i) for i in range(MENTIONS)), timeout=180)
        last = time.monotonic() - started
        time.sleep(2.0)  # a second answer, or late status edits, would come now
        once = sum(len(answers(slack, i)) == 1 for i in range(MENTIONS))
        peak = _peak_rss_mb(proc.pid)
        return (once, len(slack.calls_to("chat.update")) / MENTIONS, last,
                first_text(slack, asked), peak)
    finally:
        bots.stop_all()
        slack.stop()


def main() -> None:
    code = checkout_argument()
    model, url = start_model_server(MODEL)
    rows = []
    try:
        for streaming in ("off", "on"):
            for run in range(1, RUNS + 1):
                with tempfile.TemporaryDirectory() as directory:
                    once, updates, last, firsts, peak = one_run(Path(directory), url, code,
                                                                streaming)
                rows.append([streaming, str(run), f"{once}/{MENTIONS}", f"{updates:.2f}",
                             f"{percentile(firsts, 50):.2f}", f"{percentile(firsts, 99):.2f}",
                             f"{last:.1f}", f"{peak:.0f}"])
                print(rows[-1], flush=True)
    finally:
        assert model.stdin is not None
        model.stdin.close()
        model.wait()
    print(f"\nMachine: {machine()}\n")
    print(markdown_table(["SLACK_STREAMING", "run", "answered exactly once",
                          "chat.update per answer", "first text p50 (s)",
                          "first text p99 (s)", "last answer after (s)",
                          "peak RSS (MB)"], rows))


if __name__ == "__main__":
    main()
