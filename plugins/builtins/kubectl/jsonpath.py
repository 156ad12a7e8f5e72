"""kubectl's JSONPath template dialect, for `-o jsonpath=`, `-o custom-columns=` and
`--sort-by` (see kubernetes.io/docs/reference/kubectl/jsonpath): text and `{expr}` parts,
`.field`, `['field']`, `[n]` (negative too), `[a:b]`, `[*]`, `..field`, unions
`['a','b']`, filters `[?(@.k=="v")]` (==, !=, <, <=, >, >=, or existence),
`{range …}…{end}` and quoted text such as `{"\\n"}`.

No Python library implements this dialect (jsonpath-ng and friends implement Goessner's
JSONPath, without templates or `range`), so it is written here, small and total: every
malformed template is a JsonPathError with the reason, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

TOKEN = re.compile(r"\.\.(?P<descend>[\w-]+|\*)|\.(?P<field>[\w-]+|\*)"
                   r"|\[(?P<bracket>[^\]]*)\]")
FILTER = re.compile(r"^\?\(\s*@(?P<path>(?:\.[\w-]+|\[[^\]]*\])*)\s*"
                    r"(?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+?))?\s*\)$")


class JsonPathError(Exception):
    """The template cannot be parsed or used; the text says why."""


def render(template: str, data: Any) -> str:
    """The template's output for `data` (kubectl prints it without a final newline)."""
    parts = _split(template)
    out, _ = _render(parts, 0, data, stop_at_end=False)
    return out


def values(path: str, data: Any) -> list[Any]:
    """Every value a single path (`.a.b`, `{.a.b}`) selects."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return _evaluate(text, data, data)


def text_of(value: Any) -> str:
    """A value as kubectl's JSONPath printer prints it: scalars bare, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _split(template: str) -> list[tuple[str, str]]:
    """[("text", …) | ("expr", …)], braces inside quotes kept."""
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            parts.append(("text", template[i:]))
            break
        if start > i:
            parts.append(("text", template[i:start]))
        end, quote = start + 1, ""
        while end < len(template) and (quote or template[end] != "}"):
            char = template[end]
            if quote and char == "\\":
                end += 1
            elif char in "\"'":
                quote = "" if quote == char else (quote or char)
            end += 1
        if end >= len(template):
            raise JsonPathError(f"unclosed {{ in the template at character {start + 1}")
        parts.append(("expr", template[start + 1:end].strip()))
        i = end + 1
    return parts


def _render(parts: list[tuple[str, str]], index: int, data: Any, *,
            stop_at_end: bool) -> tuple[str, int]:
    out: list[str] = []
    while index < len(parts):
        kind, value = parts[index]
        if kind == "text":
            out.append(value)
        elif value == "end":
            if not stop_at_end:
                raise JsonPathError("{end} without a {range}")
            return "".join(out), index
        elif value.startswith("range "):
            items = _evaluate(value[6:].strip(), data, data)
            body_end = index
            for item in items or [None]:
                text, body_end = _render(parts, index + 1, item, stop_at_end=True)
                if items:
                    out.append(text)
            index = body_end
        elif value.startswith(('"', "'")):
            out.append(_unquote(value))
        else:
            out.append(" ".join(text_of(v) for v in _evaluate(value, data, data)))
        index += 1
    if stop_at_end:
        raise JsonPathError("{range} without an {end}")
    return "".join(out), index


def _unquote(text: str) -> str:
    try:
        return str(json.loads(text if text.startswith('"') else '"' + text[1:-1] + '"'))
    except ValueError:
        raise JsonPathError(f"bad quoted text {text}") from None


def _evaluate(expression: str, current: Any, root: Any) -> list[Any]:
    text = expression.strip()
    if text.startswith("$"):
        text, base = text[1:], root
    elif text.startswith("@"):
        text, base = text[1:], current
    else:
        base = current
    results = [base]
    position = 0
    for match in TOKEN.finditer(text):
        if match.start() != position:
            raise JsonPathError(f"cannot parse {expression!r} at {text[position:]!r}")
        position = match.end()
        results = [found for item in results for found in _step(match, item, root)]
    if position != len(text):
        raise JsonPathError(f"cannot parse {expression!r} at {text[position:]!r}")
    return results


def _step(match: re.Match[str], item: Any, root: Any) -> Iterator[Any]:
    if match["descend"] is not None:
        yield from _descend(item, match["descend"])
    elif match["field"] is not None:
        yield from _children(item, match["field"])
    else:
        yield from _bracket(match["bracket"].strip(), item, root)


def _children(item: Any, name: str) -> Iterator[Any]:
    if name == "*":
        yield from (item.values() if isinstance(item, dict) else
                    item if isinstance(item, list) else ())
    elif isinstance(item, dict) and name in item:
        yield item[name]


def _descend(item: Any, name: str) -> Iterator[Any]:
    yield from _children(item, name)
    children = item.values() if isinstance(item, dict) else item if isinstance(
        item, list) else ()
    for child in children:
        yield from _descend(child, name)


def _bracket(inside: str, item: Any, root: Any) -> Iterator[Any]:
    if inside == "*":
        yield from _children(item, "*")
    elif inside.startswith("?"):
        yield from _filter(inside, item, root)
    elif inside.startswith(("'", '"')):
        for name in (n.strip().strip("'\"") for n in inside.split(",")):
            yield from _children(item, name.replace("\\.", "."))
    elif ":" in inside and isinstance(item, list):
        start, _, stop = inside.partition(":")
        yield from item[slice(int(start) if start.strip() else None,
                              int(stop.split(":")[0]) if stop.split(":")[0].strip() else None)]
    elif isinstance(item, list):
        for index in (i.strip() for i in inside.split(",")):
            if not re.fullmatch(r"-?\d+", index):
                raise JsonPathError(f"[{inside}] is not an index")
            number = int(index)
            if -len(item) <= number < len(item):
                yield item[number]
            else:
                raise JsonPathError(f"array index out of bounds: index {number}, length "
                                    f"{len(item)}")


def _filter(inside: str, item: Any, root: Any) -> Iterator[Any]:
    found = FILTER.match(inside)
    if found is None:
        raise JsonPathError(f"cannot parse the filter [{inside}]")
    candidates = item if isinstance(item, list) else [item]
    for candidate in candidates:
        got = _evaluate(found["path"] or "", candidate, root)
        if found["op"] is None:
            if got:
                yield candidate
            continue
        wanted = _literal(found["value"])
        if got and _compare(got[0], found["op"], wanted):
            yield candidate


def _literal(text: str) -> Any:
    try:
        return json.loads(text.replace("'", '"'))
    except ValueError:
        return text


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "!="):
        same = str(left) == str(right) if isinstance(right, str) else left == right
        return same if op == "==" else not same
    try:
        a, b = float(left), float(right)
    except (TypeError, ValueError):
        a, b = str(left), str(right)  # type: ignore[assignment]
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
