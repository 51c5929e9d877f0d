"""TLS: the URL's sslmode, sslrootcert, sslcert and sslkey reach libpq unchanged, against an
endpoint on loopback that speaks TLS only (a PgBouncer that terminates it: the embedded
server is built without TLS)."""

from __future__ import annotations

import pytest

from shopctl.application.errors import DatabaseUnavailable
from shopctl.infrastructure.db.connect import ConnectionSettings
from shopctl.infrastructure.db.errors import DatabaseMissing
from tests.database import TlsServer


def uses_tls(url: str) -> bool:
    with ConnectionSettings(url).connect() as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        return bool(connection.pgconn.ssl_in_use)


def test_sslmode_require_connects_over_tls(tls_server: TlsServer) -> None:
    assert uses_tls(tls_server.url(sslmode="require"))


def test_without_tls_the_server_refuses_in_one_line(tls_server: TlsServer) -> None:
    with pytest.raises(DatabaseUnavailable) as refused:
        ConnectionSettings(tls_server.url(sslmode="disable")).connect()
    assert "\n" not in refused.value.message, refused.value.message


def test_verify_full_checks_the_server_against_the_ca_given(tls_server: TlsServer) -> None:
    assert uses_tls(tls_server.url(sslmode="verify-full", sslrootcert=str(tls_server.ca)))
    with pytest.raises(DatabaseUnavailable) as refused:
        ConnectionSettings(
            tls_server.url(sslmode="verify-full", sslrootcert=str(tls_server.other_ca))
        ).connect()
    assert "certificate verify failed" in refused.value.message


def test_a_client_certificate_logs_in_where_only_a_certificate_may(tls_server: TlsServer) -> None:
    with_cert = tls_server.url(
        "certified", sslmode="verify-full", sslrootcert=str(tls_server.ca),
        sslcert=str(tls_server.client_cert), sslkey=str(tls_server.client_key),
    )  # fmt: skip
    assert uses_tls(with_cert)
    with pytest.raises(DatabaseUnavailable):  # without the certificate: no way in
        ConnectionSettings(tls_server.url("certified", sslmode="require")).connect()


def test_a_refused_pooler_alias_is_not_taken_for_a_missing_database(tls_server: TlsServer) -> None:
    # "certified" is PgBouncer's name for the server's postgres database: pg_database does not
    # hold it, and the refusal (no client certificate) must be reported as what it is.
    with pytest.raises(DatabaseUnavailable) as refused:
        ConnectionSettings(tls_server.url("certified", sslmode="require")).connect()
    assert not isinstance(refused.value, DatabaseMissing), refused.value.message
    assert "cannot reach the database" in refused.value.message
