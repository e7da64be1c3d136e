"""Typed readers for the environment that fail loudly, naming the variable.

Settings read every knob through these helpers, so a bad value stops the console at start-up
with a message an operator can act on, instead of surfacing later as a confusing error.
No Django import here: the module is used while settings are being built.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

# Variables whose value is a secret: an error says how long the value is and what is wrong, never what it is.
SECRET_VARIABLES = frozenset({"DJANGO_SECRET_KEY", "LAKE_ACCOUNT_KEY", "LAKE_SAS_TOKEN"})
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "ACCOUNT_KEY", "CREDENTIAL")
# Query parameters of a URL (and ODBC attributes inside them) that carry a credential.
_SECRET_PARAMETER = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|sig|signature|accountkey|account_key|key|credential)=([^&;]*)"
)


def is_secret_variable(name: str) -> bool:
    return name in SECRET_VARIABLES or any(word in name.upper() for word in _SECRET_WORDS)


def redact_url(url: str) -> str:
    """The URL with its password and credential parameters replaced by ***, e.g. for an error message."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    address, question, query = rest.partition("?")
    if "@" in address:
        userinfo, host = address.rsplit("@", 1)
        user, colon, _password = userinfo.partition(":")
        address = f"{user}{':***' if colon else ''}@{host}"
    if question:
        query = _SECRET_PARAMETER.sub(lambda match: f"{match.group(1)}=***", unquote(query))
    return f"{scheme}://{address}{question}{query}"


def shown_value(name: str, value: str) -> str:
    """How an error shows a variable's value: a secret by its length only, a URL without its credentials."""
    if is_secret_variable(name):
        return f"<{len(value)} characters, not shown>"
    if "://" in value:
        return repr(redact_url(value))
    return repr(value)


class ConfigError(Exception):
    """A configuration variable is set to a value the console cannot use.

    The message names the variable and what is wrong; a secret's value is never in it (`shown_value`).
    """

    def __init__(self, name: str, value: str, problem: str) -> None:
        super().__init__(f"{name}={shown_value(name, value)}: {problem}")
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


# --- the secret key --------------------------------------------------------------------------

# The key the console runs with when none is set (development and tests only): public, in this file.
DEVELOPMENT_KEY_PREFIX = "development-only-not-secret-"
DEVELOPMENT_SECRET_KEY = DEVELOPMENT_KEY_PREFIX + "x" * 40
# Public keys: the console's development key (and any key made from it), and the prefix Django's
# startproject gives the keys it writes into a settings file.
_PUBLIC_KEY_PREFIXES = {
    DEVELOPMENT_KEY_PREFIX: "the console's public development key",
    "django-insecure-": "Django's marker of an insecure, generated-in-a-file key",
}
SECRET_KEY_MIN_LENGTH = 50  # Django's own deploy check (security.W009): 50 characters, 5 distinct
SECRET_KEY_MIN_DISTINCT = 5
_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"


def check_secret_key(name: str, value: str | None, *, production: bool) -> str:
    """The key to sign sessions and tokens with. Production refuses a missing, public or weak key."""
    if not production:
        return value or DEVELOPMENT_SECRET_KEY
    if not value:
        raise ConfigError(name, "", f"production needs a random key of its own; {_GENERATE}")
    for prefix, what in _PUBLIC_KEY_PREFIXES.items():
        if value.startswith(prefix):
            raise ConfigError(name, value, f"starts with {what}, which anyone can read; {_GENERATE}")
    if len(value) < SECRET_KEY_MIN_LENGTH:
        raise ConfigError(
            name, value, f"too short: production needs at least {SECRET_KEY_MIN_LENGTH} characters; {_GENERATE}"
        )
    distinct = len(set(value))
    if distinct < SECRET_KEY_MIN_DISTINCT:
        raise ConfigError(
            name, value,
            f"only {distinct} distinct characters: production needs at least {SECRET_KEY_MIN_DISTINCT}; {_GENERATE}",
        )
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
