"""What every benchmark shares: its own PostgreSQL database, created, set up for Django and dropped; a process's
peak memory."""
from __future__ import annotations

import os
import resource
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM (per address space, so a child started by a parent that built
    the data reports its own; ru_maxrss would carry the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(url: str, *, name: str) -> None:
    """Point Django at the bench database (curated included), DEBUG off, a throwaway var/."""
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CURATED_DATABASE_URL", None)  # curated = the bench database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG keeps every query in memory
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp(prefix=f"bench-{name}-")
    import django

    django.setup()


def say(message: str) -> None:
    print(message, flush=True)
