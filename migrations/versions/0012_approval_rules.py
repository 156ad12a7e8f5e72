"""Per-tool approval rules set by admins (revision 0012)

`approval_rules` overrides a tool's own `requires_approval`; on PostgreSQL a change
NOTIFYs the replicas like a plugin change (the 'plugins' topic, 0009's function)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0012", "0011"


def upgrade() -> None:
    op.create_table(
        "approval_rules",
        sa.Column("tool", sa.String(64), primary_key=True),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER bot_notify_approval_rules AFTER INSERT OR UPDATE OR DELETE
            ON approval_rules FOR EACH STATEMENT EXECUTE FUNCTION bot_notify_plugin_change()""")


def downgrade() -> None:
    op.drop_table("approval_rules")  # its trigger goes with it
