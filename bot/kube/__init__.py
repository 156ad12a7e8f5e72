"""Cluster access for the built-in Kubernetes plugins (kubectl, k8sgpt).

The official client's request machinery (kubeconfig, in-cluster config, auth, TLS) with JSON
responses, and every failure as one sentence naming what was being done. Built-in plugins
run in the bot's process and share this; uploaded plugins run sandboxed and cannot.

Every request goes through `request` with an `Api`: the cluster's shared client and the
namespace limits of the tool call making it. There, whatever a plugin asked for, a path
that steps out of itself (`.`, `..`) is refused, a namespace off limits is refused, a list
spanning namespaces loses the objects of those off limits, and every Secret value is
masked before the answer is returned (bot/kube/masking.py). Paths are built with
bot/kube/names.py, which checks each name by the API server's own rule.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from bot.kube.masking import mask_objects
from bot.sdk import config_list

if TYPE_CHECKING:
    from kubernetes import client

# The official client (and urllib3 under it) is imported on the first request, not with this
# module: every `bot` command loads the Kubernetes builtins to list their tools, and most never
# call a cluster (the import is ~0.4 s of CPU).

REQUEST_TIMEOUT = (5, 20)  # connect, read (seconds)


@dataclass(frozen=True)
class Resource:
    """One resource type the cluster serves (from discovery)."""

    plural: str
    group_version: str  # "v1" or "apps/v1"
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    singular: str = ""
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()

    @property
    def path_prefix(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    @property
    def name_prefix(self) -> str:
        """How kubectl names its objects: `pod`, `deployment.apps`."""
        return self.kind.lower() + (f".{self.group}" if self.group else "")

    @property
    def aliases(self) -> set[str]:
        return {self.plural, self.singular or self.kind.lower(), self.kind.lower(),
                *self.short}


class ClusterError(Exception):
    """An API failure in one sentence that names what was being done; `reason` is the API
    server's own message, when it gave one."""

    def __init__(self, sentence: str, reason: str = "", status: int = 0) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.status = status  # the HTTP status, when the server answered


class UnknownResourceType(ClusterError):
    """Discovery has no such type: the cluster does not serve it."""


class ClusterUnreachable(ClusterError):
    """No answer at all from the API server (refused, reset, no route, TLS failure)."""


def discovery_of(api: Api) -> Any:
    """The cluster's (cached) discovery: bot.kube.discovery.Discovery."""
    from bot.kube.discovery import for_api

    def fetch(path: str, what: str) -> Any:
        return request(api, path, what=what)
    return for_api(api.client, fetch, server(api))


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: kubectl's AGE and LAST SEEN
    (the fake API server builds its Tables with it too)."""
    seconds = int(seconds)
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years = hours // (24 * 365)
        days = (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // (24 * 365)}y"


def resolve(api: Api, name: str) -> list[Resource]:
    """The resource types `name` means on this cluster (a category means several)."""
    found: list[Resource] = discovery_of(api).resolve(name)
    return found


def resource(api: Api, name: str) -> Resource:
    """The one resource type `name` means (a category is refused here)."""
    found = resolve(api, name)
    if len(found) > 1:
        raise ClusterError(f'"{name}" names {len(found)} resource types; give one.')
    return found[0]


class OffLimits(ClusterError):
    """A namespace the operator's limits (or a channel's narrower ones) keep the bot out of."""


@dataclass(frozen=True)
class NamespaceLimits:
    """`namespace_allow` / `namespace_deny` of a plugin's config: held by `request` for every
    path and every list, whichever verb, output form or plugin asked."""

    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NamespaceLimits:
        return cls(frozenset(config_list(config.get("namespace_allow"))),
                   frozenset(config_list(config.get("namespace_deny"))))

    @property
    def restricted(self) -> bool:
        return bool(self.allow or self.deny)

    def permits(self, namespace: str) -> bool:
        return namespace not in self.deny and (not self.allow or namespace in self.allow)

    def check(self, namespace: str) -> None:
        if not self.permits(namespace):
            raise OffLimits(f"The namespace {namespace!r} is off limits for this bot.")


UNLIMITED = NamespaceLimits()


@dataclass(frozen=True)
class Api:
    """A cluster's shared client as one tool call may use it: with that call's limits and
    the cluster's read timeout."""

    client: client.ApiClient
    limits: NamespaceLimits = field(default=UNLIMITED)
    read_timeout: float = REQUEST_TIMEOUT[1]


@dataclass(frozen=True)
class Cluster:
    client: client.ApiClient
    namespace: str | None  # the kubeconfig context's namespace, if it names one
    read_timeout: float = REQUEST_TIMEOUT[1]  # plugin config `request_timeout`

    def api(self, limits: NamespaceLimits = UNLIMITED) -> Api:
        return Api(self.client, limits, self.read_timeout)


_clusters: dict[str, Cluster] = {}
_lock = threading.Lock()


def connect(kubeconfig: str | None, *, read_timeout: float | None = None,
            context: str | None = None) -> Cluster:
    """One client per kubeconfig and context (None: its current one); in-cluster config
    when running in a pod without a kubeconfig (and no context was asked for)."""
    from kubernetes import client

    key = f"{kubeconfig or ''}|{context or ''}|{read_timeout or ''}"
    with _lock:
        if key not in _clusters:
            configuration, namespace = _configure(kubeconfig, context)
            configuration.retries = 1
            _clusters[key] = Cluster(client.ApiClient(configuration), namespace,
                                     float(read_timeout) if read_timeout
                                     else REQUEST_TIMEOUT[1])
        return _clusters[key]


def _configure(kubeconfig: str | None, context: str | None
               ) -> tuple[client.Configuration, str | None]:
    """The client configuration for `context` of `kubeconfig`, and its namespace."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context,
                                client_configuration=configuration)
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts if c.get("name") == context), None) or active
        return configuration, (chosen or {}).get("context", {}).get("namespace")
    except config.ConfigException:
        if context is not None:
            raise ClusterError(f"The kubeconfig has no usable context '{context}'.") from None
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        raise ClusterError("No cluster is configured: set KUBECONFIG (or run the "
                           "bot in a pod with a service account).") from None
    return configuration, None


def server(api: Api) -> str:
    return str(api.client.configuration.host)


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def request(api: Api, path: str, *, query: dict[str, Any] | None = None,
            what: str, raw: bool = False, method: str = "GET",
            body: dict[str, Any] | None = None,
            content_type: str = "application/merge-patch+json",
            accept: str = "application/json") -> Any:
    """Call `path` (GET unless told) within `api`'s limits; JSON with every Secret value
    masked (or text when `raw`), or a ClusterError saying what failed."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    _guard(path, api.limits)
    params = [(k, v) for k, v in (query or {}).items() if v not in (None, "", False)]
    headers_in = {"Accept": accept}
    if body is not None:
        headers_in["Content-Type"] = content_type
    method, url, headers, payload, post = api.client.param_serialize(
        method, path, query_params=params, header_params=headers_in, body=body,
        auth_settings=["BearerToken"])
    read_timeout = api.read_timeout
    try:
        response = api.client.call_api(method, url, header_params=headers, body=payload,
                                       post_params=post,
                                       _request_timeout=(REQUEST_TIMEOUT[0], read_timeout))
        data = response.read()
    except ApiException as exc:
        raise ClusterError(_api_error(exc.status, exc.body, what), _message(exc.body),
                           exc.status or 0) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # urllib3 wraps the last failure of its retries in MaxRetryError
        cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
        if isinstance(cause, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            raise ClusterError(f"The Kubernetes API server did not answer within "
                               f"{read_timeout:g} s while {what}.") from None
        raise ClusterUnreachable(f"The Kubernetes API server at {server(api)} is unreachable "
                                 f"(while {what}).") from None
    if response.status >= 400:
        raise ClusterError(_api_error(response.status, data, what), _message(data),
                           response.status)
    text = data.decode("utf-8", errors="replace")
    if raw:
        return text
    try:
        answer = mask_objects(json.loads(text))
    except (ValueError, RecursionError):
        raise ClusterError(f"The Kubernetes API answered something that is not JSON "
                           f"while {what}.") from None
    return _within(answer, api.limits) if api.limits.restricted else answer


def _guard(path: str, limits: NamespaceLimits) -> None:
    """Refuse a path that steps out of itself, or into a namespace off limits (the
    Namespace object itself, `/api/v1/namespaces/NS`, may be read)."""
    segments = [unquote(s) for s in path.split("?", 1)[0].split("/")[1:]]
    if any(s in ("", ".", "..") or "/" in s for s in segments):
        raise ClusterError(f"Refused the API path {path[:120]!r}: it is not a plain path.")
    rest = segments[2:] if segments[:1] == ["api"] else segments[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        limits.check(rest[1])


def _within(answer: Any, limits: NamespaceLimits) -> Any:
    """A list (or a Table) without the objects of namespaces off limits."""
    if not isinstance(answer, dict):
        return answer
    if isinstance(answer.get("items"), list):
        answer["items"] = [item for item in answer["items"]
                           if _permitted(item, limits)]
    if answer.get("kind") == "Table" and isinstance(answer.get("rows"), list):
        answer["rows"] = [row for row in answer["rows"]
                          if _permitted((row or {}).get("object"), limits)]
    return answer


def _permitted(obj: Any, limits: NamespaceLimits) -> bool:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return not namespace or limits.permits(str(namespace))


def _message(body: bytes | str | None) -> str:
    try:
        return str(json.loads(body or "{}").get("message", ""))
    except (TypeError, ValueError, AttributeError):
        return ""


def _api_error(status: int | None, body: bytes | str | None, what: str) -> str:
    message = _message(body)
    if status == 401:
        return f"The cluster rejected the bot's credentials (HTTP 401) while {what}."
    if status == 403:
        return _forbidden(message, what)
    if status == 404:
        return (f"Not found while {what}: {message}." if message and "could not find" not in
                message else f"Not found while {what} (is that API installed?).")
    return f"The Kubernetes API answered HTTP {status} while {what}: {message}"


def list_objects(api: Api, name: str, namespace: str | None = None, *,
                 query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object of a kind, in one namespace or (None) all of them, with `kind` set."""
    from bot.kube.names import collection_path

    res = resource(api, name)
    scoped = namespace if res.namespaced and namespace else None
    where = f" in namespace {scoped}" if scoped else ""
    items: list[dict[str, Any]] = request(api, collection_path(res, scoped), query=query,
                                         what=f"listing {res.plural}{where}")["items"]
    for item in items:
        item.setdefault("kind", res.kind)
    return items


RBAC_DENIAL = re.compile(r'User "(?P<user>[^"]+)" cannot (?P<verb>[\w-]+) resource '
                         r'"(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
                         r'(?: in the namespace "(?P<namespace>[^"]+)")?')


def _forbidden(message: str, what: str) -> str:
    """kube-apiserver's RBAC denial as one sentence: who may not do what, where."""
    found = RBAC_DENIAL.search(message)
    if found is None:
        return f"The bot is not allowed to do that (HTTP 403) while {what}: {message}"
    resource = found["resource"] + (f".{found['group']}" if found["group"] else "")
    where = f"in namespace {found['namespace']}" if found["namespace"] else "cluster-wide"
    return (f"The bot's Kubernetes identity {found['user']} may not {found['verb']} "
            f"{resource} {where} (HTTP 403, RBAC): grant it a Role or ClusterRole with that "
            "verb, or ask about something it can read.")
