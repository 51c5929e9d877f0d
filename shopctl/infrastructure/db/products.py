"""Products and their stock ledger: the product statements, row ↔ entity, the repository."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from shopctl.domain.errors import Conflict
from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductQuery, ProductRepository
from shopctl.infrastructure.db.connect import Sql

PRODUCT_COLUMNS = """id, sku, name, description, price, stock_on_hand, reserved, active,
       created_at, updated_at"""
PRODUCT_ROWS = f"SELECT {PRODUCT_COLUMNS}\nFROM products\n"
PRODUCT_BY_SKU = PRODUCT_ROWS + "WHERE sku = %(sku)s"
PRODUCT_BY_SKU_FOR_UPDATE = PRODUCT_BY_SKU + " FOR UPDATE"
ALL_PRODUCTS = PRODUCT_ROWS + "ORDER BY sku"

# ON CONFLICT DO NOTHING instead of catching the unique violation: the transaction stays
# usable, and a concurrent insert of the same SKU waits, then conflicts.
ADD_PRODUCT = """
INSERT INTO products (sku, name, description, price, stock_on_hand, reserved, active)
VALUES (%(sku)s, %(name)s, %(description)s, %(price)s, %(stock_on_hand)s, %(reserved)s,
        %(active)s)
ON CONFLICT (sku) DO NOTHING
RETURNING id, created_at, updated_at
"""
# Many new products in one statement (a bulk path: each was validated as a ``Product``).
ADD_PRODUCTS = """
INSERT INTO products (sku, name, description, price, stock_on_hand, reserved, active)
SELECT * FROM unnest(%(skus)s::text[], %(names)s::text[], %(descriptions)s::text[],
                     %(prices)s::numeric[], %(stock)s::integer[], %(reserved)s::integer[],
                     %(active)s::boolean[])
RETURNING id, sku, created_at, updated_at
"""
SAVE_PRODUCT = """
UPDATE products SET name = %(name)s, description = %(description)s, price = %(price)s,
       stock_on_hand = %(stock_on_hand)s, reserved = %(reserved)s, active = %(active)s,
       updated_at = now()
WHERE id = %(id)s
RETURNING updated_at
"""
ADD_MOVEMENTS = """
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest(%(products)s::bigint[], %(deltas)s::integer[], %(reasons)s::text[],
                     %(actors)s::text[], %(orders)s::bigint[], %(notes)s::text[])
"""
REMOVE_PRODUCT = "DELETE FROM products WHERE id = %(id)s"
# A sale or a restock after a cancelled sale means an order refers to the product, and so
# does any order line (a pending, expired or cancelled order too).
IS_REFERENCED = """
SELECT EXISTS (SELECT FROM stock_movements
               WHERE product_id = %(id)s
                 AND (order_id IS NOT NULL OR reason IN ('sale', 'restock_cancel')))
    OR EXISTS (SELECT FROM order_lines WHERE product_id = %(id)s)
"""


def product_from_row(row: Any) -> Product:
    """A product from any row with the columns of ``PRODUCT_COLUMNS`` as attributes."""
    return Product.restore(
        id=row.id,
        sku=row.sku,
        name=row.name,
        description=row.description,
        price=row.price,
        stock_on_hand=row.stock_on_hand,
        reserved=row.reserved,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_products_sql(*, active_only: bool, in_stock: bool, search: bool) -> str:
    """One constant statement per combination of filters (each gets its own plan)."""
    return _LIST_STATEMENTS[active_only, in_stock, search]


def _list_statement(active_only: bool, in_stock: bool, search: bool) -> str:
    conditions = [
        condition
        for condition, wanted in (
            ("active", active_only),
            ("stock_on_hand > reserved", in_stock),
            ("(sku ILIKE %(pattern)s OR name ILIKE %(pattern)s)", search),
        )
        if wanted
    ]
    where = f"WHERE {' AND '.join(conditions)}\n" if conditions else ""
    return PRODUCT_ROWS + where + "ORDER BY sku LIMIT %(limit)s OFFSET %(offset)s"


_LIST_STATEMENTS = {
    (a, i, s): _list_statement(a, i, s)
    for a in (False, True)
    for i in (False, True)
    for s in (False, True)
}


def list_products_parameters(query: ProductQuery) -> tuple[str, dict[str, Any]]:
    statement = list_products_sql(
        active_only=not query.include_inactive,
        in_stock=query.in_stock,
        search=bool(query.search),
    )
    parameters = {
        "pattern": f"%{escape_like(query.search)}%" if query.search else None,
        "limit": query.limit,
        "offset": query.offset,
    }
    return statement, parameters


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def movement_parameters(products: Sequence[Product]) -> dict[str, list[Any]]:
    """The products' pending stock movements as the parameters of ``ADD_MOVEMENTS``."""
    movements = [(p.id, m) for p in products for m in p.pending_movements]
    return {
        "products": [product_id for product_id, _ in movements],
        "deltas": [m.delta for _, m in movements],
        "reasons": [m.reason.value for _, m in movements],
        "actors": [m.actor for _, m in movements],
        "orders": [m.order_id for _, m in movements],
        "notes": [m.note for _, m in movements],
    }


def write_movements(sql: Sql, product: Product) -> None:
    """Append the product's pending stock movements to the ledger."""
    if product.pending_movements:
        sql.run(ADD_MOVEMENTS, movement_parameters([product]))
        product.pending_movements.clear()


def add_products(sql: Sql, products: Sequence[Product]) -> None:
    """Store new products and their pending movements in two statements; sets ids and
    timestamps. A SKU that exists already fails the whole statement (unique violation)."""
    rows = sql.rows(
        ADD_PRODUCTS,
        {
            "skus": [p.sku for p in products],
            "names": [p.name for p in products],
            "descriptions": [p.description for p in products],
            "prices": [p.price for p in products],
            "stock": [p.stock_on_hand for p in products],
            "reserved": [p.reserved for p in products],
            "active": [p.active for p in products],
        },
    )
    by_sku = {p.sku: p for p in products}
    for row in rows:
        product = by_sku[row.sku]
        product.id, product.created_at, product.updated_at = row.id, row.created_at, row.updated_at
    sql.run(ADD_MOVEMENTS, movement_parameters(products))
    for product in products:
        product.pending_movements.clear()


def _values(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": product.price,
        "stock_on_hand": product.stock_on_hand,
        "reserved": product.reserved,
        "active": product.active,
    }


class PostgresProductRepository(ProductRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = PRODUCT_BY_SKU_FOR_UPDATE if for_update else PRODUCT_BY_SKU
        row = self.sql.first(statement, {"sku": sku})
        return None if row is None else product_from_row(row)

    def get_by_sku_ahead(self, sku: str) -> Callable[[], Product | None]:
        def product(rows: list[Any]) -> Product | None:
            return product_from_row(rows[0]) if rows else None

        return self.sql.ahead([(PRODUCT_BY_SKU, {"sku": sku})], product).value

    def add(self, product: Product) -> None:
        row = self.sql.first(ADD_PRODUCT, _values(product))
        if row is None:
            raise Conflict(f"a product with SKU {product.sku!r} already exists")
        product.id, product.created_at, product.updated_at = row
        write_movements(self.sql, product)

    def save(self, product: Product) -> None:
        assert product.id is not None, "save() is for stored products; use add()"
        product.updated_at = self.sql.scalar(SAVE_PRODUCT, _values(product))
        write_movements(self.sql, product)

    def remove(self, product: Product) -> None:
        self.sql.run(REMOVE_PRODUCT, {"id": product.id})

    def is_referenced(self, product_id: int) -> bool:
        return bool(self.sql.scalar(IS_REFERENCED, {"id": product_id}))

    def stream_all(self) -> Iterator[Product]:
        for row in self.sql.stream(ALL_PRODUCTS):
            yield product_from_row(row)
