"""Runs: kept tool outputs, token usage and votes, approvals waiting for an admin, the Slack
deliveries already processed, and the replicas answering runs across processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


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
    stream_ts: Mapped[str | None] = mapped_column(String(64))  # the answer's Slack stream
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)  # the lease its replica renews
    stop_requested_by: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_slack_runs_thread", "channel", "thread_ts"),)


class SlackRateHoldRow(Base):
    """Until when Slack asked every replica to wait before calling `method` again (its
    429's Retry-After); the latest end is kept."""

    __tablename__ = "slack_rate_holds"

    method: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime]
