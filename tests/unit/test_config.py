from datetime import timedelta
from pathlib import Path

import pytest

from shopctl.domain.errors import InvalidInput
from shopctl.infrastructure.config import (
    ensure_private_dir,
    load_settings,
    parse_duration,
    parse_timeout,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("30d", 2592000), (" 5M ", 300)],
)
def test_parses_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "-5m", "1.5h", "10w", "m"])
def test_rejects_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput, match="duration"):
        parse_duration(text)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(config_dir=str(tmp_path), environ={})
    assert settings.profile == "default"
    assert settings.database_url is None
    assert settings.currency == "USD"
    assert settings.reservation_ttl == timedelta(minutes=15)
    assert settings.access_token_ttl == timedelta(minutes=15)
    assert settings.refresh_token_ttl == timedelta(days=30)
    assert settings.data_dir == tmp_path / "data"


def test_config_dir_resolution(tmp_path: Path) -> None:
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert load_settings(environ=xdg).config_dir == tmp_path / "xdg" / "shopctl"
    env = {**xdg, "SHOPCTL_CONFIG_DIR": str(tmp_path / "env")}
    assert load_settings(environ=env).config_dir == tmp_path / "env"
    assert load_settings(config_dir=str(tmp_path / "flag"), environ=env).config_dir == (
        tmp_path / "flag"
    )


def test_precedence_flag_env_profile_default(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[profiles.default]\ndatabase_url = "postgresql://profile/db"\ncurrency = "eur"\n'
        '[profiles.alice]\nreservation_ttl = "2m"\n'
    )
    base = {"SHOPCTL_CONFIG_DIR": str(tmp_path)}
    assert load_settings(environ=base).database_url == "postgresql://profile/db"
    assert load_settings(environ=base).currency == "EUR"
    env = {**base, "SHOPCTL_DATABASE_URL": "postgresql://env/db"}
    assert load_settings(environ=env).database_url == "postgresql://env/db"
    flag = load_settings(environ=env, database_url="postgresql://flag/db")
    assert flag.database_url == "postgresql://flag/db"
    alice = load_settings(environ={**base, "SHOPCTL_PROFILE": "alice"})
    assert alice.profile == "alice"
    assert alice.reservation_ttl == timedelta(minutes=2)
    assert alice.database_url is None


def test_unknown_setting_and_bad_toml_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[profiles.default]\ndatabse_url = 'x'\n")
    with pytest.raises(InvalidInput, match="databse_url"):
        load_settings(config_dir=str(tmp_path), environ={})
    (tmp_path / "config.toml").write_text("[profiles.default\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_settings(config_dir=str(tmp_path), environ={})


def test_bad_values_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="profile"):
        load_settings(profile="../etc", config_dir=str(tmp_path), environ={})
    with pytest.raises(InvalidInput, match="currency"):
        load_settings(config_dir=str(tmp_path), environ={"SHOPCTL_CURRENCY": "dollars"})
    with pytest.raises(InvalidInput, match="reservation_ttl"):
        load_settings(config_dir=str(tmp_path), environ={"SHOPCTL_RESERVATION_TTL": "soon"})


def test_private_dir_is_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    ensure_private_dir(target)
    assert target.stat().st_mode & 0o777 == 0o700
    target.chmod(0o755)
    ensure_private_dir(target)
    assert target.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("text", "milliseconds"),
    [
        ("500ms", 500),
        ("30", 30_000),
        ("30s", 30_000),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("0", 0),
        ("off", 0),
        (" 5S ", 5000),
        ("", None),
        (None, None),
    ],
)
def test_parses_timeouts(text: str | None, milliseconds: int | None) -> None:
    assert parse_timeout(text, name="lock_timeout") == milliseconds


@pytest.mark.parametrize("text", ["-1s", "1.5s", "2d", "soon", "ms"])
def test_rejects_bad_timeouts(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"lock_timeout .* is not a timeout"):
        parse_timeout(text, name="lock_timeout")


def test_connection_settings_come_from_every_source(tmp_path: Path) -> None:
    defaults = load_settings(config_dir=str(tmp_path), environ={})
    assert defaults.database_pooler == "none"
    assert defaults.statement_timeout_ms is None and defaults.lock_timeout_ms is None
    (tmp_path / "config.toml").write_text(
        "[profiles.default]\ndatabase_pooler = 'transaction'\nlock_timeout = '2s'\n"
    )
    from_file = load_settings(config_dir=str(tmp_path), environ={})
    assert from_file.database_pooler == "transaction" and from_file.lock_timeout_ms == 2000
    from_env = load_settings(
        config_dir=str(tmp_path),
        environ={"SHOPCTL_DATABASE_POOLER": "None", "SHOPCTL_STATEMENT_TIMEOUT": "1m"},
    )
    assert from_env.database_pooler == "none" and from_env.statement_timeout_ms == 60_000
    with pytest.raises(InvalidInput, match="database_pooler 'session' must be one of"):
        load_settings(config_dir=str(tmp_path), environ={"SHOPCTL_DATABASE_POOLER": "session"})
