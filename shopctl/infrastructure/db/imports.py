"""The catalog import's bulk path on psycopg: COPY into a temporary staging table, then one
set-based UPDATE and one INSERT (with their ledger rows) per batch.

``PostgresImportUnitOfWork`` runs a whole import as one transaction (or one per batch
with ``--on-error skip``) on the command's connection. Batching, COPY and the staging
tables are this adapter's business; the import port only sees rows and matches.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from psycopg.rows import tuple_row

from shopctl.domain.catalog import CatalogRow, ImportMatch
from shopctl.domain.errors import Conflict
from shopctl.domain.repositories import CatalogImport, ImportUnitOfWork
from shopctl.infrastructure.db.connect import begin_unit, commit_unit, end_unit, executor_of, gone

if TYPE_CHECKING:
    from psycopg import Connection

    from shopctl.infrastructure.db.connect import Database

# -- bulk import SQL ------------------------------------------------------------------------
# Temporary tables live on this connection only; `import_seen` (every SKU and line of this
# import so far) outlives the per-batch commits of `--on-error skip`, so that a SKU repeated
# in a later batch is still caught. It is only read for the few SKUs that the import's Bloom
# filter (`_SeenSkus`) may have seen before: by a scan, until it is large enough for an index
# to cost less than scanning it again and again (SEEN_INDEX_AFTER).
#
# Behind a transaction pooler no temporary table may outlive its transaction: the staging
# table is made anew in each (ON COMMIT DROP), and the SKUs seen so far are kept on this side
# (`_SeenLines`, about a hundred bytes per distinct SKU).
CREATE_POOLED_IMPORT_TABLE = """
CREATE TEMPORARY TABLE import_rows (
    line integer NOT NULL, sku text NOT NULL, name text, price numeric(12, 2),
    description text, stock integer, active boolean) ON COMMIT DROP
"""
CREATE_IMPORT_TABLES = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_seen (sku text NOT NULL, line integer NOT NULL);
CREATE TEMPORARY TABLE IF NOT EXISTS import_rows (
    line integer NOT NULL, sku text NOT NULL, name text, price numeric(12, 2),
    description text, stock integer, active boolean);
DROP INDEX IF EXISTS import_seen_sku;
TRUNCATE import_seen, import_rows;
"""
SEEN_INDEX_AFTER = 200_000  # rows in import_seen
INDEX_SEEN = "CREATE INDEX import_seen_sku ON import_seen (sku)"

# Index probes for joins against the catalog (the batch is small, the catalog may be large
# and the staging table has no statistics), and no JIT: compiling would take longer than
# running these short statements.
PROBE_CATALOG = (
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off',"
    " true), set_config('jit', 'off', true)"
)

COPY_ROWS = "COPY import_rows (line, sku, name, price, description, stock, active) FROM STDIN"

# Run before REMEMBER_SKUS: earlier batches only.
EARLIER_LINES = "SELECT sku, min(line) FROM import_seen WHERE sku = ANY(%s) GROUP BY sku"
REMEMBER_SKUS = "INSERT INTO import_seen (sku, line) SELECT sku, line FROM import_rows"

# The EXISTS runs once, first: when no stored SKU falls between the batch's lowest and highest
# (new products, a file sorted by SKU), one index probe replaces one per row.
ANY_STORED = """EXISTS (SELECT FROM products WHERE sku BETWEEN (SELECT min(sku) FROM import_rows)
                                                  AND (SELECT max(sku) FROM import_rows))"""

# A staged row changes its stored product (a column not given is NULL, and changes nothing).
CHANGES = """(r.name <> p.name OR r.price <> p.price OR r.description <> p.description
              OR r.stock <> p.stock_on_hand OR r.active <> p.active) IS TRUE"""

# Rows that would leave their stored product as it is leave the batch first: they are
# neither locked nor written, so re-importing an unchanged catalog writes nothing at all.
# (A product changed by another session after this statement keeps that change.)
DROP_UNCHANGED = f"""
DELETE FROM import_rows r USING products p
WHERE r.sku = p.sku AND {ANY_STORED} AND NOT {CHANGES}
RETURNING r.sku, p.reserved
"""

# The stored products that the batch changes, locked in id order (as the checkout locks
# them), with their reserved quantity as of the lock.
LOCK_STORED = f"""
SELECT p.sku, p.reserved FROM products p JOIN import_rows r ON r.sku = p.sku
WHERE {ANY_STORED}
ORDER BY p.id FOR UPDATE OF p
"""

# RETURNING shows new values only: the old stock comes along from the FROM list.
UPDATE_EXISTING = f"""
WITH changed AS (
    UPDATE products p SET
        name = coalesce(r.name, p.name),
        price = coalesce(r.price, p.price),
        description = coalesce(r.description, p.description),
        stock_on_hand = coalesce(r.stock, p.stock_on_hand),
        active = coalesce(r.active, p.active),
        updated_at = now()
    FROM (SELECT r.*, s.stock_on_hand AS old_stock
          FROM import_rows r JOIN products s ON s.sku = r.sku) r
    WHERE r.sku = p.sku AND {CHANGES}
    RETURNING p.id, p.stock_on_hand, r.old_stock
), moved AS (
    INSERT INTO stock_movements (product_id, delta, reason, actor)
    SELECT id, stock_on_hand - old_stock, 'import', %(actor)s
    FROM changed WHERE stock_on_hand <> old_stock
)
SELECT count(*) FROM changed
"""

INSERT_NEW = """
WITH created AS (
    INSERT INTO products (sku, name, price, description, stock_on_hand, active)
    SELECT r.sku, r.name, r.price, coalesce(r.description, ''), coalesce(r.stock, 0),
           coalesce(r.active, true)
    FROM import_rows r
    {only_new}
    ORDER BY r.line
    RETURNING id, stock_on_hand
), moved AS (
    INSERT INTO stock_movements (product_id, delta, reason, actor)
    SELECT id, stock_on_hand, 'import', %(actor)s FROM created WHERE stock_on_hand <> 0
)
SELECT count(*) FROM created
"""
ONLY_NEW = "WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = r.sku)"
SKIP_LINES = "DELETE FROM import_rows WHERE line = ANY(%s)"
CLEAR_STAGED = "TRUNCATE import_rows"


# COPY text format: a tab between columns, \N for NULL, and these escaped inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_text(value: str | None) -> str:
    if value is None:
        return _NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


class _SeenSkus:
    """The SKUs of an import's earlier batches as a Bloom filter of fixed size (1 MiB, three
    bits per SKU): a SKU it has not seen is certainly new to the import, so only the others
    are looked up in ``import_seen`` (one scan, and none for most batches) where the full
    table was joined for every batch before."""

    BITS = 1 << 23

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS >> 3)

    def check_and_add(self, skus: Iterable[str]) -> list[str]:
        """The SKUs among ``skus`` that may have been added before; then adds them all."""
        bits, mask, maybe = self._bits, self.BITS - 1, []
        for sku in skus:
            h = hash(sku)
            first, step = h & mask, ((h >> 23) & mask) | 1
            seen = True
            for position in (first, (first + step) & mask, (first + 2 * step) & mask):
                byte, bit = position >> 3, 1 << (position & 7)
                if not bits[byte] & bit:
                    seen = False
                    bits[byte] |= bit
            if seen:
                maybe.append(sku)
        return maybe


class _SeenLines:
    """Every SKU of an import's earlier batches with its first line, on this side (behind a
    transaction pooler, where ``import_seen`` cannot outlive a transaction)."""

    def __init__(self) -> None:
        self._lines: dict[str, int] = {}

    def check_and_add(self, rows: Sequence[CatalogRow]) -> dict[str, int]:
        """The first line of each SKU among ``rows`` seen in an earlier batch; then adds them."""
        lines = self._lines
        earlier = {r.sku: lines[r.sku] for r in rows if r.sku in lines}
        for r in rows:
            lines.setdefault(r.sku, r.line)
        return earlier


def _copy_not_ended(connection: Any) -> Exception:
    """psycopg ends a COPY expecting exactly one result. A connection lost as the COPY ends
    can give two (the server's or the pooler's error, then libpq's own), and psycopg then
    raises a bare ``ValueError``. The COPY's outcome is unknown: the connection is closed, so
    that nothing of its transaction can commit, and the error is the lost connection it was
    (exit code 8), not an internal error."""
    import psycopg

    connection.close()
    return psycopg.OperationalError("the connection was lost as the COPY of the rows ended")


def _count(cursor: Any) -> int:
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True, slots=True)
class CopyBatch:
    """A batch prepared for ``stage``: its rows as the data of ``COPY_ROWS``, and the SKUs
    that may have been in an earlier batch (or, kept on this side, the first line of those
    that were: ``earlier``)."""

    rows: int
    copy_data: str
    maybe_seen: list[str]
    earlier: dict[str, int] | None = None


class PostgresCatalogImport(CatalogImport[CopyBatch]):
    """One import's bulk upsert on a psycopg connection, inside its current transaction."""

    def __init__(self, connection: Connection[Any], *, transaction_pooling: bool = False) -> None:
        self._driver = connection
        self._seen_lines = _SeenLines() if transaction_pooling else None
        self._import_tables_ready = False
        self._staged = (0, 0)  # (rows, stored products among them) still staged
        self._seen_skus: _SeenSkus | None = None  # made by the first prepare_import
        self._rows_staged = False  # import_rows holds a batch
        self._seen_rows: int | None = None  # rows in import_seen, None once it is indexed
        self.rows_written = 0  # products created or updated so far

    def prepare(self, rows: Sequence[CatalogRow]) -> CopyBatch:
        null, text = _NULL, _copy_text
        lines = [
            f"{r.line}\t{r.sku}\t{text(r.name)}\t{null if r.price is None else r.price}\t"
            f"{text(r.description)}\t{null if r.stock is None else r.stock}\t"
            f"{null if r.active is None else 't' if r.active else 'f'}\n"
            for r in rows
        ]
        if self._seen_lines is not None:
            return CopyBatch(len(rows), "".join(lines), [], self._seen_lines.check_and_add(rows))
        if self._seen_skus is None:
            self._seen_skus = _SeenSkus()
        maybe_seen = self._seen_skus.check_and_add(r.sku for r in rows)
        return CopyBatch(len(rows), "".join(lines), maybe_seen)

    def transaction_ended(self) -> None:
        """The transaction committed: behind a transaction pooler its staging table is gone."""
        if self._seen_lines is not None:
            self._import_tables_ready = False
            self._rows_staged = False

    def stage(self, batch: CopyBatch) -> dict[str, ImportMatch]:
        # ``earlier`` comes with the batch behind a transaction pooler (see prepare)
        pooled = batch.earlier is not None
        with self._driver.cursor(row_factory=tuple_row) as cursor:
            if not self._import_tables_ready:
                cursor.execute(CREATE_POOLED_IMPORT_TABLE if pooled else CREATE_IMPORT_TABLES)
                self._import_tables_ready = True
                self._seen_rows = 0
            elif self._rows_staged:  # the previous batch was not applied (see apply_import)
                cursor.execute(CLEAR_STAGED)
            self._rows_staged = True
            try:
                with cursor.copy(COPY_ROWS) as copy:
                    copy.write(batch.copy_data)
            except ValueError as error:
                raise _copy_not_ended(self._driver) from error
            if batch.earlier is not None:
                cursor.execute(f"{PROBE_CATALOG}; {DROP_UNCHANGED}; {LOCK_STORED}")
                cursor.nextset()
                return self._matches(batch, batch.earlier, cursor)
            earlier: dict[str, int] = {}
            if batch.maybe_seen:
                if self._seen_rows is not None and self._seen_rows > SEEN_INDEX_AFTER:
                    cursor.execute(INDEX_SEEN)
                    self._seen_rows = None
                earlier = dict(cursor.execute(EARLIER_LINES, (batch.maybe_seen,)).fetchall())
            if self._seen_rows is not None:
                self._seen_rows += batch.rows
            # Statements without parameters share a round trip. The SKUs are remembered before
            # the unchanged rows leave: a later batch repeating one is still a duplicate.
            cursor.execute(f"{PROBE_CATALOG}; {REMEMBER_SKUS}; {DROP_UNCHANGED}; {LOCK_STORED}")
            cursor.nextset()
            cursor.nextset()
            return self._matches(batch, earlier, cursor)

    def _matches(
        self, batch: CopyBatch, earlier: dict[str, int], cursor: Any
    ) -> dict[str, ImportMatch]:
        """From the results of DROP_UNCHANGED and LOCK_STORED, in turn on ``cursor``."""
        unchanged: dict[str, int] = dict(cursor.fetchall())  # stored, left as they are
        cursor.nextset()
        locked: dict[str, int] = dict(cursor.fetchall())  # stored and changed: staged, locked
        self._staged = (batch.rows - len(unchanged), len(locked))
        reserved = unchanged | locked
        matches = {}
        shared: dict[int, ImportMatch] = {}  # a re-import matches every row: share the objects
        for sku, quantity in reserved.items():
            if sku not in earlier:
                match = shared.get(quantity)
                if match is None:
                    match = shared[quantity] = ImportMatch(first_line=None, reserved=quantity)
                matches[sku] = match
        for sku, line in earlier.items():
            matches[sku] = ImportMatch(first_line=line, reserved=reserved.get(sku))
        return matches

    def apply(self, skip_lines: Collection[int], *, actor: str | None) -> tuple[int, int]:
        from psycopg import ClientCursor

        staged, stored = self._staged
        statements = []
        if stored:  # else every row is new: nothing to update
            statements.append(UPDATE_EXISTING)
        if stored < staged:  # else every row exists: nothing to insert
            statements.append(INSERT_NEW.format(only_new=ONLY_NEW if stored else ""))
        # Bound on this side, so that the statements and emptying the staging table for the
        # next batch share one round trip.
        with ClientCursor(self._driver, row_factory=tuple_row) as cursor:
            if skip_lines:
                cursor.execute(SKIP_LINES, (list(skip_lines),))
            cursor.execute("; ".join([*statements, CLEAR_STAGED]), {"actor": actor})
            counts = []
            for _ in statements:
                counts.append(_count(cursor))
                cursor.nextset()
        self._rows_staged = False
        updated = counts[0] if stored else 0
        created = counts[-1] if stored < staged else 0
        self.rows_written += created + updated
        return created, updated


ANALYZE_AFTER = 1000  # products created or updated by one import


CATALOG_ROWS_COUNTED = "SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass"
ANALYZE_CATALOG = "ANALYZE products"


class PostgresImportUnitOfWork(ImportUnitOfWork):
    """One transaction for a bulk import, on this thread's connection; rolled back unless
    committed. ``commit()`` lets work go on in a new transaction (``--on-error skip`` commits
    batch by batch)."""

    products: PostgresCatalogImport

    def __init__(self, database: Database) -> None:
        self._database = database
        self._committed_rows = 0  # products created or updated by committed transactions

    def __enter__(self) -> Self:
        from shopctl.infrastructure.db.users import PostgresAccounts

        self._connection = self._database.connection()
        settings = self._database.settings
        begin_unit(self._connection, read_only=False, setup=settings.transaction_setup)
        executor_of(self._connection).flush()  # the settings first: COPY runs on psycopg's own
        self.products = PostgresCatalogImport(
            self._connection, transaction_pooling=settings.transaction_pooling
        )
        self.accounts = PostgresAccounts(executor_of(self._connection))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import psycopg

        from shopctl.infrastructure.db.errors import UNIQUE_VIOLATION, translate

        end_unit(self._connection)  # rolls back what was not committed
        if exc is None and self._committed_rows >= ANALYZE_AFTER:
            with suppress(psycopg.Error):  # statistics only: the import itself is done
                self._analyze()
        if isinstance(exc, psycopg.Error):
            if exc.sqlstate == UNIQUE_VIOLATION:  # another import created one of our new SKUs
                raise Conflict(
                    "another session created some of these SKUs while this import ran;"
                    " its open transaction was rolled back",
                    hint="run the import again: rows already applied report unchanged",
                ) from exc
            shop_error = translate(self._database.url, exc, gone=gone(self._connection))
            if shop_error is not None:
                raise shop_error from exc

    def commit(self) -> None:
        commit_unit(self._connection)
        self.products.transaction_ended()
        self._committed_rows = self.products.rows_written
        setup = self._database.settings.transaction_setup
        if setup is not None:  # the next transaction's settings
            self._connection.execute(setup)

    def _analyze(self) -> None:
        """Fresh planner statistics for the catalog after a bulk change, when the stored ones
        undercount it. An ANALYZE that ran (autovacuum's, say) while this import was
        uncommitted counted none of its rows: the catalog looked empty, and the next import
        planned its joins against the catalog as scans of all of it once per row (90 s
        instead of 3 s for 100 000 rows)."""
        sql = executor_of(self._connection)
        counted = sql.scalar(CATALOG_ROWS_COUNTED)
        counted = -1.0 if counted is None else float(counted)  # -1: never analyzed
        if 0 <= counted < self._committed_rows / 2:
            sql.run(ANALYZE_CATALOG)

    def rollback(self) -> None:
        executor_of(self._connection).discard()
        self._connection.rollback()
