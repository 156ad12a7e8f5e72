"""Plugins per channel (revision 0014)

`plugins.channels` lists where an enabled plugin's tools are offered: channel IDs and `dm`
(NULL: everywhere). `plugin_settings` holds an admin's `/plugin set` values, per plugin and
scope (`*` for everywhere, a channel ID, or `dm`). On PostgreSQL a change of either NOTIFYs
the replicas like any plugin change."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0014", "0013"


def upgrade() -> None:
    with op.batch_alter_table("plugins") as table:
        table.add_column(sa.Column("channels", sa.JSON, nullable=True))
    op.create_table(
        "plugin_settings",
        sa.Column("plugin_name", sa.String(64),
                  sa.ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("scope", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER bot_notify_plugin_settings AFTER INSERT OR UPDATE OR DELETE
            ON plugin_settings FOR EACH STATEMENT EXECUTE FUNCTION bot_notify_plugin_change()""")


def downgrade() -> None:
    op.drop_table("plugin_settings")  # its trigger goes with it
    with op.batch_alter_table("plugins") as table:
        table.drop_column("channels")
