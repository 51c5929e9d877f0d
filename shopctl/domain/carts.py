"""Cart: the aggregate a customer fills before placing an order (one per user)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shopctl.domain.errors import Conflict, InvalidInput, NotFound
from shopctl.domain.products import Product

MAX_LINE_QUANTITY = 999
MAX_LINES = 100


def validate_line_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput(f"quantity must be a whole number, got {quantity!r}")
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {MAX_LINE_QUANTITY}, got {quantity}")
    return quantity


@dataclass(eq=False)
class CartLine:
    """A product in the cart; ``product`` is its current catalog state (not a snapshot)."""

    product: Product
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


@dataclass(eq=False)
class Cart:
    user_id: int
    lines: list[CartLine] = field(default_factory=list)
    id: int | None = None

    def line_for(self, product: Product) -> CartLine | None:
        return next((line for line in self.lines if line.product.id == product.id), None)

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def add(self, product: Product, quantity: int = 1) -> CartLine:
        """Add ``quantity`` units; a product already in the cart gets its quantities merged."""
        validate_line_quantity(quantity)
        line = self.line_for(product)
        wanted = quantity + (line.quantity if line else 0)
        if wanted > MAX_LINE_QUANTITY:
            raise Conflict(
                f"{product.sku}: the cart would hold {wanted}, at most {MAX_LINE_QUANTITY} per line"
            )
        return self._put(product, wanted, line)

    def set(self, product: Product, quantity: int) -> CartLine:
        """Set the quantity of ``product`` (adding the line when it is not there yet)."""
        validate_line_quantity(quantity)
        return self._put(product, quantity, self.line_for(product))

    def remove(self, sku: str) -> None:
        kept = [line for line in self.lines if line.product.sku != sku]
        if len(kept) == len(self.lines):
            raise NotFound(f"{sku} is not in your cart")
        self.lines = kept

    def clear(self) -> None:
        self.lines = []

    def _put(self, product: Product, quantity: int, line: CartLine | None) -> CartLine:
        if not product.active:
            raise Conflict(f"{product.sku} is not for sale (archived)")
        if quantity > product.available:
            raise Conflict(
                f"only {product.available} of {product.sku} available, the cart would hold {quantity}"
            )
        if line is None:
            if len(self.lines) >= MAX_LINES:
                raise Conflict(f"a cart holds at most {MAX_LINES} different products")
            line = CartLine(product, quantity)
            self.lines.append(line)
        else:
            line.product, line.quantity = product, quantity
        return line
