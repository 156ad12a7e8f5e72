"""replicas and the Slack runs they are answering

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("replicas") as batch_op:
        batch_op.create_index("ix_replicas_heartbeat_at", ["heartbeat_at"], unique=False)
    op.create_table(
        "slack_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=64), nullable=False),
        sa.Column("mention_ts", sa.String(length=64), nullable=False),
        sa.Column("asker", sa.String(length=64), nullable=True),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("status_ts", sa.String(length=64), nullable=True),
        sa.Column("stop_requested_by", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id"),
    )
    with op.batch_alter_table("slack_runs") as batch_op:
        batch_op.create_index("ix_slack_runs_replica", ["replica"], unique=False)
        batch_op.create_index("ix_slack_runs_state", ["state"], unique=False)
        batch_op.create_index("ix_slack_runs_thread", ["channel", "thread_ts"], unique=False)


def downgrade() -> None:
    op.drop_table("slack_runs")
    op.drop_table("replicas")
