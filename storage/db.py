"""The database handle: one SQLAlchemy engine, migrations, and the thread that runs queries.

Queries are synchronous SQLAlchemy Core; the engine's event loop never runs them itself but hands them to
``Database.run``. SQLite (the embedded default) gets a single DB thread, which is also its only writer, and
every ``transaction()`` starts with ``BEGIN IMMEDIATE`` so a second process cannot interleave a write between our
read and our write. PostgreSQL gets a few threads; its transactions lock the rows they check.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str, *, pg_threads: int = 4) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            _sqlite_pragmas(self.engine)
        else:
            if self.url.get_backend_name() == "postgresql" and self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            self.engine = create_engine(self.url, pool_size=pg_threads + 2, pool_pre_ping=True)
        self._executor = ThreadPoolExecutor(
            max_workers=1 if self.is_sqlite else pg_threads, thread_name_prefix="reelbot-db"
        )

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so a
        read-check-write sequence inside it cannot be interleaved by another process."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; run at every start)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.transaction() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def threaded(
    fn: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Turn a repository's blocking method into a coroutine that runs on the DB thread.

    The blocking original stays reachable as ``.sync`` for code that already runs off the loop.
    """

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.db.run(fn, self, *args, **kwargs)

    wrapper.sync = fn  # type: ignore[attr-defined]
    return wrapper


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transaction() issues BEGIN itself (pysqlite's own is broken)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
