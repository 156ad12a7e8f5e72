"""A streamed answer in Slack: time from the model's first token to the bot's first
`chat.appendStream` carrying text, and appends per answer, with the model streaming 200
tokens at 50 tokens a second (12 tokens a line). The bot runs its real Slack endpoint (HTTP
mode) against the fake Slack; the model is another process. 10 mentions at a time, 3
rounds. Run: python bench/bench_streaming.py"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.common import machine, markdown_table, percentile, start_model_server
from bot.app import build_services
from bot.config import load_settings
from bot.slack.app import build_slack_app, serve_http
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack, sign

TOKENS, RATE, PER_LINE, AT_ONCE, ROUNDS = 200, 50, 12, 10, 3
MODEL = """
import asyncio, json, sys, time
from aiohttp import web
FIRST = {{}}

async def handle(request):
    body = await request.json()
    question = body["messages"][-1]["content"]
    response = web.StreamResponse(headers={{"Content-Type": "text/event-stream"}})
    await response.prepare(request)
    base = {{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}}
    for i in range({tokens}):
        text = f"word{{i}}" + ("\\n" if i % {per_line} == {per_line} - 1 else " ")
        chunk = {{**base, "choices": [{{"index": 0, "delta": {{"content": text}},
                                        "finish_reason": None}}]}}
        if i == 0:
            print(json.dumps({{"question": question, "first": time.time()}}), flush=True)
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\\n\\n")
        await asyncio.sleep({interval})
    await response.write(b"data: " + json.dumps({{**base, "choices": [], "usage": {{
        "prompt_tokens": 1, "completion_tokens": {tokens}}}}}).encode() + b"\\n\\n")
    await response.write(b"data: [DONE]\\n\\n")
    return response
"""


class TimedSlack(FakeSlack):
    """The fake Slack, noting when each stream got its first text."""

    def __init__(self) -> None:
        super().__init__()
        self.first_text: dict[str, float] = {}  # stream ts -> time of the first text append

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._m_chat_appendStream(args)
        if any(c.get("type") == "markdown_text" for c in args.get("chunks") or []):
            self.first_text.setdefault(args["ts"], time.time())
        return answer


async def one_round(session: aiohttp.ClientSession, url: str, slack: TimedSlack,
                    model: subprocess.Popen[str], round_no: int) -> list[tuple[float, int]]:
    threads = {}
    for i in range(AT_ONCE):
        ts = f"1700000{round_no}{i:02d}.000100"
        question = f"question {round_no}-{i}"
        threads[ts] = question
        body = json.dumps({"token": "t", "team_id": "T0TEST", "api_app_id": "A0TEST",
                           "type": "event_callback", "event_id": f"Ev{round_no}{i}",
                           "event_time": int(time.time()), "event": {
                               "type": "app_mention", "user": "U1", "channel": "C1",
                               "text": f"<@UBOT> {question}", "ts": ts}})
        async with session.post(url, data=body.encode(), headers={
                "Content-Type": "application/json", **sign(body, secret=SIGNING_SECRET)}):
            pass
    for _ in range(1200):  # up to a minute for every answer to end
        if sum(s["state"] == "stopped" and s["thread_ts"] in threads
               for s in slack.streams.values()) >= AT_ONCE:
            break
        await asyncio.sleep(0.05)
    first_tokens = {}
    assert model.stdout is not None
    while len(first_tokens) < AT_ONCE:
        line = json.loads(await asyncio.to_thread(model.stdout.readline))
        first_tokens[line["question"]] = line["first"]
    samples = []
    for ts, stream in slack.streams.items():
        question = threads.get(stream["thread_ts"])
        if question is not None:
            samples.append((slack.first_text[ts] - first_tokens[question], stream["calls"]))
    return samples


async def run(tmp: Path, model_url: str, model: subprocess.Popen[str]) -> list[list[str]]:
    slack = TimedSlack().start()
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/s.db",
                             plugins_dir=tmp / "plugins", slack_bot_token=BOT_TOKEN,
                             slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                             openai_base_url=model_url, openai_api_key="sk-test",
                             agent_max_concurrent_runs=AT_ONCE)
    services = await build_services(settings, default_enabled=frozenset())
    endpoint = build_slack_app(services)
    await endpoint.start()
    front = await serve_http(endpoint, port=0, host="127.0.0.1")
    port = front.port
    rows = []
    try:
        async with aiohttp.ClientSession() as session:
            for round_no in range(1, ROUNDS + 1):
                samples = await one_round(session, f"http://127.0.0.1:{port}/slack/events",
                                          slack, model, round_no)
                latency = [s[0] for s in samples]
                calls = [s[1] for s in samples]
                rows.append([str(round_no), str(len(samples)),
                             f"{percentile(latency, 50) * 1000:.0f}",
                             f"{percentile(latency, 99) * 1000:.0f}",
                             f"{statistics.median(calls):.0f}", f"{max(calls)}"])
    finally:
        await front.close()
        await endpoint.drain()
        await services.close()
        slack.stop()
    return rows


def main() -> None:
    model, url = start_model_server(MODEL.format(tokens=TOKENS, per_line=PER_LINE,
                                                 interval=1 / RATE))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "plugins" / "builtins").mkdir(parents=True)
            rows = asyncio.run(run(Path(tmp), url, model))
    finally:
        model.kill()
    print(f"Machine: {machine()}\n")
    print(f"{AT_ONCE} mentions at a time; the model streams {TOKENS} tokens at {RATE}/s, "
          f"{PER_LINE} tokens a line. First token to the first appendStream with text (ms), "
          "and stream calls per answer (start, appends, stop):\n")
    print(markdown_table(["round", "answers", "p50", "p99", "calls per answer (median)",
                          "calls per answer (max)"], rows))


if __name__ == "__main__":
    main()
