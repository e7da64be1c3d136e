"""Configuration comes from the environment; bad values stop start-up naming the variable."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from console.env import ConfigError, check_lake_url, database_from_url, env_bool, env_int, shown_value

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    # A user's shell, not the test runner's: none of the variables tests/environment.py sets.
    test_only = {"DATABASE_URL", "DJANGO_ENV", "LAKE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in test_only}
    return subprocess.run(
        [sys.executable, "manage.py", *args], check=False, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
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
        ("CURATED_LOCK_TIMEOUT", "0"),
        ("PROMOTION_CRASH_AT", "curated.pointer_moved"),  # a test's crash point, outside the test environment
        ("PROMOTION_PAUSE_AT", "curated.loaded"),  # a test's pause point, likewise
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(variable, value, tmp_path):
    result = run_manage("check", **{variable: value, "CONSOLE_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"{variable}=" in result.stderr
    assert "Configuration error" in result.stderr


@pytest.mark.catalogue(34)
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


# Answers of the production settings, over HTTPS and over HTTP (pages that need no collected static files: a
# deployment runs collectstatic first, and these headers come from the middleware whatever the page).
_PRODUCTION_ANSWERS = """
import json
from django.test import Client
host = {"HTTP_HOST": "console.leafhealth.example"}
answers = {url: Client().get(url, secure=True, **host) for url in ("/healthz", "/api/promotions/")}
plain = Client().get("/login/", **host)
print(json.dumps({"https": {url: {"status": a.status_code, **dict(a.headers)} for url, a in answers.items()},
                  "http": {"status": plain.status_code, "location": plain.get("Location")}}))
"""


@pytest.mark.catalogue(34)
def test_production_responses_carry_hsts_nosniff_referrer_policy_coop_and_frame_ancestors(tmp_path):
    import json

    result = run_manage(
        "shell", "-c", _PRODUCTION_ANSWERS,
        DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="console.leafhealth.example", CONSOLE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["http"] == {"status": 301, "location": "https://console.leafhealth.example/login/"}
    for url, headers in answers["https"].items():
        assert headers["status"] in (200, 401), url
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload", url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
        assert headers["X-Frame-Options"] == "DENY", url


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
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
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


# --- secrets are refused when weak and never printed ---------------------------------------------

DEVELOPMENT_KEY = "development-only-not-secret-" + "x" * 40


def refused(result, variable: str, secret: str, problem: str) -> str:
    """The start-up failed naming the variable and the problem, and the secret appears nowhere."""
    printed = result.stdout + result.stderr
    assert result.returncode != 0, printed
    assert f"{variable}=" in result.stderr and problem in result.stderr, result.stderr
    assert secret not in printed
    return result.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (DEVELOPMENT_KEY, "starts with the console's public development key"),
        (DEVELOPMENT_KEY + secrets.token_urlsafe(16), "starts with the console's public development key"),
        ("development-only-not-secret-" + secrets.token_urlsafe(40), "starts with the console's public development key"),
        ("django-insecure-" + secrets.token_urlsafe(48), "Django's marker of an insecure"),
        (secrets.token_urlsafe(24), "too short: production needs at least 50 characters"),
        ("ab0" * 30, "only 3 distinct characters"),
    ],
    ids=["development-key", "development-key-extended", "development-prefix", "django-insecure", "short", "repetitive"],
)
def test_production_refuses_a_public_or_weak_key_without_printing_it(key, problem, tmp_path):
    result = run_manage(
        "check", DJANGO_ENV="production", DJANGO_SECRET_KEY=key, DJANGO_ALLOWED_HOSTS="console.example",
        CONSOLE_VAR_DIR=str(tmp_path),
    )
    stderr = refused(result, "DJANGO_SECRET_KEY", key, problem)
    assert f"DJANGO_SECRET_KEY=<{len(key)} characters, not shown>" in stderr
    assert "Configuration error" in stderr


def test_a_server_importing_the_settings_refuses_the_development_key_without_printing_it(tmp_path):
    # gunicorn and celery import the settings without manage.py: the traceback must not show the key either.
    code = "import django; django.setup()"
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**clean, "DJANGO_SETTINGS_MODULE": "console.settings", "DJANGO_ENV": "production",
             "DJANGO_SECRET_KEY": DEVELOPMENT_KEY, "CONSOLE_VAR_DIR": str(tmp_path)},
    )
    refused(result, "DJANGO_SECRET_KEY", DEVELOPMENT_KEY, "public development key")
    assert "x" * 40 not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        ("DATABASE_URL", "postgres://leaf:Hunter2-db-pass@db.internal/console?sslmod=require", "Hunter2-db-pass"),
        ("DATABASE_URL", "mysql://leaf:Hunter2-db-pass@db.internal/console", "Hunter2-db-pass"),
        ("CURATED_DATABASE_URL", "postgres://leaf:Hunter2-db-pass@db.internal:notaport/x", "Hunter2-db-pass"),
        ("CURATED_DATABASE_URL",
         "mssql://leaf@sql.example/curated?extra_params=Encrypt%3Dyes%3BPWD%3DHunter2-odbc-pass&bogus=1",
         "Hunter2-odbc-pass"),
        ("CELERY_BROKER_URL", "kafka://:Hunter2-redis-pass@broker:6379/0", "Hunter2-redis-pass"),
        ("LAKE_URL", "s3://AKIAEXAMPLE:Hunter2-storage-key@bucket/prefix", "Hunter2-storage-key"),
        ("LAKE_URL", "https://leaf.blob.example/bronze?sv=2024&sig=Hunter2-sas-signature", "Hunter2-sas-signature"),
    ],
    ids=["postgres", "unknown-scheme", "bad-port", "odbc-password", "broker", "lake-key", "lake-sas"],
)
def test_a_refused_url_is_shown_without_its_credentials(variable, value, secret, tmp_path):
    result = run_manage("check", **{variable: value, "CONSOLE_VAR_DIR": str(tmp_path)})
    stderr = refused(result, variable, secret, "Configuration error")
    assert "***" in stderr


def test_shown_values_keep_what_helps_and_hide_credentials():
    assert shown_value("DATABASE_URL", "postgres://leaf:pw@db:5432/console?sslmode=require") == (
        "'postgres://leaf:***@db:5432/console?sslmode=require'"
    )
    assert shown_value("LAKE_URL", "abfss://bronze@leaf.dfs.core.windows.net/x") == (
        "'abfss://bronze@leaf.dfs.core.windows.net/x'"
    )
    assert shown_value("LAKE_SAS_TOKEN", "sv=2024&sig=abc") == "<15 characters, not shown>"
    assert shown_value("DJANGO_DEBUG", "maybe") == "'maybe'"
