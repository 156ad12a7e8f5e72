"""Operating the bot: several databases meeting one plugins dir lose nothing, the staging
sweep spares installs in progress, `bot plugin gc` asks before it deletes, and the CLI
finds its builtins from any directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import messages
from bot.plugin_host.uploads.upload_dir import Owner, UploadDir
from tests.conftest import REPO, subprocess_env
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import run_bot


def database(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def make_env(tmp_path: Path, plugins_dir: Path, db: str) -> dict[str, str]:
    return subprocess_env(tmp_path, plugins_dir, DATABASE_URL=database(tmp_path / db),
                          PLUGIN_SANDBOX="process")


def test_a_second_database_leaves_the_first_ones_uploads_alone(
        tmp_path: Path, plugins_dir: Path) -> None:
    first = make_env(tmp_path, plugins_dir, "a.db")
    package = write_plugin(tmp_path / "src", "mine")
    installed = run_bot(first, "plugin", "install", str(package))
    assert installed.returncode == 0, installed.stderr
    version_dirs = list((plugins_dir / "user_uploads" / "mine").iterdir())

    second = make_env(tmp_path, plugins_dir, "b.db")
    listed = run_bot(second, "plugin", "list")  # once deleted every upload a.db had
    notice = messages.uploads_owned_elsewhere(plugins_dir / "user_uploads", str(tmp_path / "a.db"))
    assert listed.returncode == 0 and f"bot: {notice}" in listed.stderr
    refused = run_bot(second, "plugin", "install", str(write_plugin(tmp_path / "src2", "theirs")))
    assert refused.returncode == 1 and notice in refused.stderr
    gc = run_bot(second, "plugin", "gc", "--yes")
    assert gc.returncode == 1 and notice in gc.stderr

    assert list((plugins_dir / "user_uploads" / "mine").iterdir()) == version_dirs
    assert not (plugins_dir / "user_uploads" / "theirs").exists()
    info = run_bot(first, "plugin", "info", "mine")
    assert info.returncode == 0 and "Status:      disabled" in info.stdout, info.stdout
    assert notice not in info.stderr


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_plugin_check_writes_nothing_and_checks_an_installed_plugin_too(
        tmp_path: Path, plugins_dir: Path) -> None:
    """`bot plugin check` changes nothing: on a fresh machine no database is created (it
    says the versions were not compared); after an install it reads the database without
    changing a byte, and says the plugin is installed already instead of refusing it."""
    env = make_env(tmp_path, plugins_dir, "a.db")
    package = write_plugin(tmp_path / "src", "diskcheck")
    fresh = run_bot(env, "plugin", "check", str(package))
    assert fresh.returncode == 0, fresh.stderr
    assert messages.check_passed("diskcheck", "1.0.0") in fresh.stdout
    assert messages.check_not_compared(messages.no_database_yet(str(tmp_path / "a.db"))) in (
        fresh.stdout)
    assert not (tmp_path / "a.db").exists() and fresh.stderr == ""
    assert not any(p.is_file() for p in (plugins_dir / "user_uploads").rglob("*"))

    assert run_bot(env, "plugin", "install", str(package)).returncode == 0
    changed = write_plugin(tmp_path / "src2", "diskcheck",
                           tools={"diskcheck_echo": "return 'other'"})
    before = files_under(tmp_path)
    again = run_bot(env, "plugin", "check", str(package))
    assert again.returncode == 0, again.stderr
    assert messages.check_already_installed("diskcheck", "1.0.0") in again.stdout
    assert files_under(tmp_path) == before  # the database and the uploads, byte for byte

    refused = run_bot(env, "plugin", "check", str(changed))
    assert refused.returncode == 1
    assert messages.same_version("diskcheck", "1.0.0", identical=False) in refused.stderr
    assert files_under(tmp_path) == before


def test_gc_lists_asks_and_deletes_only_what_no_version_uses(
        tmp_path: Path, plugins_dir: Path) -> None:
    env = make_env(tmp_path, plugins_dir, "a.db")
    assert run_bot(env, "plugin", "install", str(write_plugin(tmp_path / "src", "kept"))
               ).returncode == 0
    orphan = plugins_dir / "user_uploads" / "kept" / ("0" * 64)
    orphan.mkdir()
    (orphan / "kept.py").write_text("left by an interrupted install\n")

    declined = run_bot(env, "plugin", "gc", stdin="n\n")
    assert declined.returncode == 1
    assert str(orphan) in declined.stdout and messages.gc_kept() in declined.stdout
    assert orphan.exists()
    deleted = run_bot(env, "plugin", "gc", "--yes")
    assert deleted.returncode == 0 and messages.gc_done(1) in deleted.stdout
    assert not orphan.exists()
    assert messages.gc_nothing(plugins_dir / "user_uploads") in run_bot(env, "plugin", "gc").stdout
    called = run_bot(env, "plugin", "info", "kept")
    assert called.returncode == 0 and "error" not in called.stdout
    assert "gc" in run_bot(env, "plugin", "audit", "1").stdout


def test_a_console_left_running_on_another_database_never_takes_the_uploads_over(
        tmp_path: Path) -> None:
    """b (a console on another database) opened the plugins dir while nobody owned it; a
    claims it with its first install. b's install, unpack or gc after that sees the claim
    on the disk, not what it read at start: it claims nothing and deletes nothing."""
    a_db, b_db = Owner("id-a", "sqlite:///a.db"), Owner("id-b", "sqlite:///b.db")
    a, b = UploadDir(tmp_path), UploadDir(tmp_path)
    assert b.open(b_db, has_versions=False) is None  # nobody's yet
    assert a.open(a_db, has_versions=False) is None
    a.claim()
    b.claim()  # what b's install or unpack does first
    assert a.read_owner() == a_db and a.ours
    assert b.theirs and not b.ours  # so b's install and gc are refused, naming a.db
    assert b.owner == a_db


def test_the_staging_sweep_spares_an_install_in_progress(tmp_path: Path) -> None:
    ours, other_process = UploadDir(tmp_path), UploadDir(tmp_path)
    abandoned = other_process.staging / "abandoned"
    abandoned.mkdir(parents=True)  # its installer died: no lock is held on it
    with ours.staging_area() as area:
        (area / "half-unpacked.py").write_text("")
        assert other_process.sweep_staging() == [abandoned]
        assert area.exists()
    assert not area.exists() and list(ours.staging.iterdir()) == []


def test_builtins_are_found_from_any_directory(tmp_path: Path, plugins_dir: Path) -> None:
    env = subprocess_env(tmp_path, plugins_dir)
    del env["PLUGINS_DIR"]  # the default: the plugins/ next to the code
    elsewhere = tmp_path / "my-plugin"
    elsewhere.mkdir()
    uploads = REPO / "plugins" / "user_uploads"
    before = sorted(p.name for p in uploads.iterdir())
    run_bot(env, "plugin", "list", cwd=elsewhere)  # the second run has the builtins' rows
    listed = run_bot(env, "plugin", "list", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert sorted(p.name for p in uploads.iterdir()) == before  # opening claimed nothing
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert names == sorted(os.listdir(REPO / "plugins" / "builtins"))
    assert not (elsewhere / "plugins").exists() and not (elsewhere / "data").exists()


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("DATABASE_URL", "nonsense", "DATABASE_URL (is not a database URL"),
    ("DATABASE_URL", "postgresql://bot:pw@db.invalid/bot",
     "The database postgresql+asyncpg://bot:***@db.invalid/bot cannot be used: the server "
     "cannot be reached"),
    ("DATABASE_URL", "postgresql://bot:pw@127.0.0.1:9/bot",
     "cannot be used: the server cannot be reached (Connect call failed"),
    ("DATABASE_URL", "mysql://bot:pw@db.invalid/bot", "names the 'mysql' backend"),
    ("DATABASE_URL", "sqlite+aiosqlite:////proc/no/such/dir/bot.db",
     "The database /proc/no/such/dir/bot.db cannot be used"),
    ("PLUGIN_CONFIG", "{bad", "PLUGIN_CONFIG (is not valid JSON"),
    ("KUBECONFIG", "/no/such/kubeconfig", "KUBECONFIG (names /no/such/kubeconfig, which is "
                                          "not a file"),
    ("PORT", "http", "PORT (Input should be a valid integer"),
    ("PLUGINS_DIR", "/etc/passwd", "PLUGINS_DIR (names /etc/passwd, which is not a directory"),
])
def test_each_start_up_fault_is_one_line_and_exit_2(tmp_path: Path, plugins_dir: Path,
                                                    setting: str, value: str,
                                                    says: str) -> None:
    env = subprocess_env(tmp_path, plugins_dir) | {setting: value}
    for command in (["plugin", "list"], ["migrate"], ["console"]):
        result = run_bot(env, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and says in result.stderr, result.stderr
        assert result.stderr.startswith("bot: ")
        assert "pw" not in result.stderr.replace("pip", "")  # a URL's password is masked


def test_a_plugins_dir_without_builtins_is_said_at_start(tmp_path: Path,
                                                        plugins_dir: Path) -> None:
    """A typo in PLUGINS_DIR used to leave the bot silently without kubectl and k8sgpt."""
    typo = tmp_path / "plugnis"
    env = subprocess_env(tmp_path, plugins_dir) | {"PLUGINS_DIR": str(typo)}
    listed = run_bot(env, "plugin", "list")
    assert listed.returncode == 0, listed.stderr
    notice = f"bot: {messages.no_builtins_at_start(typo)}"
    assert listed.stderr.splitlines().count(notice) == 1, listed.stderr
    quiet = run_bot(subprocess_env(tmp_path, plugins_dir), "plugin", "list")
    assert quiet.returncode == 0 and "builtins/ folder" not in quiet.stderr


def test_a_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from bot.store.urls import normalise_database_url

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "asyncpg" else real(name, *a))
    with pytest.raises(ValueError) as raised:
        normalise_database_url("postgresql://bot:pw@db/bot")
    assert str(raised.value) == ("needs the asyncpg driver, which is not installed: "
                                 "pip install -e '.[postgres]'")


def test_author_and_operator_mistakes_are_one_clear_line(tmp_path: Path,
                                                          plugins_dir: Path) -> None:
    write_plugin(plugins_dir / "builtins", "netdiag")
    env = make_env(tmp_path, plugins_dir, "a.db")
    work = tmp_path / "work"
    work.mkdir()
    for name, says in (("json", messages.shadows_stdlib("json")),
                       ("netdiag", messages.shadows_builtin("netdiag"))):
        made = run_bot(env, "plugin", "new", name, cwd=work)
        assert (made.returncode, made.stderr) == (1, f"bot: {says}\n")
        assert not (work / name).exists()
    missing = run_bot(env, "plugin", "install", str(work / "missing.zip"))
    assert missing.stderr.splitlines()[-1] == (
        f"Refused {work / 'missing.zip'}: cannot read {work / 'missing.zip'}: "
        "No such file or directory")
    (work / "empty.zip").write_bytes(b"")
    empty = run_bot(env, "plugin", "install", str(work / "empty.zip"))
    assert messages.upload_empty("empty.zip") in empty.stderr
    broken = work / "broken"
    broken.mkdir()
    (broken / "__init__.py").write_text("def get_manifest(:\n")
    checked = run_bot(env, "plugin", "check", str(broken))
    assert f"Refused {broken}/: " in checked.stderr and "frozen" not in checked.stderr
    assert "SyntaxError: invalid syntax (__init__.py, line 1)" in checked.stderr
    packed = run_bot(env, "plugin", "pack", str(work / "nosuchdir"))
    assert packed.stderr == f"bot: {messages.no_such_directory(work / 'nosuchdir')}\n"
    for count in ("0", "-5"):
        audit = run_bot(env, "plugin", "audit", count)
        assert (audit.returncode, audit.stderr.strip()) == (
            1, messages.audit_count_not_positive(int(count)))
    assert run_bot(env, "--actor", "alice", "plugin", "enable", "netdiag").returncode == 0
    assert "alice" in run_bot(env, "plugin", "audit", "1").stdout


@pytest.mark.parametrize("url", ["not-a-url", "ftp://models.example.com/v1"])
def test_a_model_url_that_is_no_http_url_is_refused_at_start(
        tmp_path: Path, plugins_dir: Path, url: str) -> None:
    env = subprocess_env(tmp_path, plugins_dir, OPENAI_BASE_URL=url)
    result = run_bot(env, "console")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"bot: invalid settings: OPENAI_BASE_URL ('{url}' is not "
                                    "an http(s) URL")


def test_every_command_says_settings_come_from_the_environment() -> None:
    env = dict(os.environ)
    for command in (["--help"], ["run", "--help"], ["console", "--help"],
                    ["migrate", "--help"], ["doctor", "--help"], ["plugin", "--help"]):
        shown = run_bot(env, *command).stdout
        assert "environment variables" in shown.replace("\n", " "), command
    assert "Socket Mode" in run_bot(env, "run", "--help").stdout


def test_the_console_refuses_a_directory_that_is_no_package_and_carries_on(
        tmp_path: Path, plugins_dir: Path) -> None:
    env = make_env(tmp_path, plugins_dir, "a.db")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "tool.py").write_text("x = 1\n")
    result = run_bot(env, "console", stdin=f"upload {plain}\n/plugin list\nexit\n")
    assert result.returncode == 0
    assert f"{plain} is not a plugin package: it has no __init__.py" in result.stdout
    assert result.stdout.rstrip().endswith("Bye.")
    assert "No plugins installed." in result.stdout  # the next queued line ran
