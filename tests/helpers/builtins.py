"""One builder for a bot on the real built-in plugins (plugins/builtins): the Kubernetes,
k8sgpt and netdiag tests all start their services here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.app import Services, build_services
from bot.config import load_settings
from tests.conftest import REPO
from tests.helpers.databases import migrated_sqlite_url


async def builtin_services(tmp_path: Path, *enabled: str, db: str = "builtins.db",
                           kubeconfig: Path | None = None,
                           config: Mapping[str, Mapping[str, object]] | None = None,
                           **settings: object) -> Services:
    """`enabled` switched on at start; its own SQLite file `db` in tmp_path; `config` as
    PLUGIN_CONFIG; `kubeconfig` for the Kubernetes ones; any other setting on top."""
    if kubeconfig is not None:
        settings["kubeconfig"] = str(kubeconfig)
    built = load_settings(database_url=migrated_sqlite_url(tmp_path / db),
                          plugins_dir=REPO / "plugins", plugin_config=dict(config or {}),
                          **settings)
    return await build_services(built, default_enabled=frozenset(enabled))
