"""Slack's 429s are shared by the replicas (revision 0019)

`slack_rate_holds` keeps, per Web API method, until when Slack asked the bot to wait
(its `Retry-After`): one row per method, the latest end kept. Every replica reads it, so
a 429 answered to one holds the method's optional calls on all of them (Slack limits per
workspace, not per process). PostgreSQL: a trigger NOTIFYs `slack_holds` at commit, so the
others hear it at once (bot_notify_topic is 0011's)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0019", "0018"


def upgrade() -> None:
    op.create_table(
        "slack_rate_holds",
        sa.Column("method", sa.String(64), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER bot_notify_slack_holds AFTER INSERT OR UPDATE ON slack_rate_holds
            FOR EACH ROW EXECUTE FUNCTION bot_notify_topic('slack_holds')""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bot_notify_slack_holds ON slack_rate_holds")
    op.drop_table("slack_rate_holds")
