"""Alembic environment: reelbot runs migrations programmatically (storage.db.migrate) on a live connection."""

from alembic import context

from storage.models import SQLModel

target_metadata = SQLModel.metadata
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
