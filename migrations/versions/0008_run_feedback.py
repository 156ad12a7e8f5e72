"""👍/👎 on an answer, one per run and user, changeable (revision 0008)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"


def upgrade() -> None:
    op.create_table(
        "run_feedback",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(64), primary_key=True),
        sa.Column("vote", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True))


def downgrade() -> None:
    op.drop_table("run_feedback")
