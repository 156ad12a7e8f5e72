"""`k8sgpt_analyze` (core analyzers, all namespaces) over a fake cluster with 5,000 pods and
500 deployments, with 50 ms added to every API call: lists one after another (concurrency
1) next to concurrent lists (the default, 8), side by side, 3 repeats; and the regime an
on-call is in, one namespace of the incident cluster. Run: `python bench/bench_k8sgpt.py`."""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "builtins"))

from bench.common import machine, markdown_table
from bot.sdk import ToolContext
from tests.fakes.k8s_server import FakeKubernetes

PODS, DEPLOYMENTS, LATENCY = 5000, 500, 0.05


def big_cluster() -> FakeKubernetes:
    fake = FakeKubernetes()
    pod_template = next(p for p in fake.objects["pods"]
                        if p["metadata"]["name"].startswith("checkout-api"))
    deploy_template = next(d for d in fake.objects["deployments"]
                           if d["metadata"]["name"] == "checkout-api")
    for i in range(DEPLOYMENTS):
        deployment: dict[str, Any] = copy.deepcopy(deploy_template)
        deployment["metadata"].update(name=f"svc-{i:03d}", namespace=f"team-{i % 40:02d}",
                                      uid=f"d0000000-0000-0000-0000-{i:012d}")
        fake.objects["deployments"].append(deployment)
    for i in range(PODS):
        pod: dict[str, Any] = copy.deepcopy(pod_template)
        pod["metadata"].update(name=f"svc-{i % DEPLOYMENTS:03d}-{i:05d}",
                               namespace=f"team-{i % 40:02d}",
                               uid=f"00000000-0000-0000-0000-{i:012d}")
        fake.objects["pods"].append(pod)
    return fake.start()


def seconds(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(fake: FakeKubernetes, namespace: str | None, label: str) -> list[list[str]]:
    from k8sgpt import k8sgpt_analyze  # the built-in plugin, as the bot loads it

    kubeconfig = fake.kubeconfig(Path(tempfile.mkdtemp()) / "kc", namespace="prod")
    contexts = {n: ToolContext(user="bench", channel=None, plugin="k8sgpt",
                               config={"kubeconfig": str(kubeconfig), "concurrency": n})
                for n in (1, 8)}
    problems = json.loads(k8sgpt_analyze(namespace=namespace, ctx=contexts[8]))["problems"]
    fake.delay_paths["/"] = LATENCY
    rows = []
    for repeat in range(3):
        sequential = seconds(lambda: k8sgpt_analyze(namespace=namespace, ctx=contexts[1]))
        fake.requests.clear()
        concurrent = seconds(lambda: k8sgpt_analyze(namespace=namespace, ctx=contexts[8]))
        rows.append([label, str(repeat + 1), f"{sequential:.2f}", f"{concurrent:.2f}",
                     f"{sequential / concurrent:.1f}x", str(len(fake.requests)),
                     str(problems)])
    fake.delay_paths.clear()
    return rows


def main() -> None:
    big = big_cluster()
    rows = measure(big, None, f"{PODS} pods, {DEPLOYMENTS} deployments, -A")
    big.stop()
    incident = FakeKubernetes().start()
    rows += measure(incident, "prod", "incident cluster, -n prod")
    incident.stop()
    print(f"Machine: {machine()}\n")
    print(f"k8sgpt_analyze, core analyzers, {LATENCY * 1000:.0f} ms added per API call "
          "(seconds):\n")
    print(markdown_table(["cluster", "repeat", "sequential (1)", "concurrent (8)", "speed-up",
                          "API requests", "problems"], rows))
    for label in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == label]
        print(f"\n{label}: median {statistics.median(float(r[2]) for r in mine):.2f} s -> "
              f"{statistics.median(float(r[3]) for r in mine):.2f} s")


if __name__ == "__main__":
    main()
