"""Agent benchmarks (issue 15: the model client is the `openai` SDK).

- bot overhead per step: a 2-step run (tool call, answer) against a zero-latency fake model
  and a trivial tool; per-step time minus the raw model round trip (the same SDK client,
  the same server), side by side;
- the regime users are in: 50 concurrent conversations of 4 steps (3 tool calls, then the
  answer) with 1 s per model step: the bot's share of an answer's wall time against the
  ideal 4 s (target < 1%), 3 repeats;
- per-call CPU of the model client: the SDK's low layer streaming dict chunks over its
  aiohttp transport (what the bot does), the same over its default httpx transport, its
  typed stream (what it did before issue 36), the SDK without streaming,
  and a bare aiohttp post, side by side against the same zero-latency server;
- start-up of `bot plugin list` and `bot console`: wall time, and whether `openai` was
  imported (`plugin list` must not: it costs ~0.3-0.5 s; the console does, at start, so
  that its first question does not).

The fake model runs in its own process (an aiohttp server that streams SSE as OpenAI does)
so that it does not share the bot's GIL. Run: python bench/bench_agent.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile, start_model_server
from bot.app import build_services, settle_heap
from bot.config import load_settings
from bot.plugin_host.contract.protocol import Caller
from tests.helpers.plugin_factory import write_plugin

REPO = Path(__file__).resolve().parents[1]
SERVER = """
import asyncio, json, sys, time
from aiohttp import web

def completion(content, tool_calls=None):
    message = {{"role": "assistant", "content": content}}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {{"id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": "gpt-4o-mini", "choices": [{{"index": 0, "message": message,
            "finish_reason": "tool_calls" if tool_calls else "stop"}}],
            "usage": {{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}}}

def chunks(reply):
    base = {{"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
            "model": "gpt-4o-mini"}}
    message = reply["choices"][0]["message"]
    deltas = [{{"role": "assistant", "content": ""}}]
    if message.get("content"):
        deltas += [{{"content": word + " "}} for word in message["content"].split()]
    for i, call in enumerate(message.get("tool_calls") or []):
        deltas.append({{"tool_calls": [{{"index": i, "id": call["id"], "type": "function",
                       "function": {{"name": call["function"]["name"], "arguments": ""}}}}]}})
        deltas.append({{"tool_calls": [{{"index": i, "function": {{
                       "arguments": call["function"]["arguments"]}}}}]}})
    out = [{{**base, "choices": [{{"index": 0, "delta": d, "finish_reason": None}}]}}
           for d in deltas]
    out.append({{**base, "choices": [], "usage": reply["usage"]}})
    return out

async def handle(request):
    body = await request.json()
    done = sum(1 for m in body["messages"] if m["role"] == "tool")
    if {delay}:
        await asyncio.sleep({delay})
    if done < {tool_steps} and body.get("tools"):
        call = {{"id": f"c{{done}}", "type": "function", "function": {{
            "name": "bench_echo", "arguments": json.dumps({{"text": str(done)}})}}}}
        reply = completion(None, [call])
    else:
        reply = completion("done, the pods are fine")
    if not body.get("stream"):
        return web.json_response(reply)
    response = web.StreamResponse(headers={{"Content-Type": "text/event-stream"}})
    await response.prepare(request)
    for chunk in chunks(reply):
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\\n\\n")
    await response.write(b"data: [DONE]\\n\\n")
    return response
"""


def start_fake(*, delay: float, tool_steps: int) -> tuple[subprocess.Popen[str], str]:
    return start_model_server(SERVER.format(delay=delay, tool_steps=tool_steps))


async def services_for(tmp: Path, url: str, **extra: object):  # type: ignore[no-untyped-def]
    plugins = tmp / "plugins"
    write_plugin(plugins / "builtins", "bench", tools={"bench_echo": "return text"})
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                             plugins_dir=plugins, openai_base_url=url,
                             openai_api_key="sk-test-key", plugin_sandbox="process", **extra)
    return await build_services(settings, default_enabled=frozenset({"bench"}))


async def step_overhead(tmp: Path, url: str, runs: int = 200) -> list[str]:
    services = await services_for(tmp, url)
    llm = services.llm
    assert llm is not None
    try:
        raw, steps = [], []
        for _ in range(runs):
            started = time.perf_counter()
            await llm.complete([{"role": "user", "content": "x"}], None)  # the bot's own call
            raw.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await services.runs.ask("q", caller=Caller(user="bench"))
            assert result.ok and result.steps == 2, result
            steps.append((time.perf_counter() - started) / result.steps)
    finally:
        await services.close()
    overhead = percentile(steps, 50) - percentile(raw, 50)
    return [f"{percentile(raw, 50) * 1000:.2f}", f"{percentile(steps, 50) * 1000:.2f}",
            f"{overhead * 1000:.2f}"]


async def conversations(tmp: Path, url: str, n: int = 50) -> list[list[str]]:
    """n concurrent conversations of 4 one-second steps, three rounds each way on one bot:
    asked over one second (as people ask: each conversation's own wall time against 4 s),
    and all at the same instant (every model reply of a step lands together: the worst
    case, where the calls' CPU queues)."""
    services = await services_for(tmp, url, agent_max_concurrent_runs=n)
    settle_heap()  # as `bot run` and `bot console` do once started

    async def one(i: int, offset: float) -> float:
        await asyncio.sleep(offset)
        started = time.perf_counter()
        result = await services.runs.ask(f"q{i}", caller=Caller(user="b"))
        assert result.ok and result.steps == 4, result
        return time.perf_counter() - started

    rows = []
    try:
        for label, spread, target in (("asked over 1 s", 1.0, 0.01),
                                      ("asked at once", 0.0, 0.05)):
            for repeat in range(3):
                cpu = time.process_time()
                walls = await asyncio.gather(*(one(i, spread * i / n) for i in range(n)))
                cpu = time.process_time() - cpu
                wall = statistics.mean(walls)
                share = (wall - 4.0) / wall
                rows.append([label, str(repeat + 1), str(n), f"{wall:.3f}", "4.000",
                             f"{share:.2%}", f"< {target:.0%}",
                             "yes" if share < target else "NO",
                             f"{cpu:.2f}"])
    finally:
        await services.close()
    return rows


async def per_call_cpu(tmp: Path, url: str, calls: int = 400) -> list[list[str]]:
    """CPU per model call in this process, side by side, the same server and chat."""
    import aiohttp

    services = await services_for(tmp, url)
    llm = services.llm
    assert llm is not None
    chat = [{"role": "user", "content": "are the pods healthy?"}]
    body = {"model": "gpt-4o-mini", "messages": chat}

    async def sdk_stream() -> None:
        await llm.complete(chat, None, None)

    import openai

    llm._client()
    over_aiohttp = llm._sdk
    over_httpx = openai.AsyncOpenAI(  # what the bot used before (its transport only differs)
        base_url=llm.base_url, api_key="sk-test", max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(trust_env=False, follow_redirects=False))

    async def sdk_stream_httpx() -> None:
        llm._sdk = over_httpx
        try:
            await llm.complete(chat, None, None)
        finally:
            llm._sdk = over_aiohttp

    async def sdk_plain() -> None:
        await llm._plain(dict(body))

    async def sdk_typed_stream() -> None:  # what the bot did before issue 36
        stream = await llm._client().chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True})
        async for chunk in stream:
            for choice in chunk.choices:
                _ = choice.delta.content

    async with aiohttp.ClientSession() as session:
        async def bare() -> None:
            async with session.post(f"{url}/chat/completions", json=body) as response:
                await response.json()

        rows = []
        for label, call in (("openai SDK low layer, streamed, dict chunks, aiohttp transport "
                             "(the bot)", sdk_stream),
                            ("the same over the SDK's default httpx transport (before)",
                             sdk_stream_httpx),
                            ("openai SDK typed stream, pydantic chunks (before)",
                             sdk_typed_stream),
                            ("openai SDK, not streamed", sdk_plain),
                            ("bare aiohttp post, no SDK", bare)):
            for _ in range(20):
                await call()  # warm: connections, imports
            samples = []
            for _ in range(3):
                cpu = time.process_time()
                for _ in range(calls):
                    await call()
                samples.append((time.process_time() - cpu) / calls * 1e6)
            rows.append([label] + [f"{v:.0f}" for v in samples]
                        + [f"{statistics.median(samples):.0f}"])
    await over_httpx.close()
    await services.close()
    return rows


def start_up(tmp: Path) -> list[list[str]]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "OPENAI_API_KEY": "sk-test",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'startup.db'}"}
    probe = ("import sys, time\nstarted = time.perf_counter()\nsys.argv = {argv!r}\n"
             "from bot.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('@@', time.perf_counter() - started, 'openai' in sys.modules, "
             "file=sys.stderr)\n")
    rows = []
    for argv in (["bot", "plugin", "list"], ["bot", "console"]):
        subprocess.run([sys.executable, "-c", probe.format(argv=argv)], env=env, cwd=tmp,
                       capture_output=True, text=True, input="", timeout=120)  # warm caches
        times, imported = [], False
        for _ in range(3):
            done = subprocess.run([sys.executable, "-c", probe.format(argv=argv)], env=env,
                                  cwd=tmp, capture_output=True, text=True, input="",
                                  timeout=120)
            line = next(x for x in done.stderr.splitlines() if x.startswith("@@"))
            times.append(float(line.split()[1]))
            imported = imported or line.split()[2] == "True"
        rows.append([" ".join(argv)] + [f"{t:.2f}" for t in times]
                    + ["yes" if imported else "no"])
    sdk = [float(subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter();"
                                 " import openai; print(time.perf_counter() - t)"],
                                capture_output=True, text=True).stdout) for _ in range(3)]
    rows.append(["(for scale) import openai"] + [f"{t:.2f}" for t in sdk] + ["-"])
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fast, fast_url = start_fake(delay=0, tool_steps=1)
        try:
            overhead = asyncio.run(step_overhead(Path(tmp) / "a", fast_url))
            cpu = asyncio.run(per_call_cpu(Path(tmp) / "c", fast_url))
        finally:
            fast.kill()
        slow, slow_url = start_fake(delay=1.0, tool_steps=3)
        try:
            regime = asyncio.run(conversations(Path(tmp) / "b", slow_url))
        finally:
            slow.kill()
        startup = start_up(Path(tmp))
    print(f"Machine: {machine()}\n")
    print("Per-step bot overhead: 2-step runs, zero-latency streaming model server in another "
          "process, trivial tool, 200 runs (ms, p50):\n")
    print(markdown_table(["raw model call (SDK, streamed)", "agent time per step",
                          "bot overhead per step"], [overhead]))
    print("\n50 concurrent conversations of 4 steps, 1 s per model step (ideal 4 s):\n")
    print(markdown_table(["conversations start", "repeat", "conversations",
                          "mean wall per conversation (s)", "ideal (s)",
                          "bot share of the wall time", "target", "met", "CPU (s)"], regime))
    print("\nCPU per model call in the calling process (µs), 400 calls, 3 repeats:\n")
    print(markdown_table(["client", "1", "2", "3", "median"], cpu))
    print("\nStart-up (s, 3 runs) and whether the SDK was imported:\n")
    print(markdown_table(["command", "1", "2", "3", "imports openai"], startup))


if __name__ == "__main__":
    os.environ.pop("OPENAI_API_KEY", None)
    main()
