"""SQL statements of a DataFlow, parsed with the records the formula engine's rules read.

MySQL flows are parsed with the engine's own parser (MySQL's, plus the written function names and
source spans, evidence.formulas.dialect); Redshift flows with Redshift's parser given the same
records (`RedshiftSpans`, through dialect.SpannedParser). A text that is not SQL raises
Unparseable, which carries its UNPARSEABLE flaw.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.parsers.redshift import RedshiftParser

from evidence.formulas import Flaw, nesting
from evidence.formulas.dialect import DIALECT, SpannedParser
from evidence.formulas.model import FLAW_CODES

_QUOTES = "`'\""
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")


class _RedshiftParser(SpannedParser, RedshiftParser):
    """Redshift's parser, recording what the engine's rules read: each call's written name
    (meta NAME) and source span (meta SPAN), as the engine's BeastModeParser does for MySQL,
    and the token of a syntax error."""


class RedshiftSpans(Redshift):
    """Redshift, parsed with source spans for the formula engine (registered as "redshiftspans")."""

    Parser = _RedshiftParser


_SQL_DIALECTS = {"MYSQL": DIALECT, "REDSHIFT": RedshiftSpans()}


class Unparseable(Exception):
    """A SQL text that does not parse; `flaw` is its UNPARSEABLE flaw."""

    def __init__(self, flaw: Flaw):
        super().__init__(flaw.message)
        self.flaw = flaw


def parse_statements(text: str, database_type: str) -> list[exp.Expr]:
    """The statements of one SQL text; Unparseable (with an UNPARSEABLE flaw) when it is not SQL."""
    dialect = _SQL_DIALECTS[database_type]
    parser = dialect.parser()
    nesting.ensure_room()
    try:
        tokens = dialect.tokenize(text)
        if (deepest := nesting.too_deep(tokens)) is not None:
            too_deep = (f"it nests more than {nesting.MAX_NESTING} levels of parentheses, calls and CASE … END, "
                        f"where the console reads at most {nesting.MAX_NESTING}")
            raise Unparseable(_unparseable(text, too_deep, deepest.start, deepest.end + 1))
        trees = parser.parse(tokens, text)
    except TokenError as error:
        start = _unclosed_quote(text)
        end = len(text) if start is not None else None
        raise Unparseable(_unparseable(text, "A quote or back-quote is not closed", start, end)) from error
    except ParseError as error:
        token = parser.error_tokens[0] if parser.error_tokens else None
        description = (error.errors[0].get("description") if error.errors else None) or str(error)
        description = _TOKEN_REPR.sub(lambda m: repr(m.group(1)), description)
        start, end = (token.start, token.end + 1) if token is not None else (None, None)
        raise Unparseable(_unparseable(text, description, start, end)) from error
    except SqlglotError as error:
        raise Unparseable(_unparseable(text, str(error), None, None)) from error
    except RecursionError as error:  # a long chain of operators nests as deep as the parser can go
        raise Unparseable(_unparseable(text, "the statement is nested too deeply to be read", None, None)) from error
    return [tree for tree in trees if tree is not None]


def _unparseable(text: str, description: str, start: int | None, end: int | None) -> Flaw:
    where = ""
    if start is not None:
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        where = f" (line {line}, column {column})"
    return Flaw(
        code="UNPARSEABLE",
        severity=FLAW_CODES["UNPARSEABLE"].severity,
        snippet=text[start:end] if start is not None and end else text,
        message=f"The SQL does not parse: {description}{where}.",
        suggestion=None,
        start=start,
        end=end,
    )


def _unclosed_quote(text: str) -> int | None:
    """Where the quote that is never closed opens ('' and \\' escapes taken into account)."""
    quote, opened, index = None, None, 0
    while index < len(text):
        char = text[index]
        if quote is None:
            if char in _QUOTES:
                quote, opened = char, index
        elif char == "\\" and quote != "`":
            index += 1
        elif char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                index += 1
            else:
                quote = None
        index += 1
    return opened if quote is not None else None
