"""trust and money: no stored admins, 64-bit seeds, the server or group each job came from, who pays an
attempt's bill

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Admin powers come from the settings on every request. Rows marked "admin" got there from a chat
    # platform's per-server flag (Discord's Manage Server), which never made anyone an admin of the bot.
    op.execute("UPDATE users SET role = 'user' WHERE role = 'admin'")
    # Seeds run to 2**32 - 1; PostgreSQL's INTEGER stops at 2**31 - 1 (SQLite's INTEGER is 64-bit already).
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("jobs", "seed", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
    op.add_column("jobs", sa.Column("scope", sa.String(length=64), nullable=True))
    op.create_index("ix_jobs_scope_created", "jobs", ["scope", "created_at"])
    # A provider bills failed attempts too: the user pays for their own video, cancel or refused content;
    # a provider's failure is the operator's (in the budget, not the user's charge).
    op.add_column("attempts", sa.Column("user_pays", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("attempts", "user_pays")
    op.drop_index("ix_jobs_scope_created", table_name="jobs")
    op.drop_column("jobs", "scope")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("jobs", "seed", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
