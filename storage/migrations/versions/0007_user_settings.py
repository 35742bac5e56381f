"""user settings: what a user chose with /settings besides their language (model, frames, fps, delivery...),
kept as one JSON object per user so a new setting needs no migration

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "settings")
