"""Alembic migrations for the service's database (PostgreSQL and SQLite)."""
