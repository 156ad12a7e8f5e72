"""Tables: plugins, their installed versions, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, also on SQLite (which stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


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


class AuditEvent(Base):
    """Who did what to which target, and how it ended. Never deleted with a plugin."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)


class ToolCallRow(Base):
    """One tool call made by the agent: who asked, where, what ran, how it ended."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(64))
    plugin: Mapped[str | None] = mapped_column(String(64))
    plugin_version: Mapped[str | None] = mapped_column(String(64))
    arguments: Mapped[str] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))


class ToolOutputRow(Base):
    """A tool output too large for the model at once, kept whole until its run ends."""

    __tablename__ = "tool_outputs"
    __table_args__ = (UniqueConstraint("run_id", "call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RunUsageRow(Base):
    """One finished agent run: who, where, how it ended, and the tokens it cost."""

    __tablename__ = "run_usage"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    steps: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)


class RunFeedbackRow(Base):
    """A user's 👍 or 👎 on a run's answer; a later click changes it."""

    __tablename__ = "run_feedback"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    vote: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ProcessedEvent(Base):
    """A Slack delivery already handled (event id, or file id): retries are answered once,
    also across a restart or by another replica."""

    __tablename__ = "processed_events"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApprovalRow(Base):
    """A tool call waiting for, or decided by, an admin."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[str] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[str] = mapped_column(Text)
    arguments_sha256: Mapped[str | None] = mapped_column(String(64))  # what it is bound to
    requested_by: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | denied | expired
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]


class ReplicaRow(Base):
    """A running `bot run` process, alive while its heartbeat is fresh."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SlackRunRow(Base):
    """A mention being answered, or waiting for its turn in the thread, on some replica:
    what lets any replica order a thread's runs, stop one, or report one lost with its
    replica."""

    __tablename__ = "slack_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str] = mapped_column(String(64))
    mention_ts: Mapped[str] = mapped_column(String(64))
    asker: Mapped[str | None] = mapped_column(String(64))
    replica: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # waiting | running | done
    run_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status_ts: Mapped[str | None] = mapped_column(String(64))
    stop_requested_by: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_slack_runs_thread", "channel", "thread_ts"),)


class MetaRow(Base):
    """Facts about the database itself: `database_id`, written by migration 0006."""

    __tablename__ = "bot_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
