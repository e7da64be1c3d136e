"""The API's JSON parser: DRF's, with the limits a hostile body must meet with a 400, never a 500.

DRF's JSONParser already refuses NaN and Infinity. What it lets through: a body nested deeper than
Python's recursion limit (json raises RecursionError, which DRF does not catch: a 500), an integer of
thousands of digits (Python's own 4300-digit guard answers with a message about sys.set_int_max_str_digits),
and a number like 1e999 that overflows to infinity. Here each is a ParseError naming what was refused.
"""
from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any body the API takes (its deepest: a list of objects in an object, a few levels).
MAX_DEPTH = 64
# Longer than any identifier or count the API takes; money travels as strings.
MAX_INTEGER_DIGITS = 64


class _Refused(ValueError):
    """A JSON value the API refuses, with the words the 400 says."""


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer of {digits:,} digits; the API accepts at most {MAX_INTEGER_DIGITS}")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:40]!r} is out of range (it would be infinite)")
    return value


def _parse_constant(name: str):
    raise _Refused(f"{name} is not a JSON number; send a number or a string")


def _depth_over(value, limit: int) -> bool:
    """Whether `value` nests lists or objects deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class SafeJSONParser(JSONParser):
    """JSONParser whose every refusal is a ParseError (400) saying what was refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - the body nests arrays or objects deeper than {MAX_DEPTH} "
                             "levels") from None
        except _Refused as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if _depth_over(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - the body nests arrays or objects deeper than {MAX_DEPTH} levels")
        return data
