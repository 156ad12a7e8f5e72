"""Mask secret-looking content before it reaches the model or a user.

Each pattern keeps enough context for a reader to see what was there (`Bearer [REDACTED]`,
`password=[REDACTED]`) and nothing of the secret itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----"),
     f"-----BEGIN \\1PRIVATE KEY-----{MASK}-----END \\1PRIVATE KEY-----"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1 {MASK}"),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), MASK),
    (re.compile(r"\bxapp-\d+-[A-Za-z0-9-]{8,}"), MASK),
    (re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    # key=value / key: value / "key": "value" pairs with a secret-sounding key
    (re.compile(r"""(?ix)
        (?P<key>["']?\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key
              |private[_-]?key|client[_-]?secret|credentials?|auth)\b["']?)
        (?P<sep>\s*[:=]\s*)
        (?P<quote>["']?)(?!\[REDACTED\])(?P<value>[^\s"',;}{]{3,})(?P=quote)"""),
     rf"\g<key>\g<sep>\g<quote>{MASK}\g<quote>"),
]

_SECRET_KEYS = re.compile(r"(?i)(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
                          r"private[_-]?key|client[_-]?secret|credential|authorization|auth)")
_YAML_DATA = re.compile(r"(?m)^(?P<indent>[ \t]*)(?:data|stringData|binaryData):[ \t]*\n"
                        r"(?P<body>(?:(?P=indent)[ \t]+\S.*\n?)+)")
_YAML_VALUE = re.compile(r"(?m)^(\s+[^\s:#]+:[ \t]*)(\S.*)$")
_JSON_DATA = re.compile(r'"(?:data|stringData|binaryData)"\s*:\s*\{[^{}]*\}')
_JSON_VALUE = re.compile(r'("[^"]+"\s*:\s*)"[^"]*"')


def redact(text: str) -> str:
    """Mask every secret-looking span in `text`; clean text comes back unchanged."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    if re.search(r"""(?i)kind["']?\s*:\s*["']?Secret\b""", text):
        text = _mask_secret_data(text)
    return text


def _mask_secret_data(text: str) -> str:
    """Kubernetes Secret objects: mask every value under data/stringData (YAML or JSON)."""
    def yaml_block(match: re.Match[str]) -> str:
        body = _YAML_VALUE.sub(rf"\1{MASK}", match.group("body"))
        return match.group(0)[: match.start("body") - match.start()] + body

    text = _YAML_DATA.sub(yaml_block, text)
    return _JSON_DATA.sub(lambda m: _JSON_VALUE.sub(rf'\1"{MASK}"', m.group(0)), text)


def redact_arguments(arguments: Mapping[str, Any] | str) -> str:
    """Tool arguments for the audit trail: secret-named keys masked, values redacted."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return redact(arguments)
    return redact(json.dumps(_mask_keys(arguments), ensure_ascii=False, default=str))


def _mask_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: MASK if _SECRET_KEYS.search(str(k)) else _mask_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v) for v in value]
    return value
