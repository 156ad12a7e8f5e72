"""Uploads in the database, and each replica's own load state (revision 0010)

`plugin_archives` holds every validated upload's bytes by sha256 (the versions point at
them), so any replica can unpack a version it has never seen. `plugin_loads` holds, per
replica, whether a plugin loaded there and why not. A load failure used to be written
into the shared row (`enabled` and `status = 'error'`), switching the plugin off on every
replica; such rows are set back to enabled here, and the failure is from now on the
failing replica's own. Versions installed before this have no archive yet: the first
replica that has their files stores them (bot/plugin_host/archives.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0010", "0009"


def upgrade() -> None:
    op.create_table(
        "plugin_archives",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    with op.batch_alter_table("plugin_versions") as batch:
        batch.add_column(sa.Column("archive_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_plugin_versions_archive_sha256", ["archive_sha256"])
        batch.create_foreign_key("fk_plugin_versions_archive", "plugin_archives",
                                 ["archive_sha256"], ["sha256"])
    op.create_table(
        "plugin_loads",
        sa.Column("replica", sa.String(64), primary_key=True),
        sa.Column("plugin_name", sa.String(64),
                  sa.ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False))
    op.execute("UPDATE plugins SET status = 'enabled', error = NULL "
               "WHERE enabled AND status = 'error'")


def downgrade() -> None:
    op.drop_table("plugin_loads")
    with op.batch_alter_table("plugin_versions") as batch:
        batch.drop_constraint("fk_plugin_versions_archive", type_="foreignkey")
        batch.drop_index("ix_plugin_versions_archive_sha256")
        batch.drop_column("archive_sha256")
    op.drop_table("plugin_archives")
