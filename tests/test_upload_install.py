"""The install pipeline: faulty plugin code, versions, rollback, restarts and crashes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from tests.conftest import REPO, snapshot_state
from tests.helpers import zips
from tests.helpers.plugin_factory import plugin_source
from tests.helpers.processes import run_bot

Make = Callable[..., Awaitable[Services]]


@pytest.fixture
async def services(upload_services: Make) -> Services:
    services = await upload_services()
    assert (await services.installer.install(zips.package("goodone"), "goodone.zip",
                                             actor="U1")).ok
    return services


async def refused(services: Services, source: str, name: str = "faulty") -> str:
    before = await snapshot_state(services)
    result = await services.installer.install(zips.package(name, source), f"{name}.zip",
                                              actor="U1")
    assert not result.ok, result.message
    assert await snapshot_state(services) == before
    return result.message


GOOD_MANIFEST = "def get_manifest():\n    return {'name': 'faulty', 'version': '1.0.0'}\n"


async def test_missing_get_tools(services: Services) -> None:
    assert await refused(services, GOOD_MANIFEST) == (
        "Refused faulty.zip: get_tools(): is missing: a plugin must define it")


async def test_syntax_error(services: Services) -> None:
    message = await refused(services, "def broken(:\n    pass\n")
    assert message.startswith("Refused faulty.zip: import: SyntaxError:")


async def test_import_of_a_missing_module(services: Services) -> None:
    assert await refused(services, "import not_installed_anywhere\n") == (
        "Refused faulty.zip: import: ModuleNotFoundError: No module named "
        "'not_installed_anywhere' (__init__.py:1)")


async def test_get_tools_raising(services: Services) -> None:
    source = GOOD_MANIFEST + "def get_tools():\n    raise KeyError('config')\n"
    assert await refused(services, source) == (
        "Refused faulty.zip: get_tools(): raised KeyError: 'config' (__init__.py:4)")


async def test_sys_exit_at_import(services: Services) -> None:
    assert await refused(services, "import sys\nsys.exit(4)\n") == (
        "Refused faulty.zip: import: SystemExit: 4 (__init__.py:2)")


async def test_os_exit_at_import(services: Services) -> None:
    assert await refused(services, "import os\nos._exit(7)\n") == (
        "Refused faulty.zip: import: the worker process exited with code 7 while loading "
        "the plugin (sys.exit or os._exit at import?)")


async def test_endless_import_is_stopped_by_the_probe_timeout(services: Services) -> None:
    assert await refused(services, "while True:\n    pass\n") == (
        "Refused faulty.zip: import: did not finish within 3 s (endless loop at import?)")


async def test_invalid_tool_schema(services: Services) -> None:
    source = plugin_source("faulty").replace("'type': 'object'", "'type': 'obj'")
    message = await refused(services, source)
    assert message.startswith("Refused faulty.zip: tools[0].schema.parameters.type: is not "
                              "valid JSON Schema:")


async def test_bad_version_and_mismatched_name_reported_together(services: Services) -> None:
    source = plugin_source("other", version="latest")
    message = await refused(services, source)
    assert message.startswith("Refused faulty.zip (2 problems):")
    assert "- manifest.name: 'other' does not match the plugin's directory" in message
    assert "- manifest.version: 'latest' is not a valid PEP 440 version" in message


async def test_same_version_with_different_content_is_refused(services: Services) -> None:
    changed = plugin_source("goodone", tools={"goodone_echo": "return 'changed'"})
    message = await refused(services, changed, name="goodone")
    assert message == ("Refused goodone.zip: goodone 1.0.0 is already installed with "
                       "different content: bump the version in get_manifest() and upload "
                       "again.")


async def test_check_reports_without_installing(services: Services) -> None:
    before = await snapshot_state(services)
    ok = await services.installer.check(zips.package("fresh"), "fresh.zip")
    bad = await services.installer.check(zips.package("faulty", "import nope\n"), "f.zip")
    assert ok.ok and ok.message == messages.check_passed("fresh", "1.0.0")
    assert not bad.ok and "No module named 'nope'" in bad.message
    assert await snapshot_state(services) == before


async def test_upgrade_and_rollback_survive_restarts(upload_services: Make) -> None:
    first = await upload_services()
    v1 = zips.package("shifty", tools={"shifty_which": "return 'v1'"}, version="1.0.0")
    v2 = zips.package("shifty", tools={"shifty_which": "return 'v2'"}, version="2.0.0")
    assert (await first.installer.install(v1, "s.zip", actor="U1")).ok
    await first.plugins.enable("shifty", actor="U1")
    upgraded = await first.installer.install(v2, "s.zip", actor="U1")
    assert upgraded.message == ("Installed shifty 2.0.0 (replacing 1.0.0). It is enabled: the "
                                "agent uses the new code now.")
    assert (await first.registry.call("shifty_which")).text == "v2"
    await first.close()

    second = await upload_services()
    assert (await second.registry.call("shifty_which")).text == "v2"
    assert (await second.plugins.rollback("shifty", actor="U1")).message == (
        "Rolled shifty back from 2.0.0 to 1.0.0.")
    assert (await second.registry.call("shifty_which")).text == "v1"
    await second.close()

    third = await upload_services()
    info = await third.plugins.info("shifty")
    assert (info.version, [v.version for v in info.versions]) == ("1.0.0", ["1.0.0", "2.0.0"])
    assert (await third.registry.call("shifty_which")).text == "v1"
    assert (await third.plugins.rollback("shifty", "2.0.0", actor="U1")).changed


async def test_rollback_errors(services: Services) -> None:
    from bot.errors import ConflictError, NotFoundError
    with pytest.raises(ConflictError, match=r"no version installed before 1\.0\.0"):
        await services.plugins.rollback("goodone", actor="U1")
    with pytest.raises(NotFoundError, match=r"No installed version of goodone named '9\.9'"):
        await services.plugins.rollback("goodone", "9.9", actor="U1")


async def test_remove_deletes_files_and_rows_but_keeps_the_audit(services: Services) -> None:
    outcome = await services.plugins.remove("goodone", actor="U1")
    assert outcome.message.startswith("Removed goodone")
    assert not (services.settings.plugins_dir / "user_uploads" / "goodone").exists()
    assert [p.name for p in await services.plugins.list()] == []
    actions = [e.action for e in await services.audit.recent(10, target="goodone")]
    assert actions == ["remove", "install"]


CRASH_SCRIPT = """
import asyncio, logging, os, sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from bot.app import build_services
from bot.config import load_settings
from tests.helpers import zips

class DieAtTheMarker(logging.Handler):
    # the process dies where the installer says the files are in place, before the commit
    def emit(self, record):
        if record.getMessage().startswith("moved crashy 2.0.0 into "):
            os._exit(9)

installer_log = logging.getLogger("bot.plugin_host.uploads.installer")
installer_log.setLevel(logging.INFO)
installer_log.addHandler(DieAtTheMarker())

async def main():
    settings = load_settings(database_url={url!r}, plugins_dir={plugins!r},
                             plugin_sandbox="process", plugin_uid_range={uids!r})
    services = await build_services(settings, default_enabled=frozenset())
    v2 = zips.package("crashy", tools={{"crashy_which": "return 'v2'"}}, version="2.0.0")
    await services.installer.install(v2, "crashy.zip", actor="U1")

asyncio.run(main())
"""


async def test_crash_between_move_and_commit_leaves_a_consistent_state(
        upload_services: Make, tmp_path: Path) -> None:
    first = await upload_services()
    v1 = zips.package("crashy", tools={"crashy_which": "return 'v1'"}, version="1.0.0")
    assert (await first.installer.install(v1, "crashy.zip", actor="U1")).ok
    await first.plugins.enable("crashy", actor="U1")
    settings = first.settings
    await first.close()
    script = CRASH_SCRIPT.format(repo=str(REPO), tests=str(REPO), url=settings.database_url,
                                 plugins=str(settings.plugins_dir),
                                 uids=settings.plugin_uid_range)
    crashed = await asyncio.create_subprocess_exec(sys.executable, "-c", textwrap.dedent(script))
    assert await asyncio.wait_for(crashed.wait(), 60) == 9
    crashy_dir = settings.plugins_dir / "user_uploads" / "crashy"
    assert len(list(crashy_dir.iterdir())) == 2  # v2's files were moved, then the crash

    after = await upload_services()
    assert len(list(crashy_dir.iterdir())) == 2  # start-up deletes no version directory
    orphans = await after.installer.unreferenced()
    assert [p.parent.name for p in orphans] == ["crashy"] and len(orphans) == 1
    await after.installer.collect(orphans, actor="U1")  # what `bot plugin gc` does
    assert len(list(crashy_dir.iterdir())) == 1
    info = await after.plugins.info("crashy")
    assert (info.version, [v.version for v in info.versions]) == ("1.0.0", ["1.0.0"])
    assert (await after.registry.call("crashy_which")).text == "v1"
    v2 = zips.package("crashy", tools={"crashy_which": "return 'v2'"}, version="2.0.0")
    assert (await after.installer.install(v2, "crashy.zip", actor="U1")).ok
    assert (await after.registry.call("crashy_which")).text == "v2"


async def test_install_from_directory_and_single_file(services: Services,
                                                      tmp_path: Path) -> None:
    from bot.plugin_host.uploads.packaging import scaffold
    package = scaffold("fromdir", tmp_path)
    result = await services.installer.install(package, actor="U1")
    assert (result.ok, result.name, result.tools) == (True, "fromdir", ("fromdir_greet",))
    single = tmp_path / "lonely.py"
    single.write_text(plugin_source("lonely"))
    assert (await services.installer.install(single, actor="U1")).name == "lonely"


async def test_a_version_that_differs_only_in_spelling_is_the_same(services: Services) -> None:
    """Attack: 1.0.1 and 1.0.1.0 counted as two versions (PEP 440 says they are one)."""
    source = plugin_source("goodone", tools={"goodone_echo": "return 'other'"},
                           version="1.0.0.0")
    message = await refused(services, source, name="goodone")
    assert message == ("Refused goodone.zip: goodone 1.0.0 is already installed with "
                       "different content: bump the version in get_manifest() and upload "
                       "again.")


@pytest.mark.parametrize("action", ["install", "check"])
async def test_a_directory_with_a_symlink_is_refused_not_followed(
        services: Services, tmp_path: Path, action: str) -> None:
    """Attack: `bot plugin install DIR` packed a root-only file a link pointed at."""
    from bot.plugin_host.uploads.packaging import scaffold
    package = scaffold("linky", tmp_path)
    secret = tmp_path / "secret.key"
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    secret.chmod(0o600)
    (package / "data.txt").symlink_to(secret)
    (package / "sub").mkdir()
    (package / "sub" / "etc").symlink_to("/etc", target_is_directory=True)
    before = await snapshot_state(services)
    result = await getattr(services.installer, action)(package, **(
        {"actor": "U1"} if action == "install" else {}))
    assert not result.ok
    assert ("holds symbolic links or special files, which are never packed or followed: "
            "data.txt, sub/etc.") in result.message
    assert await snapshot_state(services) == before


def test_pack_refuses_a_symlink(tmp_path: Path) -> None:

    from bot.plugin_host.uploads.packaging import scaffold
    from tests.conftest import subprocess_env
    package = scaffold("linky", tmp_path)
    (package / "key").symlink_to("/etc/shadow")
    plugins = tmp_path / "plugins"
    done = run_bot(subprocess_env(tmp_path, plugins), "plugin", "pack", str(package),
                   cwd=tmp_path)
    assert done.returncode != 0
    assert "never packed or followed: key." in done.stderr
    assert not list(tmp_path.glob("*.zip"))


async def test_a_secret_in_an_import_error_is_masked_in_the_refusal_and_the_audit(
        services: Services) -> None:
    source = "raise RuntimeError('cannot reach postgres://app:hunter2-pw@db:5432/app')\n"
    message = await refused(services, source, name="leaky")
    assert "postgres://app:[REDACTED]@db:5432/app" in message
    assert "hunter2" not in message
    event = (await services.audit.recent(1))[0]
    assert event.outcome == "refused" and "hunter2" not in (event.detail or "")
