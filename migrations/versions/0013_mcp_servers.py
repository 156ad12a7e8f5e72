"""MCP servers as plugins (revision 0013)

`mcp_servers` holds, for each plugin of source `mcp`, its URL (or `stdio` for one the
operator configured in MCP_SERVERS), its header names and sealed values, and what the server
said about itself. On PostgreSQL a change NOTIFYs the replicas like a plugin change."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0013", "0012"


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("plugin_name", sa.String(64),
                  sa.ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("header_names", sa.JSON, nullable=False),
        sa.Column("sealed_headers", sa.Text),
        sa.Column("server_name", sa.String(128)),
        sa.Column("server_version", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER bot_notify_mcp_servers AFTER INSERT OR UPDATE OR DELETE
            ON mcp_servers FOR EACH STATEMENT EXECUTE FUNCTION bot_notify_plugin_change()""")


def downgrade() -> None:
    op.drop_table("mcp_servers")
