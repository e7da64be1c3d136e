"""Configuration comes from the environment; bad values stop start-up naming the variable."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from console.env import ConfigError, check_lake_url, database_from_url, env_bool, env_int

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    # A user's shell, not the test runner's: none of the variables tests/environment.py sets.
    test_only = {"DATABASE_URL", "DJANGO_ENV", "LAKE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in test_only}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://db/x"),
        ("DATABASE_URL", "postgres://host:notaport/x"),
        ("CURATED_DATABASE_URL", "postgres://host/"),
        ("LAKE_URL", "s3://bucket/prefix"),
        ("LAKE_URL", "abfss://no-account-here/prefix"),
        ("CELERY_BROKER_URL", "kafka://broker"),
        ("SESSION_TIMEOUT_SECONDS", "soon"),
        ("DJANGO_DEBUG", "maybe"),
        ("DJANGO_ENV", "staging"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(variable, value, tmp_path):
    result = run_manage("check", **{variable: value, "CONSOLE_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"{variable}=" in result.stderr
    assert "Configuration error" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="console.leafhealth.example",
        CONSOLE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    result = run_manage("check", DJANGO_ENV="production", CONSOLE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_embedded_defaults_use_sqlite_local_lake_and_filesystem_broker(tmp_path):
    code = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.LAKE_URL,"
        " s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER]))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LAKE_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "console.settings", "CONSOLE_VAR_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    engine, name, lake, broker, eager = __import__("json").loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "console.sqlite3")
    assert lake == str(tmp_path / "lake")
    assert broker == "filesystem://"
    assert eager is False


def test_postgres_url_becomes_a_django_database():
    db = database_from_url("DATABASE_URL", "postgres://leaf:s%40cret@db.internal:6432/console?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "leaf", "s@cret", "db.internal", "6432", "console"
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_kept_postgres_connections_are_checked_before_reuse():
    kept = database_from_url("DATABASE_URL", "postgres://h/db?conn_max_age=60")
    assert (kept["CONN_MAX_AGE"], kept["CONN_HEALTH_CHECKS"]) == (60, True)
    per_request = database_from_url("DATABASE_URL", "postgres://h/db")
    assert (per_request["CONN_MAX_AGE"], per_request["CONN_HEALTH_CHECKS"]) == (0, False)


def test_azure_sql_url_carries_odbc_driver_and_extra_params():
    db = database_from_url(
        "DATABASE_URL",
        "mssql://leaf:pw@leaf.database.windows.net:1433/curated"
        "?driver=ODBC+Driver+18+for+SQL+Server&extra_params=Encrypt%3Dyes%3BTrustServerCertificate%3Dno",
    )
    assert db["ENGINE"] == "mssql"
    assert db["OPTIONS"] == {
        "driver": "ODBC Driver 18 for SQL Server",
        "extra_params": "Encrypt=yes;TrustServerCertificate=no",
    }


def test_unknown_database_option_is_refused():
    with pytest.raises(ConfigError, match="DATABASE_URL=.*unknown option"):
        database_from_url("DATABASE_URL", "postgres://h/db?sslmod=require")


def test_lake_url_accepts_folders_and_adls_accounts():
    assert check_lake_url("LAKE_URL", "var/lake") == "var/lake"
    adls = "abfss://bronze@leafhealth.dfs.core.windows.net/takeover"
    assert check_lake_url("LAKE_URL", adls) == adls


def test_typed_helpers_name_the_variable():
    with pytest.raises(ConfigError, match="AUDIT_PAGE_SIZE="):
        env_int("AUDIT_PAGE_SIZE", 50, {"AUDIT_PAGE_SIZE": "0"}, minimum=1)
    with pytest.raises(ConfigError, match="DJANGO_DEBUG="):
        env_bool("DJANGO_DEBUG", False, {"DJANGO_DEBUG": "perhaps"})
    assert env_bool("DJANGO_DEBUG", False, {"DJANGO_DEBUG": "on"}) is True
