"""The size rule of the style guide, checked on the code: functions under 50 lines. A
module's size is cohesion's call, not a cap's (issue 29); the walls between packages are
import-linter's contracts and the types mypy's (tests/test_static.py)."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
MAX_FUNCTION_LINES = 50


def _modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


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

