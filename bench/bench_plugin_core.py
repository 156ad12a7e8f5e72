"""Plugin core benchmarks (issue: plugin core).

- start-up to ready with 100 generated plugins (fresh database, and a restart), measured as
  the wall time of a new process that builds the services and exits;
- enable/disable latency for one plugin among 100;
- registry `call` overhead over calling the handler directly, sync and async.

Run: python bench/bench_plugin_core.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile, summary_ms
from bot.app import build_services
from bot.config import load_settings
from bot.plugin_host.contract.protocol import ToolSpec
from bot.plugin_host.runtime.registry import Registry, Tool
from bot.sdk import ToolContext
from tests.helpers.plugin_factory import write_plugin

N_PLUGINS = 100
CHILD = """
import asyncio, sys, time
sys.path.insert(0, {repo!r})
from bot.app import build_services
from bot.config import load_settings
async def main():
    s = await build_services(load_settings(database_url={url!r}, plugins_dir={plugins!r}),
                             default_enabled=frozenset(f"gen{{i:03d}}" for i in range(50)))
    assert len(s.registry.snapshot) == 100, len(s.registry.snapshot)
    await s.close()
asyncio.run(main())
"""


def make_plugins(root: Path) -> None:
    for i in range(N_PLUGINS):
        name = f"gen{i:03d}"
        write_plugin(root / "builtins", name,
                     tools={f"{name}_a": "return text", f"{name}_b": "return text.upper()"})


def startup_wall(url: str, plugins: Path) -> float:
    code = CHILD.format(repo=str(Path(__file__).resolve().parents[1]), url=url,
                        plugins=str(plugins))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


async def toggle_latency(url: str, plugins: Path, rounds: int = 100) -> list[float]:
    settings = load_settings(database_url=url, plugins_dir=plugins)
    services = await build_services(settings, default_enabled=frozenset({"gen000"}))
    samples = []
    try:
        for _ in range(rounds):
            for op in (services.plugins.disable, services.plugins.enable):
                started = time.perf_counter()
                await op("gen042", actor="bench")
                samples.append(time.perf_counter() - started)
    finally:
        await services.close()
    return samples


async def call_overhead(n: int = 5000) -> list[list[str]]:
    def sync_handler(text: str = "") -> str:
        return text

    async def async_handler(text: str = "") -> str:
        return text

    from concurrent.futures import ThreadPoolExecutor

    from bot.plugin_host.runtime.in_process import InProcessHost
    executor = ThreadPoolExecutor(8)
    host = InProcessHost(Path("."), name="bench", executor=executor)
    host._handlers = {"s": sync_handler, "a": async_handler}  # bench-only: skip the import
    params = {"type": "object", "properties": {"text": {"type": "string"}}}
    registry = Registry()
    tools = [Tool.bind(ToolSpec(name=n_, description="", parameters=params), plugin="bench",
                       plugin_version="1", invoke=host.invoke, default_timeout=30)
             for n_ in ("s", "a")]
    registry.publish(tools)
    rows = []
    for name in ("s", "a"):
        direct, via = [], []
        spec = registry.snapshot.get(name).spec  # type: ignore[union-attr]
        for _ in range(n):
            started = time.perf_counter()
            await host.invoke(spec, {"text": "x"}, ToolContext())
            direct.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await registry.call(name, {"text": "x"})
            via.append(time.perf_counter() - started)
            assert result.ok
        label = "sync (thread pool)" if name == "s" else "async"
        overhead = percentile(via, 50) - percentile(direct, 50)
        rows.append([label, f"{percentile(direct, 50) * 1000:.3f}",
                     f"{percentile(via, 50) * 1000:.3f}", f"{overhead * 1000:.3f}",
                     "< 0.2", "yes" if overhead < 0.0002 else "NO"])
    executor.shutdown()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "plugins"
        make_plugins(root)
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        cold = startup_wall(url, root)
        warm = [startup_wall(url, root) for _ in range(5)]
        toggles = asyncio.run(toggle_latency(url, root))
    calls = asyncio.run(call_overhead())
    print(f"Machine: {machine()}\n")
    print(f"Start-up to ready, {N_PLUGINS} plugins (200 tools, 50 enabled), "
          "new process incl. interpreter and imports:\n")
    print(markdown_table(["case", "seconds", "target", "met"], [
        ["first start (fresh database, migrations, 100 rows)", f"{cold:.3f}", "< 1.5",
         "yes" if cold < 1.5 else "NO"],
        ["restart, median of 5", f"{sorted(warm)[2]:.3f}", "< 1.5",
         "yes" if sorted(warm)[2] < 1.5 else "NO"]]))
    stats = summary_ms(toggles)
    print(f"\nEnable/disable latency, one plugin among {N_PLUGINS} "
          f"({len(toggles)} operations, ms):\n")
    print(markdown_table(["p50", "p95", "p99", "mean", "target p50", "met"], [
        [stats["p50"], stats["p95"], stats["p99"], stats["mean"], "< 50",
         "yes" if float(stats["p50"]) < 50 else "NO"]]))
    print("\nRegistry call overhead, trivial tool, 5000 calls each (ms, p50):\n")
    print(markdown_table(["handler", "direct", "registry.call", "overhead", "target", "met"],
                         calls))


if __name__ == "__main__":
    main()
