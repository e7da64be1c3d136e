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
# pytest-xdist's workers inherit the controller's environment: each worker makes its own prefix and
# var dir in place of the ones the controller generated (never in place of ones set by hand).
# pytest-django already gives each worker its own test database (test_<name>_gw<N>).
_generated = set(filter(None, os.environ.get("LEAF_TEST_GENERATED", "").split(",")))
_per_process = {
    "CELERY_REDIS_KEY_PREFIX": lambda: f"leaf-test-{os.getpid()}:",
    "CONSOLE_VAR_DIR": lambda: tempfile.mkdtemp(prefix="leaf-console-test-"),
}
for _name, _make in _per_process.items():
    if _name not in os.environ or (_name in _generated and os.environ.get("PYTEST_XDIST_WORKER")):
        os.environ[_name] = _make()
        _generated.add(_name)
os.environ["LEAF_TEST_GENERATED"] = ",".join(sorted(_generated))
# Playwright's sync API runs an event loop in the test thread; the ORM calls made by test code
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# --- the SQLite pass: the tests that use the database ------------------------------------------------
# A test that touches no database gives the same result on either pass; the PostgreSQL pass runs it.
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                      "live_server"}


def pytest_addoption(parser):
    parser.addoption(
        "--db-tests-only", action="store_true",
        help="run only the tests that use the database (marked django_db, or asking for a database fixture); "
             "the SQLite pass of `make test` uses it",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--db-tests-only"):
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
