"""The Kubernetes fixtures' shared parts: a bot wired to the fake API server, the Secret
values no output may show, and the kubectl commands the oracle and deploy tests run."""

from __future__ import annotations

from pathlib import Path

from bot.app import Services
from tests.helpers.builtins import builtin_services

SECRET_VALUES = ("czNjcjN0LXBAc3N3MHJk", "s3cr3t-p@ssw0rd", "Y2hlY2tvdXQ=",
                 "YXBwbGllZC10b2tlbi12YWx1ZQ==", "applied-token-value")


async def make_services(tmp_path: Path, kubeconfig: Path, **config: object) -> Services:
    return await builtin_services(tmp_path, "kubectl", db="k.db", kubeconfig=kubeconfig,
                                  config={"kubectl": config} if config else {})


GET_COMMANDS = [
    # kubectl's flag forms: a short flag's value attached, a bool flag's explicit value
    "get pods -owide", "get pods -nprod", "get pods --all-namespaces=true",
    "get pods -A=false", "get pods -lapp=web -oname", "get pods --show-labels=true",
    "get pods --no-headers=false", "api-versions", "api-resources -o wide",
    "get pods -L nothere",
    # -o json|yaml as kubectl prints them: keys sorted, JSON by four, YAML quoted as go-yaml
    "get pods -o yaml", "get deploy web -o json", "get deploy -o yaml", "get nodes -o yaml",
    "get events -o yaml", "get cm -o yaml", "get svc -o json", "get rollouts -o yaml",
    "get pod web-5f6d7c8b9-xyz12 -o yaml",
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
    "get leases -A", "get networkpolicies", "get pods --show-labels",
    "get deploy -L app", "get pods -L app,pod-template-hash --no-headers",
    "get nodes --no-headers -o wide", "get deploy web --show-labels", "api-resources",
    "events", "events -A", "events --for pod/checkout-api-7d9f8b6c5-abcde",
    "events --for deploy/web", "events --types=Warning", "events --types Normal",
    "events -n kube-system",
    "get pods -o jsonpath={.items[*].metadata.name}",
    "get pod web-5f6d7c8b9-xyz12 -o jsonpath={.status.podIP}",
    """get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}"""
    """{.status.phase}{"\\n"}{end}'""",
    "get deploy -o custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,"
    "IMAGE:.spec.template.spec.containers[*].image",
    "get pods --sort-by=.metadata.creationTimestamp",
    "get pods --sort-by=.status.containerStatuses[0].restartCount -o wide",
    "get ro -o jsonpath={.items[0].status.phase}",
    """get cert -o jsonpath='{.items[?(@.metadata.name=="checkout-tls")]"""
    """.status.conditions[0].message}'""",
    "get pods -o jsonpath={.items[0].metadata.labels}",
    "get nodes -o custom-columns=NAME:.metadata.name,KUBELET:.status.nodeInfo.kubeletVersion "
    "--no-headers",
    "get deploy web -o jsonpath={.spec.template.spec.containers[0].resources}",
    "auth can-i list pods", "auth can-i list pods -n secure", "auth can-i delete pods",
    "auth can-i get deployments.apps", "auth can-i list pods -A",
    "auth can-i get pod/web-5f6d7c8b9-xyz12", "auth can-i watch ro", "auth whoami",
    "auth can-i --list", "auth can-i --list -n secure", "auth can-i --list --no-headers",
    "get pods -o custom-columns=N:.metadata.name,P:.spec.priority --no-headers",
    "get --raw /healthz", "get --raw /readyz", "get --raw /version",
    "explain pods", "explain pod.spec", "explain pod.spec.containers",
    "explain pod.spec.restartPolicy", "explain deploy.spec.strategy --recursive",
    "explain svc.spec.type", "explain pod.metadata.labels", "explain hpa.spec.metrics",
    "explain cert", "explain cert.spec.issuerRef.name", "explain certificates.spec.privateKey",
    "explain ro", "explain pod.spec.containers.ports --recursive", "explain node.status",
    "top pods", "top nodes", "top pods -A", "top po -n kube-system",
    "rollout status deployment/web", "rollout history deployment/web",
    "rollout history sts/memhog", "rollout status deploy/checkout-api --watch=false",
]


LOG_COMMANDS = [
    "logs orders-7f8e9d0c1-aaaaa --tail 2", "logs orders-7f8e9d0c1-bbbbb --tail 2",
    "logs pod/orders-7f8e9d0c1-bbbbb -c orders --tail 3", "logs deploy/orders --tail 2",
    "logs deployment/orders -c envoy --tail 1", "logs -l app=orders",
    "logs -l app=orders --prefix --tail 1 -c envoy",
    "logs orders-7f8e9d0c1-aaaaa --all-containers --tail 1",
    "logs orders-7f8e9d0c1-aaaaa --all-containers --prefix --tail 1",
    "logs orders-7f8e9d0c1-bbbbb -c orders --timestamps --tail 2",
    "logs -l app=orders --all-containers --prefix --tail 1",
    "logs orders-7f8e9d0c1-aaaaa --tail=-1", "logs -l app=orders --tail=-1 -c envoy",
    "logs orders-7f8e9d0c1-aaaaa --limit-bytes=20",
    "logs orders-7f8e9d0c1-aaaaa --limit-bytes 25 --tail 2",
    "logs orders-7f8e9d0c1-aaaaa --limit-bytes=0 --tail 3",
]


DESCRIBE_COMMANDS = [
    "describe pods", "describe pods -n default", "describe pod checkout-api-7d9f8b6c5-abcde",
    "describe po/memhog-0", "describe pods -n shop", "describe pods -l app=web",
    "describe pods -n ops", "describe deploy", "describe deploy web -n prod",
    "describe deploy -n shop", "describe rs", "describe sts memhog", "describe ds -n ops",
    "describe job", "describe job reindex -n ops", "describe cj", "describe hpa",
    "describe hpa -n ops", "describe ep",
    "describe ep -n ops", "describe ingressclass", "describe secret",
    "describe cm", "describe pvc", "describe pvc -n ops", "describe pv", "describe nodes",
    "describe node node-1", "describe ns prod", "describe ns ops", "describe quota -n ops",
    "describe limits -n ops", "describe ro", "describe ro payments", "describe cert",
    "describe certificates.cert-manager.io web-tls", "describe crd rollouts.argoproj.io",
    "describe lease node-1 -n kube-node-lease",
    "describe pod/web-5f6d7c8b9-xyz12 deploy/web",
]
# what kubectl ≥ 1.31 describes from EndpointSlices (a service's endpoints, an ingress'
# backends), with a service's Internal Traffic Policy
SERVICE_DESCRIBE_COMMANDS = [
    "describe svc", "describe svc -n ops", "describe svc -A", "describe svc exporter-v6 -n ops",
    "describe ing", "describe ing -A", "describe all -n ops", "describe svc,ep -n ops",
]
