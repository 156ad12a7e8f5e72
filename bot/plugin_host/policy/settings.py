"""`/plugin set`: an admin's settings for a plugin, everywhere or per channel, stored on its
row (`plugin_settings`), audited, and handed to its tools' `ctx.config` from the next call
on, with no reload: `PluginManager.change` re-places the running plugin (scopes.py has
the rules). Only the keys the plugin's manifest declares settable, of their type, and only
narrowing the operator's limits (PLUGIN_CONFIG): everything else is the operator's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot import messages
from bot.plugin_host.contract.protocol import Manifest
from bot.plugin_host.lifecycle.actions import Action
from bot.plugin_host.lifecycle.plugin_store import require_plugin
from bot.plugin_host.lifecycle.row_changes import Changed
from bot.plugin_host.policy.scopes import Where, apply_settings, check_settings
from bot.store.repositories import PluginRepository, active_version

if TYPE_CHECKING:
    from bot.plugin_host.lifecycle.manager import PluginManager


class PluginSettings:
    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager

    async def set(self, name: str, pairs: Mapping[str, str], where: Where, *,
                  actor: str) -> str:
        """Set (an empty value: remove) `pairs` for `name` `where`; the sentence saying so.
        The values were checked by scopes.split_settings (never a secret)."""
        async def change(repo: PluginRepository) -> Changed:
            row = await require_plugin(repo, name)
            version = active_version(row)
            declared = Manifest.from_dict(version.manifest).settings if version else {}
            check_settings(name, pairs, declared, self.manager.operator_config(name))
            return Changed(row, apply_settings(row, pairs, where, actor=actor))

        await self.manager.change(name, Action.SET, change, actor=actor)
        return messages.settings_changed(name, pairs, where.label())
