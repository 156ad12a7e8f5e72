"""The trail: every admin action (audit events) and every tool call the agent made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


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
