"""Which of the console's Django connections reads the curated registry (the rest of this package
takes whatever connection it is given)."""
from __future__ import annotations

from django.db import connections


def curated_reader():
    """A connection to read the curated registry with, even inside the caller's transaction.

    When "curated" is the console's own database (the default, and the test mirror), the gates read
    through the default connection's DB-API handle: no second connection, and inside approve's
    transaction they see the same snapshot. A separate curated database is read through its alias.
    """
    alias = "default" if curated_is_default() else "curated"
    connections[alias].ensure_connection()
    return connections[alias].connection


def curated_is_default() -> bool:
    """Whether the "curated" alias names the console's own database."""
    ours, theirs = connections["default"].settings_dict, connections["curated"].settings_dict
    return theirs.get("TEST", {}).get("MIRROR") == "default" or all(
        ours.get(k) == theirs.get(k) for k in ("ENGINE", "NAME", "HOST", "PORT")
    )
