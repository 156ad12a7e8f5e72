"""Tool parameter schemas that are self-contained and cheap to check.

A plugin's `parameters` come from untrusted code, and the bot checks every tool call's
arguments against them on its event loop. So: `$ref` may only point inside the schema (no
HTTP GET, no `file://` read, no hang on a server that never answers — the validators get an
empty registry that retrieves nothing); `pattern` and `patternProperties` run on RE2, whose
matching is linear in the input (no catastrophic backtracking), and a pattern RE2 cannot
compile is refused at install; the number of tools and the size of each schema are capped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import re2
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend, validator_for
from referencing import Registry

from bot.errors import Problem

REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
_NO_RETRIEVAL: Registry[Any] = Registry()  # retrieve=None: an outside ref is unresolvable
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
Matcher = Callable[[str], bool]
_COMPILED: dict[str, Matcher] = {}
_EXTENDED: dict[type, type] = {}


@dataclass(frozen=True)
class SchemaLimits:
    max_tools: int = 128
    max_schema_bytes: int = 64 * 1024


DEFAULT_LIMITS = SchemaLimits()


def compile_pattern(pattern: str) -> Matcher:
    """Whether a string contains a match of `pattern` (JSON Schema's `pattern` is a search),
    on RE2. Cached: schemas repeat their patterns. Raises re2.error for what RE2 refuses."""
    matcher = _COMPILED.get(pattern)
    if matcher is None:
        matcher = _matcher(re2.compile(pattern, _OPTIONS))
        if len(_COMPILED) < 4096:
            _COMPILED[pattern] = matcher
    return matcher


def _matcher(compiled: Any) -> Matcher:
    """google-re2's `search` builds match objects in Python (~6.5 µs a call); asking its
    compiled regexp for the first span is ~1.8 µs. Falls back to `search` if a release of
    the binding no longer has that interface."""
    regexp, anchor = getattr(compiled, "_regexp", None), getattr(re2, "_Anchor", None)
    if regexp is None or anchor is None or not hasattr(regexp, "Match"):
        return lambda text: compiled.search(text) is not None
    unanchored, no_match = anchor.UNANCHORED, (-1, -1)

    def found(text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return bool(regexp.Match(unanchored, data, 0, len(data))[0] != no_match)

    return found


def schema_problems(params: dict[str, Any], where: str, limits: SchemaLimits, *,
                    size: int | None = None) -> list[Problem]:
    """Everything that makes a (metaschema-valid) parameters schema unsafe to use. `size`:
    its length as JSON, when the caller has serialised it already."""
    size = len(json.dumps(params, default=str)) if size is None else size
    if size > limits.max_schema_bytes:
        return [Problem(where, f"is {size:,} bytes of JSON, over the "
                        f"{limits.max_schema_bytes:,}-byte limit for one tool's schema")]
    problems, keys = [], set()
    for path, key, value in _walk(params, where):
        keys.add(key)
        if key in REF_KEYS and not (isinstance(value, str) and value.startswith("#")):
            problems.append(Problem(f"{path}.{key}", f"{value!r} points outside the schema: "
                                    "only refs inside it ('#/...') are allowed"))
        elif key == "pattern" and isinstance(value, str):
            problems += _pattern_problem(value, f"{path}.pattern")
        elif key == "patternProperties" and isinstance(value, dict):
            for pattern in value:
                problems += _pattern_problem(pattern, f"{path}.patternProperties")
    if {"unevaluatedProperties", "patternProperties"} <= keys:  # jsonschema's own regexes
        problems.insert(0, Problem(where, "unevaluatedProperties together with "
                                   "patternProperties is not supported; use "
                                   "additionalProperties"))
    return problems


def _pattern_problem(pattern: str, where: str) -> list[Problem]:
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return [Problem(where, f"{pattern!r} is not a pattern the bot can check in linear "
                        f"time (RE2: {reason}); backreferences and lookarounds are not "
                        "supported")]
    return []


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every key of every object in the schema, iteratively."""
    stack = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                yield where, str(key), value
                stack.append((value, f"{where}.{key}"))
        elif isinstance(current, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(current))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any
             ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not compile_pattern(pattern)(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        matches = compile_pattern(pattern)
        for key, value in instance.items():
            if matches(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any
                           ) -> Iterator[ValidationError]:
    """jsonschema's own, with the patternProperties part on RE2."""
    if not validator.is_type(instance, "object"):
        return
    patterns = [compile_pattern(p) for p in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in schema.get("properties", {})
              and not any(matches(key) for matches in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(extra) for extra in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} "
                              f"{'was' if len(extras) == 1 else 'were'} unexpected)")


_RE2_KEYWORDS = {"pattern": _pattern, "patternProperties": _pattern_properties,
                 "additionalProperties": _additional_properties}


def compile_validator(parameters: dict[str, Any]) -> Any:
    """A ready validator for a tool's (already checked) parameters: RE2 for patterns, and
    no retrieval of any ref."""
    base = validator_for(parameters, default=Draft202012Validator)
    cls = _EXTENDED.get(base)
    if cls is None:
        cls = _EXTENDED[base] = extend(base, _RE2_KEYWORDS)
    return cls(parameters, registry=_NO_RETRIEVAL)
