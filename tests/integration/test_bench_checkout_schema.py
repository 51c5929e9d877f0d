"""bench/checkout_schema.sql, on which pgbench runs shopctl's statements, is the schema the
migrations make: the same columns, constraints (a table's and its columns' domains') and
indexes on every table of the checkout.
A migration that changes them without `bench/checkout --dump-schema` would have pgbench's
side of the comparison run on other tables than simulate's."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import psycopg

# What a table is to the checkout, as the catalogs say it (not as one pg_dump prints it).
SHAPE = """
SELECT 'column', c.relname, a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relname = ANY(%(tables)s) AND a.attnum > 0
  AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', c.relname, k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY(%(tables)s)
UNION ALL
SELECT 'domain', c.relname, a.attname || ' ' || format_type(t.typbasetype, t.typtypmod) || ' '
       || k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid AND t.typtype = 'd'
JOIN pg_constraint k ON k.contypid = t.oid
WHERE n.nspname = 'public' AND c.relname = ANY(%(tables)s) AND a.attnum > 0
  AND NOT a.attisdropped
UNION ALL
SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY(%(tables)s)
"""


def shape(url: str, tables: list[str]) -> set[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return set(connection.execute(SHAPE, {"tables": tables}).fetchall())


def test_the_bench_schema_is_the_one_the_migrations_make(
    bench_checkout: ModuleType, db_url: str
) -> None:
    name = f"shopctl_bench_schema_check_{os.getpid()}"
    loaded_url = bench_checkout.with_database(db_url, name)
    bench_checkout.recreate(db_url, name)
    try:
        with psycopg.connect(loaded_url, autocommit=True) as connection:
            connection.execute(bench_checkout.SCHEMA.read_text())
        loaded = shape(loaded_url, bench_checkout.TABLES)
    finally:
        bench_checkout.drop(db_url, name)
    migrated = shape(db_url, bench_checkout.TABLES)
    assert {table for _, table, _ in migrated} == set(bench_checkout.TABLES)
    assert loaded == migrated, (
        "bench/checkout_schema.sql is not what the migrations make: run "
        "`bench/checkout --dump-schema`\n"
        f"only in the file: {sorted(loaded - migrated)}\nonly migrated: {sorted(migrated - loaded)}"
    )
