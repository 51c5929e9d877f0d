"""What a simulation run does: its options, and the seeded plan of each purchase flow.

Flow ``i`` of a run is drawn from its own generator seeded with ``(seed, i)``, so the mix
of flows is the same for the same seed however the workers interleave.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum

from shopctl.domain.errors import InvalidInput

HOT_SHARE = 0.5  # with --hot-skus, half of all order lines pick one of the hot products
MAX_LINES = 3
MAX_QUANTITY = 3
BROWSE_PAGE = 10
MAX_CONCURRENCY = 64
DURATION_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?")
DURATION_UNITS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}


class Intent(StrEnum):
    """How the shopper means to end the flow once the order is placed."""

    PAY = "pay"
    DECLINE = "decline"  # pays with a card the gateway declines, then gives up (cancels)
    CANCEL = "cancel"  # cancels the pending order instead of paying


@dataclass(frozen=True)
class SimulationOptions:
    shoppers: int = 10
    concurrency: int = 4
    orders: int | None = None
    duration: float | None = None
    products: int = 20
    stock: int = 100
    hot_skus: int = 0
    decline_rate: float = 0.0
    cancel_rate: float = 0.0
    seed: int = 0
    keep: bool = False
    rate: float | None = None  # flows per second (the open model); None: a closed loop

    def __post_init__(self) -> None:
        if self.orders is not None and self.duration is not None:
            raise InvalidInput("give --orders or --duration, not both")
        if self.rate is not None and self.duration is None:
            raise InvalidInput("--rate needs --duration: the schedule runs for that long")
        if self.orders is None and self.duration is None:
            object.__setattr__(self, "orders", 100)
        _at_least("--shoppers", self.shoppers, 1)
        _at_least("--concurrency", self.concurrency, 1)
        if self.concurrency > MAX_CONCURRENCY:
            raise InvalidInput(f"--concurrency must be at most {MAX_CONCURRENCY}")
        if self.shoppers < self.concurrency:
            raise InvalidInput(
                f"--shoppers ({self.shoppers}) must be at least --concurrency "
                f"({self.concurrency}): a shopper runs one flow at a time"
            )
        if self.orders is not None:
            _at_least("--orders", self.orders, 1)
        if self.duration is not None and self.duration <= 0:
            raise InvalidInput("--duration must be more than 0 seconds")
        _at_least("--products", self.products, 1)
        _at_least("--stock", self.stock, 0)
        _at_least("--hot-skus", self.hot_skus, 0)
        if self.hot_skus > self.products:
            raise InvalidInput(
                f"--hot-skus ({self.hot_skus}) cannot exceed --products ({self.products})"
            )
        for name, rate in (
            ("--decline-rate", self.decline_rate),
            ("--cancel-rate", self.cancel_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise InvalidInput(f"{name} must be between 0 and 1, got {rate}")
        if self.decline_rate + self.cancel_rate > 1.0:
            raise InvalidInput("--decline-rate plus --cancel-rate cannot exceed 1")


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise InvalidInput(f"{name} must be {minimum} or more, got {value}")


def parse_seconds(text: str, option: str = "--duration", *, positive: bool = False) -> float:
    """``30``, ``30s``, ``500ms``, ``2m``, ``1h`` → seconds (``positive``: more than 0)."""
    match = DURATION_PATTERN.fullmatch(text.strip().lower())
    if not match:
        raise InvalidInput(f"{option} {text!r}: use seconds, or a number with ms, s, m or h")
    seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if positive and seconds <= 0:
        raise InvalidInput(f"{option} {text!r}: give a time longer than 0, e.g. 30s")
    return seconds


@dataclass(frozen=True)
class FlowPlan:
    """One purchase flow: a catalog page to browse, what goes in the cart, how it ends.

    Products are indexes into the run's catalog (0 … products-1; the hot ones first).
    """

    index: int
    browse_offset: int
    items: tuple[tuple[int, int], ...]  # (product index, quantity), distinct products
    intent: Intent


def plan_flow(options: SimulationOptions, index: int) -> FlowPlan:
    rng = random.Random(f"{options.seed}/{index}")
    count = options.products
    lines = rng.randint(1, min(MAX_LINES, count))
    chosen: list[int] = []
    while len(chosen) < lines:
        if options.hot_skus and rng.random() < HOT_SHARE:
            product = rng.randrange(options.hot_skus)
        else:
            product = rng.randrange(count)
        if product not in chosen:
            chosen.append(product)
    items = tuple((product, rng.randint(1, MAX_QUANTITY)) for product in chosen)
    roll = rng.random()
    if roll < options.decline_rate:
        intent = Intent.DECLINE
    elif roll < options.decline_rate + options.cancel_rate:
        intent = Intent.CANCEL
    else:
        intent = Intent.PAY
    return FlowPlan(
        index=index,
        browse_offset=rng.randrange(max(1, count - BROWSE_PAGE + 1)),
        items=items,
        intent=intent,
    )
