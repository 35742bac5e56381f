"""The database handle: one SQLAlchemy engine, migrations, and the thread that runs queries.

Queries are synchronous SQLAlchemy Core; the engine's event loop never runs them itself but hands them to
``Database.run``. PostgreSQL gets a few threads; its transactions lock the rows they check.

SQLite (the embedded default) gets a single DB thread, its only writer, which commits in groups: it takes
every call waiting in its queue, runs them inside one ``BEGIN IMMEDIATE`` transaction, each in its own
SAVEPOINT (so one call's failure undoes only that call), commits once, and only then answers the callers.
Under load that turns three commits per job into one per batch; alone, a call is its own batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

MIGRATIONS = Path(__file__).parent / "migrations"
SAFETY_CHECKPOINT_PAGES = 20_000  # about 80 MB of WAL
CHECKPOINT_EVERY_S = 1.0
_MIGRATION_LOCK = 0x7265656D  # any fixed number: every reelbot process on the database uses the same


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
            self._checkpointer = _Checkpointer(self.url.database) if self.url.database not in (
                None, "", ":memory:") else None
        else:
            if self.url.get_backend_name() == "postgresql" and self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            self.engine = create_engine(self.url, pool_size=pg_threads + 2, pool_pre_ping=True)
        self._local = threading.local()  # SQLite: one connection per thread, kept open
        self._open: list[Connection] = []
        self._prepared: dict[tuple[object, tuple[str, ...]], _Prepared] = {}
        if self.is_sqlite:
            self._writer: _GroupCommitter | None = _GroupCommitter(self)
        else:
            self._writer = None
            self._executor = ThreadPoolExecutor(max_workers=pg_threads, thread_name_prefix="reelbot-db")

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        if self._writer is not None:
            return await self._writer.submit(loop, call)
        return await loop.run_in_executor(self._executor, call)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so a
        read-check-write sequence inside it cannot be interleaved by another process."""
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        kept: Connection | None = getattr(self._local, "conn", None)
        if kept is None or kept.closed:
            kept = self._local.conn = self.engine.connect()
            self._open.append(kept)
        conn = kept
        raw: Any = conn.connection.driver_connection
        if getattr(self._local, "batch", False):  # inside a group commit: this call is one savepoint
            raw.execute("SAVEPOINT call")
            try:
                yield conn
            except BaseException:
                raw.execute("ROLLBACK TO call")
                raw.execute("RELEASE call")
                raise
            raw.execute("RELEASE call")
            return
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback() if conn.in_transaction() else raw.rollback()
            raise
        # Fast-path statements went straight to the driver; SQLAlchemy only knows of a transaction if
        # a regular statement ran too. Either way one COMMIT ends what BEGIN IMMEDIATE started.
        conn.commit() if conn.in_transaction() else raw.commit()

    def execute(self, conn: Connection, stmt: Executable, params: Any = None) -> Any:
        """Run a statement built once (see storage/statements.py): on SQLite straight on the driver's cursor,
        compiled once, with SQLAlchemy's own type processing of the parameters; elsewhere as usual.

        Returns something with ``fetchone``/``fetchall``/``rowcount``. ``params`` may be a list for
        executemany. Statements with expanding IN lists are not supported on the fast path.
        """
        if not self.is_sqlite:
            return conn.execute(stmt, params)
        many = isinstance(params, list)
        # Inserts compile to the columns given; other statements have fixed parameters.
        keys = tuple((params[0] if many else params) or ()) if stmt.is_insert else ()  # type: ignore[attr-defined]
        prepared = self._prepared.get((stmt, keys))
        if prepared is None:
            prepared = self._prepared[(stmt, keys)] = _Prepared(stmt, self.engine.dialect, keys)
        raw: Any = conn.info.get("raw") or conn.info.setdefault("raw", conn.connection.driver_connection)
        if many:
            return raw.executemany(prepared.sql, [prepared.bind(p) for p in params])
        return raw.execute(prepared.sql, prepared.bind(params or {}))

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; run at every start)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.transaction() as conn:
            if not self.is_sqlite:
                # Many processes start at once in distributed mode: one migrates, the others wait for it
                # (the lock ends with this transaction).
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        if self.is_sqlite and self._checkpointer is not None:
            self._checkpointer.stop()
        if self._writer is not None:
            self._writer.stop()
        else:
            self._executor.shutdown(wait=True)
        for conn in self._open:
            conn.close()
        self.engine.dispose()


class _GroupCommitter:
    """SQLite's one writer thread: runs queued calls in batches, one transaction and commit per batch."""

    MAX_BATCH = 64

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="reelbot-db", daemon=True)
        self._thread.start()

    def submit(self, loop: asyncio.AbstractEventLoop, call: Callable[[], R]) -> asyncio.Future[R]:
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put((call, loop, future))
        return future

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self.db.transaction():
                self.db._local.batch = True
                try:
                    for call, _loop, _future in batch:
                        try:
                            outcomes.append((True, call()))
                        except BaseException as exc:  # undone by its savepoint; the others stand
                            outcomes.append((False, exc))
                finally:
                    self.db._local.batch = False
        except BaseException as exc:  # the commit itself failed: nobody's call happened
            outcomes = [(False, exc)] * len(batch)
        for (_call, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            try:
                loop.call_soon_threadsafe(_settle, future, ok, value)
            except RuntimeError:  # that caller's event loop has closed; nobody is waiting
                pass


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _Prepared:
    """A statement compiled once for SQLite: its SQL, the order of its parameters and their converters."""

    __slots__ = ("sql", "slots")

    def __init__(self, stmt: Executable, dialect: Any, keys: tuple[str, ...]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) or None)  # type: ignore[attr-defined]
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN lists cannot run on the fast path")
        self.sql = compiled.string
        binds = compiled.binds
        # (name, converter, value when the caller gives none: a literal in the statement, or _REQUIRED)
        self.slots = [
            (name, compiled._bind_processors.get(name),
             _REQUIRED if binds[name].required else binds[name].effective_value)
            for name in compiled.positiontup or []
        ]

    def bind(self, params: dict[str, Any]) -> list[Any]:
        out = []
        for name, processor, default in self.slots:
            value = params.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"missing parameter {name!r}")
            out.append(processor(value) if processor is not None and value is not None else value)
        return out


_REQUIRED = object()


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
        # Checkpoints run on their own thread (_Checkpointer); this is only the safety net, so a write
        # on the hot path does not stall for milliseconds copying the WAL back every 1000 pages.
        cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_CHECKPOINT_PAGES}")
        cur.close()


class _Checkpointer:
    """Copies SQLite's WAL back into the database file once a second, off the writer's thread.

    A PASSIVE checkpoint never blocks writers, and the sqlite3 module releases the GIL while it copies
    pages, so the engine keeps admitting and finishing jobs meanwhile.
    """

    def __init__(self, path: str, every_s: float = CHECKPOINT_EVERY_S) -> None:
        self.path = path
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reelbot-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            while not self._stop.wait(self.every_s):
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the safety-net checkpoint still bounds the WAL
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
