"""MCP servers as plugins (issue: MCP servers and per-tool approval rules).

A real MCP server written with the `mcp` SDK (tests/mcp_server.py, plus a `logs` tool
returning N lines) runs in a process of its own, over streamable HTTP on 127.0.0.1. The
bot's path — `registry.call` on the enabled plugin: argument validation, the MCP host,
the SDK client, result rendering, masking — is timed side by side with a bare SDK
`Client.call_tool` on its own connection, interleaved call by call, 3 repeats.

The regime users are in: a one-line answer (`pod_status`) and a 200-line one (`logs`,
~16 KB, what a log tail looks like). Cold connect: a new connection's handshake and
tools/list, through the bot's host and through the SDK alone.

Run: python bench/bench_mcp.py  (BENCH_QUICK=1 for a smoke run)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile

CALLS, CONNECTS, REPEATS = 500, 30, 3
if os.environ.get("BENCH_QUICK"):
    CALLS, CONNECTS, REPEATS = 40, 3, 1

SERVE = """
import sys, time
from tests.fakes.mcp_server import McpTestServer, READ_ONLY
server = McpTestServer()
server.port = int(sys.argv[1])
original = server.start
def logs(lines: int) -> str:
    '''The last lines of a pod's log.'''
    return "\\n".join(f"2026-12-02T08:00:{i % 60:02d}Z INFO request served in 12ms id={i:06d}"
                     " path=/api/v1/checkout status=200" for i in range(lines))
import tests.mcp_server as m
build = m.build_server
def with_logs(calls):
    s = build(calls)
    s.add_tool(logs, annotations=READ_ONLY)
    return s
m.build_server = with_logs
server.start()
print("ready", flush=True)
sys.stdin.read()
"""


def start_server() -> tuple[subprocess.Popen[str], str]:
    from tests.fakes.mcp_server import _free_port

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}/mcp"


async def sdk_client(url: str):  # type: ignore[no-untyped-def]
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    return Client(streamable_http_client(url), mode="legacy")


async def list_all(client) -> int:  # type: ignore[no-untyped-def]
    """tools/list, every page (as the bot's host does; the SDK then checks results)."""
    count, cursor = 0, None
    while True:
        page = await client.list_tools(cursor=cursor)
        count, cursor = count + len(page.tools), page.next_cursor
        if not cursor:
            return count


async def warm_calls(services, url: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    rows = []
    async with await sdk_client(url) as direct:
        await list_all(direct)
        for tool, args in (("pod_status", {"namespace": "prod"}), ("logs", {"lines": 200})):
            bot, sdk = [], []
            for _ in range(CALLS):
                started = time.perf_counter()
                await direct.call_tool(tool, args)
                sdk.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = await services.registry.call(tool, args)
                bot.append(time.perf_counter() - started)
                assert result.ok, result.text
            p_sdk, p_bot = percentile(sdk, 50) * 1000, percentile(bot, 50) * 1000
            rows.append([tool, f"{len(result.text):,}", f"{p_sdk:.2f}", f"{p_bot:.2f}",
                         f"{p_bot - p_sdk:.2f}", f"{p_bot / p_sdk:.2f}x",
                         f"{percentile(bot, 99) * 1000:.2f}"])
    return rows


async def cold_connects(url: str) -> list[str]:
    from bot.plugin_host.mcp.connect import http_target
    from bot.plugin_host.mcp.host import McpHost

    bot, sdk = [], []
    for _ in range(CONNECTS):
        started = time.perf_counter()
        async with await sdk_client(url) as client:
            await list_all(client)
        sdk.append(time.perf_counter() - started)
        host = McpHost(http_target("bench", url, {}), connect_timeout=10)
        started = time.perf_counter()
        await host.load()
        bot.append(time.perf_counter() - started)
        await host.close()
    p_sdk, p_bot = percentile(sdk, 50) * 1000, percentile(bot, 50) * 1000
    return [f"{p_sdk:.1f}", f"{p_bot:.1f}", f"{p_bot - p_sdk:.1f}"]


async def one_repeat(tmp: Path, url: str, n: int) -> tuple[list[list[str]], list[str]]:
    from bot.app import build_services
    from bot.config import load_settings

    (tmp / f"plugins{n}" / "builtins").mkdir(parents=True)
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench{n}.db",
                             plugins_dir=tmp / f"plugins{n}", log_level="WARNING")
    services = await build_services(settings, default_enabled=frozenset())
    try:
        await services.mcp.add("incident", url, {}, actor="bench")
        await services.plugins.enable("incident", actor="bench")
        warm = await warm_calls(services, url)
    finally:
        await services.close()
    return warm, await cold_connects(url)


def main() -> None:
    import logging

    logging.basicConfig(level="WARNING")
    logging.getLogger("httpx2").setLevel("WARNING")
    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = [asyncio.run(one_repeat(Path(tmp), url, n)) for n in range(REPEATS)]
    finally:
        proc.kill()
    print(f"Machine: {machine()}\n")
    print(f"Warm tool call, p50 of {CALLS} calls each, interleaved (ms):\n")
    rows = [[str(i + 1), *row] for i, (warm, _) in enumerate(results) for row in warm]
    print(markdown_table(["run", "tool", "result chars", "SDK direct", "through the bot",
                          "overhead", "ratio", "bot p99"], rows))
    print(f"\nCold connect (initialize + tools/list), p50 of {CONNECTS} (ms):\n")
    print(markdown_table(["run", "SDK direct", "bot's host", "overhead"],
                         [[str(i + 1), *cold] for i, (_, cold) in enumerate(results)]))


if __name__ == "__main__":
    main()
