"""a sandbox uid of its own for each uploaded plugin

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_UID = 200_000  # the start of the default PLUGIN_UID_RANGE


def upgrade() -> None:
    with op.batch_alter_table("plugins") as batch_op:
        batch_op.add_column(sa.Column("sandbox_uid", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_plugins_sandbox_uid", ["sandbox_uid"])
    plugins = sa.table("plugins", sa.column("name", sa.String), sa.column("source", sa.String),
                       sa.column("sandbox_uid", sa.Integer))
    connection = op.get_bind()
    uploads = connection.execute(sa.select(plugins.c.name).where(
        plugins.c.source == "upload").order_by(plugins.c.name)).scalars().all()
    for offset, name in enumerate(uploads):
        connection.execute(plugins.update().where(plugins.c.name == name).values(
            sandbox_uid=FIRST_UID + offset))


def downgrade() -> None:
    with op.batch_alter_table("plugins") as batch_op:
        batch_op.drop_constraint("uq_plugins_sandbox_uid", type_="unique")
        batch_op.drop_column("sandbox_uid")
