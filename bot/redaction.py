"""Mask secret-looking content before it reaches the model, Slack, a terminal or a log.

Each pattern keeps enough context for a reader to see what was there (`Bearer [REDACTED]`,
`password=[REDACTED]`, `postgres://app:[REDACTED]@db`) and nothing of the secret itself.
`tests/test_redaction_corpus.py` holds the formats this must catch and the look-alikes (git
SHAs, digests, UUIDs, pod hashes) it must leave alone.

Why not a detector library: detect-secrets and its kin report *lines* of files with a
secret, and their entropy detectors flag every image digest and commit SHA in kubectl
output; we need spans replaced in place with no false alarms on that output.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

MASK = "[REDACTED]"

_KEYWORDS = (r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
             r"|private[_-]?key|client[_-]?secret|credentials?|auth|key[_-]?data|accountkey"
             r"|sharedaccesskey|session[_-]?key|signing[_-]?key|encryption[_-]?key"
             # short ones only as a word's start (`db_pass=`, `pw=`; never `bypass=`)
             r"|(?<![a-z])pass|(?<![a-z])pw")

# Tokens whose shape alone says what they are (vendor prefixes, fixed layouts), each with a
# literal it must contain: a substring test skips the regex for text without it, which is
# almost all text (one alternation of 40 patterns cost ~1.4 µs a character).
_TOKEN_RULES: list[tuple[str, str]] = [
    ("xox", r"\bxox[abposrec]-[A-Za-z0-9-]{8,}"), ("xapp-", r"\bxapp-\d+-[A-Za-z0-9-]{8,}"),
    ("sk-", r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("AKIA", r"\bAKIA[0-9A-Z]{16}\b"), ("ASIA", r"\bASIA[0-9A-Z]{16}\b"),
    ("AROA", r"\bAROA[0-9A-Z]{16}\b"), ("AIDA", r"\bAIDA[0-9A-Z]{16}\b"),
    ("gh", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), ("github_pat_", r"\bgithub_pat_\w{22,}\b"),
    ("gl", r"\bgl(?:pat|rt|dt|ft|cbt|ptt|oas|imt|soat)-[A-Za-z0-9_-]{20,}"),
    ("k_", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"), ("whsec_", r"\bwhsec_[0-9A-Za-z]{24,}"),
    ("AIza", r"\bAIza[0-9A-Za-z_-]{35}\b"), ("GOCSPX-", r"\bGOCSPX-[0-9A-Za-z_-]{20,}"),
    ("ya29.", r"\bya29\.[0-9A-Za-z_-]{20,}"),
    ("SG.", r"\bSG\.[0-9A-Za-z_-]{16,}\.[0-9A-Za-z_-]{16,}"),
    ("npm_", r"\bnpm_[A-Za-z0-9]{36}\b"), ("pypi-", r"\bpypi-[A-Za-z0-9_-]{50,}"),
    ("_v1_", r"\bdo[opr]_v1_[a-f0-9]{64}\b"), ("shp", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"),
    ("key-", r"\bkey-[0-9a-f]{32}\b"), ("hv", r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"),
    ("atlasv1", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{60,}"),
    ("dapi", r"\bdapi[a-f0-9]{32}\b"), (":AA", r"\b\d{8,10}:AA[0-9A-Za-z_-]{33}\b"),
    ("glsa_", r"\bglsa_[A-Za-z0-9]{32}_[a-f0-9]{8}\b"), ("glc_", r"\bglc_[A-Za-z0-9+/=]{32,}"),
    ("NRAK-", r"\bNRAK-[A-Z0-9]{27}\b"), ("ATATT3", r"\bATATT3[A-Za-z0-9_=+/-]{20,}"),
    ("lin_api_", r"\blin_api_[A-Za-z0-9]{40}\b"), ("hf_", r"\bhf_[A-Za-z]{34,}\b"),
    ("SK", r"\bSK[0-9a-f]{32}\b"), ("sq0", r"\bsq0(?:atp|csp)-[0-9A-Za-z_-]{22,}"),
    ("EAA", r"\bEAA[AC][0-9A-Za-z_-]{60,}"), ("xkeysib-", r"\bxkeysib-[a-f0-9]{64}-\w{16}"),
    ("AGE-SECRET-KEY-1", r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b"),
    ("eyJ", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("GR1348941", r"\bGR1348941[A-Za-z0-9_-]{20,}"),  # GitLab runner registration
    ("1//", r"(?<![\w/])1//0[0-9A-Za-z_-]{30,}"),  # Google OAuth refresh token
    ("Q~", r"\b[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),  # Azure AD client secret
    ("hooks.slack.com", r"(?<=hooks\.slack\.com/services/)T\w+/B\w+/\w+"),
    ("/api/webhooks/", r"(?<=/api/webhooks/)\d+/[A-Za-z0-9_-]{20,}"),
]
_TOKENS = [(literal, re.compile(pattern)) for literal, pattern in _TOKEN_RULES]

Replacement = str | Callable[[re.Match[str]], str]
# Each pattern with the lowercase substrings one of which its match must contain: a few
# substring tests on the lowered text skip almost every regex for ordinary output.
_KEY_ROOTS = ("pass", "pwd", "pw", "secret", "token", "key", "credential", "auth")
# "key": "value" — the value may sit on the line after its key (pretty-printed JSON)
_QUOTED_VALUE = re.compile(rf"""(?ix)(?P<key>(?:{_KEYWORDS})\b["']?\s*[:=]\s*)
                    (?P<q>["'])(?!\[REDACTED\])(?:\\.|(?!(?P=q)).)+(?P=q)""")
NEXT_LINE = frozenset({_QUOTED_VALUE})  # matched on the trigger's line and the next
_WHOLE_TEXT = ("-----begin",)  # PEM blocks span many lines: matched over the whole text
_PATTERNS: list[tuple[tuple[str, ...], re.Pattern[str], Replacement]] = [
    # PEM blocks (keys, PGP private key blocks), closed or cut off
    (_WHOLE_TEXT, re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK|)-----"
                r"(?:[\s\S]*?-----END \1PRIVATE KEY\2-----"
                r"|(?:(?:\\n|\s)*[A-Za-z0-9+/=]{16,})+)"),
     f"-----BEGIN \\1PRIVATE KEY\\2-----{MASK}-----END \\1PRIVATE KEY\\2-----"),
    # credentials inside URLs: scheme://user:password@host, and a DSN's key@host
    (("://",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}://[^\s:/@\"'<>]*:)[^\s@/\"'<>]+@"),
     rf"\1{MASK}@"),
    (("://",), re.compile(r"(?i)(://)[a-f0-9]{32}(?::[a-f0-9]{32})?@"), rf"\1{MASK}@"),
    # HTTP auth headers: the scheme stays, the rest goes
    (("authorization",),
     re.compile(r"(?i)\b((?:proxy-)?authorization[ \t]*[:=][ \t]*[\"']?)(?:(basic|bearer|"
                r"token|digest|negotiate|apikey|sso-key|ssws|splunk)[ \t]+)?[^\s\"',;]+"),
     lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}"),
    (("bearer",), re.compile(r"(?i)\b(bearer)[ \t]+[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1 {MASK}"),
    (("cookie",), re.compile(r"(?im)\b((?:set-)?cookie[ \t]*:[ \t]*)[^\n]+"), rf"\1{MASK}"),
    (("x-api-", "x-auth-"), re.compile(r"(?i)\b(x-(?:api|auth)-(?:key|token)[ \t]*:[ \t]*)\S+"),
     rf"\1{MASK}"),
    # signed URLs (Azure SAS, S3 presigned)
    (("sig",),
     re.compile(r"(?i)([?&](?:sig|x-amz-signature|x-amz-security-token|signature)=)"
                r"[^&\s\"']+"),
     rf"\1{MASK}"),
    # curl's user:password (-u, --user): the user stays
    (("-u", "--user"), re.compile(r"(?<![\w-])((?:-u|--user)[ \t=]+['\"]?[^:\s'\"]+:)"
                                  r"[^\s'\"]+"), rf"\1{MASK}"),
    # command-line flags
    (_KEY_ROOTS, re.compile(rf"(?i)((?<![\w-])--?(?:[\w-]*(?:{_KEYWORDS}))(?:=|[ \t]+))(?!-)"
                r"(?!\[REDACTED\])[^\s\"']+"),
     rf"\1{MASK}"),
    # "key": "value" and key: 'value' with a quoted value (spaces and commas allowed)
    # (each starts at its keyword: a `[\w.-]*` prefix made the scan quadratic per word, and
    # the replacement keeps whatever stands before the keyword anyway)
    (_KEY_ROOTS, _QUOTED_VALUE, rf"\g<key>\g<q>{MASK}\g<q>"),
    # key: value unquoted (YAML): the value runs to the end of the line or a , ; { }
    (_KEY_ROOTS, re.compile(rf"""(?ix)(?P<key>(?:{_KEYWORDS})\b[ \t]*:[ \t]*)
                    (?!\[REDACTED\]|<?\d+\ bytes\b|<set\ to\ the\ key\ )  # kubectl's "<18
                    # bytes>" and describe's "<set to the key 'k' in secret 's'>" stay
                    (?P<value>[^\s"',;}}{{][^\n"',;}}{{]*[^\s"',;}}{{])"""),
     rf"\g<key>{MASK}"),
    # key=value unquoted (env, query strings, flags): up to the next space
    (_KEY_ROOTS, re.compile(rf"""(?ix)(?P<key>(?:{_KEYWORDS})\b[ \t]*(?:=|[ \t]=>)[ \t]*)
                    (?![\s"'])(?!\[REDACTED\])(?P<value>[^\s"',;}}{{]{{3,}})"""),
     rf"\g<key>{MASK}"),
]

_YAML_DATA = re.compile(r"(?m)^(?P<indent>[ \t]*)(?:data|stringData|binaryData):[ \t]*\n"
                        r"(?P<body>(?:(?P=indent)[ \t]+\S.*\n?)+)")
_YAML_VALUE = re.compile(r"(?m)^(\s+[^\s:#]+:[ \t]*)(?!<\d+ bytes>$)(\S.*)$")
_JSON_DATA = re.compile(r'"(?:data|stringData|binaryData)"\s*:\s*\{[^{}]*\}')
_JSON_VALUE = re.compile(r'("[^"]+"\s*:\s*)"(?!<\d+ bytes>")[^"]*"')
_SECRET_KIND = re.compile(r"""(?i)kind["']?\s*:\s*["']?Secret\b""")


def redact(text: str) -> str:
    """Mask every secret-looking span in `text`; clean text comes back unchanged.

    Each pattern runs only on the lines around what triggers it (its literal, or one of
    its keywords), found with str.find: a 4 MB log with one `password=` near its end costs
    one line's regex work, not four passes of the regex engine over 4 MB (1.1 s a MB
    before). A pattern's match never leaves its trigger's line (a quoted value, the next
    line too); PEM blocks, which run over many lines, are matched over the whole text."""
    if not text:
        return text
    for literal, token in _TOKENS:
        if literal in text:
            text = _sub_near(text, text, (literal,), token, MASK)
    lowered = text.lower()
    for triggers, pattern, replacement in _PATTERNS:
        for trigger in triggers:  # a plain loop: `any(<genexpr>)` cost more than the test
            if trigger in lowered:
                if triggers == _WHOLE_TEXT:
                    text = pattern.sub(replacement, text)
                else:
                    text = _sub_near(text, lowered, triggers, pattern, replacement,
                                     lines=2 if pattern in NEXT_LINE else 1)
                lowered = text.lower()
                break
    if _SECRET_KIND.search(text):
        text = _mask_secret_data(text)
    return text


def _sub_near(text: str, haystack: str, triggers: tuple[str, ...],
              pattern: re.Pattern[str], replacement: Replacement, *, lines: int = 1) -> str:
    """`pattern.sub` on the lines of `text` holding a trigger (found in `haystack`: the
    text, or its lowercase), `lines` lines from each; the rest is left as it is."""
    if len(text) < 4096:  # short texts: one pass is cheaper than finding lines
        return pattern.sub(replacement, text)
    spans: list[tuple[int, int]] = []
    for trigger in triggers:
        found = haystack.find(trigger)
        while found != -1:
            start, end = text.rfind("\n", 0, found) + 1, found
            for _ in range(lines):
                end = text.find("\n", end + 1) if end < len(text) else len(text)
                end = len(text) if end == -1 else end
            spans.append((start, end))
            found = haystack.find(trigger, max(end, found + 1))
    pieces, done = [], 0
    for start, end in _merged(spans):
        pieces += [text[done:start], pattern.sub(replacement, text[start:end])]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _mask_secret_data(text: str) -> str:
    """Kubernetes Secret objects: mask every value under data/stringData (YAML or JSON)."""
    def yaml_block(match: re.Match[str]) -> str:
        body = _YAML_VALUE.sub(rf"\1{MASK}", match.group("body"))
        return match.group(0)[: match.start("body") - match.start()] + body

    text = _YAML_DATA.sub(yaml_block, text)
    return _JSON_DATA.sub(lambda m: _JSON_VALUE.sub(rf'\1"{MASK}"', m.group(0)), text)


# What names a secret, as the last word of a key (`DB_PASSWORD`, `githubToken`,
# `aws-secret-access-key`, `client_key_data`); a key ending in a word that says it only
# points at one (`secretName`, `passwordFile`, `tokenSecretRef`) or measures one
# (`token_expiry_seconds`, `passwordMinLength`) is not.
_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "pwd", "pass", "pw", "secret",
                           "token", "apikey", "credential", "credentials", "auth",
                           "authorization", "dsn", "accountkey", "sharedaccesskey"})
_KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption",
                             "account", "master", "client", "session", "auth", "license",
                             "shared"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@lru_cache(maxsize=4096)
def secret_key(name: str) -> bool:
    """Whether a key (a map key, an environment variable's name, a flag) names a secret
    value, by its last word: the one rule the text patterns, the audit trail and the
    Kubernetes object masking share."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words:
        return False
    last = words[-1]
    if last in _SECRET_WORDS:
        return True
    before = words[-2] if len(words) > 1 else ""
    return (last == "key" and before in _KEY_QUALIFIERS) or (
        last == "data" and before == "key")


def redact_arguments(arguments: Mapping[str, Any] | str) -> str:
    """Tool arguments for the audit trail and approval cards: secret-named keys masked,
    values redacted."""
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return redact(text)
    return redact(json.dumps(_mask_keys(arguments), ensure_ascii=False, default=str))


def _mask_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: MASK if secret_key(str(k)) else _mask_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v) for v in value]
    return value


class RedactingFormatter(logging.Formatter):
    """A log formatter whose every line (message, arguments, traceback) is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
