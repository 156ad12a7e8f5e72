"""PostgreSQL: every change to the plugins' rows NOTIFYs the replicas (revision 0009)

A statement trigger on `plugins` and `plugin_versions` calls pg_notify('bot_changes',
'plugins'), delivered at commit, whoever wrote (a replica, the CLI, a migration). The
replicas LISTEN and refresh at once; polling stays as the fallback. SQLite: nothing."""

from __future__ import annotations

from alembic import op

revision, down_revision = "0009", "0008"
TABLES = ("plugins", "plugin_versions")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION bot_notify_plugin_change() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('bot_changes', 'plugins');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER bot_notify_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bot_notify_plugin_change()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bot_notify_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bot_notify_plugin_change()")
