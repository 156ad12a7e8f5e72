"""Each uploaded version records the settings its tools were described with (revision 0018)

`plugin_versions.described_with` is the digest of the `PLUGIN_CONFIG` entry the install
probe passed to `get_tools(config)`. When the entry differs at open, the upload is
described again in its worker, so the tools offered are the ones its code returns with the
settings in force; NULL (versions installed before this revision) is described again once
per open too."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0018", "0017"


def upgrade() -> None:
    with op.batch_alter_table("plugin_versions") as table:
        table.add_column(sa.Column("described_with", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plugin_versions") as table:
        table.drop_column("described_with")
