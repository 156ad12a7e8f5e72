"""the database's own id (revision 0006, after 0005)

Written into a plugins dir's uploads as their owner, so that another database opening
that directory leaves it alone."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0006", "0005"


def upgrade() -> None:
    meta = op.create_table(
        "bot_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False))
    op.bulk_insert(meta, [{"key": "database_id", "value": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("bot_meta")
