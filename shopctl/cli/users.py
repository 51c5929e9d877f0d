"""``shopctl users``: accounts, login sessions and roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shopctl.application.dto import UserView
from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

LIST_COLUMNS = Columns.of(UserView, ("id", "email", "role", "active", "created_at"))

Email = Annotated[str, typer.Option("--email", "-e", help="The user's email address.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (one trailing newline is dropped).",
    ),
]


def read_password(from_stdin: bool, *, confirm: bool = False) -> str:
    """From stdin on request, else a hidden prompt; never wait for input nobody can type."""
    from shopctl.domain.errors import InvalidInput

    if from_stdin:
        text = sys.stdin.read()
        return text[:-1] if text.endswith("\n") else text
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no password: pass --password-stdin and pipe it in, or run in a terminal"
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True))


@app.command()
def register(
    ctx: typer.Context,
    email: Email,
    password_stdin: PasswordStdin = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Create a customer account (asks for the password twice in a terminal)."""
    cli = state(ctx)
    password = read_password(password_stdin, confirm=True)
    user = cli.shop.register_user()(email, password)
    cli.output.record(user, output_format(fmt, json_), title=user.email)
    cli.output.success(f"registered {user.email}; now run `shopctl users login --email ...`")


@app.command()
def login(
    ctx: typer.Context,
    email: Email,
    password_stdin: PasswordStdin = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Log in: the session is kept for this profile (--profile) in a private file."""
    cli = state(ctx)
    password = read_password(password_stdin)
    session = cli.shop.log_in()(email, password)
    if output_format(fmt, json_) is OutputFormat.json:
        cli.output.json(session)
    cli.output.success(
        f"logged in as {session.user.email} ({session.user.role}) in profile {session.profile}"
    )


@app.command()
def logout(ctx: typer.Context) -> None:
    """Revoke this profile's session and delete it."""
    cli = state(ctx)
    if cli.shop.log_out()():
        cli.output.success(f"logged out of profile {cli.settings.profile}")
    else:
        cli.output.message(f"profile {cli.settings.profile} was not logged in")


@app.command()
def whoami(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """Show the logged-in user of this profile."""
    from dataclasses import asdict

    cli = state(ctx)
    user = cli.shop.who_am_i()(cli.principal())
    cli.output.record({**asdict(user), "profile": cli.settings.profile}, output_format(fmt, json_))


@app.command()
def token(ctx: typer.Context) -> None:
    """Print this profile's access token (refreshed if it expired). Keep it secret."""
    cli = state(ctx)
    cli.shop.who_am_i()(cli.principal())  # a session the database still knows
    assert cli.authenticated is not None
    cli.output.stdout.write(cli.authenticated.session.access_token + "\n")


@app.command("create-admin")
def create_admin(
    ctx: typer.Context,
    email: Email,
    password_stdin: PasswordStdin = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Operator bootstrap: create an admin, or promote an existing user (and set the
    password). Needs database access, not a session."""
    cli = state(ctx)
    password = read_password(password_stdin, confirm=True)
    result = cli.shop.create_admin()(email, password)
    cli.output.record(result.user, output_format(fmt, json_), title=result.user.email)
    verb = "created admin" if result.created else "promoted to admin (password set)"
    cli.output.success(f"{verb}: {result.user.email}")


@app.command("list")
def list_users(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """List every user (admin)."""
    cli = state(ctx)
    found = cli.shop.list_users()(cli.principal())
    cli.output.rows(found, LIST_COLUMNS, output_format(fmt, json_), empty="no users")


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email address.")],
    role: Annotated[str, typer.Argument(help="admin or customer.")],
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Make a user an admin or a customer (admin)."""
    from shopctl.domain.users import parse_role

    cli = state(ctx)
    new_role = parse_role(role)
    user = cli.shop.set_user_role()(cli.principal(), email, new_role)
    cli.output.record(user, output_format(fmt, json_), title=user.email)
    cli.output.success(f"{user.email} is now {user.role}")


@app.command()
def deactivate(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email address.")],
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Stop a user from logging in and revoke all of their sessions (admin)."""
    cli = state(ctx)
    user = cli.shop.deactivate_user()(cli.principal(), email)
    cli.output.record(user, output_format(fmt, json_), title=user.email)
    cli.output.success(f"deactivated {user.email}; their sessions are revoked")
