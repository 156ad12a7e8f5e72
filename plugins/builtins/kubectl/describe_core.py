"""kubectl's describers for services and what routes to them (endpoints, ingresses), config
maps and Secrets (keys and sizes only)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.kube.names import api_path

from .describe_parts import Lines, annotations, header, labels
from .output import describe_events_lines

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]


def _endpoint_slices(lookup: Lookup, namespace: str, service: str) -> list[Obj] | str:
    """The service's EndpointSlices (kubectl ≥ 1.31 reads these, not its Endpoints), or the
    API server's reason they could not be listed."""
    found = lookup.get(api_path("/apis/discovery.k8s.io/v1", "endpointslices",
                                namespace=namespace), f"listing endpoint slices of {service}",
                       labelSelector=f"kubernetes.io/service-name={service}")
    return found if isinstance(found, str) else found.get("items") or []


def endpoints_text(slices: list[Obj] | str, port: str | None) -> str:
    """formatEndpointSlices: the ready addresses with the port named `port` (every port when
    None), at most three shown. A slice without ports (a headless service's) lists
    addresses alone."""
    if isinstance(slices, str) or not slices:
        return "<none>"
    shown: list[str] = []
    count = 0
    for piece in slices:
        ports = piece.get("ports") or []
        wanted = [p for p in ports if port is None or p.get("name", "") == port] if ports \
            else [None]
        for entry in wanted:
            for endpoint in piece.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                if len(shown) < 3:
                    address = (endpoint.get("addresses") or [""])[0]
                    shown.append(address if entry is None
                                 else _host_port(address, entry.get("port")))
                count += 1
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


def _host_port(address: str, port: Any) -> str:
    """net.JoinHostPort: an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def describe_service(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    endpoints = _endpoint_slices(lookup, meta.get("namespace", ""), meta["name"])
    out = Lines()
    header(out, meta)
    out.add(0, "Selector:", ",".join(labels(spec.get("selector"))))
    out.add(0, "Type:", spec.get("type", ""))
    if spec.get("ipFamilyPolicy"):
        out.add(0, "IP Family Policy:", spec["ipFamilyPolicy"])
    out.add(0, "IP Families:", ",".join(spec.get("ipFamilies") or []) or "<none>")
    out.add(0, "IP:", spec.get("clusterIP", ""))
    out.add(0, "IPs:", ",".join(spec.get("clusterIPs") or []) or "<none>")
    for key, label in (("externalIPs", "External IPs"),):
        if spec.get(key):
            out.add(0, f"{label}:", ",".join(spec[key]))
    for key, label in (("loadBalancerIP", "Desired LoadBalancer IP"),
                       ("externalName", "External Name")):
        if spec.get(key):
            out.add(0, f"{label}:", spec[key])
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        out.add(0, "LoadBalancer Ingress:", ", ".join(
            i["ip"] + (f" ({i['ipMode']})" if i.get("ipMode") else "") if i.get("ip")
            else i.get("hostname", "") for i in ingress))
    for port in spec.get("ports") or []:
        _service_port(out, port, endpoints)
    out.add(0, "Session Affinity:", spec.get("sessionAffinity", ""))
    for key, label in (("externalTrafficPolicy", "External Traffic Policy"),
                       ("internalTrafficPolicy", "Internal Traffic Policy"),
                       ("healthCheckNodePort", "HealthCheck NodePort")):
        if spec.get(key):
            out.add(0, f"{label}:", str(spec[key]))
    if spec.get("loadBalancerSourceRanges"):
        out.add(0, "LoadBalancer Source Ranges:", ",".join(spec["loadBalancerSourceRanges"]))
    return out.lines + describe_events_lines(events)


def _service_port(out: Lines, port: Obj, endpoints: list[Obj] | str) -> None:
    name, protocol = port.get("name") or "<unset>", port.get("protocol", "")
    out.add(0, "Port:", name, f"{port.get('port', 0)}/{protocol}")
    out.add(0, "TargetPort:", f"{port.get('targetPort', 0)}/{protocol}")
    if port.get("appProtocol"):
        out.add(0, "AppProtocol:", port["appProtocol"])
    if port.get("nodePort"):
        out.add(0, "NodePort:", name, f"{port['nodePort']}/{protocol}")
    out.add(0, "Endpoints:", endpoints_text(endpoints, port.get("name", "")))


def describe_endpoints(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    out = Lines()
    header(out, obj["metadata"])
    out.lines.append("Subsets:")
    for subset in obj.get("subsets") or []:
        for key, label in (("addresses", "Addresses"), ("notReadyAddresses",
                                                        "NotReadyAddresses")):
            out.add(1, f"{label}:", ",".join(a.get("ip", "") for a in subset.get(key) or [])
                    or "<none>")
        if subset.get("ports"):
            out.add(1, "Ports:")
            out.add(2, "Name", "Port", "Protocol")
            out.add(2, "----", "----", "--------")
            for port in subset["ports"]:
                out.add(2, port.get("name") or "<unset>", str(port.get("port", 0)),
                        port.get("protocol", ""))
        out.lines.append("")
    return out.lines + describe_events_lines(events)


def describe_ingress(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    namespace = meta.get("namespace", "")
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.multiline("Labels", labels(meta.get("labels")))
    out.add(0, "Namespace:", namespace)
    addresses = sorted({i.get("ip") or i.get("hostname", "") for i in (
        status.get("loadBalancer") or {}).get("ingress") or [] if i.get("ip") or
        i.get("hostname")})
    out.add(0, "Address:", ",".join(addresses))
    out.add(0, "Ingress Class:", spec.get("ingressClassName") or "<none>")
    default = (_backend(lookup, namespace, spec["defaultBackend"])
               if spec.get("defaultBackend") else "<default>")
    out.add(0, "Default backend:", default)
    if spec.get("tls"):
        out.lines.append("TLS:")
        for tls in spec["tls"]:
            hosts = ",".join(tls.get("hosts") or [])
            out.add(1, f"{tls['secretName']} terminates {hosts}" if tls.get("secretName")
                    else f"SNI routes {hosts}")
    out.lines += ["Rules:", "  Host\tPath\tBackends", "  ----\t----\t--------"]
    rules = [rule for rule in spec.get("rules") or [] if rule.get("http") is not None]
    for rule in rules:
        out.add(1, rule.get("host") or "*", "")
        for path in rule["http"].get("paths") or []:
            out.add(2, "", f"{path.get('path', '')} ", _backend(lookup, namespace,
                                                               path.get("backend") or {}))
    if not rules:
        out.add(1, "*", "*", default)
    annotations(out, "Annotations", meta.get("annotations"))
    return out.lines + describe_events_lines(events)


def _backend(lookup: Lookup, namespace: str, backend: Obj) -> str:
    if backend.get("resource"):
        ref = backend["resource"]
        return (f"APIGroup: {ref.get('apiGroup', '<none>')}, Kind: {ref.get('kind', '')}, "
                f"Name: {ref.get('name', '')}")
    service = backend.get("service")
    if not service:
        return ""
    port = service.get("port") or {}
    shown = f"{service['name']}:{port.get('number') or port.get('name', '')}"
    endpoints = _endpoint_slices(lookup, namespace, service["name"])
    found = lookup.get(api_path("/api/v1", "services", namespace=namespace, name=service["name"]),
                       f"reading service {service['name']}")
    for failed in (endpoints, found):
        if isinstance(failed, str):
            return f"{shown} (<error: {failed}>)"
    name = ""
    for entry in found.get("spec", {}).get("ports") or []:  # type: ignore[union-attr]
        if (port.get("number") and port["number"] == entry.get("port")) or (
                port.get("name") and port["name"] == entry.get("name")):
            name = entry.get("name", "")
    return f"{shown} ({endpoints_text(endpoints, name)})"


def describe_configmap(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    out = Lines()
    header(out, obj["metadata"])
    out.lines += ["", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        out.lines += [f"{key}:", "----", *str(value).split("\n")]
    out.lines += ["", "BinaryData", "===="]
    out.lines += [f"{key}: {len(value) * 3 // 4} bytes" for key, value in
                  (obj.get("binaryData") or {}).items()]
    out.lines.append("")
    return out.lines + describe_events_lines(events)


SIZE = re.compile(r"<(\d+) bytes>")


def describe_secret(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    """Keys and sizes only: the object comes masked, and a service-account token is not
    shown either (kubectl prints that one in full)."""
    out = Lines()
    header(out, obj["metadata"])
    out.lines += ["", f"Type:\t{obj.get('type', '')}", "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        found = SIZE.fullmatch(str(value))
        out.lines.append(f"{key}:\t{found[1] if found else '?'} bytes")
    return out.lines


def describe_ingressclass(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    spec = obj.get("spec", {})
    out = Lines()
    header(out, obj["metadata"], namespaced=False)
    out.add(0, "Controller:", spec.get("controller", ""))
    if spec.get("parameters"):
        parameters = spec["parameters"]
        out.lines.append("Parameters:")
        if parameters.get("apiGroup") is not None:
            out.add(1, "APIGroup:", parameters["apiGroup"])
        out.add(1, "Kind:", parameters.get("kind", ""))
        out.add(1, "Name:", parameters.get("name", ""))
    return out.lines + describe_events_lines(events)


DESCRIBERS: dict[str, Describer] = {
    "IngressClass": describe_ingressclass, "Service": describe_service,
    "Endpoints": describe_endpoints, "Ingress": describe_ingress,
    "ConfigMap": describe_configmap, "Secret": describe_secret}
