"""The walls between packages and the types, checked by the tools made for it: import-linter
keeps the contracts in pyproject.toml ([tool.importlinter]), mypy checks bot/ strictly
([tool.mypy]). A violation fails the suite, and so CI, with the tool's own report."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_every_import_contract_is_kept() -> None:
    done = run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 4


def contract(name: str) -> dict[str, list[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    found: dict[str, list[str]] = next(c for c in config["contracts"] if c["name"] == name)
    return found


TOP = {f"bot.{p.stem}" for p in (REPO / "bot").iterdir()
       if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.stem.startswith("_")}


def test_every_package_but_the_store_is_walled_off_from_sql() -> None:
    """A new top-level module is in the SQL contract's sources, or the wall has a gap."""
    assert TOP - {"bot.store"} == set(contract("Only the store speaks SQL")["source_modules"])


STORE_ENGINE = {"bot.store.database", "bot.store.urls", "bot.store.migrate", "bot.store.changes",
                "bot.store.models", "bot.store.repositories"}


def test_every_store_service_leaves_sql_to_the_repositories() -> None:
    """A new module in bot/store is a service (and listed) or part of the engine."""
    store = REPO / "bot" / "store"
    modules = {f"bot.store.{p.stem}" for p in store.iterdir()
               if (p.suffix == ".py" or (p / "__init__.py").exists() or p.is_dir())
               and not p.stem.startswith("_")}
    services = set(contract("In the store, SQL is written by the repositories")
                   ["source_modules"])
    assert modules - STORE_ENGINE == services


def test_the_leaves_may_import_only_each_other_the_redactor_and_the_sdk() -> None:
    """A new top-level module is forbidden to the leaves, or they could grow a root."""
    leaves = contract("Settings, errors and sentences are leaves")
    allowed = {*leaves["source_modules"], "bot.redaction", "bot.sdk"}
    assert TOP - allowed == set(leaves["forbidden_modules"])


def test_mypy_finds_no_error_in_the_bot() -> None:
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success")


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("bot/store/audit.py", "from bot.plugin_host.lifecycle import manager  # noqa",
     "imports nothing"),
    ("bot/slack/feedback.py", "import sqlalchemy  # noqa", "speaks SQL"),
    ("bot/plugin_host/policy/approval_rules.py", "from sqlalchemy import select  # noqa",
     "speaks SQL"),
    ("bot/slack/render.py", "from bot.plugin_host.runtime import registry  # noqa",
     "only through its __init__"),
    ("bot/agent/context.py", "from bot.slack import render  # noqa", "know no surface"),
    ("bot/config.py", "from bot.store.urls import normalise_database_url  # noqa", "leaves"),
    ("bot/errors.py", "from bot import plugin_host  # noqa", "leaves"),
    ("bot/store/shared_runs.py", "from sqlalchemy import select  # noqa", "repositories"),
    ("bot/slack/mentions.py", "from bot.store.models import SlackRunRow  # noqa",
     "never its SQL layer"),
    ("bot/agent/paging.py", "from bot.store.run_records import RunRecords  # noqa",
     "protocols it owns"),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path: Path, module: str, line: str,
                                                 contract: str) -> None:
    """The contracts are not vacuous: a copy of the code with one forbidden import added
    fails them, naming the contract."""
    copy = tmp_path / "repo"
    copy.mkdir()
    (copy / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    subprocess.run(["cp", "-r", str(REPO / "bot"), str(copy / "bot")], check=True)
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=copy,
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy)})
    assert done.returncode != 0
    assert "BROKEN" in done.stdout and contract in done.stdout


def test_the_sdk_exports_exactly_what_the_plugin_docs_document() -> None:
    import re

    import bot.sdk

    documented = set(re.findall(r"^### `bot\.sdk\.(\w+)", (REPO / "docs" / "plugins.md")
                                .read_text(), flags=re.MULTILINE))
    assert documented == set(bot.sdk.__all__)
    assert all(hasattr(bot.sdk, name) for name in bot.sdk.__all__)


def test_ruff_refuses_a_reach_into_the_managers_lock(tmp_path: Path) -> None:
    """The manager's lock, transition, database and active set are underscored; ruff's
    SLF001 (on for bot/) fails a module that touches them instead of using `change`."""
    module = tmp_path / "reach.py"
    module.write_text("async def sneak(manager: object) -> None:\n"
                      "    async with manager._lock:  # type: ignore[attr-defined]\n"
                      "        pass\n")
    done = run("ruff", "check", "--config", str(REPO / "pyproject.toml"), str(module))
    assert done.returncode != 0 and "SLF001" in done.stdout, done.stdout
    assert run("ruff", "check", "bot").returncode == 0  # and the bot has none
