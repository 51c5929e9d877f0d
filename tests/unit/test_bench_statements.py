"""bench/checkout.sql runs shopctl's own checkout statements under pgbench: each one labelled
with the constant it copies must stay that constant, parameters aside, so that the benchmark
cannot drift from what shopctl sends (and flatter it)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "checkout.sql"
MODULES = (
    "shopctl.infrastructure.db.carts",
    "shopctl.infrastructure.db.orders",
    "shopctl.infrastructure.db.payments",
    "shopctl.infrastructure.db.products",
    "shopctl.infrastructure.db.users",
    "shopctl.infrastructure.payments.mock",
)
# What the whole flow runs, every statement of it (LIST_PRODUCTS: the browse's statement).
CHECKOUT = {
    "LIST_PRODUCTS", "USER_BY_ID", "LOCK_CART_WITH_LINES", "PRODUCT_BY_SKU", "PUT_CART_LINE",
    "LOCK_CART_PRODUCTS", "LOCK_ORDER_PRODUCTS", "ADD_ORDER", "SAVE_COUNTERS", "CLEAR_CART", "LOCK_ORDER",
    "PAYMENTS_OF_ORDER", "ADD_PAYMENT", "RECORD_CHARGE", "PAYMENT_BY_KEY", "SAVE_PRODUCT",
    "UPDATE_ORDER", "UPDATE_PAYMENT",
}  # fmt: skip
# Adapted for pgbench, and so compared by shape (what each part reads and writes) only:
ADAPTED = {
    "ADD_ORDER": "it names the new rows' ids: pgbench cannot read them inside a pipeline",
    "ADD_PAYMENT": "it names the new row's id: pgbench cannot read it inside a pipeline",
    "RECORD_CHARGE": "the charge's reference is made in SQL, and RETURNING names it",
}
_END = re.compile(r"(;|\\[ag]set(\s+\w+)?)\s*$")  # a statement's last line
_LABEL = re.compile(r"-- ([A-Z][A-Z_]{3,})((?:, then [A-Z][A-Z_]{3,})*)")


def constants() -> dict[str, str]:
    from shopctl.infrastructure.db.products import list_products_sql

    # simulate browses the catalog's first pages: active products, no filter
    found = {"LIST_PRODUCTS": list_products_sql(active_only=True, in_stock=False, search=False)}
    for name in MODULES:
        for key, value in vars(importlib.import_module(name)).items():
            if key.isupper() and isinstance(value, str):
                found.setdefault(key, value)
    return found


def labelled() -> list[tuple[str, str]]:
    """(constant name, statement) for each labelled statement of the script, in order."""
    lines = SCRIPT.read_text().splitlines()
    found: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        label = _LABEL.match(lines[index])
        index += 1
        if not label:
            continue
        names = [label.group(1), *re.findall(r"[A-Z][A-Z_]{3,}", label.group(2))]
        while lines[index].startswith("--"):  # the label's comment goes on
            index += 1
        for name in names:
            body: list[str] = []
            while not (body and _END.search(body[-1])):
                if not lines[index].startswith("\\"):  # a pipeline's start or end
                    body.append(lines[index])
                index += 1
            found.append((name, "\n".join(body)))
    return found


def round_trips(*, full_flow: bool) -> int:
    """How many round trips one run of the script takes: a pipeline is one, and so is each
    statement outside one (``-D full_flow``: the whole flow; else place + pay)."""
    trips, in_pipeline, branch = 0, False, [True]
    statement: list[str] = []
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("\\if"):
            branch.append(full_flow)
        elif line.startswith("\\else"):
            branch[-1] = not branch[-1]
        elif line.startswith("\\endif"):
            branch.pop()
        elif not all(branch) or line.startswith(("--", "\\set")) or not line.strip():
            continue
        elif line.startswith("\\startpipeline"):
            in_pipeline, trips = True, trips + 1
        elif line.startswith("\\endpipeline"):
            in_pipeline = False
        else:
            statement.append(line)
            if _END.search(line):
                trips += 0 if in_pipeline else 1
                statement = []
    return trips


def normalised(sql: str, *, pgbench: bool) -> str:
    """The statement with every value (parameter, literal, now()) as ``?``, spacing even."""
    sql = re.sub(r"\\[ag]set(\s+\w+)?", " ", re.sub(r"--[^\n]*", " ", sql))
    sql = re.sub(r"now\(\)(\s*\+\s*interval\s*'[^']*')?", "?", sql)
    if pgbench:
        sql = re.sub(r"-?CAST\((?::\w+|NULL) AS \w+\)", "?", sql)
        sql = re.sub(r"ARRAY\[[^\]]*\]", "?", sql)
        sql = re.sub(r"(?<![:\w]):\w+", "?", sql)
    else:
        sql = re.sub(r"%\(\w+\)s", "?", sql)
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\bNULL\b", "?", sql)
    sql = re.sub(r"\?\s*::\s*\w+(\[\])?", "?", sql)
    sql = re.sub(r"\?(\s*\|\|\s*\?)+", "?", sql)
    sql = re.sub(r"\s+", " ", sql).strip().rstrip(";").strip()
    return re.sub(r"\s*([(),=<>+-])\s*", r"\1", sql)


def shape(sql: str) -> list[tuple[str, str]]:
    """What a statement reads and writes, in order: (verb, table)."""
    return re.findall(r"\b(INSERT INTO|UPDATE|DELETE FROM|FROM|JOIN)\s+(\w+)", sql)


def test_the_script_copies_every_checkout_statement() -> None:
    names = {name for name, _ in labelled()}
    assert names >= CHECKOUT, f"not in bench/checkout.sql: {sorted(CHECKOUT - names)}"
    assert set(ADAPTED) <= CHECKOUT


@pytest.mark.parametrize(("name", "copied"), labelled())
def test_each_copied_statement_is_shopctls_own(name: str, copied: str) -> None:
    ours = constants().get(name)
    assert ours is not None, f"bench/checkout.sql names {name}, which shopctl does not have"
    if name in ADAPTED:
        assert shape(normalised(copied, pgbench=True)) == shape(normalised(ours, pgbench=False))
        return
    assert normalised(copied, pgbench=True) == normalised(ours, pgbench=False), name


def test_a_changed_statement_is_caught() -> None:
    """The comparison sees a real change: a column more, a condition less, a new table."""
    ours = constants()["PAYMENT_BY_KEY"]
    copied = dict(labelled())["PAYMENT_BY_KEY"]
    assert normalised(copied, pgbench=True) == normalised(ours, pgbench=False)
    for changed in (
        ours.replace("SELECT id,", "SELECT id, note,"),
        ours.replace("WHERE idempotency_key = %(key)s", "WHERE true"),
    ):
        assert normalised(copied, pgbench=True) != normalised(changed, pgbench=False)
    assert shape(ours + " JOIN orders o") != shape(copied)
