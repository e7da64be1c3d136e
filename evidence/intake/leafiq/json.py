"""JSON reading for the readers: strict parsing, Domo's two ways of writing an instant, and _Node,
the cursor over a JSON object that names the file, object and field of every error it raises."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evidence.intake.leafiq.model import MAX_JSON_BYTES, LeafIQFormatError


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, *, file: str) -> Any:
    """The JSON value of raw: UTF-8 (a BOM is tolerated), strict JSON (no NaN or Infinity)."""
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise LeafIQFormatError(f"not UTF-8 (byte {exc.start})", file=file) from None
    except RecursionError:
        raise LeafIQFormatError("nested too deeply to read", file=file) from None
    except ValueError as exc:
        raise LeafIQFormatError(f"not valid JSON: {exc}", file=file) from None


def load_json(path: Path, *, file: str | None = None) -> Any:
    """The JSON value of the file at path, at most MAX_JSON_BYTES of it (see parse_json)."""
    file = file or path.name
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise LeafIQFormatError(f"{size} bytes, over the {MAX_JSON_BYTES}-byte limit for JSON files", file=file)
        raw = path.read_bytes()
    except OSError as exc:
        raise LeafIQFormatError(f"cannot be read: {exc.strerror or exc}", file=file) from None
    return parse_json(raw, file=file)


def parse_timestamp(value: Any) -> datetime | None:
    """Domo's two ways of writing an instant: ISO 8601 (public API) or epoch milliseconds (internal)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    raise ValueError(f"expected an ISO 8601 string or epoch milliseconds, got {type(value).__name__}")


_JSON_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
                    float: "a number", type(None): "null"}


def json_kind(value: Any) -> str:
    """How a JSON value is named in messages: \"an object\", \"a list\", \"a string\"..."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class _Node:
    """A JSON object being read, carrying the file, object and field path that every error names."""

    def __init__(self, data: Any, *, file: str, object: str | None, path: str = ""):
        self.file, self.object, self.path = file, object, path
        if not isinstance(data, dict):
            raise self.error(f"expected an object, got {json_kind(data)}")
        self.data: dict[str, Any] = data

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, message: str, key: str | None = None) -> LeafIQFormatError:
        where = self.at(key) if key is not None else (self.path or None)
        return LeafIQFormatError(message, file=self.file, object=self.object, field=where)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def first_key(self, *keys: str) -> str:
        """The first of keys present (not null), or the first key, for the error message."""
        return next((key for key in keys if self.has(key)), keys[0])

    def str(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {json_kind(value)}", key)
        return value

    def int(self, key: str, *, required: bool = True) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        try:
            return _as_int(value)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def id(self, key: str, *, required: bool = True) -> str | None:
        """An identifier Domo writes as a string or a number; kept as a string."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(f"expected a string or an integer id, got {json_kind(value)}", key)
        return str(value)

    def bool(self, key: str, default: bool | None = None) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {json_kind(value)}", key)
        return value

    def timestamp(self, key: str) -> datetime | None:
        try:
            return parse_timestamp(self.data.get(key))
        except (ValueError, OverflowError, OSError) as exc:
            raise self.error(f"not a timestamp: {exc}", key) from None

    def node(self, key: str, *, required: bool = True) -> _Node | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        return _Node(value, file=self.file, object=self.object, path=self.at(key))

    def list(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {json_kind(value)}", key)
        return value

    def nodes(self, key: str, *, required: bool = False) -> list[_Node]:
        return [_Node(item, file=self.file, object=self.object, path=f"{self.at(key)}[{index}]")
                for index, item in enumerate(self.list(key, required=required))]

    def ints(self, key: str) -> tuple[int, ...]:
        """A list of ids, written as numbers, digit strings or objects with an id."""
        result = []
        for index, item in enumerate(self.list(key)):
            if isinstance(item, dict):
                item = item.get("id", item.get("userId", item.get("groupId")))
            try:
                result.append(_as_int(item))
            except ValueError as exc:
                raise self.error(str(exc), f"{key}[{index}]") from None
        return tuple(result)

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of scalar values, as strings (PDP values are strings; numbers are written as given)."""
        result = []
        for index, item in enumerate(self.list(key)):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"expected a string or a number, got {json_kind(item)}", f"{key}[{index}]")
            result.append(item if isinstance(item, str) else json.dumps(item))
        return tuple(result)

    def choice(self, key: str, choices: tuple[str, ...], *, required: bool = True,
               normalize=lambda value: value) -> str | None:
        value = self.str(key, required=required)
        if value is None:
            return None
        value = normalize(value)
        if value not in choices:
            raise self.error(f"{value!r} is not one of {', '.join(choices)}", key)
        return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise ValueError(f"expected an integer, got {json_kind(value)} {value!r}"[:120])
