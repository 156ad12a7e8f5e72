"""whole tool outputs kept for their run, and each run's token usage (revision 0007)

The model sees the head of a large tool output; the rest stays here until the run ends, for
`read_tool_output` to page or grep. Token usage is one row per finished run."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"


def upgrade() -> None:
    op.create_table(
        "tool_outputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.UniqueConstraint("run_id", "call_id"))
    op.create_table(
        "run_usage",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("user", sa.String(64)),
        sa.Column("channel", sa.String(64)),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False))


def downgrade() -> None:
    op.drop_table("run_usage")
    op.drop_table("tool_outputs")
