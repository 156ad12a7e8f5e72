"""`run_kubectl get pods -A` over 2,000 pods against the fake API server (TLS, Tables):
the bot's time next to the raw API call it makes, and discovery calls per 100 commands
once warm. Run: `python bench/bench_kubectl.py` (3 repeats, side by side)."""

from __future__ import annotations

import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "builtins"))

from bench.common import machine, markdown_table, percentile
from bot import kube
from bot.sdk import ToolContext
from tests.fakes.k8s_server import FakeKubernetes

PODS = 2000
CALLS = 15
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


def timed(call: Any, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def one_repeat(api: Any, ctx: ToolContext) -> tuple[float, float, int]:
    from kubectl import run_kubectl  # the built-in plugin, as the bot loads it

    raw = timed(lambda: kube.request(api, "/api/v1/pods", accept=kube.TABLE,
                                     what="listing pods"), CALLS)
    bot = timed(lambda: run_kubectl("get pods -A", ctx=ctx), CALLS)
    discovery = kube.discovery_of(api)
    before = discovery.calls
    for i in range(100):
        run_kubectl(MIXED[i % len(MIXED)], ctx=ctx)
    return percentile(raw, 50), percentile(bot, 50), discovery.calls - before


def main() -> None:
    fake = big_cluster()
    folder = Path(tempfile.mkdtemp())
    kubeconfig = fake.kubeconfig(folder / "kc", namespace="prod")
    ctx = ToolContext(user="bench", channel=None, plugin="kubectl",
                      config={"kubeconfig": str(kubeconfig)})
    api = kube.connect(str(kubeconfig)).api()
    from kubectl import run_kubectl
    run_kubectl("get pods -A", ctx=ctx)  # warm: discovery, connections
    rows = []
    for repeat in range(3):
        raw, bot, calls = one_repeat(api, ctx)
        rows.append([str(repeat + 1), f"{raw * 1000:.1f}", f"{bot * 1000:.1f}",
                     f"{bot / raw:.2f}x", f"{(bot - raw) * 1000:.1f}", str(calls)])
    fake.stop()
    print(f"Machine: {machine()}\n")
    print(f"`get pods -A` over {PODS} pods, p50 of {CALLS} calls (ms); discovery documents "
          "fetched during 100 mixed commands after warm-up:\n")
    print(markdown_table(["repeat", "raw Table request", "run_kubectl", "ratio",
                          "bot overhead", "discovery calls / 100 commands"], rows))
    print(f"\nmedian overhead: {statistics.median(float(r[4]) for r in rows):.1f} ms")


if __name__ == "__main__":
    main()
