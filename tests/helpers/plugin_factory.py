"""Write small plugins to disk for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

TOOL_TEMPLATE = """
def {tool}({params}):
    {body}
"""


def plugin_source(name: str, *, version: str = "1.0.0", tools: dict[str, str] | None = None,
                  extra: str = "", permissions: tuple[str, ...] = ()) -> str:
    """A plugin module whose tools each take an optional `text` string argument.

    `tools` maps a tool name to the body of its handler (default: echo back `text`).
    """
    tools = tools if tools is not None else {f"{name}_echo": "return f'{name}:' + text"}
    parts = [textwrap.dedent(extra)]
    entries = []
    for tool, body in tools.items():
        is_async = body.startswith("async:")
        body = body.removeprefix("async:")
        parts.append(("async " if is_async else "")
                     + f"def {tool}(text='hi'):\n    " + body.replace("{name}", name) + "\n")
        entries.append(
            f"{{'schema': {{'name': '{tool}', 'description': 'tool {tool}', 'parameters': "
            f"{{'type': 'object', 'properties': {{'text': {{'type': 'string'}}}}}}}}, "
            f"'handler': {tool}, 'timeout': 2}}")
    parts.append(
        f"def get_manifest():\n    return {{'name': '{name}', 'version': '{version}', "
        f"'description': 'test plugin {name}', 'author': 'tests', "
        f"'permissions': {list(permissions)!r}}}\n")
    parts.append("def get_tools():\n    return [" + ", ".join(entries) + "]\n")
    return "\n".join(parts)


def write_plugin(directory: Path, name: str, source: str | None = None, *,
                 package: bool = True, **kwargs: object) -> Path:
    """Write plugin `name` under `directory` (as a package by default); return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    text = source if source is not None else plugin_source(name, **kwargs)  # type: ignore[arg-type]
    if package:
        path = directory / name
        path.mkdir(exist_ok=True)
        (path / "__init__.py").write_text(textwrap.dedent(text))
        return path
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


# A plugin whose one tool needs an admin's approval; RAN lists the calls that went through.
GATED = """
RAN = []
def restart(text='x'):
    RAN.append(text)
    return 'restarted ' + text
def get_manifest():
    return {'name': 'gated', 'version': '1.0.0'}
def get_tools():
    return [{'schema': {'name': 'restart', 'parameters': {'type': 'object', 'properties':
             {'text': {'type': 'string'}}}}, 'handler': restart, 'requires_approval': True}]
"""
