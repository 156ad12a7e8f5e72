"""Each open Slack run holds a lease its replica renews (revision 0017)

`slack_runs.beat_at` is renewed by the run's replica with every heartbeat; another replica
may take the run over (close it and tell the thread) only once it is older than the lease,
and the owner confirms the lease on the row itself before it writes to Slack again, so the
two cannot both win. `stream_ts` is the answer's Slack stream, which whoever takes the run
over stops."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0017", "0016"


def upgrade() -> None:
    with op.batch_alter_table("slack_runs") as table:
        table.add_column(sa.Column("beat_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("stream_ts", sa.String(64), nullable=True))
    op.execute("UPDATE slack_runs SET beat_at = created_at")
    with op.batch_alter_table("slack_runs") as table:
        table.alter_column("beat_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_runs") as table:
        table.drop_column("stream_ts")
        table.drop_column("beat_at")
