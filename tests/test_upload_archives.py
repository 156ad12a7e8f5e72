"""Hostile and broken archives: each refused with its own message, nothing changed."""

from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from tests.conftest import snapshot_state
from tests.helpers import zips
from tests.helpers.zips import build, entry

GOOD = zips.package("goodone")


@pytest.fixture
async def services(upload_services: Callable[..., Awaitable[Services]]) -> Services:
    services = await upload_services(plugin_max_entries=50, plugin_max_unpacked_mb=1)
    installed = await services.installer.install(GOOD, "goodone.zip", actor="U_ADMIN")
    assert installed.ok, installed.message
    return services


async def refused(services: Services, data: bytes, filename: str = "plugin.zip") -> str:
    """Install `data`; assert it was refused and changed nothing; return the message."""
    before = await snapshot_state(services)
    result = await services.installer.install(data, filename, actor="U_ADMIN")
    assert not result.ok, result.message
    assert await snapshot_state(services) == before
    assert not any((services.settings.plugins_dir / "user_uploads" / ".staging").iterdir())
    return result.message


def plugin_with(*extra: zips.Entry) -> bytes:
    return build(entry("evil/__init__.py", zips.plugin_source("evil")), *extra)


@pytest.mark.parametrize(("name", "expected"), [
    ("../x.py", "../x.py: '..' and '.' path components are not allowed"),
    ("evil/../../x.py", "evil/../../x.py: '..' and '.' path components are not allowed"),
    ("../user_uploads_evil/x.py", "'..' and '.' path components are not allowed"),
    ("/etc/x.py", "/etc/x.py: absolute paths are not allowed"),
    ("..\\x.py", "..\\x.py: backslashes are not allowed in names"),
    ("C:/x.py", "C:/x.py: drive letters are not allowed"),
    ("evil/__pycache__/x.py", "__pycache__ directories are not allowed"),
])
async def test_path_tricks_are_refused(services: Services, name: str, expected: str) -> None:
    message = await refused(services, plugin_with(entry(name, "x = 1")))
    assert message.startswith("Refused plugin.zip") and expected in message


async def test_symlink_entry_is_refused(services: Services) -> None:
    link = entry("evil/link.py", "/etc/passwd", mode=stat.S_IFLNK | 0o777)
    assert await refused(services, plugin_with(link)) == (
        "Refused plugin.zip: evil/link.py: symbolic links are not allowed")


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK])
async def test_device_fifo_socket_entries_are_refused(services: Services, kind: int) -> None:
    message = await refused(services, plugin_with(entry("evil/dev", "", mode=kind | 0o644)))
    assert message.endswith("only regular files and directories are allowed "
                            "(device, FIFO or socket)")


async def test_setuid_entry_is_refused(services: Services) -> None:
    suid = entry("evil/run.py", "x=1", mode=stat.S_IFREG | stat.S_ISUID | 0o755)
    assert await refused(services, plugin_with(suid)) == (
        "Refused plugin.zip: evil/run.py: setuid, setgid and sticky bits are not allowed")


async def test_encrypted_entry_is_refused(services: Services) -> None:
    data = zips.patch_headers(plugin_with(entry("evil/secret.py", "x")), "evil/secret.py",
                              set_flags=0x1)
    assert await refused(services, data) == (
        "Refused plugin.zip: evil/secret.py: encrypted entries are not allowed")


async def test_zip_bomb_by_ratio_is_refused(services: Services) -> None:
    message = await refused(services, plugin_with(entry("evil/zeros.txt", b"\0" * 900_000)))
    assert "evil/zeros.txt: compression ratio" in message and "(zip bomb?)" in message


async def test_zip_bomb_by_total_size_is_refused(services: Services) -> None:
    chunks = [entry(f"evil/blob{i}.txt", os.urandom(300_000), method=zipfile.ZIP_STORED)
              for i in range(4)]
    message = await refused(services, plugin_with(*chunks))
    assert message.startswith("Refused plugin.zip: archive: unpacks to 1,2")
    assert message.endswith("over the 1,048,576-byte limit")


async def test_too_many_entries_is_refused(services: Services) -> None:
    many = [entry(f"evil/m{i}.py", "x = 1") for i in range(60)]
    assert await refused(services, plugin_with(*many)) == (
        "Refused plugin.zip: archive: 61 entries is over the limit of 50")


async def test_duplicate_names_are_refused_exact_casefold_and_normalised(
        services: Services) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "evil/café.py"), unicodedata.normalize(
        "NFD", "evil/café.py")
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = plugin_with(entry("evil/a.py", "1"), entry("evil/a.py", "2"),
                           entry("evil/B.py", "1"), entry("evil/b.py", "2"),
                           entry(nfc, "1"), entry(nfd, "2"))
    message = await refused(services, data)
    assert message.startswith("Refused plugin.zip (3 problems):")
    assert "- evil/a.py: duplicates 'evil/a.py'" in message
    assert "- evil/b.py: duplicates 'evil/B.py'" in message
    assert f"- {nfd}: duplicates '{nfc}'" in message


async def test_name_that_is_not_utf8_is_refused(services: Services) -> None:
    data = zips.rename_raw(plugin_with(entry("evil/zz.py", "x")), "evil/zz.py", b"evil/\xff\xfe.py")
    message = await refused(services, data)
    assert message.endswith(": the entry name is not valid UTF-8")


@pytest.mark.parametrize("name", ["evil/inner.zip", "evil/mod.so", "evil/x.pyc", "evil/a.pth",
                                  "evil/wheel.whl"])
async def test_binaries_and_nested_archives_are_refused(services: Services, name: str) -> None:
    message = await refused(services, plugin_with(entry(name, b"whatever")))
    assert f"{name}: '" in message and "files are not allowed" in message


async def test_binary_content_under_an_innocent_name_is_refused(services: Services) -> None:
    nested = zips.package("inner")
    message = await refused(services, plugin_with(entry("evil/data.txt", nested)))
    assert message == ("Refused plugin.zip: evil/data.txt: binary content (nested archive, "
                       "executable or NUL bytes) is not allowed")


async def test_binary_content_after_a_text_start_is_refused(services: Services) -> None:
    """Attack: the check read only the start; an ELF after 70 KB of text passed."""
    body = b"# innocent\n" * 7000 + b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
    stored = entry("evil/notes.txt", body, method=zipfile.ZIP_STORED)
    message = await refused(services, plugin_with(stored))
    assert "evil/notes.txt: binary content" in message


async def test_a_very_deep_path_is_refused(services: Services) -> None:
    deep = "evil/" + "d/" * 40 + "x.py"
    message = await refused(services, plugin_with(entry(deep, "x = 1\n")))
    assert f"{deep}: the path is nested too deeply (at most 16 levels" in message


@pytest.mark.parametrize("component", ["n" * 300, "é" * 130])  # 300 and 260 bytes
async def test_a_path_component_no_filesystem_stores_is_refused(services: Services,
                                                                component: str) -> None:
    """It used to fail at extraction (OSError: File name too long), after the checks."""
    before = await snapshot_state(services)
    name = f"evil/{component}.py"
    message = await refused(services, plugin_with(entry(name, "x = 1\n")))
    assert f"{name}: a file or folder name is longer than 255 bytes" in message
    assert await snapshot_state(services) == before


async def test_a_name_that_is_both_file_and_directory_is_refused(services: Services) -> None:
    for order in ((entry("evil/a", "x"), entry("evil/a/b.py", "y")),
                  (entry("evil/a/b.py", "y"), entry("evil/a", "x"))):
        message = await refused(services, plugin_with(*order))
        assert ("evil/a/b.py: is inside 'evil/a', which is a file (one name used as both a "
                "file and a directory)") in message


async def test_header_that_understates_a_size_is_refused(services: Services) -> None:
    body = "x = 1\n" * 2000
    data = plugin_with(entry("evil/big.py", body, method=zipfile.ZIP_STORED))
    message = await refused(services, zips.patch_headers(data, "evil/big.py", size=100))
    assert message.startswith("Refused plugin.zip: evil/big.py: cannot be read:")
    assert message.endswith("(corrupt entry, or a header that misstates its size)")


async def test_non_zip_bytes_named_zip_are_refused(services: Services) -> None:
    assert await refused(services, b"<html>Sign in to Slack</html>", "plugin.zip") == (
        "Refused plugin.zip: upload: 'plugin.zip' is not a zip archive (its bytes do not "
        "start with the zip signature)")


async def test_empty_zip_is_refused(services: Services) -> None:
    assert await refused(services, build()) == "Refused plugin.zip: archive: the archive is empty"


async def test_archive_without_a_plugin_is_refused(services: Services) -> None:
    message = await refused(services, build(entry("README.md", "hi"), entry("docs/x.txt", "")))
    assert message == ("Refused plugin.zip: layout: no plugin found: the archive must hold a "
                       "package (__init__.py) at its root, one top-level package directory, "
                       "or one .py module")


async def test_other_file_types_are_refused(services: Services) -> None:
    assert await refused(services, b"MZ...", "tool.exe") == (
        "Refused tool.exe: upload: 'tool.exe' is neither a .zip nor a .py file")


async def test_upload_over_the_size_limit_is_refused(
        upload_services: Callable[..., Awaitable[Services]]) -> None:
    services = await upload_services(plugin_max_upload_mb=0.001)
    padding = zips.entry("sizey/pad.txt", os.urandom(2000), method=zipfile.ZIP_STORED)
    message = await refused(services, build(zips.entry("sizey/__init__.py", "x"), padding))
    assert message.startswith("Refused plugin.zip: upload: ")
    assert message.endswith("bytes is over the 1,048-byte upload limit")


@pytest.mark.parametrize(("name", "expected"), [
    ("json", messages.shadows_stdlib("json")),
    ("kubectl", messages.shadows_builtin("kubectl")),
    ("Bad-Name", messages.bad_plugin_name("Bad-Name")),
])
async def test_names_that_shadow_or_break_the_rules_are_refused(
        services: Services, builtin: Callable[..., Path], name: str, expected: str) -> None:
    builtin("kubectl")  # the reserved names are the builtins found on disk
    message = await refused(services, zips.package(name))
    assert expected in message


async def test_refusals_are_audited(services: Services) -> None:
    await refused(services, build())
    event = (await services.audit.recent(1))[0]
    assert (event.actor, event.action, event.target, event.outcome) == (
        "U_ADMIN", "install", "plugin.zip", "refused")
    assert event.detail == "archive: the archive is empty"


async def test_root_package_and_single_module_layouts_are_accepted(services: Services) -> None:
    root = build(entry("__init__.py", zips.plugin_source("rootpkg")),
                 entry("helper.txt", "data"))
    result = await services.installer.install(root, "whatever-name (1).zip", actor="U1")
    assert (result.ok, result.name, result.tools) == (True, "rootpkg", ("rootpkg_echo",))
    module = await services.installer.install(zips.plugin_source("single").encode(),
                                              "single.py", actor="U1")
    assert (module.ok, module.name) == (True, "single")
