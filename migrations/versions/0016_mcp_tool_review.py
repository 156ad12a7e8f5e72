"""An MCP server's changed tool list waits for review (revision 0016)

`mcp_servers.pending_tools` holds what a server lists when it differs from the tools an
admin reviewed (the active version's), with the server's version and since when; they are
offered only after `/plugin mcp accept`. On PostgreSQL a change NOTIFYs the replicas like
any plugin change (the table's trigger from revision 0013)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0016", "0015"


def upgrade() -> None:
    with op.batch_alter_table("mcp_servers") as table:
        table.add_column(sa.Column("pending_tools", sa.JSON, nullable=True))
        table.add_column(sa.Column("pending_version", sa.String(64), nullable=True))
        table.add_column(sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mcp_servers") as table:
        for column in ("pending_since", "pending_version", "pending_tools"):
            table.drop_column(column)
