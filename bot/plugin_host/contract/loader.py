"""Import plugin code under a unique module name, and remove it again.

Each load gets its own top-level module name (`_bot_plugin_<name>_<n>`), so two versions of
one plugin never share `sys.modules` entries; inside a package, relative imports resolve under
that name. `unload` removes the module and all its submodules.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

from bot.errors import PluginError, Problem
from bot.plugin_host.contract.describe import describe_exception

_counter = itertools.count(1)
_SKIP_PARTS = {"__pycache__"}


def entry_file(path: Path) -> Path:
    """The file executed for a plugin at `path`: a package's `__init__.py` or the module."""
    return path / "__init__.py" if path.is_dir() else path


def import_plugin(path: Path, *, name: str) -> ModuleType:
    """Execute the plugin at `path` as a fresh module; raise `PluginError` if it fails."""
    module_name = f"_bot_plugin_{name}_{next(_counter)}"
    entry = entry_file(path)
    if not entry.is_file():
        raise PluginError(name, [Problem("files", f"{entry} is missing")])
    locations = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(module_name, entry,
                                                  submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise PluginError(name, [Problem("files", f"cannot import {entry}")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        unload(module_name)
        raise PluginError(name, [Problem("import", describe_exception(exc))]) from exc
    return module


def unload(module_name: str) -> None:
    """Forget a plugin module and every submodule imported under it."""
    prefix = module_name + "."
    for key in [k for k in sys.modules if k == module_name or k.startswith(prefix)]:
        del sys.modules[key]


def content_sha256(path: Path) -> str:
    """A digest of a plugin's files (names and bytes), ignoring bytecode caches."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        relative = file.relative_to(path) if path.is_dir() else Path(file.name)
        if _SKIP_PARTS.intersection(relative.parts) or file.suffix == ".pyc":
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()
