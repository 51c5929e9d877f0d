"""Repositories: explicit row ↔ entity conversion over SQLAlchemy Core.

The catalog import's bulk path (COPY into a temporary staging table, then one
set-based UPDATE and one INSERT per batch) lives here too, behind the same port.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shopctl.domain.catalog import CatalogRow, ImportBatch, ImportMatch
from shopctl.domain.errors import Conflict
from shopctl.domain.products import Product, StockReason
from shopctl.domain.repositories import ProductQuery, ProductRepository
from shopctl.infrastructure.database.reads import (
    PRODUCT_BY_SKU,
    PRODUCT_BY_SKU_FOR_UPDATE,
    list_products_parameters,
    product_from_row,
)
from shopctl.infrastructure.database.statements import Statements
from shopctl.infrastructure.database.tables import order_lines, products, stock_movements

if TYPE_CHECKING:
    from psycopg import Connection as PsycopgConnection
    from sqlalchemy.engine import Connection


# -- bulk import SQL ------------------------------------------------------------------------
# Temporary tables live on this connection only; `import_seen` (every SKU and line of this
# import so far) outlives the per-batch commits of `--on-error skip`, so that a SKU repeated
# in a later batch is still caught. It is only read for the few SKUs that the import's Bloom
# filter (`_SeenSkus`) may have seen before: by a scan, until it is large enough for an index
# to cost less than scanning it again and again (SEEN_INDEX_AFTER).
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
LOCK_STORED = """
SELECT p.sku, p.reserved FROM products p JOIN import_rows r ON r.sku = p.sku
WHERE EXISTS (SELECT FROM products WHERE sku BETWEEN (SELECT min(sku) FROM import_rows)
                                                AND (SELECT max(sku) FROM import_rows))
ORDER BY p.id FOR UPDATE OF p
"""

# RETURNING shows new values only: the old stock comes along from the FROM list.
UPDATE_EXISTING = """
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
    WHERE r.sku = p.sku AND (r.name <> p.name OR r.price <> p.price
        OR r.description <> p.description OR r.stock <> p.stock_on_hand OR r.active <> p.active)
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


# COPY text format: a tab between columns, \N for NULL, and these escaped inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_text(value: str | None) -> str:
    if value is None:
        return _NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


@dataclass(frozen=True, slots=True)
class _CopyBatch(ImportBatch):
    """A batch with its rows already written as the data of ``COPY_ROWS``, and the SKUs that
    may have been in an earlier batch."""

    copy_data: str
    maybe_seen: list[str]


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


def _count(cursor: Any) -> int:
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


class SqlProductRepository(ProductRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._import_tables_ready = False
        self._staged = (0, 0)  # (rows, stored products among them) of the staged batch
        self._seen_skus: _SeenSkus | None = None  # made by the first prepare_import
        self._rows_staged = False  # import_rows holds a batch
        self._seen_rows: int | None = None  # rows in import_seen, None once it is indexed

    # -- single products --------------------------------------------------------------------

    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = PRODUCT_BY_SKU_FOR_UPDATE if for_update else PRODUCT_BY_SKU
        row = Statements(self.connection).first(statement, {"sku": sku})
        return None if row is None else product_from_row(row)

    def get_many_for_update(self, ids: Iterable[int]) -> list[Product]:
        statement = (
            select(products)
            .where(products.c.id.in_(sorted(set(ids))))
            .order_by(products.c.id)
            .with_for_update()
        )
        return [product_from_row(row) for row in self.connection.execute(statement)]

    def list(self, query: ProductQuery) -> list[Product]:
        statement, parameters = list_products_parameters(query)
        return [
            product_from_row(row) for row in Statements(self.connection).rows(statement, parameters)
        ]

    def add(self, product: Product) -> None:
        # ON CONFLICT DO NOTHING instead of catching the unique violation: the transaction
        # stays usable, and a concurrent insert of the same SKU waits, then conflicts.
        statement = (
            pg_insert(products)
            .values(
                sku=product.sku,
                name=product.name,
                description=product.description,
                price=product.price,
                stock_on_hand=product.stock_on_hand,
                reserved=product.reserved,
                active=product.active,
            )
            .on_conflict_do_nothing(index_elements=["sku"])
            .returning(products.c.id, products.c.created_at, products.c.updated_at)
        )
        row = self.connection.execute(statement).first()
        if row is None:
            raise Conflict(f"a product with SKU {product.sku!r} already exists")
        product.id, product.created_at, product.updated_at = row
        self._write_movements(product)

    def save(self, product: Product) -> None:
        assert product.id is not None, "save() is for stored products; use add()"
        statement = (
            update(products)
            .where(products.c.id == product.id)
            .values(
                name=product.name,
                description=product.description,
                price=product.price,
                stock_on_hand=product.stock_on_hand,
                reserved=product.reserved,
                active=product.active,
                updated_at=func.now(),
            )
            .returning(products.c.updated_at)
        )
        product.updated_at = self.connection.execute(statement).scalar_one()
        self._write_movements(product)

    def _write_movements(self, product: Product) -> None:
        if not product.pending_movements:
            return
        self.connection.execute(
            insert(stock_movements),
            [
                {
                    "product_id": product.id,
                    "delta": m.delta,
                    "reason": m.reason.value,
                    "actor": m.actor,
                    "order_id": m.order_id,
                    "note": m.note,
                }
                for m in product.pending_movements
            ],
        )
        product.pending_movements.clear()

    def remove(self, product: Product) -> None:
        self.connection.execute(delete(products).where(products.c.id == product.id))

    def is_referenced(self, product_id: int) -> bool:
        # A sale or a restock after a cancelled sale means an order refers to the product,
        # and so does any order line (a pending, expired or cancelled order too).
        history = exists().where(
            stock_movements.c.product_id == product_id,
            or_(
                stock_movements.c.order_id.is_not(None),
                stock_movements.c.reason.in_(
                    [StockReason.SALE.value, StockReason.RESTOCK_CANCEL.value]
                ),
            ),
        )
        ordered = exists().where(order_lines.c.product_id == product_id)
        return bool(self.connection.execute(select(or_(history, ordered))).scalar())

    # -- bulk import and export -------------------------------------------------------------

    @property
    def _driver(self) -> PsycopgConnection[Any]:
        """The psycopg connection under SQLAlchemy's, inside the same transaction."""
        return self.connection.connection.driver_connection  # type: ignore[return-value]

    def prepare_import(self, rows: Sequence[CatalogRow]) -> ImportBatch:
        # Pure Python, run by the import's reading thread: the connection only gets the text.
        null, text = _NULL, _copy_text
        lines = [
            f"{r.line}\t{r.sku}\t{text(r.name)}\t{null if r.price is None else r.price}\t"
            f"{text(r.description)}\t{null if r.stock is None else r.stock}\t"
            f"{null if r.active is None else 't' if r.active else 'f'}\n"
            for r in rows
        ]
        if self._seen_skus is None:
            self._seen_skus = _SeenSkus()
        maybe_seen = self._seen_skus.check_and_add(r.sku for r in rows)
        return _CopyBatch(rows, "".join(lines), maybe_seen)

    def stage_import(self, batch: ImportBatch) -> dict[str, ImportMatch]:
        if not isinstance(batch, _CopyBatch):
            batch = self.prepare_import(batch.rows)
        assert isinstance(batch, _CopyBatch)
        if not self._import_tables_ready:
            self._driver.execute(CREATE_IMPORT_TABLES)
            self._import_tables_ready = True
            self._seen_rows = 0
        with self._driver.cursor() as cursor:
            if self._rows_staged:  # the previous batch was not applied (see apply_import)
                cursor.execute("TRUNCATE import_rows")
            self._rows_staged = True
            with cursor.copy(COPY_ROWS) as copy:
                copy.write(batch.copy_data)
            earlier: dict[str, int] = {}
            if batch.maybe_seen:
                if self._seen_rows is not None and self._seen_rows > SEEN_INDEX_AFTER:
                    cursor.execute(INDEX_SEEN)
                    self._seen_rows = None
                earlier = dict(cursor.execute(EARLIER_LINES, (batch.maybe_seen,)).fetchall())
            if self._seen_rows is not None:
                self._seen_rows += len(batch.rows)
            # Statements without parameters share a round trip.
            cursor.execute(f"{PROBE_CATALOG}; {REMEMBER_SKUS}; {LOCK_STORED}")
            cursor.nextset()
            cursor.nextset()
            reserved = dict(cursor.fetchall())
        self._staged = (len(batch.rows), len(reserved))
        return {
            sku: ImportMatch(first_line=earlier.get(sku), reserved=reserved.get(sku))
            for sku in reserved.keys() | earlier.keys()
        }

    def apply_import(self, skip_lines: Collection[int], *, actor: str | None) -> tuple[int, int]:
        from psycopg import ClientCursor

        staged, stored = self._staged
        statements = []
        if stored:  # else every row is new: nothing to update
            statements.append(UPDATE_EXISTING)
        if stored < staged:  # else every row exists: nothing to insert
            statements.append(INSERT_NEW.format(only_new=ONLY_NEW if stored else ""))
        # Bound on this side, so that the statements and emptying the staging table for the
        # next batch share one round trip.
        with ClientCursor(self._driver) as cursor:
            if skip_lines:
                cursor.execute("DELETE FROM import_rows WHERE line = ANY(%s)", (list(skip_lines),))
            cursor.execute("; ".join([*statements, "TRUNCATE import_rows"]), {"actor": actor})
            counts = []
            for _ in statements:
                counts.append(_count(cursor))
                cursor.nextset()
        self._rows_staged = False
        updated = counts[0] if stored else 0
        created = counts[-1] if stored < staged else 0
        return created, updated

    def stream_all(self) -> Iterator[Product]:
        streaming = self.connection.execution_options(stream_results=True, yield_per=1000)
        for row in streaming.execute(select(products).order_by(products.c.sku)):
            yield product_from_row(row)
