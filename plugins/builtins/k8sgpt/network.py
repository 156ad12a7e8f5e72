"""k8sgpt's analyzers for what routes traffic, with its conditions and texts: Service
(pkg/analyzer/service.go), Ingress (ingress.go), NetworkPolicy (netpol.go), the validating
and mutating webhooks (validating_webhook.go, mutating_webhook.go), and the Gateway API
(gatewayclass.go, gateway.go, httproute.go)."""

from __future__ import annotations

from collections.abc import Callable

from .common import Finding, Obj, Snapshot, go_list, ident, parent_of

LEADER_ELECTION = "control-plane.alpha.kubernetes.io/leader"
GKE_CLASSES = ("gce", "gce-internal")


def services(snapshot: Snapshot) -> list[Finding]:
    """k8sgpt reads Endpoints: one without subsets names the selector it expected."""
    findings = []
    for ep in snapshot.of("endpoints"):
        ns, name, texts = ep["metadata"].get("namespace"), ep["metadata"]["name"], []
        if not ep.get("subsets"):
            if LEADER_ELECTION in (ep["metadata"].get("annotations") or {}):
                continue
            svc = snapshot.find("services", ns, name)
            if svc is None:
                continue
            texts += [f"Service has no endpoints, expected label {k}={v}"
                      for k, v in sorted((svc.get("spec", {}).get("selector") or {}).items())]
        else:
            waiting = [a for s in ep["subsets"] for a in s.get("notReadyAddresses") or []]
            refs = [f"{a['targetRef'].get('kind')}/{a['targetRef'].get('name')}"
                    for a in waiting if a.get("targetRef")]
            if waiting:
                texts.append(f"Service has not ready endpoints, pods: {go_list(refs)}, "
                             f"expected {len(waiting)}")
        texts += [f"Service {ns}/{name} has event {e.get('message', '')}"
                  for e in snapshot.in_namespace("events", ns)
                  if e.get("involvedObject", {}).get("name") == name
                  and e.get("type") != "Normal"]
        if texts:
            findings.append(Finding("Service", ident(ep), texts, parent_of(snapshot, ep)))
    return findings


def ingresses(snapshot: Snapshot) -> list[Finding]:
    classes = {c["metadata"]["name"] for c in snapshot.of("ingressclasses")}
    findings = []
    for ing in snapshot.of("ingresses"):
        spec, ns, texts = ing.get("spec", {}), ing["metadata"].get("namespace"), []
        wanted = spec.get("ingressClassName")
        if wanted is None:
            wanted = (ing["metadata"].get("annotations") or {}).get(
                "kubernetes.io/ingress.class") or None
            if wanted is None:
                texts.append(f"Ingress {ident(ing)} does not specify an Ingress class.")
        if wanted is not None and wanted not in GKE_CLASSES and snapshot.knows(
                "ingressclasses") and wanted not in classes:
            texts.append(f"Ingress uses the ingress class {wanted} which does not exist.")
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service")
                if backend and snapshot.missing("services", ns, backend.get("name", "")):
                    texts.append(f"Ingress uses the service {ns}/{backend.get('name', '')} "
                                 "which does not exist.")
        for tls in spec.get("tls") or []:
            secret = tls.get("secretName")
            if secret and snapshot.missing("secrets", ns, secret):
                texts.append(f"Ingress uses the secret {ns}/{secret} as a TLS certificate "
                             "which does not exist.")
        if texts:
            findings.append(Finding("Ingress", ident(ing), texts, parent_of(snapshot, ing)))
    return findings


def network_policies(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for policy in snapshot.of("networkpolicies"):
        wanted = (policy.get("spec", {}).get("podSelector") or {}).get("matchLabels") or {}
        name, ns = policy["metadata"]["name"], policy["metadata"].get("namespace")
        if not wanted:
            text = f"Network policy allows traffic to all pods: {name}"
        elif not snapshot.select("pods", ns, wanted) and snapshot.knows("pods"):
            text = f"Network policy is not applied to any pods: {name}"
        else:
            continue
        findings.append(Finding("NetworkPolicy", ident(policy), [text]))
    return findings


def _webhooks(plural: str, kind: str, label: str) -> Callable[[Snapshot], list[Finding]]:
    def analyze(snapshot: Snapshot) -> list[Finding]:
        findings = []
        for config in snapshot.of(plural):
            for hook in config.get("webhooks") or []:
                texts = _webhook(snapshot, hook, label)
                if texts:  # k8sgpt keys a result by the configuration's (empty) namespace
                    findings.append(Finding(kind, f"/{hook.get('name', '')}", texts,
                                            parent_of(snapshot, config)))
        return findings
    return analyze


def _webhook(snapshot: Snapshot, hook: Obj, label: str) -> list[str]:
    ref = (hook.get("clientConfig") or {}).get("service")
    if not ref:
        return []
    name = hook.get("name", "")
    service = snapshot.get("services", ref.get("namespace"), ref.get("name", ""))
    if service is None:
        if not snapshot.missing("services", ref.get("namespace"), ref.get("name", "")):
            return []  # could not be read
        return [f"Service {ref.get('name', '')} not found as mapped to by {label} Webhook "
                f"{name}"]
    selector = service.get("spec", {}).get("selector") or {}
    if not selector:
        return []
    receivers = snapshot.select("pods", ref.get("namespace"), selector)
    if not receivers and not snapshot.knows("pods"):
        return []  # the pods could not be read: nothing is known about them
    texts = [] if receivers else [f"No active pods found within service {ref.get('name', '')} "
                                  f"as mapped to by {label} Webhook {name}"]
    return texts + [f"{label} Webhook ({name}) is pointing to an inactive receiver pod "
                    f"({p['metadata']['name']})" for p in receivers
                    if p.get("status", {}).get("phase") != "Running"]


validating_webhooks = _webhooks("validatingwebhookconfigurations",
                                "ValidatingWebhookConfiguration", "Validating")
mutating_webhooks = _webhooks("mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
                              "Mutating")


def gateway_classes(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for gc in snapshot.of("gatewayclasses"):
        conditions = gc.get("status", {}).get("conditions") or []
        if conditions and conditions[0].get("status") != "True":
            findings.append(Finding("GatewayClass", gc["metadata"]["name"], [
                f"GatewayClass '{gc['metadata']['name']}' with a controller name "
                f"'{gc.get('spec', {}).get('controllerName', '')}' is not accepted. Message: "
                f"'{conditions[0].get('message', '')}'."]))
    return findings


def gateways(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for gtw in snapshot.of("gateways"):
        wanted, texts = gtw.get("spec", {}).get("gatewayClassName", ""), []
        if snapshot.missing("gatewayclasses", None, wanted):
            texts.append(f"Gateway uses the GatewayClass {wanted} which does not exist.")
        texts += [f"Gateway '{ident(gtw)}' has condition {c['type']}={c.get('status')}, reason "
                  f"{c.get('reason', '')}: {c.get('message', '')}"
                  for c in gtw.get("status", {}).get("conditions") or []
                  if c.get("type") in ("Accepted", "Programmed") and c.get("status") != "True"]
        if texts:
            findings.append(Finding("Gateway", ident(gtw), texts))
    return findings


def http_routes(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for route in snapshot.of("httproutes"):
        texts = _route_parents(snapshot, route) + _route_backends(snapshot, route)
        if texts:
            findings.append(Finding("HTTPRoute", ident(route), texts))
    return findings


def _route_parents(snapshot: Snapshot, route: Obj) -> list[str]:
    texts, ns = [], route["metadata"].get("namespace")
    for ref in route.get("spec", {}).get("parentRefs") or []:
        where = ref.get("namespace") or ns
        gtw = snapshot.get("gateways", where, ref.get("name", ""))
        if gtw is None:
            if not snapshot.missing("gateways", where, ref.get("name", "")):
                continue
            texts.append(f"HTTPRoute uses the Gateway '{where}/{ref.get('name', '')}' which does"
                         " not exist in the same namespace.")
            continue
        for listener in gtw.get("spec", {}).get("listeners") or []:
            allowed = ((listener.get("allowedRoutes") or {}).get("namespaces") or {})
            if allowed.get("from") == "Same" and ns != gtw["metadata"].get("namespace"):
                texts.append(f"HTTPRoute '{ident(route)}' is deployed in a different namespace "
                             f"from Gateway '{ident(gtw)}' which only allows HTTPRoutes from "
                             "its namespace.")
            elif allowed.get("from") == "Selector" and not any(
                    key in (route["metadata"].get("labels") or {}) for key in
                    ((allowed.get("selector") or {}).get("matchLabels") or {})):
                texts.append(f"HTTPRoute '{ident(route)}' can't be attached on Gateway "
                             f"'{ident(gtw)}', selector labels do not match HTTProute's labels.")
    return texts


def _route_backends(snapshot: Snapshot, route: Obj) -> list[str]:
    texts, ns = [], route["metadata"].get("namespace")
    for rule in route.get("spec", {}).get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            service = snapshot.get("services", ns, backend.get("name", ""))
            if service is None:
                if not snapshot.missing("services", ns, backend.get("name", "")):
                    continue
                texts.append(f"HTTPRoute uses the Service '{ns}/{backend.get('name', '')}' "
                             "which does not exist.")
            elif backend.get("port") is not None and backend["port"] not in [
                    p.get("port") for p in service.get("spec", {}).get("ports") or []]:
                texts.append(f"HTTPRoute's backend service '{backend.get('name', '')}' is using "
                             f"port '{backend['port']}' but the corresponding K8s service "
                             f"'{ident(service)}' isn't configured with the same port.")
    return texts

