"""Decimals kept exactly, or refused: never a value silently changed by the column that stores it.

A decimal column holds `max_digits` digits with `decimal_places` of them after the point: PostgreSQL and SQL
Server round a value with more places and fail on one with more digits; SQLite (the embedded default) keeps a
decimal column's number as a binary float, exact to 15 significant digits only. `problem()` says, in words, why a
value would not be kept as it is ('' when it would); `ExactDecimalField` refuses such a value when it is saved
(ValueError naming the model, the field and the value), so no path (a form, a packet, a run's numbers, a bulk
write) stores a value other than the one given. Parsers of input call `problem()` first, to say it with the
file, row and column.
"""
from __future__ import annotations

from decimal import Decimal

from django.db import connection, models

SQLITE_DIGITS = 15  # what a binary float keeps exactly: SQLite's storage of a decimal column


def problem(value: Decimal, *, max_digits: int, decimal_places: int, vendor: str | None = None) -> str:
    """Why `value` would not be stored exactly in a DECIMAL(max_digits, decimal_places) column ('' if it would)."""
    if not value.is_finite():
        return "is not a finite number"
    _sign, digits, exponent = value.normalize().as_tuple()
    places = max(0, -exponent)
    whole = max(0, len(digits) + exponent)
    if places > decimal_places:
        return f"has {places} decimal places; at most {decimal_places} are kept"
    if whole > max_digits - decimal_places:
        return f"has {whole} digits before the point; at most {max_digits - decimal_places} are kept"
    significant = len(digits) if any(digits) else 0  # normalised: no leading or trailing zeros
    if (vendor or connection.vendor) == "sqlite" and significant > SQLITE_DIGITS:
        return (f"has {significant} significant digits; the embedded database (SQLite) keeps {SQLITE_DIGITS} "
                "exactly (PostgreSQL and Azure SQL keep more)")
    return ""


class ExactDecimalField(models.DecimalField):
    """A DecimalField that refuses, when saving, a value its column would not keep exactly (`problem`)."""

    def get_db_prep_save(self, value, connection):
        if value is not None:
            number = self.to_python(value)
            found = problem(number, max_digits=self.max_digits, decimal_places=self.decimal_places,
                            vendor=connection.vendor)
            if found:
                raise ValueError(f"{self.model._meta.label}.{self.name}: {number} {found}")
        return super().get_db_prep_save(value, connection)
