"""The size rules of the style guide, checked on the code: modules under 400 lines,
functions under 50. (The walls between packages are import-linter's contracts and the types
mypy's: tests/test_static.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def _modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def test_modules_are_under_400_lines() -> None:
    long = {str(p.relative_to(BOT)): n for p in _modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, long


def test_functions_are_under_50_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(BOT)}:{node.name}"] = size
    assert len(list(_modules())) > 40  # the walk found the code
    assert not long, long

