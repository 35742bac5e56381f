"""place_settings: what bot admins switched on per Discord server or Telegram chat (the progress preview)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_settings",
        sa.Column("place", sa.String(length=96), primary_key=True),
        sa.Column("preview", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("place_settings")
