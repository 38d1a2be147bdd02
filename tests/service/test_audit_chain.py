"""The audit log: triggers refuse changes, appends never fork, and verification finds the
first row changed (or removed) behind the trigger's back — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database
from domain.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def db(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: Callable[[], str]
) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'audit.db'}" if request.param == "sqlite" else pg_database()
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def append(db: Database, count: int, tenant: str = "acme") -> None:
    for i in range(count):
        with db.session() as session:
            audit.record(
                session,
                Actor(tenant=tenant, name="key:key_x", key_id="key_x"),
                "job.created",
                "job",
                f"job_{i}",
                {"n": i},
            )


def test_triggers_refuse_update_delete_and_truncate(db: Database) -> None:
    append(db, 2)
    statements = ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
    if db.is_postgres:
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(sa.text(statement))
    with db.sessions() as session:
        assert audit.verify(session).valid


def test_concurrent_appends_never_fork(db: Database) -> None:
    threads = [threading.Thread(target=append, args=(db, 10)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.sessions() as session:
        result = audit.verify(session)
        seqs = list(session.scalars(sa.text("SELECT seq FROM audit_events ORDER BY seq")))
    assert result.valid and result.checked == 40
    assert seqs == list(range(1, 41))


def _behind_the_triggers_back(db: Database, statement: str) -> None:
    with db.session() as session:
        if db.is_postgres:  # as superuser: switch the trigger off, change, switch it on
            session.execute(
                sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
            )
            session.execute(sa.text(statement))
            session.execute(
                sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
            )
        else:
            session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
            session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
            session.execute(sa.text(statement))


def test_verify_names_the_first_changed_row(db: Database) -> None:
    append(db, 6)
    _behind_the_triggers_back(db, "UPDATE audit_events SET object_id = 'job_forged' WHERE seq = 4")
    with db.sessions() as session:
        result = audit.verify(session)
    assert not result.valid and result.first_broken_seq == 4 and result.checked == 3
    assert "hash" in (result.reason or "")


def test_verify_notices_a_relinked_or_missing_row(db: Database) -> None:
    append(db, 6)
    _behind_the_triggers_back(db, "DELETE FROM audit_events WHERE seq IN (3, 6)")
    with db.sessions() as session:
        result = audit.verify(session)
    assert not result.valid and result.first_broken_seq == 3
    assert "missing" in (result.reason or "")
