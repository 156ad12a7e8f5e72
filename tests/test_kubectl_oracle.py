"""The real kubectl is the oracle: the commands an on-call SRE types, run through both
`kubectl` (v1.32 on PATH) and `run_kubectl`, against the same fake API server, must print
the same thing. The fake speaks TLS, wants the bearer token and serves discovery, Tables
and CRDs as kube-apiserver does — so kubectl itself runs against it unchanged."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Services
from tests.fakes.k8s_server import FakeKubernetes
from tests.test_kubectl import make_services

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="the real kubectl is the oracle; it is not on PATH")

GET_COMMANDS = [
    "get pods", "get pods -o wide", "get pods -A", "get po -n kube-system",
    "get pods -l app=web", "get pods --field-selector status.phase=Running",
    "get pod checkout-api-7d9f8b6c5-abcde", "get pods -o name",
    "get deploy", "get deployments -o wide", "get deployments.apps", "get deploy.v1.apps",
    "get deploy web", "get rs", "get sts", "get ds", "get jobs", "get cj", "get svc",
    "get svc -o wide", "get ep", "get ing", "get hpa", "get cm", "get secrets", "get sa",
    "get pvc", "get pv", "get sc", "get pdb", "get nodes", "get nodes -o wide", "get ns",
    "get events", "get deploy,svc", "get all", "get all -A",
    "get pod/web-5f6d7c8b9-xyz12 deploy/web", "get po,svc -A", "get ingressclasses",
    "get rollouts", "get ro -o wide", "get certificates", "get cert", "get crd",
    "get leases -A", "get networkpolicies",
]


@pytest.fixture(scope="module")
def fake() -> AsyncIterator[FakeKubernetes]:
    cluster = FakeKubernetes().start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def services(tmp_path: Path, fake: FakeKubernetes) -> AsyncIterator[Services]:
    built = await make_services(tmp_path, fake.kubeconfig(tmp_path / "kc", namespace="prod"))
    yield built
    await built.close()


def real_kubectl(kubeconfig: Path, command: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *command.split()],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (done.stdout or done.stderr).rstrip("\n")


async def test_get_prints_what_kubectl_prints(services: Services, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    differences = []
    for command in GET_COMMANDS:
        expected = real_kubectl(kubeconfig, command)
        result = await services.registry.call("run_kubectl", {"command": command})
        if result.text != expected:
            differences.append(f"$ kubectl {command}\n--- kubectl\n{expected}\n--- ours\n"
                               f"{result.text}")
    assert not differences, "\n\n".join(differences)
