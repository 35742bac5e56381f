"""prompt translation: the prompt the model got, when it is not the user's (translated to English)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("prompt_used", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "prompt_used")
