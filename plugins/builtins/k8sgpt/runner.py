"""One analysis: list what the chosen analyzers read (concurrently, at most `concurrency`
requests at a time), run each on its own, and report in k8sgpt's JSON shape."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot import kube
from bot.kube.names import api_path

from .analysis import ANALYZERS, SECRETS, Analyzer, LiveSnapshot
from .common import Finding, Obj
from .hints import HINTS

NOT_FOUND = "the server could not find the requested resource"


def choose(filters: list[str] | None) -> tuple[list[str], list[str]]:
    """The analyzers to run (core ones without filters) and k8sgpt's error for each filter
    that names none."""
    if not filters:
        return [name for name, a in ANALYZERS.items() if a.core], []
    by_lower = {name.lower(): name for name in ANALYZERS}
    chosen = list(dict.fromkeys(by_lower[f.lower()] for f in filters if f.lower() in by_lower))
    errors = [f'"{f}" filter does not exist. Available filters: {", ".join(ANALYZERS)}.'
              for f in filters if f.lower() not in by_lower]
    return chosen, errors


def analyze(api: kube.Api, names: list[str], namespace: str | None, *,
            concurrency: int, explain: bool) -> dict[str, Any]:
    wanted = sorted({p for n in names for p in (*ANALYZERS[n].lists, *ANALYZERS[n].reads)}
                    - {SECRETS})  # never listed: read by name when an analyzer asks
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        fetched = dict(zip(wanted, pool.map(lambda p: _list(api, p, namespace), wanted),
                           strict=True))
        snapshot = LiveSnapshot(api=api, scope=namespace,
                                logs=lambda requests: list(pool.map(
                                    lambda r: _log(api, *r), requests)))
        for plural, answer in fetched.items():
            if isinstance(answer, list):
                snapshot.objects[plural] = answer
            else:
                snapshot.blind(plural, _why(answer))
        errors, findings = [], []
        for name in names:
            failure = next((fetched[p] for p in ANALYZERS[name].lists
                            if not isinstance(fetched[p], list)), None)
            if failure is not None:
                errors.append(f"[{name}] {_error_text(ANALYZERS[name], failure)}")
                continue
            snapshot.touched.clear()
            found = sorted(ANALYZERS[name].run(snapshot), key=lambda f: f.name)
            errors += [f"[{name}] not verified: {plural} could not be read "
                       f"({snapshot.why.get(plural, 'unknown')})"
                       for plural in sorted(snapshot.touched)]
            if explain:
                for finding in found:
                    finding.details = HINTS[name]
            findings += found
    return report(findings, errors)


def report(findings: list[Finding], errors: list[str]) -> dict[str, Any]:
    """k8sgpt's JSON, ordered for an incident (incident_order) and with a `summary` of
    findings per kind before them, so a reader who sees only the first page knows both
    what matters most and how much there is."""
    problems = sum(len(f.texts) for f in findings)  # k8sgpt counts failure texts
    results = incident_order([f.as_k8sgpt() for f in findings])
    return {"provider": "", "errors": errors or None,
            "status": "ProblemDetected" if problems else "OK", "problems": problems,
            "summary": summary(results), "results": results}


# What an on-call engineer needs first: nodes and the control plane (admission webhooks,
# kube-system), then what routes traffic, then the controllers, then their pods.
FIRST = {"Node": 0, "ValidatingWebhookConfiguration": 1, "MutatingWebhookConfiguration": 1,
         "Service": 2, "Ingress": 2, "NetworkPolicy": 2, "GatewayClass": 2, "Gateway": 2,
         "HTTPRoute": 2, "Deployment": 3, "StatefulSet": 3, "DaemonSet": 3,
         "ReplicaSet": 3, "Job": 3, "CronJob": 3, "HorizontalPodAutoscaler": 3,
         "PodDisruptionBudget": 3, "PersistentVolumeClaim": 4, "Storage": 4, "Pod": 5,
         "Log": 5}
LAST = 6


def incident_order(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results by what matters in an incident, kube-system's before the rest of their
    rank; stable within (the analyzers' own order, by name)."""
    def rank(result: dict[str, Any]) -> tuple[int, int]:
        kind = str(result.get("kind", "")).split("/")[0]
        control = str(result.get("name", "")).startswith("kube-system/")
        return (min(FIRST.get(kind, LAST), 1) if control else FIRST.get(kind, LAST),
                0 if control else 1)
    return sorted(results, key=rank)


def summary(results: list[dict[str, Any]]) -> dict[str, int]:
    """How many objects each kind of finding is about, in the results' order."""
    counts: dict[str, int] = {}
    for result in results:
        kind = str(result.get("kind", ""))
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def layout(result: dict[str, Any]) -> str:
    """The report as JSON with one finding per line, so that a pager's grep for an object
    finds its whole finding (and the head of a long report is whole findings)."""
    head = {key: value for key, value in result.items() if key != "results"}
    findings = result.get("results") or []
    text = json.dumps(head, ensure_ascii=False)[:-1]
    if not findings:
        return text + ', "results": []}'
    lines = ",\n".join(" " + json.dumps(r, ensure_ascii=False) for r in findings)
    return text + ',\n"results": [\n' + lines + "\n]}"


def _error_text(analyzer: Analyzer, failure: Exception) -> str:
    """An analyzer's `errors` entry; an optional API it needs is named, as k8sgpt names it."""
    if isinstance(failure, LookupError) and analyzer.api:
        return f'no matches for kind "{failure.args[0]}" in version "{analyzer.api}"'
    return _why(failure)


def _why(failure: Exception) -> str:
    """Why a kind could not be read: not served, or the API server's own reason."""
    if isinstance(failure, LookupError):
        return NOT_FOUND
    return getattr(failure, "reason", "") or str(failure)


def _list(api: kube.Api, plural: str, namespace: str | None) -> list[Obj] | Exception:
    """Every object of a kind, or why not.
    A cluster that cannot be reached, or whose discovery fails (rejected credentials), stops
    the analysis: nothing could be analysed."""
    try:
        kube.resource(api, plural)  # discovery: a kind the cluster does not serve
    except kube.UnknownResourceType:
        return LookupError(KINDS.get(plural, plural))
    try:
        return kube.list_objects(api, plural, namespace)
    except kube.ClusterUnreachable:
        raise
    except kube.ClusterError as exc:
        return exc


KINDS = {"gatewayclasses": "GatewayClass", "gateways": "Gateway", "httproutes": "HTTPRoute"}


def _log(api: kube.Api, pod: Obj, container: str, previous: bool) -> str | Exception:
    meta = pod["metadata"]
    try:
        return kube.request(
            api, api_path("/api/v1", "pods", namespace=meta.get("namespace"),
                          name=meta["name"], sub="log"),
            query={"container": container, "tailLines": 100,
                   "previous": "true" if previous else None},
            what=f"reading the log of {meta['name']}", raw=True)
    except kube.ClusterUnreachable:
        raise
    except kube.ClusterError as exc:
        return Exception(exc.reason or str(exc))
