"""`run_kubectl` against the fake API server (TLS, Tables), side by side in one run:

1. `get pods -A` over 2,000 pods: the Table as any client reads it (HTTP and JSON decode),
   the raw API call the bot makes (the same, with every Secret value masked: what every
   plugin is given), the same command through a running bot's registry (what the agent
   calls: parse, render, text redaction, caps, the thread it runs in), and the real kubectl
   (which pages 500 at a time); p50 of 15 calls, 3 repeats.
   The fake runs in a process of its own, so its serialising does not share the bot's GIL.
2. A cold `bot plugin call` (a new process): discovery requests and wall time without a
   saved discovery and with the copy the previous process left (bot/kube/discovery_cache.py),
   on loopback and with 50 ms added to every API request (a remote cluster).
3. Discovery documents fetched during 100 mixed commands once warm.

Run: `python bench/bench_kubectl.py`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, percentile
from bot import kube
from tests.fakes.k8s_server import FakeKubernetes

REPO = Path(__file__).resolve().parents[1]

PODS = 2000
CALLS = 15
REPEATS = 3
COMMAND = "get pods -A"
MIXED = ["get pods -n prod", "get deploy", "get svc -A", "get ro", "get nodes",
         "get events -n prod", "get cert", "get pvc", "get all", "api-resources"]


def big_cluster() -> FakeKubernetes:
    fake = FakeKubernetes()
    template = next(p for p in fake.objects["pods"] if p["metadata"]["name"].startswith("web-"))
    for i in range(PODS - len(fake.objects["pods"])):
        pod: dict[str, Any] = copy.deepcopy(template)
        pod["metadata"]["name"] = f"load-{i:05d}"
        pod["metadata"]["namespace"] = f"team-{i % 40:02d}"
        pod["metadata"]["uid"] = f"00000000-0000-0000-0000-{i:012d}"
        fake.objects["pods"].append(pod)
    return fake.start()


def serve(folder: Path) -> None:
    """The child: the 2,000-pod cluster until stdin closes."""
    fake = big_cluster()
    print(fake.kubeconfig(folder / "kc", namespace="prod"), flush=True)
    sys.stdin.read()
    fake.stop()


def timed(call: Any, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


async def timed_async(call: Any, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def get_all_pods(folder: Path, kubeconfig: Path) -> list[list[str]]:
    from tests.helpers.kube import make_services

    services = await make_services(folder, kubeconfig)
    api = kube.connect(str(kubeconfig)).api()
    env = {**os.environ, "KUBECACHEDIR": str(folder / "kubectl-cache")}
    argv = ["kubectl", "--kubeconfig", str(kubeconfig), *COMMAND.split()]

    async def in_bot() -> None:
        result = await services.registry.call("run_kubectl", {"command": COMMAND})
        assert result.ok and result.text.count("\n") == PODS, result.text[:200]

    def real_kubectl() -> None:
        subprocess.run(argv, env=env, check=True, capture_output=True)

    await in_bot()
    real_kubectl()  # both warm: discovery, connections
    rows = []
    try:
        for repeat in range(REPEATS):
            plain = percentile(timed(lambda: json.loads(kube.request(
                api, "/api/v1/pods", accept=kube.TABLE, what="listing pods", raw=True)),
                CALLS), 50)
            raw = percentile(timed(lambda: kube.request(api, "/api/v1/pods", accept=kube.TABLE,
                                                        what="listing pods"), CALLS), 50)
            bot = percentile(await timed_async(in_bot, CALLS), 50)
            theirs = percentile(timed(real_kubectl, CALLS), 50)
            rows.append([str(repeat + 1), f"{plain * 1000:.1f}", f"{raw * 1000:.1f}",
                         f"{bot * 1000:.1f}", f"{theirs * 1000:.1f}", f"{bot / raw:.2f}x",
                         f"{bot / plain:.2f}x", f"{theirs / raw:.2f}x"])
    finally:
        await services.close()
    return rows


def cold_calls(folder: Path) -> list[list[str]]:
    """`bot plugin call` in a new process, without and then with the saved discovery."""
    fake = FakeKubernetes().start()
    kubeconfig = fake.kubeconfig(folder / "kc-cold", namespace="prod")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "OPENAI_", "BOT_", "DATABASE_", "PLUGINS_"))}
    env |= {"KUBECONFIG": str(kubeconfig), "PLUGINS_DIR": str(REPO / "plugins"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'cold.db'}"}
    argv = [sys.executable, "-m", "bot", "plugin", "call", "run_kubectl",
            '{"command": "get pods -n prod"}']
    subprocess.run(argv, env=env, check=True, capture_output=True)  # the database, migrated
    rows = []
    try:
        for latency in (0.0, 0.05):
            fake.delay_paths = {"/api": latency} if latency else {}
            for repeat in range(REPEATS):
                cache = folder / f"cache-{latency}-{repeat}"
                for state in ("none saved", "saved by the last process"):
                    fake.requests.clear()
                    started = time.perf_counter()
                    subprocess.run(argv, env=env | {"KUBECACHEDIR": str(cache)}, check=True,
                                   capture_output=True)
                    took = time.perf_counter() - started
                    discovery = fake.discovery_requests()
                    rows.append([f"{latency * 1000:.0f} ms", str(repeat + 1), state,
                                 str(len(discovery)), str(len(fake.requests)),
                                 f"{took:.2f}"])
    finally:
        fake.stop()
    return rows


def warm_discovery(kubeconfig: Path) -> int:
    """Discovery documents fetched during 100 mixed commands after a warm-up."""
    sys.path.insert(0, str(REPO / "plugins" / "builtins"))
    from kubectl import run_kubectl  # the built-in plugin, as the bot loads it

    from bot.sdk import ToolContext

    ctx = ToolContext(user="bench", channel=None, plugin="kubectl",
                      config={"kubeconfig": str(kubeconfig)})
    run_kubectl("get pods", ctx=ctx)
    discovery = kube.discovery_of(kube.connect(str(kubeconfig)).api())
    before = discovery.calls
    for i in range(100):
        run_kubectl(MIXED[i % len(MIXED)], ctx=ctx)
    return discovery.calls - before


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]))
        return
    if shutil.which("kubectl") is None:
        sys.exit("the real kubectl is needed on PATH (it is measured side by side)")
    folder = Path(tempfile.mkdtemp())
    os.environ["KUBECACHEDIR"] = str(folder / "bot-cache")
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(folder)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    kubeconfig = Path(child.stdout.readline().strip())
    try:
        big = asyncio.run(get_all_pods(folder, kubeconfig))
        warm = warm_discovery(kubeconfig)
    finally:
        child.stdin.close()
        child.wait()
    cold = cold_calls(folder)
    print(f"Machine: {machine()}\n")
    print(f"`{COMMAND}` over {PODS} pods, p50 of {CALLS} calls (ms):\n")
    print(markdown_table(["repeat", "HTTP + JSON decode", "raw API call (masked)",
                          "run_kubectl in a running bot", "real kubectl", "bot / raw",
                          "bot / decode", "kubectl / raw"], big))
    print("\nA cold `bot plugin call run_kubectl` (a new process), `get pods -n prod`:\n")
    print(markdown_table(["API latency", "repeat", "discovery on disk", "discovery requests",
                          "all requests", "wall (s)"], cold))
    print(f"\nDiscovery documents fetched during 100 mixed commands after warm-up: {warm}")


if __name__ == "__main__":
    main()
