"""A sandbox uid of its own for each uploaded plugin (revision 0005, after 0004)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"

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
