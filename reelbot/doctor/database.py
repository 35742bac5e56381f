"""The database: DATABASE_URL can be read, the server answers within the timeout, the schema migrates."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from engine.words import N_, Text
from reelbot.doctor.base import Check, error_text

if TYPE_CHECKING:
    from reelbot.settings import Settings

NAME = N_("Database")


def database(settings: Settings, timeout_s: float = 10.0) -> Check:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    raw = settings.database_url
    generic_fix = N_(
        "Set DATABASE_URL to sqlite:///path/to/reelbot.db or postgresql://user:password@host:5432/dbname, "
        "or leave it empty for the SQLite file in DATA_DIR."
    )
    try:
        url = make_url(raw)
    except Exception as exc:
        return Check(NAME, False, N_("DATABASE_URL cannot be read: {error}", error=error_text(exc)), fix=generic_fix)
    backend = url.get_backend_name()
    fix: Text
    where: Text | str
    if backend == "sqlite":
        dialect = "SQLite"
        where = (
            str(Path(url.database).resolve()) if url.database and url.database != ":memory:" else N_("in memory")
        )
        fix = N_(
            "Check that {file} (and its folder) is writable and not on a network share; if the file is "
            "damaged, move it aside and start again.", file=where
        )
    elif backend == "postgresql":
        dialect = "PostgreSQL"
        where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
        fix = N_(
            "Check DATABASE_URL (postgresql://user:password@host:5432/dbname), that the PostgreSQL server "
            "is running and reachable from here, and that the user, password and database are right."
        )
        if "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(max(2, math.ceil(timeout_s)))})
    elif backend == "postgres":
        return Check(
            NAME,
            False,
            N_("{scheme}:// is not a dialect name", scheme=url.drivername),
            fix=N_("Write the URL as postgresql://... (not postgres://)."),
        )
    else:
        dialect, where, fix = backend, url.render_as_string(hide_password=True), generic_fix

    from storage.db import Database

    db = None
    try:
        db = Database(url.render_as_string(hide_password=False))
        db.migrate()
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        return Check(NAME, False, N_("{dialect} at {where}: {error}", dialect=dialect, where=where,
                                     error=error_text(exc)), fix=fix)
    finally:
        if db is not None:
            db.close()
    return Check(NAME, True, N_("{dialect} at {where} (schema at revision {revision})", dialect=dialect,
                                where=where, revision=revision))
