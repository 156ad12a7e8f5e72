"""Agent benchmarks (issue: agent loop).

- bot overhead per step: a 2-step run (tool call, answer) against a zero-latency fake model
  and a trivial tool; per-step time minus the raw model round trip measured with the same
  client against the same server, side by side;
- 100 concurrent runs of 3 steps each against a fake model with 200 ms latency: wall time
  against the ideal 3 x 200 ms, and the bot's peak RSS; side by side, the same bot with the
  `openai` SDK as its model client (what it used before; needs the test extras), and the
  floor: a bare aiohttp client making the same calls with no bot at all.

The fake model runs in its own process so that it does not share the bot's GIL.
Run: python bench/bench_agent.py
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile
from bot.agent.llm import LLM, Reply, parse_message
from bot.app import build_services, settle_heap
from bot.config import load_settings
from bot.plugin_host.protocol import Caller
from tests.plugin_factory import write_plugin

REPO = Path(__file__).resolve().parents[1]
THREADED_SERVER = """
import sys
sys.path.insert(0, {repo!r})
from tests.fakes.openai_server import FakeOpenAI, Scripted
fake = FakeOpenAI()
def answer(body):
    done = sum(1 for m in body["messages"] if m["role"] == "tool")
    if done < {tool_steps} and body.get("tools"):
        call = fake.tool_call("bench_echo", {{"text": str(done)}}, f"c{{done}}")
        return Scripted(body=fake.completion(None, [call]), delay={delay})
    return Scripted(body=fake.completion("done"), delay={delay})
fake.default = answer
fake.start()
print(fake.base_url, flush=True)
sys.stdin.read()
"""

# The same answers from an asyncio server: one process, no thread per connection, so the
# stand-in model is not what limits 100 concurrent runs.
ASYNC_SERVER = """
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

async def handle(request):
    body = await request.json()
    done = sum(1 for m in body["messages"] if m["role"] == "tool")
    if {delay}:
        await asyncio.sleep({delay})
    if done < {tool_steps} and body.get("tools"):
        call = {{"id": f"c{{done}}", "type": "function", "function": {{
            "name": "bench_echo", "arguments": json.dumps({{"text": str(done)}})}}}}
        return web.json_response(completion(None, [call]))
    return web.json_response(completion("done"))

async def main():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{{port}}/v1", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def start_fake(*, delay: float, tool_steps: int, server: str = ASYNC_SERVER
               ) -> tuple[subprocess.Popen[str], str]:
    code = server.format(repo=str(REPO), delay=delay, tool_steps=tool_steps)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def services_for(tmp: Path, url: str, **extra: object):  # type: ignore[no-untyped-def]
    plugins = tmp / "plugins"
    write_plugin(plugins / "builtins", "bench", tools={"bench_echo": "return text"})
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                             plugins_dir=plugins, openai_base_url=url,
                             openai_api_key="sk-test-key", plugin_sandbox="process", **extra)
    return await build_services(settings, default_enabled=frozenset({"bench"}))


async def step_overhead(tmp: Path, url: str, runs: int = 300) -> list[str]:
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
            assert result.text == "done" and result.steps == 2, result
            steps.append((time.perf_counter() - started) / result.steps)
    finally:
        await services.close()
    overhead = percentile(steps, 50) - percentile(raw, 50)
    return [f"{percentile(raw, 50) * 1000:.3f}", f"{percentile(steps, 50) * 1000:.3f}",
            f"{overhead * 1000:.3f}", "< 2", "yes" if overhead < 0.002 else "NO"]


class SdkLLM(LLM):
    """The bot's model client as it was: the `openai` SDK (aiohttp transport, its low-level
    `post`, no response models), for the comparison row."""

    def __init__(self, url: str) -> None:
        import openai

        super().__init__(api_key="sk-test-key", base_url=url, model="gpt-4o-mini")
        self._sdk = openai.AsyncOpenAI(api_key="sk-test-key", base_url=url,
                                       http_client=openai.DefaultAioHttpClient())

    async def complete(self, chat: list[dict[str, Any]],
                       tools: list[dict[str, Any]] | None) -> Reply:
        body: dict[str, Any] = {"model": self.model, "messages": chat}
        if tools:
            body["tools"] = tools
        data = await self._sdk.post("/chat/completions", cast_to=object, body=body)
        return parse_message(data["choices"][0]["message"])  # type: ignore[index]

    async def close(self) -> None:
        await self._sdk.close()


async def concurrent_runs(tmp: Path, url: str, label: str, n: int = 100, *,
                          sdk: bool = False) -> list[list[str]]:
    """Two rounds on one bot: the first opens the connections, the second reuses them."""
    services = await services_for(tmp, url, agent_max_concurrent_runs=n)
    if sdk:
        assert services.llm is not None
        await services.llm.close()
        services.llm = services.agent.llm = SdkLLM(url)
    settle_heap()  # as `bot run` and `bot console` do once started
    rows = []
    try:
        for pool in ("cold", "warm"):
            started = time.perf_counter()
            results = await asyncio.gather(*(services.runs.ask(f"q{i}", caller=Caller(user="b"))
                                             for i in range(n)))
            wall = time.perf_counter() - started
            assert all(r.text == "done" and r.steps == 3 for r in results), results[0]
            ideal = 3 * 0.2
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows.append([label, pool, str(n), f"{wall:.3f}", f"{ideal:.1f}",
                         f"{wall / ideal:.2f}x", "<= 1.2x",
                         "yes" if wall / ideal <= 1.2 else "NO", f"{rss:.0f}"])
    finally:
        await services.close()
    return rows


async def bare_client(url: str, label: str, n: int = 100) -> list[list[str]]:
    """The floor: the same 100 x 3 calls from a bare aiohttp client (no bot, no SDK)."""
    import aiohttp

    body = {"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "bench_echo",
                                                        "parameters": {"type": "object"}}}]}
    rows = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def run_three() -> None:
            messages = list(body["messages"])
            for _ in range(3):
                async with session.post(f"{url}/chat/completions",
                                        json={**body, "messages": messages}) as response:
                    reply = (await response.json())["choices"][0]["message"]
                messages = [*messages, reply] + [
                    {"role": "tool", "tool_call_id": c["id"], "content": "x"}
                    for c in reply.get("tool_calls") or []]
        for pool in ("cold", "warm"):
            started = time.perf_counter()
            await asyncio.gather(*(run_three() for _ in range(n)))
            wall = time.perf_counter() - started
            rows.append([label, pool, str(n), f"{wall:.3f}", "0.6", f"{wall / 0.6:.2f}x",
                         "(floor)", "-", "-"])
    return rows


def sdk_installed() -> bool:
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fast, fast_url = start_fake(delay=0, tool_steps=1)
        try:
            overhead = asyncio.run(step_overhead(Path(tmp) / "a", fast_url))
        finally:
            fast.kill()
        concurrent = []
        for label, server in (("asyncio (aiohttp) model server", ASYNC_SERVER),
                              ("threaded test fake (tests/fakes)", THREADED_SERVER)):
            slow, slow_url = start_fake(delay=0.2, tool_steps=2, server=server)
            try:
                concurrent += asyncio.run(concurrent_runs(
                    Path(tmp) / label.split()[0], slow_url, f"bot; {label}"))
                if server is ASYNC_SERVER:
                    concurrent += asyncio.run(bare_client(
                        slow_url, "bare aiohttp client, no bot; asyncio server"))
            finally:
                slow.kill()
        if sdk_installed():  # last: importing the SDK raises the process's peak RSS
            slow, slow_url = start_fake(delay=0.2, tool_steps=2, server=ASYNC_SERVER)
            try:
                concurrent += asyncio.run(concurrent_runs(
                    Path(tmp) / "sdk", slow_url,
                    "bot with the openai SDK as model client; asyncio server", sdk=True))
            finally:
                slow.kill()
    print(f"Machine: {machine()}\n")
    print("Per-step bot overhead: 2-step runs (tool call, answer), zero-latency model server "
          "in another process, trivial tool, 300 runs (ms, p50):\n")
    print(markdown_table(["raw model round trip", "agent time per step", "bot overhead",
                          "target", "met"], [overhead]))
    print("\n100 concurrent 3-step runs, model latency 200 ms, cap = 100; peak RSS is the "
          "benchmark process's so far:\n")
    print(markdown_table(["who calls; which stand-in model server", "connection pool", "runs",
                          "wall (s)", "ideal (s)", "ratio", "target", "met",
                          "peak RSS (MiB)"], concurrent))


if __name__ == "__main__":
    os.environ.pop("OPENAI_API_KEY", None)
    main()
