"""Redaction, measured: how much of the secret corpus is masked, how much ordinary kubectl
output it changes (false positives), and what masking costs per MB — the text redactor on
tool output, the object masker on API answers, and the event loop's longest stall while a
4 MB result is masked (in the loop, as before, and as the registry masks it now).

The ordinary output is the real `kubectl` (the oracle, when on PATH) reading the test
fixtures from the fake API server: every kind but Secrets, as YAML, as tables and as
`describe`, plus events and logs. Run: `python bench/bench_redaction.py` (3 repeats)."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table
from bot.kube.masking import mask_objects
from bot.plugin_host.runtime.registry import mask
from bot.redaction import redact
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes
from tests.helpers.redaction import LOOK_ALIKES, SECRETS

KINDS = ("pods,deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,services,"
         "endpoints,ingresses,configmaps,persistentvolumeclaims,persistentvolumes,nodes,"
         "namespaces,serviceaccounts,horizontalpodautoscalers,poddisruptionbudgets,"
         "networkpolicies,roles,rolebindings,clusterroles,clusterrolebindings,"
         "storageclasses,priorityclasses,resourcequotas,limitranges")
REPEATS = 3


def corpus_share() -> tuple[int, int, int, int]:
    masked = sum(1 for text, secret in SECRETS if not any(
        secret[i:i + 8] in redact(text) for i in range(0, max(len(secret) - 7, 1), 4)))
    kept = sum(1 for text in LOOK_ALIKES if redact(text) == text)
    return masked, len(SECRETS), kept, len(LOOK_ALIKES)


def ordinary_output(fake: FakeKubernetes, kubeconfig: Path) -> str:
    """What an SRE reads in an incident, from the fixtures, without any Secret."""
    commands = [[verb, kind, "-A", *form] for kind in KINDS.split(",")
                for verb, *form in (("get", "-o", "yaml"), ("get", "-o", "wide"),
                                    ("describe",))]
    commands.append(["get", "events", "-A"])
    pods = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in fake.objects["pods"]]
    commands += [["logs", name, "-n", namespace, "--all-containers"]
                 for namespace, name in pods[:30]]
    kubectl = shutil.which("kubectl")
    out = []
    for command in commands:
        if kubectl:
            done = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), *command],
                                  capture_output=True, text=True, timeout=60)
            out.append(done.stdout)
        else:  # our own, where kubectl is not installed
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" /
                                   "builtins"))
            from kubectl import run_kubectl

            from bot.sdk import ToolContext
            ctx = ToolContext(config={"kubeconfig": str(kubeconfig)})
            try:
                out.append(run_kubectl(" ".join(command), ctx=ctx))
            except Exception as exc:  # a form ours does not do: not part of the corpus
                out.append(f"# {exc}")
    return "\n".join(out)


def false_positives(text: str) -> tuple[int, int, list[str]]:
    lines = text.splitlines()
    changed = [line for line in lines if redact(line) != line]
    return len(changed), len(lines), changed


def throughput(text: str) -> float:
    """Milliseconds per MB of redact() over `text`, the median of 3."""
    size = len(text.encode()) / 2**20
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        redact(text)
        runs.append((time.perf_counter() - started) * 1000 / size)
    return statistics.median(runs)


def object_masking(fake: FakeKubernetes) -> float:
    """Milliseconds per MB of JSON for mask_objects over a 2,000-pod list."""
    template = fake.objects["pods"][0]
    items = []
    for i in range(2000):
        pod: dict[str, Any] = copy.deepcopy(template)
        pod["metadata"]["name"] = f"load-{i:05d}"
        items.append(pod)
    body = json.dumps({"kind": "PodList", "items": items})
    size = len(body) / 2**20
    runs = []
    for _ in range(REPEATS):
        answer = json.loads(body)
        started = time.perf_counter()
        mask_objects(answer)
        runs.append((time.perf_counter() - started) * 1000 / size)
    return statistics.median(runs)


async def longest_stall(work: Any) -> float:
    """The longest the event loop went without running a 1 ms ticker while `work` ran."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    await work()
    done.set()
    await ticker
    return max(gaps) * 1000


def big_log() -> str:
    line = ("2026-12-07T10:00:00Z INFO checkout-api request id=123e4567-e89b-12d3 status=200 "
            "latency_ms=31 path=/api/v1/cart\n")
    text = line * (4 * 2**20 // len(line))
    return text + "password=late-secret-in-the-log\n"


def main() -> None:
    masked, secrets, kept, look_alikes = corpus_share()
    fake = FakeKubernetes((FIXTURES / "cluster.yaml", FIXTURES / "crds.yaml",
                           FIXTURES / "describe.yaml", FIXTURES / "k8sgpt.yaml",
                           FIXTURES / "logs.yaml")).start()
    fake.objects["secrets"] = []
    folder = Path(tempfile.mkdtemp())
    ordinary = ordinary_output(fake, fake.kubeconfig(folder / "kc", namespace="prod"))
    changed, lines, examples = false_positives(ordinary)
    log = big_log()
    rows = []
    for repeat in range(REPEATS):
        in_loop = asyncio.run(longest_stall(lambda: _in_loop(log)))
        offloaded = asyncio.run(longest_stall(lambda: mask(log, 4_000_000)))
        rows.append([str(repeat + 1), f"{throughput(ordinary):.0f}", f"{throughput(log):.0f}",
                     f"{object_masking(fake):.0f}", f"{in_loop:.0f}", f"{offloaded:.1f}"])
    fake.stop()
    print(f"Machine: {machine()}\n")
    print(markdown_table(["corpus", "result"], [
        ["secret formats masked (no 8-character piece left)",
         f"{masked} of {secrets} ({masked / secrets:.0%})"],
        ["look-alikes left unchanged", f"{kept} of {look_alikes} ({kept / look_alikes:.0%})"],
        [f"ordinary kubectl output ({'real kubectl' if shutil.which('kubectl') else 'ours'}"
         f", {len(ordinary.encode()) / 2**20:.2f} MB): lines changed",
         f"{changed} of {lines} ({changed / lines:.3%})"]]))
    if examples:
        print("\nLines of ordinary output that redaction changed:\n")
        for line in examples[:10]:
            print(f"    {line.strip()[:110]}")
    print("\nCost (ms per MB, median of 3 passes each; stall: the event loop's longest gap "
          "while a 4 MB result is masked, ms):\n")
    print(markdown_table(["repeat", "redact, kubectl output", "redact, 4 MB log",
                          "mask_objects, API JSON", "stall, masked in the loop",
                          "stall, registry.mask (thread)"], rows))


async def _in_loop(text: str) -> None:
    redact(text)


if __name__ == "__main__":
    main()
