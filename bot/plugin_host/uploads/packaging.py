"""Plugin author tools: pack a plugin directory into an upload, scaffold a new plugin."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

from bot import messages
from bot.errors import BotError
from bot.plugin_host.contract.validation import plugin_name_problem

_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache",
              ".ruff_cache", "tests"}
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # same bytes for the same sources: same sha256


def pack_directory(path: Path) -> bytes:
    """Zip a plugin package as one top-level directory, source files only, reproducibly.

    Symbolic links and special files are refused, never followed: a link could pack a file
    from outside the plugin (a root-only key) into an upload that anyone can read."""
    if not path.exists():
        raise BotError(messages.no_such_directory(path))
    if not path.is_symlink() and not path.is_dir():
        raise BotError(messages.not_a_directory(path))
    if path.is_symlink() or not (path / "__init__.py").is_file() or \
            (path / "__init__.py").is_symlink():
        raise BotError(f"{path} is not a plugin package: it has no __init__.py")
    files = _source_files(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            relative = file.relative_to(path)
            info = zipfile.ZipInfo(f"{path.name}/{relative.as_posix()}", _FIXED_TIME)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def _source_files(root: Path) -> list[Path]:
    """The files to pack, walking without following links; refuses links and odd files."""
    files, refused = [], []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in [*dirnames, *filenames]:
            entry = here / name
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                refused.append(entry.relative_to(root).as_posix())
            elif stat.S_ISREG(mode) and not name.startswith(".") and \
                    entry.suffix not in (".pyc", ".pyo"):
                files.append(entry)
    if refused:
        raise BotError(messages.pack_refused_links(root, sorted(refused)))
    return sorted(files)


PLUGIN_TEMPLATE = '''"""{name} — describe what this plugin is for.

Protocol: see plugins/examples/hello_world and docs/plugins.md.
"""

from __future__ import annotations


def greet(name: str = "world") -> str:
    """A tool handler: gets the validated arguments as keyword arguments."""
    return f"Hello from {name}, {{name}}!"


def get_manifest() -> dict:
    return {{
        "name": "{name}",
        "version": "0.1.0",
        "description": "What {name} does",
        "author": "you",
        "permissions": [],  # add "network" if the tools open connections
    }}


def get_tools() -> list[dict]:
    return [
        {{
            "schema": {{
                "name": "{name}_greet",
                "description": "Greet someone by name.",
                "parameters": {{
                    "type": "object",
                    "properties": {{"name": {{"type": "string"}}}},
                    "additionalProperties": False,
                }},
            }},
            "handler": greet,
            "timeout": 10,
        }}
    ]
'''

TEST_TEMPLATE = '''"""Tests for {name}: run with `pytest` from this directory."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import {name}  # noqa: E402


def test_manifest_names_the_plugin():
    assert {name}.get_manifest()["name"] == "{name}"


def test_greet_tool():
    tools = {{t["schema"]["name"]: t["handler"] for t in {name}.get_tools()}}
    assert tools["{name}_greet"](name="SRE") == "Hello from {name}, SRE!"
'''


def scaffold(name: str, parent: Path, builtins: frozenset[str] = frozenset()) -> Path:
    """Create `parent/<name>/` (the plugin package) with `tests/`; return the package dir.
    A name an install would refuse is refused here, before anything is written."""
    problem = plugin_name_problem(name, builtins)
    if problem:
        raise BotError(problem)
    root = parent / name
    if root.exists():
        raise BotError(f"{root} already exists; choose another name or directory.")
    (root / "tests").mkdir(parents=True)
    (root / "__init__.py").write_text(PLUGIN_TEMPLATE.format(name=name))
    (root / "tests" / f"test_{name}.py").write_text(TEST_TEMPLATE.format(name=name))
    return root
