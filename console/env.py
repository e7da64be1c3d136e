"""Typed readers for the environment that fail loudly, naming the variable.

Settings read every knob through these helpers, so a bad value stops the console at start-up
with a message an operator can act on, instead of surfacing later as a confusing error.
No Django import here: the module is used while settings are being built.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(Exception):
    """A configuration variable is set to a value the console cannot use."""

    def __init__(self, name: str, value: str, problem: str) -> None:
        super().__init__(f"{name}={value!r}: {problem}")
        self.name = name


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name, default)


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, raw, "expected one of 1/0, true/false, yes/no, on/off")


def env_int(
    name: str, default: int, environ: Mapping[str, str] = os.environ, *, minimum: int | None = None
) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, raw, "expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, raw, f"must be at least {minimum}")
    return value


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...], environ: Mapping[str, str] = os.environ) -> str:
    value = environ.get(name, default)
    if value not in choices:
        raise ConfigError(name, value, f"expected one of {', '.join(choices)}")
    return value


# --- databases -------------------------------------------------------------------------------

MSSQL_DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"


def database_from_url(name: str, url: str) -> dict:
    """Turn a database URL into a Django DATABASES entry.

    Supported:
      sqlite:///relative/or/absolute/path.sqlite3
      postgres://user:password@host:5432/dbname?sslmode=require
      mssql://user:password@server.database.windows.net:1433/dbname?driver=ODBC+Driver+18+for+SQL+Server
          &extra_params=Encrypt=yes;TrustServerCertificate=no&authentication=ActiveDirectoryMsi
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(name, url, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}

    if scheme == "sqlite":
        # As in SQLAlchemy: sqlite:///relative/path, sqlite:////absolute/path.
        path = unquote(parts.path[1:])
        if not path:
            raise ConfigError(name, url, "a sqlite URL needs a file path, e.g. sqlite:///var/console.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            # BEGIN IMMEDIATE serializes writers, so read-then-write sequences such as the
            # audit chain's append cannot interleave between processes.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }

    if scheme not in {"postgres", "postgresql", "mssql", "sqlserver", "azuresql"}:
        raise ConfigError(name, url, "expected a sqlite://, postgres:// or mssql:// URL")
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise ConfigError(name, url, "the URL names no database (add /dbname)")
    common = {
        "NAME": db_name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
    }
    if scheme in {"postgres", "postgresql"}:
        options = {key: value for key, value in query.items() if key in {"sslmode", "application_name"}}
        unknown = set(query) - set(options) - {"conn_max_age"}
        if unknown:
            raise ConfigError(name, url, f"unknown option(s) {', '.join(sorted(unknown))}")
        max_age = _int_option(name, url, query.get("conn_max_age", "0"))
        return {
            "ENGINE": "django.db.backends.postgresql",
            **common,
            "CONN_MAX_AGE": max_age,
            # A kept connection is pinged before a request reuses it: after a database restart or
            # failover the next request reconnects instead of answering 500.
            "CONN_HEALTH_CHECKS": max_age != 0,
            "OPTIONS": options,
        }
    # mssql:// — SQL Server or Azure SQL through mssql-django and pyodbc.
    options = {"driver": query.pop("driver", MSSQL_DEFAULT_DRIVER)}
    if "extra_params" in query:
        options["extra_params"] = query.pop("extra_params")
    if "authentication" in query:
        options["authentication"] = query.pop("authentication")
    for flag in ("host_is_server", "unicode_results", "return_rows_bulk_insert"):
        if flag in query:
            options[flag] = query.pop(flag).lower() == "true"
    if query:
        raise ConfigError(name, url, f"unknown option(s) {', '.join(sorted(query))}")
    return {"ENGINE": "mssql", **common, "OPTIONS": options}


def _int_option(name: str, url: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(name, url, f"option value {raw!r} is not a whole number") from None


# --- lake and broker --------------------------------------------------------------------------


def check_lake_url(name: str, url: str) -> str:
    """Accept a local folder (plain path or file://) or abfss://filesystem@account.dfs.core.windows.net/prefix."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.scheme == "file":
        return url
    if parts.scheme == "abfss":
        if "@" not in parts.netloc or not parts.hostname or ".dfs." not in parts.hostname:
            raise ConfigError(name, url, "expected abfss://filesystem@account.dfs.core.windows.net/prefix")
        return url
    raise ConfigError(name, url, "expected a folder path, file:// or abfss:// URL")


def check_broker_url(name: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in {"redis", "rediss", "filesystem", "memory", "amqp", "sentinel"}:
        raise ConfigError(name, url, "expected redis://host:port/db or filesystem://")
    return url


def resolve_path(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path
