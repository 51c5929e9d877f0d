"""The connection parameters that every connection of shopctl gets, from one place."""

from __future__ import annotations

from shopctl.infrastructure.db.connect import ConnectionSettings

URL = "postgresql://shop@db.internal/shop?sslmode=require&sslrootcert=/etc/ca.pem"


def test_defaults_name_the_program_and_bound_the_connect() -> None:
    parameters = ConnectionSettings(URL).parameters()
    assert parameters == {
        "conninfo": URL,  # TLS parameters and any other of libpq's pass through as given
        "connect_timeout": 10,
        "application_name": "shopctl",
    }


def test_timeouts_are_connection_options_on_a_direct_connection() -> None:
    settings = ConnectionSettings(URL, statement_timeout_ms=30_000, lock_timeout_ms=0)
    options = settings.parameters()["options"]
    assert options == "-c statement_timeout=30000ms -c lock_timeout=0ms"
    assert settings.transaction_setup is None
    # options the URL already carries are kept, ours come after them (and win)
    given = ConnectionSettings(URL + "&options=-c%20work_mem%3D64MB", lock_timeout_ms=1500)
    assert given.parameters()["options"] == "-c work_mem=64MB -c lock_timeout=1500ms"


def test_behind_a_transaction_pooler_the_timeouts_are_set_per_transaction() -> None:
    settings = ConnectionSettings(
        URL, pooler="transaction", statement_timeout_ms=30_000, lock_timeout_ms=2000
    )
    assert "options" not in settings.parameters()  # PgBouncer refuses the startup option
    assert settings.transaction_setup == (
        "SELECT set_config('statement_timeout', '30000ms', true),"
        " set_config('lock_timeout', '2000ms', true)"
    )
    assert ConnectionSettings(URL, pooler="transaction").transaction_setup is None


def test_another_database_keeps_every_setting() -> None:
    settings = ConnectionSettings(
        URL, application_name="shopctl db upgrade", pooler="transaction", lock_timeout_ms=5
    )
    other = settings.for_database("postgres")
    assert (
        other.url
        == "postgresql://shop@db.internal/postgres?sslmode=require&sslrootcert=/etc/ca.pem"
    )
    assert (other.application_name, other.pooler, other.lock_timeout_ms) == (
        "shopctl db upgrade",
        "transaction",
        5,
    )
