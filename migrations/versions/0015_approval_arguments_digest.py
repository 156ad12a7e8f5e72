"""Approvals bound to their arguments (revision 0015)

`approvals.arguments_sha256` is the SHA-256 of the exact arguments an admin was shown
(canonical JSON): the call runs only with arguments of that digest. NULL for approvals
asked before this revision."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0015", "0014"


def upgrade() -> None:
    with op.batch_alter_table("approvals") as table:
        table.add_column(sa.Column("arguments_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as table:
        table.drop_column("arguments_sha256")
