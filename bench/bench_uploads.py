"""Upload and sandbox benchmarks (issue: uploads).

- upload-to-ready for a 1 MB plugin zip: install (checks, staging, probe in a worker, move,
  commit) + enable, until its tool is in the registry;
- first call into a cold worker (worker start + import + call);
- warm call round trip through the worker vs the same tool loaded in-process;
- worker memory (RSS of the worker's Python process).

Both sandbox modes are measured in one run. Run: python bench/bench_uploads.py
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile
from bot.app import Services, build_services
from bot.config import load_settings
from tests.helpers import zips
from tests.helpers.plugin_factory import plugin_source, write_plugin

WARM_CALLS = 1000
COLD_ROUNDS = 10
REPEATS = 3


def big_plugin_zip() -> bytes:
    blob = base64.b64encode(os.urandom(990_000)).decode()
    data = zips.package("bigplug", extra={"blob.py": f"BLOB = {blob!r}\n"})
    assert 0.95e6 < len(data) < 1.1e6, len(data)
    return data


def worker_rss_kb(marker: str) -> int:
    """VmRSS of the worker's Python process (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "worker_main.py" in cmdline and "bwrap" not in cmdline.split("\0")[0] \
                and marker in cmdline:
            return int(next(line.split()[1] for line in status.splitlines()
                            if line.startswith("VmRSS:")))
    return 0


async def measure(mode: str, root: Path) -> dict[str, str]:
    plugins = root / mode
    for sub in ("builtins", "user_uploads"):
        (plugins / sub).mkdir(parents=True)
    write_plugin(plugins / "builtins", "inproc", tools={"inproc_echo": "return text"})
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{root}/{mode}.db",
                             plugins_dir=plugins, plugin_sandbox=mode)
    services: Services = await build_services(settings, default_enabled=frozenset({"inproc"}))
    try:
        data = big_plugin_zip()
        started = time.perf_counter()
        result = await services.installer.install(data, "bigplug.zip", actor="bench")
        assert result.ok, result.message
        await services.plugins.enable("bigplug", actor="bench")
        ready = time.perf_counter() - started
        assert "bigplug_echo" in services.registry.snapshot

        small = zips.package("echoer", plugin_source("echoer", tools={"echoer_echo":
                                                                      "return text"}))
        assert (await services.installer.install(small, "e.zip", actor="bench")).ok
        cold = []
        for _ in range(COLD_ROUNDS):
            await services.plugins.disable("echoer", actor="bench")
            await services.plugins.enable("echoer", actor="bench")
            started = time.perf_counter()
            assert (await services.registry.call("echoer_echo", {"text": "x"})).ok
            cold.append(time.perf_counter() - started)

        worker, inproc = [], []
        for _ in range(WARM_CALLS):
            started = time.perf_counter()
            await services.registry.call("echoer_echo", {"text": "x"})
            worker.append(time.perf_counter() - started)
            started = time.perf_counter()
            await services.registry.call("inproc_echo", {"text": "x"})
            inproc.append(time.perf_counter() - started)
        rss = worker_rss_kb('"echoer"') or worker_rss_kb("echoer")
    finally:
        await services.close()
    extra = percentile(worker, 50) - percentile(inproc, 50)
    return {"mode": mode, "ready": f"{ready * 1000:.0f}",
            "cold": f"{statistics.median(cold) * 1000:.1f}",
            "warm": f"{percentile(worker, 50) * 1000:.3f}",
            "inproc": f"{percentile(inproc, 50) * 1000:.3f}", "extra": f"{extra * 1000:.3f}",
            "rss": f"{rss / 1024:.1f}", "ok_ready": "yes" if ready < 1 else "NO",
            "ok_cold": "yes" if statistics.median(cold) < 0.3 else "NO",
            "ok_extra": "yes" if extra < 0.001 else "NO"}


def main() -> None:
    from bot.plugin_host.sandbox.confine import Sandbox
    from bot.plugin_host.sandbox.detect import detect_sandbox
    detected = detect_sandbox(mode="auto")
    bwrap = isinstance(detected, Sandbox) and detected.kind == "bwrap"
    modes = ["process"] + (["bwrap"] if bwrap else [])
    rows = []
    for repeat in range(REPEATS):  # the modes side by side, in each repeat
        with tempfile.TemporaryDirectory() as tmp:
            for mode in modes:
                rows.append(asyncio.run(measure(mode, Path(tmp))) | {"repeat": str(repeat + 1)})
    print(f"Machine: {machine()}; running as uid {os.geteuid()}\n")
    print(markdown_table(
        ["run", "sandbox", "upload-to-ready, 1 MB zip (ms)", "target < 1000",
         f"cold first call, median of {COLD_ROUNDS} (ms)", "target < 300",
         "warm call via worker p50 (ms)", "same tool in-process p50 (ms)",
         "extra p50 (ms)", "target < 1", "worker RSS (MiB)"],
        [[r["repeat"], r["mode"], r["ready"], r["ok_ready"], r["cold"], r["ok_cold"], r["warm"],
          r["inproc"], r["extra"], r["ok_extra"], r["rss"]] for r in rows]))


if __name__ == "__main__":
    main()
