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



# Where a sentence may be written outside bot/messages: beside the rule it reports
# (settings, manifests, schemas, Kubernetes names), or in a built-in tool's output, which
# is the model's input, as kubectl's own errors are.
SENTENCES_BESIDE_THEIR_RULE = ("messages/", "kube/", "config.py", "plugin_host/contract/")
SPEAKING_CALLS = {"print", "_print", "CommandResult", "respond", "chat_postMessage",
                  "chat_postEphemeral", "Check", "Outcome", "BotError", "ConfigError",
                  "ConflictError", "ToolFailure", "ToolError", "DatabaseFault", "Problem"}


def _sentence(node: ast.expr) -> str | None:
    """The literal text at the start of `node` if it starts like a sentence ("No tools.")."""
    head = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
    if isinstance(head, ast.Constant) and isinstance(head.value, str):
        text = head.value.lstrip("\n")
        words = text.split(" ")
        if len(words) > 1 and words[0][:1].isupper() and words[0][1:].islower():
            return text
    return None


def test_every_sentence_a_surface_says_is_in_messages() -> None:
    """The text rule, made true: a user-facing call (print, a command's result, a Slack
    post) never carries a sentence written in place."""
    found = {}
    for path in _modules():
        where = str(path.relative_to(BOT))
        if where.startswith(SENTENCES_BESIDE_THEIR_RULE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in SPEAKING_CALLS and not str(name).endswith(("Error", "Failure")):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "text")]:
                text = _sentence(arg)
                if text:
                    found[f"{where}:{node.lineno}"] = text[:60]
    assert not found, found
    assert _sentence(ast.parse('f"No plugins named {x}."').body[0].value)  # type: ignore[attr-defined]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/helpers (and fakes in tests/fakes): a test module is
    never another's library, so each can be read, moved or deleted alone."""
    tests = BOT.parent / "tests"
    found = {}
    for path in [*tests.rglob("*.py"), *(BOT.parent / "bench").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(name.startswith("tests.test_") for name in names):
                found[str(path.relative_to(BOT.parent))] = names
    assert not found, found


def test_the_architecture_doc_names_every_module() -> None:
    """docs/architecture.md is the map newcomers read: a module it does not name is a
    room missing from the map (issue 29)."""
    doc = (BOT.parent / "docs" / "architecture.md").read_text()
    unnamed = [str(path.relative_to(BOT)) for path in _modules()
               if path.name not in ("__init__.py", "__main__.py") and path.name not in doc]
    assert not unnamed, unnamed
