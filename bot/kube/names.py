"""Kubernetes' own rules for what a request may name, checked before any request is made.

Mirrors k8s.io/apimachinery: `validation.IsDNS1123Label`, `IsDNS1123Subdomain`,
`IsDNS1035Label`, `path.IsValidPathSegmentName`, the label-selector grammar of
`labels.Parse` and the field-selector grammar of `fields.ParseSelector`. A value that breaks
its rule is refused with one sentence (`InvalidInput`, a ClusterError): no name, namespace
or selector typed by a user or chosen by the model ever reaches an API path unchecked, and
every path segment is percent-quoted on top (`segment`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.kube import ClusterError, Resource

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")  # qualified name part
RESOURCE_WORD = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?")
FIELD_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x20\x7f%/\\?#]")

# Kinds whose names are only path segments (kube-apiserver's ValidateRBACName and kin):
# `system:controller:foo` is a real ClusterRole. Every other kind, CRDs included, is
# validated as a DNS-1123 subdomain by the API server, and here too.
PATH_SEGMENT_GROUPS = frozenset({"rbac.authorization.k8s.io"})
PATH_SEGMENT_PLURALS = frozenset({"certificatesigningrequests"})


class InvalidInput(ClusterError):
    """A name, namespace, selector or type the Kubernetes API would not accept."""


def check_namespace(value: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not a valid namespace: a namespace is a "
                           "DNS-1123 label (lowercase letters, digits and '-', at most 63).")
    return value


def check_container(value: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not a valid container name: a container "
                           "name is a DNS-1123 label (lowercase letters, digits and '-').")
    return value


def check_name(value: str, *, plural: str = "", group: str = "") -> str:
    """An object's name by its kind's rule (the API server's), and never `.`, `..` or a
    name with `/` or `%` in any kind."""
    if not value or value in (".", "..") or len(value) > 253 or _CONTROL.search(value):
        raise InvalidInput(f"{_shown(value)} is not a valid object name.")
    if group in PATH_SEGMENT_GROUPS or plural in PATH_SEGMENT_PLURALS:
        return value
    if plural == "namespaces":
        return check_namespace(value)
    if plural == "services" and not DNS1035_LABEL.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not a valid Service name (a DNS-1035 label: "
                           "lowercase letters, digits and '-', starting with a letter).")
    if not DNS1123_SUBDOMAIN.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not a valid object name: names are DNS-1123 "
                           "subdomains (lowercase letters, digits, '-' and '.').")
    return value


def check_loose_name(value: str) -> str:
    """A name before its kind is known: the rule every kind shares (a path segment of
    letters, digits and `-._:@`); the kind's own rule follows once discovery named it."""
    if not value or value in (".", "..") or len(value) > 253 or _CONTROL.search(value) \
            or not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9._:@]*", value):
        raise InvalidInput(f"{_shown(value)} is not a valid object name.")
    return value


def check_resource_word(value: str) -> str:
    """A resource type as kubectl takes it: `pods`, `po`, `deployments.apps`,
    `deployment.v1.apps`, `Pod`."""
    if len(value) > 253 or not RESOURCE_WORD.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not a resource type (e.g. pods, deploy, "
                           "deployments.apps).")
    return value


def segment(value: str) -> str:
    """One path segment, percent-quoted; `.` and `..` are refused (quoting keeps dots)."""
    if value in ("", ".", ".."):
        raise InvalidInput(f"{_shown(value)} cannot be part of an API path.")
    return quote(value, safe="")


def collection_path(res: Resource, namespace: str | None) -> str:
    """Where `res`'s objects are listed: in `namespace`, or cluster-wide (None, or a
    cluster-scoped kind)."""
    return api_path(res.path_prefix, res.plural, namespace=namespace if res.namespaced
                    else None)


def object_path(res: Resource, name: str, namespace: str | None, sub: str | None = None
                ) -> str:
    """One object of `res` (and a subresource of it), its name checked by its kind's rule."""
    check_name(name, plural=res.plural, group=res.group)
    return api_path(res.path_prefix, res.plural, name=name, sub=sub,
                    namespace=namespace if res.namespaced else None)


def api_path(prefix: str, plural: str, *, namespace: str | None = None,
             name: str | None = None, sub: str | None = None) -> str:
    """`prefix[/namespaces/NS]/plural[/name[/sub]]`, each part checked and quoted:
    the one way the built-in plugins build an API path."""
    parts = [prefix]
    if namespace is not None:
        parts += ["namespaces", segment(check_namespace(namespace))]
    parts.append(segment(plural))
    if name is not None:
        parts.append(segment(check_loose_name(name)))
        if sub is not None:
            parts.append(segment(sub))
    return "/".join(parts)


# -- selectors ----------------------------------------------------------------------------

_OPERATORS = ("==", "!=", "=", ">", "<")
_SET_REQUIREMENT = re.compile(r"\s*(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*"
                              r"\((?P<values>[^()]*)\)\s*")


def check_label_selector(selector: str) -> str:
    """`labels.Parse`'s grammar: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    `k notin (a,b)`, `k>1`, `k<1`, joined by commas."""
    if len(selector) > 4096:
        raise InvalidInput("The label selector is too long.")
    for requirement in _split_outside_parentheses(selector):
        problem = _label_requirement_problem(requirement)
        if problem:
            raise InvalidInput(f"Invalid label selector {_shown(selector)}: {problem}.")
    return selector


def _label_requirement_problem(requirement: str) -> str | None:
    text = requirement.strip()
    if not text:
        return "an empty requirement"
    found = _SET_REQUIREMENT.fullmatch(requirement)
    if found:
        values = [v.strip() for v in found["values"].split(",")]
        return _label_key_problem(found["key"]) or next(
            (p for p in map(_label_value_problem, values) if p), None)
    if text.startswith("!"):
        return _label_key_problem(text[1:].strip())
    for op in _OPERATORS:
        key, sep, value = text.partition(op)
        if sep:
            if op in (">", "<") and not re.fullmatch(r"\s*-?\d+\s*", value):
                return f"{op} needs a whole number"
            return _label_key_problem(key.strip()) or _label_value_problem(value.strip())
    return _label_key_problem(text)


def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return f"{key!r} has an invalid prefix"
    if len(name) > 63 or not LABEL_NAME.fullmatch(name):
        return f"{key!r} is not a valid label key"
    return None


def _label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not LABEL_NAME.fullmatch(value)):
        return f"{value!r} is not a valid label value"
    return None


def check_field_selector(selector: str) -> str:
    """`fields.ParseSelector`: `key=value`, `key==value`, `key!=value`, joined by commas
    (`\\,` `\\=` `\\\\` escape inside values)."""
    if len(selector) > 4096:
        raise InvalidInput("The field selector is too long.")
    for term in re.split(r"(?<!\\),", selector):
        found = re.fullmatch(r"\s*([^=!\s]+)\s*(==|!=|=)(.*)", term)
        if not found or not FIELD_KEY.fullmatch(found[1]) or re.search(
                r"(?<!\\)[=!]", found[3].replace("\\\\", "")):
            raise InvalidInput(f"Invalid field selector {_shown(selector)}: use key=value, "
                               "key==value or key!=value, joined by commas (e.g. "
                               "status.phase=Running).")
    return selector


def _split_outside_parentheses(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise InvalidInput(f"Invalid label selector {_shown(text)}: unbalanced ')'.")
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise InvalidInput(f"Invalid label selector {_shown(text)}: unbalanced '('.")
    return [*parts, text[start:]]


def _shown(value: str) -> str:
    """A refused value as a sentence shows it: quoted, control characters visible, cut."""
    text = repr(value[:80])
    return text + ("…" if len(value) > 80 else "")
