"""Plugins: their rows, admins' settings, MCP servers, installed versions, stored archives,
where each replica loads them, and admins' approval rules per tool."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store.models.base import Base, utcnow


class PluginRow(Base):
    """One plugin: its desired state (`enabled`) and what became of it (`status`, `error`)."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("sandbox_uid", name="uq_plugins_sandbox_uid"),)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=False)
    active_version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # an uploaded plugin's own uid for its sandboxed workers, assigned once (see sandbox.py)
    sandbox_uid: Mapped[int | None] = mapped_column(Integer)
    # where its tools are offered: channel IDs and `dm`; None: everywhere (scopes.py)
    channels: Mapped[list[Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[PluginVersionRow]] = relationship(
        back_populates="plugin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PluginVersionRow.id",
    )
    # the MCP server behind a plugin of source `mcp` (loaded with the row, one query)
    mcp: Mapped[McpServerRow | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    # admins' `/plugin set` values, per scope (loaded with the row, one query)
    settings: Mapped[list[PluginSettingRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="(PluginSettingRow.scope, PluginSettingRow.key)")


class PluginSettingRow(Base):
    """One `/plugin set NAME key=value [in #channel]`: `scope` is `*` (everywhere), a
    channel ID or `dm`."""

    __tablename__ = "plugin_settings"

    plugin_name: Mapped[str] = mapped_column(
        ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class McpServerRow(Base):
    """Where an MCP plugin's server is and how to reach it. Header values are sealed with
    BOT_SECRET_KEY (bot/plugin_host/mcp/credentials.py); only their names are kept in clear."""

    __tablename__ = "mcp_servers"

    plugin_name: Mapped[str] = mapped_column(
        ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))  # http (an admin's) | stdio (MCP_SERVERS)
    url: Mapped[str | None] = mapped_column(Text)
    header_names: Mapped[list[Any]] = mapped_column(default=list)
    sealed_headers: Mapped[str | None] = mapped_column(Text)
    server_name: Mapped[str | None] = mapped_column(String(128))
    server_version: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # grows with every `mcp add`
    added_by: Mapped[str] = mapped_column(String(128))
    # tools the server lists now that differ from the reviewed ones (the active version's):
    # offered only once an admin accepts them (`/plugin mcp accept`)
    pending_tools: Mapped[list[Any] | None] = mapped_column(default=None)
    pending_version: Mapped[str | None] = mapped_column(String(64))
    pending_since: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PluginVersionRow(Base):
    """One installed version of a plugin; rows are never rewritten, only added or removed."""

    __tablename__ = "plugin_versions"
    __table_args__ = (UniqueConstraint("plugin_name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plugin_name: Mapped[str] = mapped_column(
        ForeignKey("plugins.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]]
    tools: Mapped[list[Any]]
    path: Mapped[str] = mapped_column(Text)
    # the stored upload any replica unpacks this version from (None: a builtin's)
    archive_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("plugin_archives.sha256"), index=True)
    installed_by: Mapped[str] = mapped_column(String(128))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the digest of the PLUGIN_CONFIG entry an upload's tools were described with
    # (versions.config_digest; None: a builtin's, an MCP server's, or from before 0018)
    described_with: Mapped[str | None] = mapped_column(String(64))

    plugin: Mapped[PluginRow] = relationship(back_populates="versions")


class PluginArchiveRow(Base):
    """A validated upload's bytes, named by their sha256: what every replica unpacks into
    its own `user_uploads/<name>/<sha256>/`, checking the hash first."""

    __tablename__ = "plugin_archives"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))  # .zip or .py: how to unpack it
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PluginLoadRow(Base):
    """What became of a plugin on one replica: loaded (`error` None) or why not. Only the
    replica itself writes its rows; the shared desired state is never touched by them."""

    __tablename__ = "plugin_loads"

    replica: Mapped[str] = mapped_column(String(64), primary_key=True)
    plugin_name: Mapped[str] = mapped_column(
        ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalRuleRow(Base):
    """An admin's rule for one tool: approval `required` or not, whatever the plugin
    declares (no row: the plugin's own `requires_approval`)."""

    __tablename__ = "approval_rules"

    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    required: Mapped[bool]
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
