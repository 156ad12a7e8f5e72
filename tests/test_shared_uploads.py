"""Uploads shared through the database: a replica with an empty plugins dir unpacks a
version installed elsewhere (its hash checked), and a replica that cannot load a plugin
says so for itself without switching it off for the others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot import messages, text_render
from bot.app import Services
from bot.errors import PluginError
from bot.plugin_host.uploads.stored_archives import ArchiveStore
from bot.store.models import (
    PluginArchiveRow,
    PluginLoadRow,
    PluginRow,
    PluginVersionRow,
    ReplicaRow,
    utcnow,
)
from bot.store.shared_runs import SharedRuns
from tests.helpers import zips

Factory = Callable[..., Awaitable[Services]]


@pytest.fixture
def other_dir(tmp_path: Path) -> Path:
    root = tmp_path / "other-plugins"
    (root / "builtins").mkdir(parents=True)
    return root


async def install(services: Services, name: str = "shared", version: str = "1.0.0") -> str:
    data = zips.package(name, version=version)
    result = await services.installer.install(data, f"{name}.zip", actor="U1")
    assert result.ok, result.message
    return result.sha256


async def echo(services: Services, name: str = "shared") -> str:
    result = await services.registry.call(f"{name}_echo", {})
    assert result.ok, result.text
    return result.text


async def archives(services: Services) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(PluginArchiveRow)))


async def corrupt_archive(services: Services, sha: str) -> None:
    async with services.db.write() as session:
        await session.execute(update(PluginArchiveRow).where(
            PluginArchiveRow.sha256 == sha).values(data=zips.package("shared", "x = 1\n")))


async def test_a_replica_with_no_files_unpacks_the_upload_and_runs_it(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    assert await archives(first) == 1

    second = await upload_services(plugins_dir=other_dir)
    assert await echo(second) == "shared:hi"
    unpacked = other_dir / "user_uploads" / "shared" / sha / "shared" / "__init__.py"
    assert unpacked.is_file() and unpacked.stat().st_mode & 0o777 == 0o644
    assert not list((other_dir / "user_uploads").glob("shared/.*"))  # no half-built dirs


async def test_a_version_installed_elsewhere_is_picked_up_by_a_refresh(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    second = await upload_services(plugins_dir=other_dir)
    await install(first)
    await first.plugins.enable("shared", actor="U1")
    assert await second.plugins.refresh()
    assert await echo(second) == "shared:hi"
    await install(first, version="2.0.0")
    await second.plugins.refresh()
    assert second.registry.snapshot.tools["shared_echo"].plugin_version == "2.0.0"
    await first.plugins.rollback("shared", actor="U1")
    await second.plugins.refresh()
    assert second.registry.snapshot.tools["shared_echo"].plugin_version == "1.0.0"


async def test_a_tampered_archive_is_refused_and_switches_nothing_off(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    await corrupt_archive(first, sha)

    second = await upload_services(plugins_dir=other_dir)
    info = await second.plugins.info("shared")
    assert (info.status, info.enabled) == ("error", True)
    assert info.error == f"plugin 'shared': {messages.archive_corrupt(sha)}"
    assert "shared_echo" not in second.registry.snapshot
    assert not (other_dir / "user_uploads" / "shared").exists()
    async with first.db.read() as session:
        row = await session.get(PluginRow, "shared")
    assert row is not None and (row.enabled, row.status, row.error) == (True, "enabled", None)
    await first.plugins.refresh()
    assert await echo(first) == "shared:hi"  # the replica with the files keeps it
    events = await first.audit.recent(5, target="shared")
    assert (events[0].action, events[0].outcome) == ("load", "error")


async def test_a_failed_unpack_is_retried_once_a_minute_not_at_every_refresh(
        upload_services: Factory, other_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.plugin_host.lifecycle import load_state

    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    async with first.db.read() as session:
        good = (await session.get(PluginArchiveRow, sha)).data  # type: ignore[union-attr]
    await corrupt_archive(first, sha)
    second = await upload_services(plugins_dir=other_dir)
    assert (await second.plugins.info("shared")).status == "error"
    async with first.db.write() as session:  # repaired: the next try will work
        await session.execute(update(PluginArchiveRow).values(data=good))
    assert not await second.plugins.refresh()  # tried a moment ago: not yet
    assert "shared_echo" not in second.registry.snapshot
    monkeypatch.setattr(load_state, "RETRY_SECONDS", 0.0)
    assert await second.plugins.refresh()
    assert await echo(second) == "shared:hi"
    assert (await second.plugins.info("shared")).status == "enabled"


async def test_removing_a_plugin_deletes_its_stored_archives(upload_services: Factory
                                                             ) -> None:
    services = await upload_services()
    await install(services)
    await install(services, version="1.1.0")
    assert await archives(services) == 2
    await services.plugins.remove("shared", actor="U1")
    assert await archives(services) == 0


async def test_versions_from_before_archives_are_stored_by_the_replica_with_the_files(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    await install(first)
    await first.plugins.enable("shared", actor="U1")
    async with first.db.write() as session:  # as a database migrated from 0009 holds it
        await session.execute(update(PluginVersionRow).values(archive_sha256=None))
        await session.execute(PluginArchiveRow.__table__.delete())
    bare = await upload_services(plugins_dir=other_dir)
    info = await bare.plugins.info("shared")
    assert info.status == "error" and messages.no_stored_archive() in (info.error or "")

    await first.close()
    await upload_services()  # its start stores what it has
    assert await archives(bare) == 1
    await bare.plugins.close()
    again = await upload_services(plugins_dir=other_dir)
    assert await echo(again) == "shared:hi"


async def test_an_archive_stored_under_a_path_outside_its_plugin_is_not_unpacked(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    await install(first)
    async with first.db.write() as session:
        await session.execute(update(PluginVersionRow).values(path="user_uploads/../../x/y"))
    store = ArchiveStore(first.db, first.installer.files, first.installer.limits)
    async with first.db.read() as session:
        version = (await session.execute(select(PluginVersionRow))).scalar_one()
    with pytest.raises(PluginError, match="its files are missing"):
        await store.unpack("shared", version)


async def test_list_and_info_say_on_how_many_replicas_a_plugin_is_loaded_and_why_not(
        upload_services: Factory, other_dir: Path,
        replicas: Callable[[Services], Awaitable[SharedRuns]]) -> None:
    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    await replicas(first)
    await corrupt_archive(first, sha)
    second = await upload_services(plugins_dir=other_dir)
    broken = await replicas(second)

    info = await first.plugins.info("shared")
    assert (info.status, info.replicas, info.loaded_count) == ("enabled", 2, 1)
    problem = f"plugin 'shared': {messages.archive_corrupt(sha)}"
    assert [(p.replica, p.error) for p in info.replica_problems] == [(broken.replica, problem)]
    detail = text_render.plugin_detail(info)
    assert "Replicas:    loaded on 1 of 2 replicas" in detail
    assert f"  {broken.replica}: {problem}" in detail
    listing = text_render.plugin_list(await second.plugins.list())
    assert "LOADED" in listing.splitlines()[0] and " 1/2 " in listing
    assert f"shared: {broken.replica}: {problem}" in listing

    async with first.db.write() as session:  # the broken replica stops beating
        await session.execute(update(ReplicaRow).where(ReplicaRow.id == broken.replica)
                              .values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    info = await first.plugins.info("shared")
    assert (info.status, info.replicas, info.loaded_count, info.replica_problems) == (
        "enabled", 1, 1, ())


async def test_a_plugin_loaded_on_no_replica_shows_as_error_with_the_reason(
        upload_services: Factory, other_dir: Path,
        replicas: Callable[[Services], Awaitable[SharedRuns]]) -> None:
    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    await first.close()
    await corrupt_archive(first, sha)
    only = await upload_services(plugins_dir=other_dir)
    await replicas(only)
    info = await only.plugins.info("shared")
    assert (info.status, info.enabled, info.loaded_count) == ("error", True, 0)
    assert info.error == f"plugin 'shared': {messages.archive_corrupt(sha)}"
    async with only.db.read() as session:
        loads = (await session.execute(select(PluginLoadRow))).scalars().all()
    assert [(row.plugin_name, row.version) for row in loads] == [("shared", None)]
    await only.plugins.leave()
    async with only.db.read() as session:
        assert (await session.execute(select(PluginLoadRow))).scalars().all() == []


async def test_a_version_dir_left_without_its_files_is_unpacked_again(
        upload_services: Factory, other_dir: Path) -> None:
    first = await upload_services()
    sha = await install(first)
    await first.plugins.enable("shared", actor="U1")
    broken = other_dir / "user_uploads" / "shared" / sha
    broken.mkdir(parents=True)  # as an install interrupted before placing was atomic
    (broken / "stray.txt").write_text("half an install")
    second = await upload_services(plugins_dir=other_dir)
    assert await echo(second) == "shared:hi"
    assert sorted(p.name for p in broken.iterdir()) == ["shared"]
