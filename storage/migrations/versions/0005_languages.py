"""languages: a user's chosen language, and a job's error kept as a message template with its values (so
each reader gets it in their own language)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("jobs", sa.Column("error_text", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "error_text")
    op.drop_column("users", "language")
