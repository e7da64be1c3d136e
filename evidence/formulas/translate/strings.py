"""String, logical and numeric functions with Domo's (MySQL's) semantics on each target.

Choices where Domo is silent (domo-formula-semantics.md, "Strings and identifiers"):
* LIKE matches case-insensitively, as under MySQL's default collation; the other string
  functions and `=` compare as the target does (exactly, except T-SQL, which follows the
  database collation for `=`): every translation using them carries a note saying so.
* LENGTH counts characters (Adrenaline lists OCTET_LENGTH separately for bytes), not MySQL's bytes.
* ROUND rounds half away from zero on the decimal value (ADR: ".5 rounds up"): a DOUBLE is cast
  to an exact decimal first, since PostgreSQL rounds doubles half-to-even and DuckDB rounds the
  binary value (2.675 to 2.67).
"""

from __future__ import annotations

from sqlglot import exp

from evidence.formulas.translate.generator import Emitter, rule
from evidence.formulas.tree import number_value


def _case_note(g: Emitter) -> None:
    equality = "= follows the database collation" if g.target == "tsql" else "= and IN compare exactly"
    g.note(
        "Domo does not document whether string comparisons are case-sensitive: LIKE is translated "
        f"case-insensitively (MySQL's default), INSTR and REPLACE compare exactly, {equality}."
    )


_EXACT_COLLATION = "Latin1_General_100_BIN2"  # T-SQL: compare code points, whatever the database collation


def _integer(node: exp.Expr | None) -> int | None:
    value = number_value(node) if node is not None else None
    return int(value) if value is not None and value == int(value) else None


def _nonnegative(g: Emitter, node: exp.Expr) -> str:
    """A length argument: MySQL reads a negative length as 0 (LEFT('abc', -1) is '')."""
    value = _integer(node)
    if value is not None:
        return str(max(value, 0))
    sql = g.sql(node)
    return f"CASE WHEN {sql} < 0 THEN 0 ELSE {sql} END"


def _text(g: Emitter, node: exp.Expr) -> str:
    """A string argument; numbers are converted as MySQL does."""
    return g.text_of(node)


def _length(g: Emitter, sql: str) -> str:
    # T-SQL's LEN ignores trailing spaces; the appended character keeps them counted.
    return f"(LEN({sql} + N'.') - 1)" if g.target == "tsql" else f"LENGTH({sql})"


# --- logical ---------------------------------------------------------------------------------------
@rule("IFNULL", "NVL", "COALESCE")
def _coalesce(g: Emitter, node: exp.Coalesce) -> str:
    arguments = [node.this, *node.expressions]
    return f"COALESCE({', '.join(g.sql(a) for a in arguments)})"


@rule("NULLIF")
def _nullif(g: Emitter, node: exp.Nullif) -> str:
    return f"NULLIF({g.sql(node.this)}, {g.sql(node.expression)})"


@rule(exp.EQ, exp.NEQ, exp.In)
def _equality(g: Emitter, node: exp.Expr) -> str:
    sides = [node.this, node.args.get("expression"), *(node.args.get("expressions") or [])]
    if any(side is not None and g.type_of(side) == "STRING" for side in sides):
        _case_note(g)
    return g.plain(node)


@rule(exp.Like)
def _like(g: Emitter, node: exp.Like) -> str:
    _case_note(g)
    value, pattern = g.sql(node.this), node.expression
    negate = " NOT" if node.args.get("negate") else ""
    pattern_sql = g.sql(pattern)
    escape = ""
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        text = pattern.this
        if g.target == "tsql" and "[" in text:
            text = text.replace("[", "\\[")  # T-SQL reads [...] as a character class
            pattern_sql = g.string(text)
        if "\\" in text:
            escape = " ESCAPE '\\'"  # MySQL's escape character; PostgreSQL's default, not the others'
    elif g.target == "tsql":
        g.problem(f"{g.text(node)}: T-SQL reads [ ] in a pattern as a character class, which MySQL does not.")
    if g.target in ("postgres", "duckdb"):
        return f"{value}{negate} ILIKE {pattern_sql}{escape}"
    if g.target == "sqlite":
        if g.type_of(node.this) != "STRING" or not (
            isinstance(pattern, exp.Literal) and pattern.this.isascii()
        ):
            g.note("SQLite's LIKE ignores the case of ASCII letters only.")
        return f"{value}{negate} LIKE {pattern_sql}{escape}"
    return f"{value} COLLATE Latin1_General_100_CI_AS{negate} LIKE {pattern_sql}{escape}"


# --- strings ---------------------------------------------------------------------------------------
@rule("CONCAT")
def _concat(g: Emitter, node: exp.Concat) -> str:
    """MySQL's CONCAT is NULL when any argument is NULL: || (or T-SQL's +), never CONCAT()."""
    parts = [_text(g, argument) for argument in node.expressions]
    if len(parts) == 1:
        return parts[0]
    return "(" + (" + " if g.target == "tsql" else " || ").join(parts) + ")"


@rule("INSTR", "STRPOS")
def _instr(g: Emitter, node: exp.StrPosition) -> str:
    _case_note(g)
    haystack, needle = _text(g, node.this), _text(g, node.args["substr"])
    if g.target == "postgres":
        return f"STRPOS({haystack}, {needle})"
    if g.target == "duckdb":
        return f"STRPOS({haystack}, {needle})"
    if g.target == "sqlite":
        return f"INSTR({haystack}, {needle})"
    found = f"CHARINDEX({needle}, {haystack} COLLATE {_EXACT_COLLATION})"
    substr = node.args["substr"]
    if isinstance(substr, exp.Literal) and substr.this:
        return found
    # MySQL finds '' at position 1; CHARINDEX says 0.
    empty = f"CASE WHEN {haystack} IS NULL THEN NULL ELSE 1 END"
    return f"CASE WHEN DATALENGTH({needle}) = 0 THEN {empty} ELSE {found} END"


@rule("LEFT")
def _left(g: Emitter, node: exp.Left) -> str:
    text, count = _text(g, node.this), _nonnegative(g, node.expression)
    if g.target == "sqlite":
        return f"SUBSTR({text}, 1, {count})"
    return f"LEFT({text}, {count})"


@rule("RIGHT")
def _right(g: Emitter, node: exp.Right) -> str:
    text = _text(g, node.this)
    if g.target != "sqlite":
        return f"RIGHT({text}, {_nonnegative(g, node.expression)})"
    value = _integer(node.expression)
    if value is not None:
        return f"SUBSTR({text}, -{value})" if value > 0 else f"SUBSTR({text}, 1, 0)"
    count = g.sql(node.expression)
    return f"CASE WHEN {count} > 0 THEN SUBSTR({text}, -({count})) ELSE SUBSTR({text}, 1, 0) END"


@rule("SUBSTRING")
def _substring(g: Emitter, node: exp.Substring) -> str:
    text = _text(g, node.this)
    start_node, length_node = node.args.get("start"), node.args.get("length")
    start = _integer(start_node)
    length = None if length_node is None else _nonnegative(g, length_node)
    if start is None:
        g.problem(
            f"{g.text(node)} starts at a computed position: MySQL counts a negative position from the end "
            f"and returns '' for 0, which {g.engine} does not reproduce."
        )
        start_sql = g.sql(start_node)
    elif start == 0:
        return f"CASE WHEN {text} IS NULL THEN NULL ELSE '' END"  # MySQL: position 0 gives ''
    elif start < 0:
        # MySQL counts from the end, and gives '' when the position is before the start.
        size = _length(g, text)
        inner = _substring_sql(g, text, f"{size} + {start + 1}", length)
        return f"CASE WHEN {size} < {-start} THEN '' ELSE {inner} END"
    else:
        start_sql = str(start)
    return _substring_sql(g, text, start_sql, length)


def _substring_sql(g: Emitter, text: str, start: str, length: str | None) -> str:
    if g.target == "postgres":
        return f"SUBSTRING({text} FROM {start}" + (f" FOR {length})" if length is not None else ")")
    if g.target == "sqlite":
        return f"SUBSTR({text}, {start}" + (f", {length})" if length is not None else ")")
    if g.target == "tsql" and length is None:
        length = "2147483647"  # T-SQL's SUBSTRING needs a length
    return f"SUBSTRING({text}, {start}" + (f", {length})" if length is not None else ")")


@rule("LENGTH")
def _length_rule(g: Emitter, node: exp.Length) -> str:
    return _length(g, _text(g, node.this))


@rule("UPPER", "LOWER")
def _case(g: Emitter, node: exp.Expr) -> str:
    if g.target == "sqlite":
        g.problem(f"{g.text(node)}: SQLite's UPPER and LOWER change ASCII letters only (é stays é).")
    return f"{'UPPER' if isinstance(node, exp.Upper) else 'LOWER'}({_text(g, node.this)})"


@rule("TRIM")
def _trim(g: Emitter, node: exp.Trim) -> str:
    if node.args.get("expression") is not None or node.args.get("position"):
        return g.fail(f"{g.text(node)}: only TRIM(text), which removes spaces, is translated.")
    return f"TRIM({_text(g, node.this)})"


@rule("REPLACE")
def _replace(g: Emitter, node: exp.Replace) -> str:
    _case_note(g)
    text, old, new = _text(g, node.this), _text(g, node.expression), _text(g, node.args["replacement"])
    if g.target == "tsql":
        text = f"{text} COLLATE {_EXACT_COLLATION}"  # MySQL's REPLACE is case-sensitive
    return f"REPLACE({text}, {old}, {new})"


@rule("LPAD", "RPAD")
def _pad(g: Emitter, node: exp.Pad) -> str:
    name = "LPAD" if node.args.get("is_left") else "RPAD"
    if g.target not in ("postgres", "duckdb"):
        return g.fail(f"{g.text(node)}: {g.engine} has no {name} that shortens longer text as MySQL's does.")
    fill = node.args.get("fill_pattern")
    arguments = [_text(g, node.this), g.sql(node.expression)] + ([_text(g, fill)] if fill is not None else [])
    return f"{name}({', '.join(arguments)})"


# --- numbers ---------------------------------------------------------------------------------------
@rule("ABS")
def _abs(g: Emitter, node: exp.Abs) -> str:
    return f"ABS({g.sql(node.this)})"


@rule("ROUND")
def _round(g: Emitter, node: exp.Round) -> str:
    value_node, places_node = node.this, node.args.get("decimals")
    value = g.sql(value_node)
    places = _integer(places_node) if places_node is not None else 0
    places_sql = g.sql(places_node) if places_node is not None else "0"
    exact = g.type_of(value_node) in ("LONG", "DECIMAL")
    if g.target == "sqlite":
        # SQLite rounds half away from zero on the decimal digits; it has no negative places.
        if places is None or places < 0:
            return g.fail(f"{g.text(node)}: SQLite's ROUND takes no negative or computed number of places.")
        return f"ROUND({value}, {places})"
    if places is None and g.target == "duckdb" and not exact:
        g.problem(
            f"{g.text(node)}: DuckDB rounds a DOUBLE to a computed number of places on its binary value."
        )
        return f"ROUND({value}, {places_sql})"
    if not exact:
        scale = max(10, (places or 0) + 2)
        decimal = {"postgres": "NUMERIC", "duckdb": f"DECIMAL(38, {scale})", "tsql": f"DECIMAL(38, {scale})"}
        value = f"CAST({value} AS {decimal[g.target]})"
    if g.target == "postgres" and places_node is None:
        return f"ROUND({value})"
    return f"ROUND({value}, {places_sql})"


@rule("CEILING", "FLOOR")
def _ceiling_floor(g: Emitter, node: exp.Expr) -> str:
    ceiling = isinstance(node, exp.Ceil)
    if node.args.get("decimals") is not None:
        return g.fail(f"{g.text(node)}: CEILING and FLOOR take one argument.")
    value = g.sql(node.this)
    if g.target == "sqlite":  # without relying on SQLite's optional math functions
        whole = f"CAST({value} AS INTEGER)"
        return f"({whole} + ({value} > {whole}))" if ceiling else f"({whole} - ({value} < {whole}))"
    if g.target == "tsql":
        return f"{'CEILING' if ceiling else 'FLOOR'}({value})"
    return f"{'CEIL' if ceiling else 'FLOOR'}({value})"


@rule("MOD", exp.Mod)  # MOD(a, b) has no function name: sqlglot makes it an operator
def _mod(g: Emitter, node: exp.Mod) -> str:
    """MySQL's MOD: the dividend's sign, NULL for a zero divisor, decimals allowed."""
    dividend, divisor = g.sql(node.this), g.sql(node.expression)
    integers = g.type_of(node.this) == "LONG" and g.type_of(node.expression) == "LONG"
    guarded = f"NULLIF({divisor}, 0)"
    if g.target == "postgres":
        if not integers:
            return f"MOD(CAST({dividend} AS NUMERIC), CAST({guarded} AS NUMERIC))"
        return f"MOD({dividend}, {guarded})"
    if g.target == "sqlite" and not integers:  # SQLite's % drops fractions
        return f"({dividend} - {divisor} * CAST(CAST({dividend} AS REAL) / {guarded} AS INTEGER))"
    if g.target == "tsql" and not integers:  # T-SQL's % refuses floats
        return f"(CAST({dividend} AS DECIMAL(38, 10)) % {guarded})"
    return f"({dividend} % {guarded})"


@rule("POWER", "POW")
def _power(g: Emitter, node: exp.Pow) -> str:
    base, exponent = g.sql(node.this), g.sql(node.expression)
    if g.target == "tsql":
        base = f"CAST({base} AS FLOAT)"  # T-SQL's POWER keeps the base's type: POWER(2, -1) is 0
    elif g.target == "postgres":
        base = f"CAST({base} AS DOUBLE PRECISION)"
    elif g.target == "sqlite":
        g.note("POWER needs SQLite's math functions (built in since 3.35 unless disabled).")
    return f"POWER({base}, {exponent})"
