"""Plugin uploads: a .zip or .py shared by an admin in the admin channel is installed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.plugin_host import ZIP_MAGIC, Installer, InstallResult
from bot.slack import render
from bot.slack.context import SlackContext
from bot.slack.download import DownloadError, download
from bot.store.audit import AuditLog
from bot.store.shared_runs import SharedRuns

log = logging.getLogger(__name__)
PLUGIN_SUFFIXES = (".zip", ".py")


class Uploads:
    """Installs what an admin shares in the admin channel; silent about anything else."""

    def __init__(self, ctx: SlackContext, *, shared: SharedRuns, installer: Installer,
                 audit: AuditLog) -> None:
        self.ctx = ctx
        self.shared = shared  # which file announcements were handled, across replicas
        self.installer = installer
        self.audit = audit

    async def maybe_install(self, file_id: str, channel: str, user: str | None, *,
                            thread_ts: str | None) -> None:
        """A file shared in the admin channel (the listeners' matcher): installed once."""
        if not await self.shared.first_time(f"file:{file_id}"):
            log.debug("file %s announced again: already handled", file_id)
            return  # file_shared and message/file_share both announce the same file
        self.ctx.spawn(self._install(file_id, channel, user, thread_ts))

    async def _install(self, file_id: str, channel: str, user: str | None,
                       thread_ts: str | None) -> None:
        client = self.ctx.client
        info = (await client.files_info(file=file_id))["file"]
        name = info.get("name", "")
        if not name.lower().endswith(PLUGIN_SUFFIXES):
            return  # screenshots and logs shared in the channel are not plugins
        if not self.ctx.is_admin(user):
            await client.chat_postEphemeral(channel=channel, user=user or "",
                                            text=render.escape(messages.upload_not_admin(name)))
            await self.audit.refusal(f"{user}", "install", name[:128], messages.not_admin())
            return
        thread_ts = thread_ts or _share_ts(info, channel)
        result = await self._fetch_and_install(info, f"{user}")
        card = render.install_card(result, can_enable=result.ok)
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **card)

    async def _fetch_and_install(self, info: dict[str, Any], actor: str) -> InstallResult:
        name, installer = info["name"], self.installer
        limit = installer.max_upload_bytes
        if int(info.get("size") or 0) > limit:
            return await installer.refuse(name, messages.upload_too_large(
                int(info["size"]), limit), actor=actor)
        try:
            data = await download(info.get("url_private_download") or info["url_private"],
                                  token=self.ctx.bot_token, api_origin=self.ctx.api_origin,
                                  max_bytes=limit)
        except DownloadError as exc:
            return await installer.refuse(name, str(exc), actor=actor)
        if name.lower().endswith(".zip") and not data.startswith(ZIP_MAGIC):
            return await installer.refuse(name, messages.download_not_zip(), actor=actor)
        return await installer.install(data, name, actor=actor)


def register(app: AsyncApp, ctx: SlackContext, *, shared: SharedRuns, installer: Installer,
             audit: AuditLog) -> None:
    uploads = Uploads(ctx, shared=shared, installer=installer, audit=audit)
    admin_channel = [in_admin_channel(ctx)]

    @app.event("file_shared", matchers=admin_channel)
    async def on_file_shared(event: dict[str, Any]) -> None:
        await uploads.maybe_install(event["file_id"], event["channel_id"],
                                    event.get("user_id"), thread_ts=None)

    @app.event({"type": "message", "subtype": "file_share"}, matchers=admin_channel)
    async def on_file_share(event: dict[str, Any]) -> None:
        for file in event.get("files", []):
            await uploads.maybe_install(file["id"], event["channel"], event.get("user"),
                                        thread_ts=event.get("ts"))

    @app.event("file_shared")
    async def on_files_elsewhere(event: dict[str, Any]) -> None:
        """Files shared outside the admin channel are not plugins: silence in Slack."""

    @app.event("message")
    async def on_other_messages(event: dict[str, Any]) -> None:
        """Other messages need no answer; handled so Bolt does not warn about them."""


def in_admin_channel(ctx: SlackContext) -> Callable[[dict[str, Any]], Awaitable[bool]]:
    """A Bolt matcher: the event happened in BOT_ADMIN_CHANNEL (never, when it is unset)."""
    async def matches(event: dict[str, Any]) -> bool:
        channel = event.get("channel_id") or event.get("channel")
        if ctx.admin_channel and channel == ctx.admin_channel:
            return True
        log.debug("file %s shared in %s: uploads are accepted only in the admin channel",
                  event.get("file_id") or "(in a message)", channel)
        return False
    return matches


def _share_ts(info: dict[str, Any], channel: str) -> str | None:
    for kind in ("public", "private"):
        shares = (info.get("shares") or {}).get(kind, {}).get(channel)
        if shares:
            ts = shares[0].get("ts")
            return str(ts) if ts else None
    return None
