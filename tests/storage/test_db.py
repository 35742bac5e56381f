"""The database on its own: migrations, SQLite's WAL mode, and SQLite's group commit."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text

from storage.db import Database
from storage.repo import Repository
from tests.storage.conftest import LIMITS, NOW, new_job

HEAD = "0010"  # the newest migration
TABLES = {"users", "jobs", "attempts", "ledger", "deliveries", "budget_months", "workers", "alembic_version",
          "blocked_words", "link_codes", "link_tries", "place_settings"}


def test_migrations_create_every_table_and_run_again_harmlessly(repo):
    repo.db.migrate()
    assert TABLES <= set(inspect(repo.db.engine).get_table_names())
    with repo.db.transaction() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/w.db")
    db.migrate()
    with db.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    db.close()


async def test_sqlite_group_commit_undoes_only_the_call_that_failed(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/g.db")
    db.migrate()
    repo = Repository(db)

    def broken() -> None:
        with db.transaction() as conn:
            conn.execute(text("INSERT INTO budget_months (month, committed_micros) VALUES ('2099-01', 5)"))
            raise RuntimeError("boom")

    calls = [db.run(broken)] + [
        repo.admit(platform="test", external_id=f"u{i}", name="U", is_admin=False, job=new_job(f"job{i}"),
                   costs_micros=[0], limits=LIMITS, now=NOW)
        for i in range(20)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert all(r.job_id == f"job{i}" for i, r in enumerate(results[1:]))
    with db.transaction() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 20
        assert conn.execute(text("SELECT count(*) FROM budget_months WHERE month = '2099-01'")).scalar_one() == 0
    db.close()


def test_processes_starting_together_on_a_new_postgresql_database_migrate_once(pg_url):
    import concurrent.futures

    def start() -> str:
        db = Database(pg_url)
        try:
            db.migrate()
            with db.transaction() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda _: start(), range(4)))
    assert versions == [HEAD] * 4


def test_a_database_from_before_prompt_translation_keeps_its_jobs(tmp_path):
    """0004 adds jobs.prompt_used to a database made by 0003, with its rows (empty: nothing was translated)."""
    from alembic import command
    from alembic.config import Config

    from storage.db import MIGRATIONS

    db = Database(f"sqlite:///{tmp_path}/old.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    with db.transaction() as conn:
        conn.execute(text("INSERT INTO users (platform, external_id, name, role, created_at) "
                          "VALUES ('test', 'u1', 'U', 'user', '2026-01-01')"))
        conn.execute(text("INSERT INTO jobs (id, user_id, kind, prompt, options, seed, state, priority, "
                          "origin_platform, origin, max_cost_micros, charged_micros, interruptions, created_at) "
                          "VALUES ('old', 1, 'text-to-video', '고양이', '{}', 7, 'succeeded', 0, 'test', '{}', 0, "
                          "0, 0, '2026-01-01')"))
    db.migrate()
    with db.transaction() as conn:
        assert conn.execute(text("SELECT prompt, prompt_used FROM jobs")).one() == ("고양이", None)
    db.close()
