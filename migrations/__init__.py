"""Alembic migrations for db/ (run with `nanke migrate`)."""
