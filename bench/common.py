"""Helpers shared by the benchmarks: percentiles, tables, machine description."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: Sequence[float]) -> dict[str, str]:
    """p50/p95/p99/mean of samples given in seconds, formatted in milliseconds."""
    return {"p50": f"{percentile(samples, 50) * 1000:.3f}",
            "p95": f"{percentile(samples, 95) * 1000:.3f}",
            "p99": f"{percentile(samples, 99) * 1000:.3f}",
            "mean": f"{statistics.fmean(samples) * 1000:.3f}"}


async def paced(count: int, rate: float, request: Callable[[int], Awaitable[object]]) -> None:
    """`request(i)` for i in range(count), started `rate` a second on schedule (whatever
    the earlier ones' latency), then all awaited: an open-loop load."""
    tasks = []
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(request(i)))
    await asyncio.gather(*tasks)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    return (f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


MODEL_SERVER_MAIN = """
async def main():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def start_model_server(handler: str) -> tuple[subprocess.Popen[str], str]:
    """A fake model in a process of its own (its CPU is not the bot's): `handler` defines
    `async def handle(request)` (aiohttp, with asyncio, json, sys and time imported); the
    server runs until its stdin closes. Returns the process and its base URL."""
    proc = subprocess.Popen([sys.executable, "-c", handler + MODEL_SERVER_MAIN],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def checkout_argument() -> str | None:
    """A benchmark's optional CHECKOUT argument: the `bot` package its `bot run` processes
    use is the one there (another commit, to compare side by side). `python -m bot` finds
    the package in its working directory first, so the benchmark moves there."""
    code = sys.argv[1] if len(sys.argv) > 1 else None
    if code:
        os.chdir(code)
    return code


def bot_environment(directory: Path, code: str | None, **settings: str) -> dict[str, str]:
    """The environment of a `bot run` a benchmark starts: none of the developer's Slack,
    model, database or plugin settings; SQLite and an empty plugins dir in `directory`; the
    process sandbox; with `code`, that checkout's `bot`; `settings` on top."""
    plugins = directory / "plugins"
    (plugins / "builtins").mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SLACK_", "OPENAI_", "BOT_", "DATABASE_", "PLUGINS_"))}
    env = clean | {"DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'bot.db'}",
                   "PLUGINS_DIR": str(plugins), "PLUGIN_SANDBOX": "process", **settings}
    if code:
        env["PYTHONPATH"] = code
    return env
