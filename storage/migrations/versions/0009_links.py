"""links: one person's identities on several platforms as one account (/link, /unlink), the codes waiting
to be typed, and the codes typed that matched none (so that guessing stops)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.create_index("ix_users_account_id", ["account_id"])
    op.create_table(
        "link_codes",
        sa.Column("code_hash", AutoString(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_link_codes_user_id", "link_codes", ["user_id"])
    op.create_table(
        "link_tries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_link_tries_user_at", "link_tries", ["user_id", "at"])
    op.create_index("ix_link_tries_at", "link_tries", ["at"])


def downgrade() -> None:
    op.drop_table("link_tries")
    op.drop_table("link_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_account_id")
        batch.drop_column("account_id")
