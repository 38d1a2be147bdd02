"""Finding 3: the service's PostgreSQL role (neither owner nor superuser, granted by
``sfd db upgrade``) can append to the audit log but cannot switch its triggers off, set
``session_replication_role``, or change, delete or truncate rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database
from domain.dbroles import RoleProblem, grant_app_role

ATTACKS = [
    "SET session_replication_role = replica",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    "UPDATE audit_events SET object_id = 'job_forged' WHERE seq = 1",
    "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE audit_events",
    "DROP TABLE audit_events",
    "UPDATE alembic_version SET version_num = '0001'",
]


@pytest.mark.parametrize("statement", ATTACKS, ids=[a.split(" WHERE")[0] for a in ATTACKS])
def test_the_app_role_cannot_rewrite_the_audit_log(
    pg_app_database: Callable[[], tuple[str, str]], statement: str
) -> None:
    _, app_url = pg_app_database()
    db = Database(app_url)
    try:
        with db.session() as session:  # what the service does: append, move the head
            audit.record(session, Actor(tenant="acme", name="key:k"), "job.created", "job", "j", {})
        with pytest.raises(DBAPIError) as refused, db.session() as session:
            session.execute(sa.text(statement))
        assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)
        with db.sessions() as session:
            assert audit.verify(session).valid
            assert session.scalar(sa.text("SELECT current_user")).startswith("sfd_app_")
    finally:
        db.dispose()


def test_grants_refuse_a_superuser_or_an_owner(
    pg_app_database: Callable[[], tuple[str, str]],
) -> None:
    owner_url, _ = pg_app_database()
    with pytest.raises(RoleProblem, match="superuser"):
        grant_app_role(owner_url, "postgres")
    with pytest.raises(RoleProblem, match="does not exist"):
        grant_app_role(owner_url, "no_such_role_here")
