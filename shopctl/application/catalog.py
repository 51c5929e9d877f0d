"""Catalog import and export: upsert by SKU from a stream of rows, and stream the catalog out.

The rows come from a file reader (an adapter) one at a time; they are validated by the
domain, then written batch by batch through the import port, so memory stays flat whatever
the size of the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.application.errors import Interrupted
from shopctl.application.ports import ReadAhead, in_step
from shopctl.domain.catalog import CatalogRow, parse_catalog_row
from shopctl.domain.errors import InvalidInput
from shopctl.domain.repositories import ImportUnitOfWork, UnitOfWork

UnitOfWorkFactory = Callable[[], UnitOfWork]
ImportUnitOfWorkFactory = Callable[[], ImportUnitOfWork]

BATCH_SIZE = 5000
FIRST_BATCH_SIZE = 1000  # the database starts sooner; the batches after it are full size


class OnError(StrEnum):
    ABORT = "abort"
    SKIP = "skip"


class SourceRow(NamedTuple):
    """One record as read from the file. ``error`` is set when it could not be read at all.
    (A named tuple: the reader makes one per line, and tuples are cheap to build.)"""

    line: int
    fields: Mapping[str, object]
    error: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    sku: str | None
    message: str


@dataclass(frozen=True)
class ImportReport:
    """Counts of what was applied (or, with ``dry_run``, would be). ``applied`` is False when
    nothing was written: a dry run, or ``abort`` mode with failed rows."""

    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[RowError]
    dry_run: bool
    applied: bool


Rejected = Callable[[RowError, SourceRow], None]


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


Failure = tuple[RowError, SourceRow]
_UNKEPT = SourceRow(0, {})


@dataclass(frozen=True, slots=True)
class _Batch:
    """One batch, read and checked by every rule that needs no database."""

    failures: list[Failure]  # unreadable, invalid, or a SKU repeated within the batch
    staged: list[CatalogRow]  # the other rows (SKUs distinct)
    prepared: object  # ``staged`` as the import port prepared it
    position: dict[str, int]  # SKU → index in ``staged.rows``
    unless_stored: list[tuple[int, str]]  # (index, error) of rows valid only for a stored SKU
    sources: list[SourceRow] | None  # aligned with ``staged.rows``; kept for ``rejected`` only


class ImportCatalog:
    """Upsert products by SKU from ``rows`` (admins); every stock change is an ``import``
    movement. ``abort`` applies nothing if any row fails (one transaction); ``skip`` applies
    the valid rows and commits batch by batch.

    Reading and validating the next batch may run ahead (``read_ahead``) while the database
    works on the current one (at most one batch waits in between: memory stays flat); per
    batch, only the rows the database knows something of are looked at again.
    """

    def __init__(
        self,
        uow: ImportUnitOfWorkFactory,
        *,
        batch_size: int = BATCH_SIZE,
        read_ahead: ReadAhead = in_step,
    ) -> None:
        self._uow = uow
        self._batch_size = batch_size
        self._read_ahead = read_ahead

    def __call__(
        self,
        principal: Principal | None,
        rows: Iterable[SourceRow],
        *,
        on_error: OnError = OnError.ABORT,
        dry_run: bool = False,
        rejected: Rejected | None = None,
    ) -> ImportReport:
        require_user(principal)
        tally = _Tally()
        committed: list[tuple[int, int, int]] = []  # skip mode: the counts at each commit
        try:
            with self._uow() as uow:
                actor = authorize(uow.accounts, principal, admin=True).email
                checked = self._checked_batches(
                    rows, uow.products.prepare, keep_sources=rejected is not None
                )
                with self._read_ahead(checked) as batches:
                    for batch in batches:
                        assert isinstance(batch, _Batch)
                        failures = self._apply(uow, batch, tally, actor, on_error)
                        if on_error is OnError.SKIP and not dry_run:
                            uow.commit()
                            committed.append((tally.created, tally.updated, tally.unchanged))
                        failures.sort(key=lambda failure: failure[0].line)
                        for error, source in failures:
                            tally.errors.append(error)
                            if rejected is not None:
                                rejected(error, source)
                applied = not dry_run and not (tally.errors and on_error is OnError.ABORT)
                if applied:
                    uow.commit()
        except KeyboardInterrupt:
            raise Interrupted(_kept(committed)) from None
        if tally.errors and on_error is OnError.ABORT:
            tally.created = tally.updated = tally.unchanged = 0
        return ImportReport(
            created=tally.created,
            updated=tally.updated,
            unchanged=tally.unchanged,
            failed=len(tally.errors),
            errors=tally.errors,
            dry_run=dry_run,
            applied=applied,
        )

    def _checked_batches(
        self,
        rows: Iterable[SourceRow],
        prepare: Callable[[list[CatalogRow]], object],
        *,
        keep_sources: bool,
    ) -> Iterator[_Batch]:
        """Rows validated by the domain rules that need no database, in batches. The source
        of a valid row is kept only for the ``rejected`` callback (it is most of the memory)."""
        size = min(self._batch_size, FIRST_BATCH_SIZE)
        failures: list[Failure] = []
        valid: list[CatalogRow] = []
        position: dict[str, int] = {}
        unless_stored: list[tuple[int, str]] = []
        sources: list[SourceRow] | None = [] if keep_sources else None
        count = 0
        for source in rows:
            count += 1
            if source.error is not None:
                failures.append((RowError(source.line, _sku_of(source), source.error), source))
            else:
                try:
                    row = parse_catalog_row(source.line, source.fields)
                except InvalidInput as error:
                    failures.append((RowError(source.line, _sku_of(source), error.message), source))
                else:
                    first = position.get(row.sku)
                    if first is not None:
                        failures.append((_duplicate(row, valid[first].line), source))
                    else:
                        position[row.sku] = len(valid)
                        try:
                            row.check_against(None)  # as a new SKU
                        except InvalidInput as error:
                            unless_stored.append((len(valid), error.message))
                        valid.append(row)
                        if sources is not None:
                            sources.append(source)
            if count >= size:
                yield _Batch(failures, valid, prepare(valid), position, unless_stored, sources)
                failures, valid, position, unless_stored = [], [], {}, []
                sources = [] if keep_sources else None
                count = 0
                size = self._batch_size
        if count:
            yield _Batch(failures, valid, prepare(valid), position, unless_stored, sources)

    def _apply(
        self,
        uow: ImportUnitOfWork,
        batch: _Batch,
        tally: _Tally,
        actor: str,
        on_error: OnError,
    ) -> list[Failure]:
        """Check one batch against the database and upsert its valid rows; its failures."""
        failures = batch.failures
        rows = batch.staged
        if not rows:
            return failures
        matches = uow.products.stage(batch.prepared)
        skip: list[int] = []

        def fail(index: int, message: str) -> None:
            row = rows[index]
            source = _UNKEPT if batch.sources is None else batch.sources[index]
            failures.append((RowError(row.line, row.sku, message), source))
            skip.append(row.line)

        for sku, match in matches.items():
            index = batch.position[sku]
            row = rows[index]
            try:
                if match.first_line is not None:
                    raise InvalidInput(_duplicate(row, match.first_line).message)
                row.check_against(match.reserved)
            except InvalidInput as error:
                fail(index, error.message)
        for index, message in batch.unless_stored:  # new SKUs that lack name or price
            if rows[index].sku not in matches:
                fail(index, message)
        if on_error is OnError.ABORT and (failures or tally.errors):
            return failures  # nothing will be committed: only validate the rest of the file
        created, updated = uow.products.apply(skip, actor=actor)
        tally.created += created
        tally.updated += updated
        tally.unchanged += len(rows) - len(skip) - created - updated
        return failures


def _kept(committed: list[tuple[int, int, int]]) -> str:
    """What an interrupted import had kept: its committed batches (skip mode), or nothing."""
    if not committed:
        return "nothing was imported"
    created, updated, unchanged = committed[-1]
    batches = f"{len(committed)} batch{'es' if len(committed) > 1 else ''}"
    return (
        f"{batches} of the file were committed ({created} created, {updated} updated,"
        f" {unchanged} unchanged); importing it again applies the rest, and leaves the rows"
        " already imported unchanged"
    )


def _sku_of(source: SourceRow) -> str | None:
    sku = source.fields.get("sku")
    return sku.strip() or None if isinstance(sku, str) else None


def _duplicate(row: CatalogRow, first: int) -> RowError:
    return RowError(row.line, row.sku, f"duplicate SKU {row.sku!r}, first on line {first}")


@dataclass(frozen=True)
class CatalogRecord:
    """A product as exported: exactly the import columns, so the file re-imports as is."""

    sku: str
    name: str
    price: Decimal
    description: str
    stock: int
    active: bool


class ExportCatalog:
    """Stream the whole catalog (admins), ordered by SKU, archived products included."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None) -> Iterator[CatalogRecord]:
        require_user(principal)
        # The unit of work opens now, so that a refused export fails before the first row is
        # asked for; the rows are streamed from it, and it closes with the stream.
        with ExitStack() as opening:  # closed here only if the check fails
            uow = opening.enter_context(self._uow())
            authorize(uow.accounts, principal, admin=True)
            scope = opening.pop_all()
        return self._records(scope, uow)

    @staticmethod
    def _records(scope: ExitStack, uow: UnitOfWork) -> Iterator[CatalogRecord]:
        with scope:
            for product in uow.products.stream_all():
                yield CatalogRecord(
                    sku=product.sku,
                    name=product.name,
                    price=product.price,
                    description=product.description,
                    stock=product.stock_on_hand,
                    active=product.active,
                )
