"""The in-process loader: unique module names, relative imports, clean unloading."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.errors import PluginError
from bot.plugin_host.contract.loader import content_sha256, import_plugin, unload
from bot.plugin_host.runtime.in_process import InProcessHost


def write_versioned(root: Path, version: str) -> Path:
    """A package whose submodule `data` holds its version and whose tool imports it."""
    path = root / version / "twin"
    path.mkdir(parents=True)
    (path / "data.py").write_text(f"VERSION = {version!r}\n")
    (path / "__init__.py").write_text(
        "from . import data\n"
        "from .data import VERSION\n"
        "def which():\n    return data.VERSION\n"
        "def get_manifest():\n    return {'name': 'twin', 'version': VERSION}\n"
        "def get_tools():\n    return [{'schema': {'name': 'which'}, 'handler': which}]\n")
    return path


async def test_two_versions_do_not_see_each_others_modules(tmp_path: Path) -> None:
    v1 = InProcessHost(write_versioned(tmp_path, "1.0.0"), name="twin")
    v2 = InProcessHost(write_versioned(tmp_path, "2.0.0"), name="twin")
    one, two = await v1.load(), await v2.load()
    assert (one.manifest.version, two.manifest.version) == ("1.0.0", "2.0.0")
    from bot.sdk import ToolContext
    assert await v1.invoke(one.tools[0], {}, ToolContext()) == "1.0.0"
    assert await v2.invoke(two.tools[0], {}, ToolContext()) == "2.0.0"
    await v1.close()
    await v2.close()


def test_relative_imports_resolve_under_the_unique_name(tmp_path: Path) -> None:
    module = import_plugin(write_versioned(tmp_path, "1.0.0"), name="twin")
    assert module.__name__.startswith("_bot_plugin_twin_")
    assert f"{module.__name__}.data" in sys.modules
    assert "twin" not in sys.modules and "data" not in sys.modules
    unload(module.__name__)


def test_unload_removes_the_module_and_its_submodules(tmp_path: Path) -> None:
    module = import_plugin(write_versioned(tmp_path, "1.0.0"), name="twin")
    unload(module.__name__)
    assert not [k for k in sys.modules if k.startswith(module.__name__)]


def test_import_error_names_the_exception_and_line_and_leaves_no_module(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("x = 1\nimport does_not_exist_anywhere\n")
    before = set(sys.modules)
    with pytest.raises(PluginError) as info:
        import_plugin(path, name="broken")
    assert str(info.value) == ("plugin 'broken': import: ModuleNotFoundError: No module named "
                               "'does_not_exist_anywhere' (broken.py:2)")
    assert not [k for k in set(sys.modules) - before if k.startswith("_bot_plugin_broken")]


def test_sys_exit_at_import_is_a_plugin_error(tmp_path: Path) -> None:
    path = tmp_path / "quitter.py"
    path.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(PluginError, match=r"import: SystemExit: 3"):
        import_plugin(path, name="quitter")


def test_content_hash_ignores_bytecode_and_tracks_source(tmp_path: Path) -> None:
    path = write_versioned(tmp_path, "1.0.0")
    first = content_sha256(path)
    (path / "__pycache__").mkdir()
    (path / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert content_sha256(path) == first
    (path / "data.py").write_text("VERSION = 'changed'\n")
    assert content_sha256(path) != first
