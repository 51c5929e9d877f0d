"""What every command receives through ``ctx.obj``: settings, output, the composition root."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import typer

from shopctl.cli.output import Output, OutputFormat
from shopctl.domain.errors import ShopError

if TYPE_CHECKING:
    from shopctl.application.auth import Principal
    from shopctl.application.sessions import Authenticated
    from shopctl.bootstrap import Shop
    from shopctl.infrastructure.config import Settings


@dataclass
class CliContext:
    profile: str | None = None
    config_dir: str | None = None
    database_url: str | None = None
    debug: bool = False
    output: Output = field(default_factory=Output)

    @cached_property
    def settings(self) -> Settings:
        from shopctl.infrastructure.config import load_settings

        return load_settings(
            profile=self.profile, config_dir=self.config_dir, database_url=self.database_url
        )

    @cached_property
    def shop(self) -> Shop:
        import click

        from shopctl.bootstrap import Shop

        # What a DBA sees in pg_stat_activity: "shopctl products import"
        current = click.get_current_context(silent=True)
        name = current.command_path if current is not None else "shopctl"
        return Shop(self.settings, warn=self.output.warning, application_name=name)

    @cached_property
    def authenticated(self) -> Authenticated | None:
        """This profile's session, refreshed if needed and checked against the database."""
        return self.shop.authenticate()()

    def principal(self) -> Principal | None:
        """Who acts: None without a session (use cases then refuse with exit 3 where a user
        is needed); ``NotAuthenticated`` when the session is invalid, expired or revoked."""
        authenticated = self.authenticated
        return None if authenticated is None else authenticated.principal

    def translate(self, error: BaseException) -> ShopError | None:
        """The user-facing error for ``error``, or None for a bug (exit 1)."""
        return error if isinstance(error, ShopError) else None

    def close(self) -> None:
        if "shop" in self.__dict__:
            self.shop.close()


def state(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext), "the root callback sets ctx.obj"
    return obj


# The format a command prints in when its command line names none: JSON for a replay step
# whose result is kept (id:) or checked (expect: json:), so that the step need not say --json.
_UNSAID_FORMAT: ContextVar[OutputFormat] = ContextVar("unsaid_format", default=OutputFormat.table)


def output_format(fmt: OutputFormat, json_flag: bool) -> OutputFormat:
    if json_flag:
        return OutputFormat.json
    return _UNSAID_FORMAT.get() if fmt is OutputFormat.table else fmt


@contextmanager
def printing_json() -> Iterator[None]:
    """Commands run in this block print JSON unless their command line asks for CSV (a table
    is their default, and an explicit ``--format table`` cannot be told from it)."""
    token = _UNSAID_FORMAT.set(OutputFormat.json)
    try:
        yield
    finally:
        _UNSAID_FORMAT.reset(token)
