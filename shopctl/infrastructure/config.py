"""Settings: flag > environment (``SHOPCTL_*``) > profile in ``config.toml`` > default."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from shopctl.domain.errors import InvalidInput

PROFILE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
DURATION_PATTERN = re.compile(r"(\d+)\s*([smhd]?)")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

# name -> default; every name is also read from SHOPCTL_<NAME> and from the profile.
DEFAULTS: dict[str, str | None] = {
    "database_url": None,
    "currency": "USD",
    "reservation_ttl": "15m",
    "access_token_ttl": "15m",
    "refresh_token_ttl": "30d",
    "jwt_secret": None,
    "database_pooler": "none",
    "statement_timeout": None,
    "lock_timeout": None,
}
POOLERS = ("none", "transaction")
TIMEOUT_PATTERN = re.compile(r"(\d+)\s*(ms|[smh]?)")
TIMEOUT_UNITS_MS = {"ms": 1, "": 1000, "s": 1000, "m": 60_000, "h": 3_600_000}


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """``90``, ``90s``, ``15m``, ``2h`` or ``30d`` → timedelta (positive)."""
    match = DURATION_PATTERN.fullmatch(str(text).strip().lower())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(
            f"{name} {text!r} is not a duration: use whole seconds or a number with s, m, h or d"
        )
    return timedelta(seconds=int(match.group(1)) * DURATION_UNITS[match.group(2)])


def parse_timeout(text: str | None, *, name: str) -> int | None:
    """A server-side timeout in milliseconds: ``500ms``, ``30``/``30s``, ``2m``, ``1h``; None
    (the server's own setting) when unset; ``0`` or ``off`` switches it off for shopctl."""
    if text is None or not str(text).strip():
        return None
    value = str(text).strip().lower()
    if value == "off":
        return 0
    match = TIMEOUT_PATTERN.fullmatch(value)
    if not match:
        raise InvalidInput(
            f"{name} {text!r} is not a timeout: use whole seconds or a number with ms, s, m or h"
            " (0 or off: none)"
        )
    return int(match.group(1)) * TIMEOUT_UNITS_MS[match.group(2)]


def resolve_config_dir(flag: str | None, environ: Mapping[str, str]) -> Path:
    if flag:
        return Path(flag).expanduser()
    if environ.get("SHOPCTL_CONFIG_DIR"):
        return Path(environ["SHOPCTL_CONFIG_DIR"]).expanduser()
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]).expanduser() / "shopctl"
    return Path.home() / ".config" / "shopctl"


def resolve_data_dir(config_dir: Path, environ: Mapping[str, str]) -> Path:
    if environ.get("XDG_DATA_HOME"):
        return Path(environ["XDG_DATA_HOME"]).expanduser() / "shopctl"
    return config_dir / "data"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; tighten it if it already exists."""
    for missing in reversed([path, *path.parents]):
        if not missing.exists():
            missing.mkdir(mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class Settings:
    profile: str
    config_dir: Path
    data_dir: Path
    database_url: str | None
    currency: str
    reservation_ttl: timedelta
    access_token_ttl: timedelta
    refresh_token_ttl: timedelta
    jwt_secret: str | None
    database_pooler: str = "none"
    statement_timeout_ms: int | None = None
    lock_timeout_ms: int | None = None

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


def read_profile(config_file: Path, profile: str) -> dict[str, Any]:
    """The ``[profiles.<name>]`` table of ``config.toml`` (empty when absent)."""
    if not config_file.exists():
        return {}
    try:
        document = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{config_file} is not valid TOML: {error}") from None
    table = document.get("profiles", {}).get(profile, {})
    if not isinstance(table, dict):
        raise InvalidInput(f"{config_file}: [profiles.{profile}] must be a table")
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise InvalidInput(
            f"{config_file}: unknown setting(s) in [profiles.{profile}]: {', '.join(unknown)}"
        )
    return table


def load_settings(
    *,
    profile: str | None = None,
    config_dir: str | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    name = profile or env.get("SHOPCTL_PROFILE") or "default"
    if not PROFILE_PATTERN.fullmatch(name):
        raise InvalidInput(f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-'")
    directory = resolve_config_dir(config_dir, env)
    from_file = read_profile(directory / "config.toml", name)

    def value(key: str) -> str | None:
        if key == "database_url" and database_url:
            return database_url
        env_value = env.get(f"SHOPCTL_{key.upper()}")
        if env_value:
            return env_value
        if key in from_file:
            return str(from_file[key])
        return DEFAULTS[key]

    currency = (value("currency") or "USD").upper()
    if not CURRENCY_PATTERN.fullmatch(currency):
        raise InvalidInput(f"currency {currency!r} must be a 3-letter ISO 4217 code")

    def duration(key: str) -> timedelta:
        return parse_duration(value(key) or "", name=key)

    pooler = (value("database_pooler") or "none").strip().lower()
    if pooler not in POOLERS:
        raise InvalidInput(
            f"database_pooler {pooler!r} must be one of: {', '.join(POOLERS)}"
            " (transaction: behind PgBouncer in transaction pooling mode)"
        )

    return Settings(
        profile=name,
        config_dir=directory,
        data_dir=resolve_data_dir(directory, env),
        database_url=value("database_url"),
        currency=currency,
        reservation_ttl=duration("reservation_ttl"),
        access_token_ttl=duration("access_token_ttl"),
        refresh_token_ttl=duration("refresh_token_ttl"),
        jwt_secret=value("jwt_secret"),
        database_pooler=pooler,
        statement_timeout_ms=parse_timeout(value("statement_timeout"), name="statement_timeout"),
        lock_timeout_ms=parse_timeout(value("lock_timeout"), name="lock_timeout"),
    )
