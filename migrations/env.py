"""Alembic environment: the URL comes from the caller or from ``SFD_*`` settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from domain.db import make_engine
from domain.settings import Settings
from domain.tables import metadata

MIGRATION_LOCK = 73_425_001  # pg_advisory_lock key: one migrating process at a time

config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or Settings().resolved_database_url


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
            try:
                context.configure(
                    connection=connection,
                    target_metadata=metadata,
                    render_as_batch=connection.dialect.name == "sqlite",
                )
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                if postgres:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK}
                    )
                    connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
