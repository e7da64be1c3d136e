"""The migrated test database, built once per machine and copied for every test process (PostgreSQL).

Each pytest process (and each of pytest-xdist's) has its own test database. Migrating one from nothing
takes seconds of CPU per process, eight processes a `make test`: instead the first process to need it
migrates its own database the usual way and keeps a copy as a template (`leaf_test_template_<hash>`,
the hash of every migration file, Django's version and the database engine); every other process,
in this run or a later one, creates its database with `CREATE DATABASE ... TEMPLATE`, then Django's
`migrate` runs as usual on it (nothing left to apply; post_migrate's seeding runs as always). An
advisory lock orders the processes, so a template is built once and never copied while being made.
A new or changed migration makes a new hash and so a new template; older ones are dropped.

SQLite's test databases live in memory and are made the usual way.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import django
from django.apps import apps
from django.db import DatabaseError, connections

PREFIX = "leaf_test_template_"
LOCK = 0x1EAF7E57  # pg_advisory_lock's key: the template's builders and copiers take turns


def template_name() -> str:
    digest = hashlib.sha256(f"{django.get_version()}|{connections['default'].settings_dict['ENGINE']}".encode())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return PREFIX + digest.hexdigest()[:16]


def _quote(name: str) -> str:
    return connections["default"].ops.quote_name(name)


@contextlib.contextmanager
def from_template() -> Iterator[bool]:
    """Inside: True when this process's test database was copied from the template (set it up with keepdb),
    False when it is to be made the usual way. On leaving after a usual set-up, the template is kept."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        yield False
        return
    test_name = connection.creation._get_test_db_name()
    template = template_name()
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        try:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"])
            templates = {name for (name,) in cursor.fetchall()}
            if template in templates:
                cursor.execute(f"DROP DATABASE IF EXISTS {_quote(test_name)}")
                cursor.execute(f"CREATE DATABASE {_quote(test_name)} TEMPLATE {_quote(template)}")
                yield True
                return
            yield False  # made the usual way (migrations) while the others wait
            for alias in connections:
                connections[alias].close()
            for old in templates:  # made from older migrations: no process asks for them any more
                with contextlib.suppress(DatabaseError):
                    cursor.execute(f"DROP DATABASE IF EXISTS {_quote(old)}")
            with contextlib.suppress(DatabaseError):  # a session still on it: the next process makes one
                cursor.execute(f"CREATE DATABASE {_quote(template)} TEMPLATE {_quote(test_name)}")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK])


def teardown(config, verbosity: int) -> None:
    """Drop this process's test databases. A session some test left open (a thread's, a raw driver's) does
    not keep a PostgreSQL test database alive: it is dropped WITH (FORCE) (PostgreSQL 13+)."""
    from django.test.utils import teardown_databases

    try:
        teardown_databases(config, verbosity=verbosity)
    except DatabaseError:
        connection = connections["default"]
        if connection.vendor != "postgresql":
            raise
        for alias in connections:
            connections[alias].close()
        with connection._nodb_cursor() as cursor:
            for database, old_name, destroy in config:
                test_name = database.settings_dict["NAME"]
                if destroy and test_name != old_name:  # not dropped yet: the name is still the test database's
                    cursor.execute(f"DROP DATABASE IF EXISTS {_quote(test_name)} WITH (FORCE)")
                    database.settings_dict["NAME"] = old_name
