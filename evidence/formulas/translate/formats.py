"""DATE_FORMAT, DAYNAME and MONTHNAME: the specifiers of Domo's table (DFMT) written with each
target's own formatting: TO_CHAR (PostgreSQL), STRFTIME (DuckDB, SQLite) and FORMAT with en-US names
(T-SQL), and computed text where the target's function lacks a specifier (SQLite has no month names,
.NET no day of the year). %w follows Domo's documentation (1 = Sunday), reported because MySQL's %w
starts at 0; a specifier outside the table is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import TokenType

from evidence.formulas.dialect import DIALECT
from evidence.formulas.translate.dates import iso_thursday, part, temporal
from evidence.formulas.translate.generator import Emitter, rule
from evidence.formulas.tree import call_name

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September")
_MONTHS += ("October", "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_EXPANDED = {"r": "%h:%i:%s %p", "T": "%H:%i:%s"}
# Specifier -> (PostgreSQL TO_CHAR, DuckDB STRFTIME, T-SQL FORMAT, SQLite STRFTIME); None: computed.
_NATIVE = {
    "Y": ("YYYY", "%Y", "yyyy", "%Y"),
    "y": ("YY", "%y", "yy", None),
    "m": ("MM", "%m", "MM", "%m"),
    "c": ("FMMM", "%-m", "M", None),
    "d": ("DD", "%d", "dd", "%d"),
    "e": ("FMDD", "%-d", "d", None),
    "H": ("HH24", "%H", "HH", "%H"),
    "k": ("FMHH24", "%-H", "H", None),
    "h": ("HH12", "%I", "hh", None),
    "I": ("HH12", "%I", "hh", None),
    "l": ("FMHH12", "%-I", "h", None),
    "i": ("MI", "%M", "mm", "%M"),
    "s": ("SS", "%S", "ss", "%S"),
    "S": ("SS", "%S", "ss", "%S"),
    "f": ("US", "%f", "ffffff", None),
    "p": ("AM", "%p", "tt", None),
    "M": ("FMMonth", "%B", "MMMM", None),
    "b": ("Mon", "%b", "MMM", None),
    "W": ("FMDay", "%A", "dddd", None),
    "a": ("Dy", "%a", "ddd", None),
    "j": ("DDD", "%j", None, "%j"),
    "w": ("D", None, None, None),
    "v": ("IW", "%V", None, None),
    "x": ("IYYY", "%G", None, None),
}
_COLUMN = {"postgres": 0, "duckdb": 1, "tsql": 2, "sqlite": 3}


def _format_text(g: Emitter, node: exp.Expr, fmt: exp.Expr) -> str | None:
    """The format as written: sqlglot stores MySQL formats converted to Python's."""
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None
    strings = [t.text for t in DIALECT.tokenize(g.ctx.text(node)) if t.token_type == TokenType.STRING]
    return strings[-1] if strings else None


def _specifiers(text: str) -> list[tuple[str, str]]:
    """[("spec", "Y") | ("text", "-")], with %r and %T expanded."""
    items: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text):
            code = text[i + 1]
            if code in _EXPANDED:
                items.extend(_specifiers(_EXPANDED[code]))
            elif code == "%":
                items.append(("text", "%"))  # kept apart from the text around it: harmless
            else:
                items.append(("spec", code))
            i += 2
        else:
            if items and items[-1][0] == "text":
                items[-1] = ("text", items[-1][1] + text[i])
            else:
                items.append(("text", text[i]))
            i += 1
    return items


def date_format(g: Emitter, node: exp.Expr, x_node: exp.Expr, text: str) -> str:
    x = temporal(g, x_node)
    items = _specifiers(text)
    for kind, code in items:
        if kind == "spec" and code not in _NATIVE:
            return g.fail(
                f"{g.text(node)}: the specifier %{code} is not in Domo's date format table, so it is not "
                "translated."
            )
    if ("spec", "w") in items:
        g.problem(
            f"{g.text(node)}: Domo documents %w as 1-7 with Sunday = 1, MySQL's %w is 0-6 with Sunday = 0; "
            "translated as Domo documents it."
        )
    if ("spec", "f") in items and g.target == "sqlite":
        g.problem(f"{g.text(node)}: SQLite keeps milliseconds only, so %f ends in 000.")
    if not any(kind == "spec" for kind, _ in items):
        return f"CASE WHEN {x} IS NULL THEN NULL ELSE {g.string(text.replace('%%', '%'))} END"
    pieces: list[tuple[str, str]] = []  # ("native", token) | ("text", chars) | ("sql", expression)
    for kind, code in items:
        if kind == "text":
            pieces.append(("text", code))
            continue
        native = _NATIVE[code][_COLUMN[g.target]]
        pieces.append(("native", native) if native is not None else ("sql", _computed(g, x, code)))
    return _assemble(g, x, pieces)


def _computed(g: Emitter, x: str, code: str) -> str:
    """Text of a specifier the target's format function lacks."""
    if g.target == "duckdb":  # only %w
        return f"CAST({part(g, x, 'DOW0')} + 1 AS VARCHAR)"
    if g.target == "tsql":
        if code == "j":
            return f"RIGHT('00' + CAST({part(g, x, 'DAYOFYEAR')} AS VARCHAR(3)), 3)"
        if code == "w":
            return f"CAST({part(g, x, 'DOW0')} + 1 AS VARCHAR(1))"
        if code == "v":
            return f"RIGHT('0' + CAST({part(g, x, 'ISOWEEK')} AS VARCHAR(2)), 2)"
        return f"CAST({part(g, x, 'ISOYEAR')} AS VARCHAR(4))"
    hour = part(g, x, "HOUR")
    month, day = f"STRFTIME('%m', {x})", f"STRFTIME('%w', {x})"
    sqlite = {
        "y": f"SUBSTR(STRFTIME('%Y', {x}), 3, 2)",
        "c": f"CAST(CAST({month} AS INTEGER) AS TEXT)",
        "e": f"CAST({part(g, x, 'DAY')} AS TEXT)",
        "k": f"CAST({hour} AS TEXT)",
        "h": f"PRINTF('%02d', ({hour} + 11) % 12 + 1)",
        "I": f"PRINTF('%02d', ({hour} + 11) % 12 + 1)",
        "l": f"CAST(({hour} + 11) % 12 + 1 AS TEXT)",
        "f": f"SUBSTR(STRFTIME('%f', {x}), 4) || '000'",
        "p": f"CASE WHEN {hour} < 12 THEN 'AM' ELSE 'PM' END",
        "M": _names(month, _MONTHS, "%02d", 1),
        "b": _names(month, [m[:3] for m in _MONTHS], "%02d", 1),
        "W": _names(day, _DAYS, "%d", 0),
        "a": _names(day, [d[:3] for d in _DAYS], "%d", 0),
        "w": f"CAST({part(g, x, 'DOW0')} + 1 AS TEXT)",
        "v": f"PRINTF('%02d', {part(g, x, 'ISOWEEK')})",
        "x": f"STRFTIME('%Y', {iso_thursday(x)})",
    }
    return sqlite[code]


def _names(key: str, names: Sequence[str], form: str, first: int) -> str:
    whens = " ".join(f"WHEN '{form % (i + first)}' THEN '{name}'" for i, name in enumerate(names))
    return f"CASE {key} {whens} END"


def _assemble(g: Emitter, x: str, pieces: list[tuple[str, str]]) -> str:
    runs: list[str] = []  # SQL text pieces, concatenated at the end
    pattern: list[str] = []  # the current format-function pattern
    plain: list[str] = []  # its text as written, in case it holds no specifier
    previous = ""  # the last specifier token of the pattern, "" after text

    def flush() -> None:
        nonlocal previous
        if pattern:
            native = any(kind == "native" for kind in pattern_kinds)
            runs.append(_format_call(g, x, "".join(pattern)) if native else g.string("".join(plain)))
        pattern.clear(), plain.clear(), pattern_kinds.clear()
        previous = ""

    pattern_kinds: list[str] = []
    for kind, value in pieces:
        if kind == "sql":
            flush()
            runs.append(value)
            continue
        if kind == "native" and previous:
            if g.target == "postgres":
                pattern.append('""')  # keeps DD and D apart (DDD is the day of the year)
            elif g.target == "tsql" and previous[-1] == value[0]:
                flush()  # FORMAT would read M followed by M as MM
        pattern.append(value if kind == "native" else _literal_in_format(g, value))
        plain.append(value)
        pattern_kinds.append(kind)
        previous = value if kind == "native" else ""
    flush()
    joiner = " + " if g.target == "tsql" else " || "
    sql = runs[0] if len(runs) == 1 else "(" + joiner.join(runs) + ")"
    if g.target == "sqlite" and any(kind == "sql" for kind, _ in pieces):
        return f"CASE WHEN JULIANDAY({x}) IS NULL THEN NULL ELSE {sql} END"
    return sql


def _literal_in_format(g: Emitter, text: str) -> str:
    if g.target == "postgres":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if g.target == "tsql":
        return "".join("\\" + ch for ch in text)
    return text.replace("%", "%%")


def _format_call(g: Emitter, x: str, pattern: str) -> str:
    if g.target == "postgres":
        return f"TO_CHAR({x}, {g.string(pattern)})"
    if g.target == "duckdb":
        return f"STRFTIME({x}, {g.string(pattern)})"
    if g.target == "sqlite":
        return f"STRFTIME({g.string(pattern)}, {x})"
    if len(pattern) == 1:
        pattern = "%" + pattern  # a lone letter would be a standard .NET format
    return f"FORMAT({x}, {g.string(pattern)}, 'en-US')"


@rule("DATE_FORMAT")
def _date_format(g: Emitter, node: exp.TimeToStr) -> str:
    text = _format_text(g, node, node.args.get("format"))
    if text is None:
        return g.fail(f"{g.text(node)}: only a written format (a string) is translated.")
    return date_format(g, node, node.this, text)


@rule("DAYNAME", "MONTHNAME")
def _names_rule(g: Emitter, node: exp.Anonymous) -> str:
    return date_format(g, node, node.expressions[0], "%W" if call_name(node) == "DAYNAME" else "%M")
