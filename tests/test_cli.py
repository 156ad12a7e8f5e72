"""The operator CLI, end to end in a subprocess against a temp database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import messages
from tests.conftest import subprocess_env
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import run_bot


@pytest.fixture
def env(tmp_path: Path, plugins_dir: Path) -> dict[str, str]:
    write_plugin(plugins_dir / "builtins", "alpha", tools={
        "alpha_echo": "return 'alpha:' + text",
        "alpha_fail": "raise RuntimeError('broken on purpose')"})
    write_plugin(plugins_dir / "builtins", "beta")
    write_plugin(plugins_dir / "builtins", "leaky", tools={
        "leaky_dump": "import logging; logging.getLogger('plugin.leaky').warning("
                      "'connecting with password=hunter2-log'); "
                      "return 'DB_PASSWORD=hunter2-out \\x1b]0;pwned\\x07 \\x1b[2J done'"})
    return subprocess_env(tmp_path, plugins_dir)


def test_list_shows_every_plugin_as_a_table(env: dict[str, str]) -> None:
    result = run_bot(env, "plugin", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "NAME   VERSION  SOURCE   RUNS IN     STATUS    TOOLS",
        "alpha  1.0.0    builtin  in-process  disabled  alpha_echo, alpha_fail",
        "beta   1.0.0    builtin  in-process  disabled  beta_echo",
        "leaky  1.0.0    builtin  in-process  disabled  leaky_dump",
    ]


def test_enable_call_disable_round_trip(env: dict[str, str]) -> None:
    assert run_bot(env, "plugin", "enable", "alpha").stdout == (
        "Enabled alpha 1.0.0 (alpha_echo, alpha_fail).\n")
    called = run_bot(env, "plugin", "call", "alpha_echo", '{"text": "hello"}')
    assert (called.returncode, called.stdout) == (0, "alpha:hello\n")
    assert "enabled" in run_bot(env, "plugin", "info", "alpha").stdout
    assert run_bot(env, "plugin", "disable", "alpha").returncode == 0
    refused = run_bot(env, "plugin", "call", "alpha_echo", '{"text": "hello"}')
    assert refused.returncode == 1
    assert messages.unknown_tool("alpha_echo", []) in refused.stderr
    audit = run_bot(env, "plugin", "--actor", "ops-oncall", "audit").stdout
    assert "enable   alpha" in audit and "disable  alpha" in audit


def test_call_output_and_logs_are_masked_and_stripped_of_escapes(env: dict[str, str]) -> None:
    """Attack: `bot plugin call` printed tool output unmasked, with terminal escapes."""
    run_bot(env, "plugin", "enable", "leaky")
    called = run_bot(env | {"LOG_LEVEL": "DEBUG"}, "plugin", "call", "leaky_dump")
    assert called.returncode == 0, called.stderr
    assert called.stdout == "DB_PASSWORD=[REDACTED] ]0;pwned [2J done\n"
    assert "connecting with password=[REDACTED]" in called.stderr
    assert "hunter2" not in called.stdout + called.stderr
    assert "\x1b" not in called.stdout + called.stderr


def test_error_result_exits_1_with_the_message(env: dict[str, str]) -> None:
    run_bot(env, "plugin", "enable", "alpha")
    result = run_bot(env, "plugin", "call", "alpha_fail")
    assert result.returncode == 1
    assert result.stderr.startswith("Tool 'alpha_fail' failed: RuntimeError: broken on purpose")


def test_bad_json_arguments_are_a_usage_error(env: dict[str, str]) -> None:
    result = run_bot(env, "plugin", "call", "alpha_echo", "{text:")
    assert result.returncode == 2
    assert result.stderr.startswith("bot: ARGUMENTS must be a JSON object")
    assert run_bot(env, "plugin", "call", "alpha_echo", "[1]").returncode == 2


def test_unknown_plugin_gets_did_you_mean(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bot.db").unlink()  # a first run on a fresh machine
    first = run_bot(env, "plugin", "enable", "alpah")  # and says where it created the database
    refusal = "No plugin named 'alpah'. Did you mean 'alpha'?\n"
    created = f"bot: {messages.new_database(str(tmp_path / 'bot.db'))}\n"
    assert (first.returncode, first.stderr) == (1, created + refusal)
    again = run_bot(env, "plugin", "enable", "alpah")
    assert (again.returncode, again.stderr) == (1, refusal)


def test_actor_option_is_recorded(env: dict[str, str]) -> None:
    run_bot(env, "plugin", "--actor", "alice", "enable", "beta")
    assert "alice" in run_bot(env, "plugin", "audit", "1").stdout


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    assert run_bot(env, "plugin", "frobnicate").returncode == 2
    assert run_bot(env).returncode == 2


def test_malformed_setting_exits_2_with_one_line(env: dict[str, str]) -> None:
    result = run_bot(env | {"PORT": "nope"}, "plugin", "list")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("bot: invalid settings: PORT (")


def test_migrate_creates_the_schema(env: dict[str, str], tmp_path: Path) -> None:
    result = run_bot(env | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm' / 'x.db'}"},
                 "migrate")
    assert (result.returncode, result.stdout) == (0, "Database schema is up to date.\n")
    assert (tmp_path / "m" / "x.db").exists()


def test_help_imports_neither_the_settings_nor_the_app() -> None:
    """`bot --help` parses words and prints: pydantic, cryptography and SQLAlchemy (0.2-0.5
    s) are for the commands that read settings or the database."""
    probe = subprocess.run([sys.executable, "-c",
                            "import sys\nsys.argv = ['bot', '--help']\n"
                            "from bot.cli import main\ntry:\n    main()\n"
                            "except SystemExit:\n    pass\n"
                            "print(sorted(m for m in ('pydantic', 'cryptography', 'sqlalchemy', "
                            "'bot.config', 'bot.app') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip().splitlines()[-1] == "[]", probe.stdout + probe.stderr
    assert "environment variables" in probe.stdout


def test_commands_that_need_no_model_do_not_import_the_http_client() -> None:
    """Importing aiohttp costs about 0.15 s; plugin commands and start-up must not pay it."""
    probe = subprocess.run([sys.executable, "-c", "import sys, bot.app, bot.cli; "
                            "print('aiohttp' in sys.modules)"], capture_output=True, text=True,
                           timeout=60)
    assert probe.stdout.strip() == "False", probe.stderr
