"""The k8sgpt builtin: each analyzer finds its planted problem and nothing on healthy
objects; the JSON shape is k8sgpt's; a k8sgpt binary on PATH is used when present."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, build_services
from bot.config import load_settings
from tests.conftest import REPO
from tests.fakes.k8s_server import FakeKubernetes


@pytest.fixture
async def services(tmp_path: Path, cluster: FakeKubernetes,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no real k8sgpt binary in these tests
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.db'}",
                             plugins_dir=REPO / "plugins",
                             kubeconfig=str(cluster.kubeconfig(tmp_path / "kc")))
    built = await build_services(settings, default_enabled=frozenset({"k8sgpt"}))
    yield built
    await built.close()


async def analyze(services: Services, **args: Any) -> dict[str, Any]:
    result = await services.registry.call("k8sgpt_analyze", args)
    assert result.ok, result.text
    return json.loads(result.text)


def texts(report: dict[str, Any], kind: str) -> dict[str, list[str]]:
    return {r["name"]: [e["Text"] for e in r["error"]] for r in report["results"]
            if r["kind"] == kind}


async def test_the_report_has_k8sgpts_shape(services: Services) -> None:
    report = await analyze(services)
    assert set(report) == {"provider", "errors", "status", "problems", "results"}
    assert (report["status"], report["errors"]) == ("ProblemDetected", None)
    assert report["problems"] == len(report["results"]) > 0
    for result in report["results"]:
        assert set(result) == {"kind", "name", "error", "details", "parentObject"}
        for error in result["error"]:
            assert set(error) == {"Text", "KubernetesDoc", "Sensitive"}


async def test_pod_problems(services: Services) -> None:
    found = texts(await analyze(services, filters=["Pod"]), "Pod")
    assert found["prod/checkout-api-7d9f8b6c5-abcde"] == [
        "Container checkout-api of pod checkout-api-7d9f8b6c5-abcde is in CrashLoopBackOff: "
        "it exited with code 1 (Error) and has restarted 7 times."]
    assert found["prod/image-broken-6c7d8e9f0-qwert"][0].startswith(
        "Container image-broken of pod image-broken-6c7d8e9f0-qwert cannot pull its image")
    assert found["prod/memhog-0"] == [
        "Container memhog of pod memhog-0 was OOMKilled (exit code 137): it needs more than "
        "its 256Mi memory limit."]
    assert found["prod/pending-7b8c9d0e1-zzzzz"][0].startswith(
        "Pod pending-7b8c9d0e1-zzzzz cannot be scheduled: 0/2 nodes are available: 1 "
        "Insufficient cpu")
    assert found["prod/api-gw-5c6d7e8f9-notok"] == [
        "Container api-gw of pod api-gw-5c6d7e8f9-notok is running but not ready: Readiness "
        "probe failed: HTTP probe failed with statuscode: 503."]
    assert not [name for name in found if "web-" in name or "sidecar" in name]


async def test_parent_object_is_the_top_owner(services: Services) -> None:
    report = await analyze(services, filters=["pod"])
    parents = {r["name"]: r["parentObject"] for r in report["results"]}
    assert parents["prod/checkout-api-7d9f8b6c5-abcde"] == "Deployment/checkout-api"
    assert parents["prod/memhog-0"] == "StatefulSet/memhog"


@pytest.mark.parametrize(("kind", "expected"), [
    ("Deployment", {"prod/checkout-api": ["Deployment prod/checkout-api has 0 of 2 replicas "
                                          "ready."],
                    "prod/image-broken": ["Deployment prod/image-broken has 0 of 1 replicas "
                                          "ready."],
                    "prod/pending": ["Deployment prod/pending has 0 of 1 replicas ready."],
                    "prod/api-gw": ["Deployment prod/api-gw has 0 of 1 replicas ready."]}),
    ("ReplicaSet", {"prod/quota-starved-1a2b3c4d5": [
        "ReplicaSet prod/quota-starved-1a2b3c4d5 cannot create pods (FailedCreate): pods "
        '"quota-starved-1a2b3c4d5-" is forbidden: exceeded quota: compute, requested: cpu=2, '
        "used: cpu=8, limited: cpu=8"]}),
    ("StatefulSet", {"prod/memhog": ["StatefulSet prod/memhog has 1 of 2 replicas ready.",
                                     "StatefulSet prod/memhog uses the service memhog, which "
                                     "does not exist."]}),
    ("PersistentVolumeClaim", {"prod/data-pending": [
        'PersistentVolumeClaim prod/data-pending is Pending: storageclass.storage.k8s.io '
        '"fast-ssd" not found.']}),
    ("Node", {"node-2": ["Node node-2 has MemoryPressure: kubelet has insufficient memory "
                         "available.", "Node node-2 is not ready: container runtime is down."]}),
    ("Job", {"prod/migrate-db": ["Job prod/migrate-db failed: Job has reached the specified "
                                 "backoff limit (BackoffLimitExceeded)."],
             "prod/cleanup-29400000": ["Job prod/cleanup-29400000 failed: Job has reached the "
                                       "specified backoff limit (BackoffLimitExceeded)."]}),
    ("HorizontalPodAutoscaler", {"prod/web-hpa": [
        "HorizontalPodAutoscaler prod/web-hpa scales Deployment web-old, which does not "
        "exist."]}),
])
async def test_workload_and_infrastructure_analyzers(services: Services, kind: str,
                                                     expected: dict[str, list[str]]) -> None:
    found = texts(await analyze(services, filters=[kind]), kind)
    for name, messages in expected.items():
        assert sorted(found[name]) == sorted(messages)
    for result in found:
        assert result in expected  # nothing reported for the healthy objects


async def test_deployments_that_are_fine_are_not_reported(services: Services) -> None:
    found = texts(await analyze(services, filters=["Deployment"]), "Deployment")
    assert "prod/web" not in found


async def test_service_analyzer(services: Services) -> None:
    found = texts(await analyze(services, filters=["Service"]), "Service")
    assert found == {
        "prod/checkout": ["Service prod/checkout has no ready endpoints: the pods matching "
                          "app=checkout-api are not ready (checkout-api-7d9f8b6c5-abcde)."],
        "prod/api-gw": ["Service prod/api-gw has no ready endpoints: the pods matching "
                        "app=api-gw are not ready (api-gw-5c6d7e8f9-notok)."]}


async def test_ingress_analyzer(services: Services) -> None:
    found = texts(await analyze(services, filters=["Ingress"]), "Ingress")
    assert found == {
        "prod/shop": ["Ingress prod/shop routes /cart to the service cart, which does not "
                      "exist."],
        "prod/legacy": ["Ingress prod/legacy uses the ingress class traefik, which does not "
                        "exist."]}


async def test_cronjob_analyzer(services: Services) -> None:
    found = texts(await analyze(services, filters=["CronJob"]), "CronJob")
    assert found == {
        "prod/nightly-report": ["CronJob prod/nightly-report is suspended."],
        "prod/bad-schedule": ["CronJob prod/bad-schedule has an invalid schedule "
                              "'every 5 minutes'."],
        "prod/cleanup": ["CronJob prod/cleanup: its last run, job cleanup-29400000, failed."]}


async def test_namespace_filter_and_explain(services: Services) -> None:
    report = await analyze(services, namespace="default", explain=True)
    assert all(not r["name"].startswith("prod/") for r in report["results"])
    node = next(r for r in report["results"] if r["kind"] == "Node")
    assert node["details"].startswith("Check the kubelet")


async def test_unknown_filter_is_an_error(services: Services) -> None:
    result = await services.registry.call("k8sgpt_analyze", {"filters": ["Gizmo"]})
    assert not result.ok
    assert result.text.startswith("Unknown filter(s) Gizmo; available: Pod, Deployment")


async def test_healthy_namespace_is_ok(services: Services, cluster: FakeKubernetes) -> None:
    report = await analyze(services, namespace="default", filters=["Pod", "Service"])
    assert (report["status"], report["problems"], report["results"]) == ("OK", 0, [])


async def test_binary_on_path_is_used(services: Services, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    canned = {"provider": "openai", "errors": None, "status": "ProblemDetected",
              "problems": 1, "results": [{"kind": "Pod", "name": "x/y", "error": [
                  {"Text": "from the binary", "KubernetesDoc": "", "Sensitive": []}],
                  "details": "", "parentObject": ""}]}
    script = bin_dir / "k8sgpt"
    script.write_text("#!/bin/sh\n"
                      f"echo \"$@\" > {tmp_path / 'args'}\n"
                      f"cat <<'JSON'\n{json.dumps(canned)}\nJSON\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    report = await analyze(services, namespace="prod", filters=["Pod"], explain=True)
    assert report == canned
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["analyze", "--output", "json"]
    assert {"--namespace", "prod", "--filter", "Pod", "--explain"} <= set(args)


async def test_binary_gets_none_of_the_bots_secrets(services: Services, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: a k8sgpt child inherited the bot's whole environment (tokens, keys)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "k8sgpt"
    script.write_text(f"#!/bin/sh\nenv > {tmp_path / 'env'}\n"
                      "echo '{\"status\": \"OK\", \"problems\": 0, \"results\": []}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    for name in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        monkeypatch.setenv(name, "s3cr3t-value")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    assert (await analyze(services, namespace="prod"))["status"] == "OK"
    seen = (tmp_path / "env").read_text()
    assert f"PATH={bin_dir}" in seen
    assert "s3cr3t-value" not in seen


async def test_cluster_errors_are_one_sentence(tmp_path: Path, cluster: FakeKubernetes,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'e.db'}",
                             plugins_dir=REPO / "plugins",
                             kubeconfig=str(cluster.kubeconfig(tmp_path / "kc", token="bad")))
    built = await build_services(settings, default_enabled=frozenset({"k8sgpt"}))
    try:
        result = await built.registry.call("k8sgpt_analyze", {"filters": ["Node"]})
        assert result.text == ("The cluster rejected the bot's credentials (HTTP 401) while "
                               "discovering the cluster's resource types.")
    finally:
        await built.close()
