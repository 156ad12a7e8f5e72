"""Validate what a plugin module returns. Every problem is collected, with its exact field.

It runs in the bot on plain data (a worker's description of an upload) or on a trusted
builtin module; schema safety (refs, patterns, sizes) lives in `schemas.py`.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from packaging.version import InvalidVersion, Version

from bot import messages
from bot.errors import PluginError, Problem
from bot.plugin_host.contract.describe import describe_module
from bot.plugin_host.contract.protocol import (
    SETTING_TYPES,
    LoadedPlugin,
    Manifest,
    SettingSpec,
    ToolSpec,
)
from bot.plugin_host.contract.schemas import DEFAULT_LIMITS, SchemaLimits, schema_problems
from bot.sdk import PERMISSIONS, PLUGIN_NAME_RE

RESERVED_NAMES = frozenset({"bot"})  # and every builtin's name, from discovery


def plugin_name_problem(name: str, builtins: set[str] | frozenset[str]) -> str | None:
    """Why `name` cannot be an uploaded plugin's name, or None: the one rule for
    `bot plugin new` and every install."""
    if not PLUGIN_NAME_RE.match(name):
        return messages.bad_plugin_name(name)
    if name in sys.stdlib_module_names:
        return messages.shadows_stdlib(name)
    if name in RESERVED_NAMES | builtins:
        return messages.shadows_builtin(name)
    return None


TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TIMEOUT = 600.0
_MANIFEST_KEYS = {"name", "version", "description", "author", "permissions", "settings"}
SETTING_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SETTING_KEYS = {"type", "description", "enum", "within"}
_TOOL_KEYS = {"schema", "handler", "requires_approval", "timeout", "writes"}
_FUNCTION_KEYS = {"name", "description", "parameters", "strict"}
_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def check_module(module: object, *, expected_name: str | None = None,
                 config: dict[str, Any] | None = None,
                 limits: SchemaLimits = DEFAULT_LIMITS) -> LoadedPlugin:
    """Describe a (trusted, imported) module the way a worker describes an upload, validate
    that description, and give each tool its handler back.

    Raises `PluginError` listing every problem found.
    """
    described, handlers = describe_module(module, config)
    plugin = check_description(described, expected_name=expected_name, limits=limits,
                               label=getattr(module, "__name__", "plugin"))
    tools = tuple(replace(spec, handler=handlers[spec.name]) for spec in plugin.tools)
    return replace(plugin, tools=tools)


def check_description(described: dict[str, Any], *, expected_name: str | None = None,
                      limits: SchemaLimits = DEFAULT_LIMITS, label: str = "upload"
                      ) -> LoadedPlugin:
    """Validate what a sandboxed worker reported about a plugin it imported.

    The worker sends plain data: the manifest, the tool dicts with each handler replaced by
    `{"callable": bool, "wants_ctx": bool}`, and the errors it met. Validation happens here,
    in the bot, never next to the untrusted code.
    """
    label = expected_name or label
    if "import_error" in described:
        raise PluginError(label, [Problem("import", str(described["import_error"]))])
    problems = [Problem(f"{attr}()", str(described[f"{attr}_error"]))
                for attr in ("get_manifest", "get_tools") if f"{attr}_error" in described]
    return _check(described.get("get_manifest"), described.get("get_tools"), problems,
                  label=label, expected_name=expected_name, limits=limits)


def _check(raw_manifest: Any, raw_tools: Any, problems: list[Problem], *, label: str,
           expected_name: str | None, limits: SchemaLimits) -> LoadedPlugin:
    manifest, warnings = None, []
    if raw_manifest is not None:
        manifest, manifest_warnings = validate_manifest(raw_manifest, problems,
                                                        expected_name=expected_name)
        warnings += manifest_warnings
        if isinstance(raw_manifest, dict) and isinstance(raw_manifest.get("name"), str):
            label = raw_manifest["name"]
    tools: list[ToolSpec] = []
    if raw_tools is not None:
        tools, tool_warnings = validate_tools(raw_tools, problems, limits=limits)
        warnings += tool_warnings
    if problems or manifest is None:
        raise PluginError(label, problems or [Problem("get_manifest()", "returned nothing")])
    return LoadedPlugin(manifest=manifest, tools=tuple(tools), warnings=tuple(warnings))


def validate_manifest(raw: Any, problems: list[Problem], *, expected_name: str | None = None
                      ) -> tuple[Manifest | None, list[str]]:
    """Check a manifest dict; append problems, return the manifest when it is usable."""
    if not isinstance(raw, dict):
        problems.append(Problem("manifest", f"must be a dict, got {type(raw).__name__}"))
        return None, []
    before = len(problems)
    name, version = raw.get("name"), raw.get("version")
    if not isinstance(name, str) or not PLUGIN_NAME_RE.match(name):
        problems.append(Problem("manifest.name", f"{name!r} must match {PLUGIN_NAME_RE.pattern} "
                                "(lowercase letters, digits and _, starting with a letter)"))
    elif expected_name is not None and name != expected_name:
        problems.append(Problem("manifest.name", f"{name!r} does not match the plugin's "
                                f"directory or file name {expected_name!r}"))
    if not isinstance(version, str):
        problems.append(Problem("manifest.version", f"{version!r} must be a version string "
                                "such as '1.0.0'"))
    else:
        try:
            Version(version)
        except InvalidVersion:
            problems.append(Problem("manifest.version", f"{version!r} is not a valid PEP 440 "
                                    "version (try '1.0.0')"))
    for key in ("description", "author"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(Problem(f"manifest.{key}", "must be a string"))
    permissions = raw.get("permissions", [])
    if not isinstance(permissions, list | tuple):
        problems.append(Problem("manifest.permissions", "must be a list of strings"))
        permissions = []
    for i, perm in enumerate(permissions):
        if perm not in PERMISSIONS:
            problems.append(Problem(f"manifest.permissions[{i}]", f"unknown permission {perm!r} "
                                    f"(known: {', '.join(sorted(PERMISSIONS))})"))
    settings = _settings(raw.get("settings", {}), problems)
    warnings = [f"manifest: unknown key {key!r} ignored" for key in sorted(set(raw) -
                                                                         _MANIFEST_KEYS)]
    if len(problems) > before or not isinstance(name, str) or not isinstance(version, str):
        return None, warnings
    return Manifest(name=name, version=version, description=raw.get("description", ""),
                    author=raw.get("author", ""),
                    permissions=tuple(dict.fromkeys(permissions)),
                    settings=settings), warnings


def _settings(raw: Any, problems: list[Problem]) -> dict[str, SettingSpec]:
    """`manifest.settings`: the config keys admins may set, each {type, description, enum,
    within}; every problem reported."""
    if not isinstance(raw, dict):
        problems.append(Problem("manifest.settings", "must be a dict of key -> {type, ...}"))
        return {}
    found: dict[str, SettingSpec] = {}
    for key, spec in raw.items():
        field = f"manifest.settings.{key}"
        if not isinstance(key, str) or not SETTING_NAME_RE.match(key):
            problems.append(Problem(field, f"{key!r} must match {SETTING_NAME_RE.pattern}"))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(field, "must be a dict such as {'type': 'string'}"))
            continue
        kind, enum, within = spec.get("type", "string"), spec.get("enum", []), spec.get("within")
        wrong = [
            *([f"unknown keys {sorted(set(spec) - _SETTING_KEYS)}"] if set(spec) - _SETTING_KEYS
              else []),
            *([f"type must be one of {', '.join(SETTING_TYPES)}"] if kind not in SETTING_TYPES
              else []),
            *(["description must be a string"] if not isinstance(spec.get("description", ""),
                                                                  str) else []),
            *(["enum must be a list of strings"] if not isinstance(enum, list) or not all(
                isinstance(v, str) for v in enum) else []),
            *(["within is for a list setting and names a config key"]
              if within is not None and (kind != "list" or not isinstance(within, str)) else [])]
        if wrong:
            problems += [Problem(field, text) for text in wrong]
            continue
        found[key] = SettingSpec.from_dict(spec)
    return found


def validate_tools(raw: Any, problems: list[Problem], *,
                   limits: SchemaLimits = DEFAULT_LIMITS) -> tuple[list[ToolSpec], list[str]]:
    """Check the list `get_tools()` returned; append problems, return the valid specs."""
    if not isinstance(raw, list | tuple):
        problems.append(Problem("get_tools()", f"must return a list, got {type(raw).__name__}"))
        return [], []
    if len(raw) > limits.max_tools:
        problems.append(Problem("get_tools()", f"returned {len(raw):,} tools, over the limit "
                                f"of {limits.max_tools} per plugin (PLUGIN_MAX_TOOLS)"))
        return [], []
    specs: list[ToolSpec] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        spec = _validate_tool(item, f"tools[{index}]", problems, warnings, limits)
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(Problem(f"tools[{index}].schema.function.name", f"{spec.name!r} is "
                                    f"already used by tools[{seen[spec.name]}]"))
            continue
        seen[spec.name] = index
        specs.append(spec)
    if not raw:
        warnings.append("get_tools() returned no tools")
    return specs, warnings


def _validate_tool(item: Any, where: str, problems: list[Problem], warnings: list[str],
                   limits: SchemaLimits) -> ToolSpec | None:
    if not isinstance(item, dict):
        problems.append(Problem(where, f"must be a dict with 'schema' and 'handler', got "
                                f"{type(item).__name__}"))
        return None
    before = len(problems)
    function = _normalise_schema(item.get("schema"), f"{where}.schema", problems, limits)
    facts = item.get("handler")  # describe_module's {"callable": bool, "wants_ctx": bool}
    facts = facts if isinstance(facts, dict) else {}
    is_callable, wants_ctx = facts.get("callable") is True, facts.get("wants_ctx") is True
    if not is_callable:
        problems.append(Problem(f"{where}.handler", "must be a function (sync or async)"))
    approval, writes = item.get("requires_approval", False), item.get("writes", False)
    for key, value in (("requires_approval", approval), ("writes", writes)):
        if not isinstance(value, bool):
            problems.append(Problem(f"{where}.{key}", "must be true or false"))
    timeout = item.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 < timeout <= MAX_TIMEOUT):
        problems.append(Problem(f"{where}.timeout", f"{timeout!r} must be a number of seconds "
                                f"greater than 0 and at most {MAX_TIMEOUT:g}"))
    unknown = sorted(set(item) - _TOOL_KEYS)
    warnings += [f"{where}: unknown key {key!r} ignored" for key in unknown]
    if function is None or len(problems) > before:
        return None
    return ToolSpec(name=function["name"], description=function.get("description", ""),
                    parameters=function.get("parameters", _EMPTY_PARAMETERS),
                    requires_approval=approval or writes, writes=writes,
                    timeout=float(timeout) if timeout else None, wants_ctx=wants_ctx)


def _normalise_schema(schema: Any, where: str, problems: list[Problem],
                      limits: SchemaLimits) -> dict[str, Any] | None:
    """Accept the bare function object or the OpenAI wrapper; return the function object."""
    if not isinstance(schema, dict):
        problems.append(Problem(where, "must be a dict: the OpenAI function object "
                                "{'name', 'description', 'parameters'} or its "
                                "{'type': 'function', 'function': {...}} wrapper"))
        return None
    if "function" in schema or schema.get("type") == "function":
        if schema.get("type") != "function" or not isinstance(schema.get("function"), dict):
            problems.append(Problem(where, "a wrapped schema needs type 'function' and a "
                                    "'function' dict"))
            return None
        schema, where = schema["function"], f"{where}.function"
    before = len(problems)
    name = schema.get("name")
    if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
        problems.append(Problem(f"{where}.name", f"{name!r} must match {TOOL_NAME_RE.pattern}"))
    if not isinstance(schema.get("description", ""), str):
        problems.append(Problem(f"{where}.description", "must be a string"))
    for key in sorted(set(schema) - _FUNCTION_KEYS):
        problems.append(Problem(f"{where}.{key}", "is not a field of an OpenAI function "
                                "(allowed: name, description, parameters, strict)"))
    if "parameters" in schema:
        _check_parameters(schema["parameters"], f"{where}.parameters", problems, limits)
    return schema if len(problems) == before else None


def _check_parameters(params: Any, where: str, problems: list[Problem],
                      limits: SchemaLimits) -> None:
    if not isinstance(params, dict):
        problems.append(Problem(where, "must be a JSON Schema object (a dict)"))
        return
    text = _as_json(params)
    try:
        _check_against_metaschema(params, text)
    except SchemaError as exc:
        path = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        problems.append(Problem(f"{where}{path}", f"is not valid JSON Schema: {exc.message}"))
        return
    if params.get("type") != "object":
        problems.append(Problem(f"{where}.type", "must be 'object': tool arguments are always "
                                "an object of named parameters"))
    problems += schema_problems(params, where, limits,
                                size=len(text) if text is not None else None)


_VALID_SCHEMAS: set[str] = set()


def _as_json(params: dict[str, Any]) -> str | None:
    """The schema as canonical JSON (the cache key, and its size); None if it is not JSON
    data, which check_schema then explains."""
    try:
        return json.dumps(params, sort_keys=True)
    except (TypeError, ValueError):
        return None


def _check_against_metaschema(params: dict[str, Any], key: str | None) -> None:
    """jsonschema's `check_schema`, remembered for schemas already found valid: it is ~3 ms
    a schema, most of start-up with many plugins, and tools repeat their schemas."""
    if key is not None and key in _VALID_SCHEMAS:
        return
    validator_for(params, default=Draft202012Validator).check_schema(params)
    if key is not None and len(_VALID_SCHEMAS) < 4096:
        _VALID_SCHEMAS.add(key)
