"""Secrets masked in Kubernetes objects at the point they are read, whatever their kind.

`bot.kube.request` passes every JSON answer through `mask_objects` before any plugin sees
it, so no output form (a table, `-o yaml|json|jsonpath|custom-columns`, `--sort-by`,
`describe`, k8sgpt's findings) and no list (a SecretList, a Table with whole objects, a List
of anything) can show what it masked:

- a Secret's `data`/`stringData` become sizes (`<18 bytes>`), known by its kind, by the
  list it came in, or by its shape (a `type` of a Secret and a `data` map) when a server or
  proxy left the kind out;
- any string under a secret-named key (`DB_PASSWORD`, `apiToken`: bot.redaction.secret_key)
  in any object, an environment variable `{name: DB_PASSWORD, value: …}`, and the value
  after a secret-named flag in an argument list (`["--password", "x"]`);
- `kubectl.kubernetes.io/last-applied-configuration`, which holds the object as applied,
  is masked the same way inside.

Token shapes in free text (a JWT in an annotation, a URL with a password) are the text
redactor's job, which every tool result passes through afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from bot.redaction import MASK, secret_key

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SECRET_TYPES = ("Opaque", "kubernetes.io/", "bootstrap.kubernetes.io/", "helm.sh/")


def mask_objects(value: Any) -> Any:
    """`value` (an answer as json.loads decoded it: plain dicts, lists and scalars) with
    every secret value masked, in place."""
    _walk(value, secret=False)
    return value


def _walk(value: Any, *, secret: bool) -> None:
    if type(value) is dict:
        _walk_object(value, secret=secret)
    elif type(value) is list:
        _walk_list(value, secret=secret)


# The walk visits every value of every answer (50,000 in a 2,000-pod Table), so it tests
# types with `type(…) is` (json.loads makes only these) and never calls itself for a number.
def _walk_object(obj: dict[str, Any], *, secret: bool) -> None:
    kind = obj.get("kind")
    is_secret = secret or kind == "Secret" or (kind is None and _looks_like_secret(obj))
    if is_secret:
        _mask_secret_data(obj)
    items_are_secrets = kind == "SecretList"
    name = obj.get("name")
    if type(name) is str and type(obj.get("value")) is str and secret_key(name):
        obj["value"] = MASK  # an environment variable
    for key, child in obj.items():
        kind_of = type(child)
        if kind_of is str:
            if child and child != MASK and secret_key(key):
                obj[key] = MASK
        elif kind_of is dict:
            if is_secret and key in ("data", "stringData"):
                continue  # sizes now
            if key == "metadata":
                _mask_metadata(child, secret=is_secret)
            _walk_object(child, secret=key == "items" and items_are_secrets)
        elif kind_of is list:
            _walk_list(child, secret=key == "items" and items_are_secrets)


def _walk_list(values: list[Any], *, secret: bool) -> None:
    after_flag = False
    for i, item in enumerate(values):
        kind_of = type(item)
        if kind_of is str:
            if after_flag and not item.startswith("-"):
                values[i] = MASK
            after_flag = item.startswith("-") and "=" not in item and secret_key(
                item.lstrip("-"))
        else:
            after_flag = False
            if kind_of is dict:
                _walk_object(item, secret=secret)
            elif kind_of is list:
                _walk_list(item, secret=secret)


def _looks_like_secret(obj: dict[str, Any]) -> bool:
    kind_type = obj.get("type")
    return (obj.get("kind") is None and isinstance(kind_type, str)
            and kind_type.startswith(_SECRET_TYPES)
            and isinstance(obj.get("data") or obj.get("stringData"), dict))


def _mask_secret_data(obj: dict[str, Any]) -> None:
    for key, encoded in (("data", True), ("stringData", False)):
        values = obj.get(key)
        if isinstance(values, dict):
            obj[key] = {k: f"<{_size(v, encoded)} bytes>" for k, v in values.items()}


def _mask_metadata(metadata: dict[str, Any], *, secret: bool) -> None:
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return
    try:
        applied = json.loads(annotations[LAST_APPLIED])
    except (TypeError, ValueError, RecursionError):
        annotations[LAST_APPLIED] = MASK
        return
    _walk(applied, secret=secret)
    annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"))


def _size(value: Any, encoded: bool) -> int:
    text = str(value)
    if not encoded:
        return len(text.encode())
    stripped = text.rstrip("=")
    return len(stripped) * 3 // 4  # base64's decoded length, without decoding the secret
