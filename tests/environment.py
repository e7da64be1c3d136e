"""Test environment defaults, loaded as a pytest plugin (`-p tests.environment`) before Django.

The suite runs against the real services of the machine: PostgreSQL and Redis on 127.0.0.1.
Set DATABASE_URL=sqlite:///... to run the SQLite pass of the embedded defaults.
"""
import os
import tempfile

os.environ.setdefault("DJANGO_ENV", "test")
# One database name per test process (pytest-django creates test_<name> and drops it after), so
# two runs on one machine never fight over the same test database.
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/leaf_console_{os.getpid()}")
os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_BROKER_URL", os.environ["TEST_REDIS_URL"])
# This run's broker keys (and its workers') live under their own prefix: parallel runs never
# consume or flush each other's messages.
os.environ.setdefault("CELERY_REDIS_KEY_PREFIX", f"leaf-test-{os.getpid()}:")
os.environ.setdefault("CONSOLE_VAR_DIR", tempfile.mkdtemp(prefix="leaf-console-test-"))
# Playwright's sync API runs an event loop in the test thread; the ORM calls made by test code
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
