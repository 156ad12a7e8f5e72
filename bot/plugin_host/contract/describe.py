"""Turn a plugin module into plain data: the one path for builtins and uploads alike.

Standard library only: the sandbox copies this file next to the worker, which imports an
uploaded plugin and calls `describe_module` exactly as the in-process host does for a
builtin. The bot then validates the data in one place (`validation.check_description`).

The data: {"get_manifest": ..., "get_tools": [...]} with each tool's handler replaced by
{"callable": bool, "wants_ctx": bool}, or "<entry>_error" keys saying what went wrong.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any

ENTRY_POINTS = ("get_manifest", "get_tools")


def describe_module(module: object, config: Mapping[str, Any] | None = None
                    ) -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    """Call the plugin's entry points; return its description and its handlers by tool name.

    `get_tools(config)` (or `get_tools(config=...)`) receives the plugin's settings."""
    out: dict[str, Any] = {}
    for attr in ENTRY_POINTS:
        func = getattr(module, attr, None)
        if func is None:
            out[f"{attr}_error"] = "is missing: a plugin must define it"
        elif not callable(func):
            out[f"{attr}_error"] = f"is a {type(func).__name__}, not a function"
        else:
            try:
                out[attr] = func(config=dict(config or {})) if _takes_config(func) else func()
            except (Exception, SystemExit) as exc:  # plugin code: a problem, never a crash
                out[f"{attr}_error"] = f"raised {describe_exception(exc)}"
    handlers: dict[str, Callable[..., Any]] = {}
    if isinstance(out.get("get_tools"), list | tuple):
        out["get_tools"] = [_describe_tool(item, handlers) for item in out["get_tools"]]
    return out, handlers


def describe_exception(exc: BaseException) -> str:
    """`TypeError: message (file.py:12)` — one line, pointing at the innermost frame."""
    where = ""
    tb, innermost = exc.__traceback__, None
    while tb is not None:  # the innermost frame of real code (not importlib's <frozen …>)
        if not tb.tb_frame.f_code.co_filename.startswith("<"):
            innermost = tb
        tb = tb.tb_next
    if innermost is not None and not isinstance(exc, SyntaxError):  # it names its own line
        where = (f" ({os.path.basename(innermost.tb_frame.f_code.co_filename)}:"
                 f"{innermost.tb_lineno})")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


def _describe_tool(item: Any, handlers: dict[str, Callable[..., Any]]) -> Any:
    if not isinstance(item, dict):
        return item
    described = dict(item)
    handler = item.get("handler")
    described["handler"] = {"callable": callable(handler),
                            "wants_ctx": callable(handler) and _wants_ctx(handler)}
    schema = item.get("schema")
    function = schema.get("function") if isinstance(schema, dict) else None
    function = function if isinstance(function, dict) else schema
    if callable(handler) and isinstance(function, dict) and isinstance(function.get("name"),
                                                                       str):
        handlers[function["name"]] = handler
    return described


def _takes_config(func: Callable[..., Any]) -> bool:
    try:
        return "config" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _wants_ctx(handler: Callable[..., Any]) -> bool:
    try:
        parameter = inspect.signature(handler).parameters.get("ctx")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY
