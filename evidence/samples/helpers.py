"""Small helpers of the sample export: seeded random streams, value formatting (money, dates,
decimals), and _Files, which writes the export's files and remembers each one's SHA-256 and size."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

CENT = Decimal("0.01")
SIX_PLACES = Decimal("0.000001")


def _rng(seed: int, stream: str) -> random.Random:
    # str seeds hash with SHA-512 (version 2): stable across runs and Python builds.
    return random.Random(f"leafiq-sample:{seed}:{stream}")


def _uuid4(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _thousandths(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, frac = divmod(value, 1000)
    return f"{sign}{whole}" if not frac else f"{sign}{whole}.{frac:03d}".rstrip("0")


def _dec(value: Decimal | None, places: Decimal = CENT) -> str:
    return "" if value is None else str(value.quantize(places, rounding=ROUND_HALF_UP))


def _double(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    text = str(Decimal(value).quantize(SIX_PLACES, rounding=ROUND_HALF_EVEN))
    return "0.000000" if text == "-0.000000" else text


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _luhn_npi(body9: str) -> str:
    digits = [int(d) for d in "80840" + body9]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body9 + str((10 - total % 10) % 10)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


class _HashingSink(io.RawIOBase):
    """A binary file that hashes and counts what goes through it."""

    def __init__(self, raw):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._raw.write(data)


class _Files:
    """Writes the export's files and remembers each one's path, SHA-256 and size."""

    def __init__(self, root: Path):
        self.root = root
        self.listed: dict[str, tuple[str, int]] = {}

    def write(self, relpath: str, data: bytes) -> None:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.listed[relpath] = (hashlib.sha256(data).hexdigest(), len(data))

    @contextmanager
    def csv_stream(self, relpath: str) -> Iterator[csv.writer]:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as raw:
            sink = _HashingSink(raw)
            text = io.TextIOWrapper(io.BufferedWriter(sink, buffer_size=1 << 20), encoding="utf-8", newline="")
            yield csv.writer(text, lineterminator="\r\n")
            text.flush()
            text.detach().flush()
        self.listed[relpath] = (sink.sha256.hexdigest(), sink.size)
