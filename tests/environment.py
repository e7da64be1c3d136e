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


# --- the SQLite pass: the parity suites -----------------------------------------------------------------
# SQLite is the embedded default (`make run`), PostgreSQL the deployment's database: the PostgreSQL pass runs
# everything; the SQLite pass runs what the embedded default must do the same way (catalogue item 50: the
# promotion, audit, decimal and bad-input suites) and what tests the embedded default itself, and of those only
# the tests that use a database (a test that touches none gives the same result on either pass).
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                      "live_server"}
PARITY_SUITES = (
    # promotion: requests, gates, four eyes, curated loads and pointer moves, rollbacks, the registry
    "tests/promotion/",
    # audit: the chain, its anchors, tampering, bulk writes, actors, atomicity, queries and the trail
    "tests/console/test_audit_",
    # decimal: exact money through the calculation runs (the embedded engine), provenance, publication,
    # workbooks and the JSON API
    "tests/deliverables/runs/",
    "tests/deliverables/provenance/test_rows.py",
    "tests/deliverables/publication/test_services.py",
    "tests/deliverables/workbooks/test_services.py",
    "tests/deliverables/reconciliation/test_money_api.py",
    "tests/deliverables/reconciliation/test_services.py",
    # bad input: CSV edge cases, validation, hostile archives, JSON limits, every API parameter's edges,
    # identifiers, stored markup, log lines
    "tests/evidence/test_csv_edge_cases.py",
    "tests/evidence/test_validation.py",
    "tests/evidence/test_hostile_archives.py",
    "tests/console/test_api_json_limits.py",
    "tests/console/test_api_fuzz.py",
    "tests/console/test_api_id_filters.py",
    "tests/console/test_api_cursors.py",
    "tests/console/test_identifier_injection.py",
    "tests/console/test_stored_xss.py",
    "tests/console/test_log_lines.py",
    # the embedded default itself: the intake and the sample export as `make run` receives them, sign-in,
    # sessions and people (the first-run users), the start-up configuration
    "tests/evidence/test_intake.py",
    "tests/evidence/test_sample_export.py",
    "tests/console/test_login_lockout.py",
    "tests/console/test_sessions.py",
    "tests/console/test_people_",
    "tests/console/test_configuration.py",
    "tests/console/test_exact_decimals.py",
    "tests/console/test_run_console.py",
)


def pytest_addoption(parser):
    parser.addoption(
        "--parity-suites", action="store_true",
        help="run only the parity suites (tests.environment.PARITY_SUITES), and of them only the tests that use "
             "the database (marked django_db, or asking for a database fixture); the SQLite pass of `make test`",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--parity-suites"):
        return
    keep, drop = [], []
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        uses_db = item.get_closest_marker("django_db") or _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db and path.startswith(PARITY_SUITES) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
