"""Find plugins on disk."""

from __future__ import annotations

from pathlib import Path

BUILTINS, EXAMPLES, UPLOADS = "builtins", "examples", "user_uploads"


def discover(directory: Path) -> dict[str, Path]:
    """Plugins directly under `directory`: packages (dirs with `__init__.py`) and `.py` files."""
    found: dict[str, Path] = {}
    if not directory.is_dir():
        return found
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir() and (entry / "__init__.py").is_file():
            found[entry.name] = entry
        elif entry.is_file() and entry.suffix == ".py":
            found[entry.stem] = entry
    return found
