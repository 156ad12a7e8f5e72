"""PostgreSQL: an approval decision and a Stop request NOTIFY the replicas (revision 0011)

A row trigger on `approvals` (its status leaves `pending`) and one on `slack_runs` (a
Stop request is left on it) call pg_notify('bot_changes', 'approvals' | 'stops') at
commit, so the replica whose run waits acts at once instead of at its next poll.
SQLite: nothing (one process polls its own file)."""

from __future__ import annotations

from alembic import op

revision, down_revision = "0011", "0010"
TRIGGERS = {
    "approvals": ("bot_notify_approvals", "UPDATE OF status", "NEW.status <> 'pending'",
                  "approvals"),
    "slack_runs": ("bot_notify_stops", "UPDATE OF stop_requested_by",
                   "NEW.stop_requested_by IS NOT NULL", "stops"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION bot_notify_topic() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('bot_changes', TG_ARGV[0]);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""")
    for table, (name, event, condition, topic) in TRIGGERS.items():
        op.execute(f"""
            CREATE TRIGGER {name} AFTER {event} ON {table}
            FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION bot_notify_topic('{topic}')""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (name, *_) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bot_notify_topic()")
