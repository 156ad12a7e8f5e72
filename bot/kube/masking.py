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
    """`value` (a decoded API answer) with every secret value masked, in place."""
    _walk(value, secret=False)
    return value


def _walk(value: Any, *, secret: bool) -> None:
    if isinstance(value, dict):
        _walk_object(value, secret=secret)
    elif isinstance(value, list):
        _walk_list(value, secret=secret)


def _walk_object(obj: dict[str, Any], *, secret: bool) -> None:
    kind = obj.get("kind")
    is_secret = secret or kind == "Secret" or _looks_like_secret(obj)
    if is_secret:
        _mask_secret_data(obj)
    items_are_secrets = kind == "SecretList"
    name = obj.get("name")
    if isinstance(name, str) and "value" in obj and isinstance(obj["value"], str) \
            and secret_key(name):  # an environment variable
        obj["value"] = MASK
    for key, child in obj.items():
        if is_secret and key in ("data", "stringData"):
            continue  # sizes now
        if isinstance(child, str):
            if secret_key(key) and child and child != MASK:
                obj[key] = MASK
        elif key == "metadata" and isinstance(child, dict):
            _mask_metadata(child, secret=is_secret)
            _walk_object(child, secret=False)
        elif key == "items" and items_are_secrets:
            _walk(child, secret=True)
        else:
            _walk(child, secret=False)


def _walk_list(values: list[Any], *, secret: bool) -> None:
    after_flag = False
    for i, item in enumerate(values):
        if isinstance(item, str):
            if after_flag and not item.startswith("-"):
                values[i] = MASK
            after_flag = item.startswith("-") and "=" not in item and secret_key(
                item.lstrip("-"))
        else:
            after_flag = False
            _walk(item, secret=secret)


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
