"""The PostgreSQL role the service runs as: not the owner of the tables, not a superuser.

Migrations run as the owner (``sfd db upgrade``); this gives the app role what it needs and no
more. It may read and append to the audit log but not change, delete or truncate rows, and as
neither owner nor superuser it cannot disable the log's triggers or set
``session_replication_role``.
"""

from __future__ import annotations

from sqlalchemy import text

from domain.db import make_engine

GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_events FROM {role}, PUBLIC",
    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {role}, PUBLIC",
)


class RoleProblem(ValueError):
    """The app role is missing, a superuser, or owns the tables."""


def grant_app_role(url: str, role: str) -> bool:
    """Apply :data:`GRANTS` to ``role`` (after every upgrade: new tables need them too).
    False on SQLite, which has no roles."""
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return False
        with engine.begin() as conn:
            found = conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"),
                {"role": role},
            ).first()
            if found is None:
                raise RoleProblem(f"PostgreSQL role {role!r} does not exist")
            if found.rolsuper or found.rolbypassrls:
                raise RoleProblem(f"PostgreSQL role {role!r} must not be a superuser")
            owned = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                    "AND tableowner = :role"
                ),
                {"role": role},
            )
            if owned:
                raise RoleProblem(
                    f"PostgreSQL role {role!r} owns tables; run migrations as another"
                )
            quoted = engine.dialect.identifier_preparer.quote(role)
            for statement in GRANTS:
                conn.execute(text(statement.format(role=quoted)))
        return True
    finally:
        engine.dispose()
