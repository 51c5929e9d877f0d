"""Integration tests: a fresh migrated database per test."""

from tests.database import *  # noqa: F403 (the database fixtures)
