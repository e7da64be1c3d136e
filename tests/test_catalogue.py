"""The reliability catalogue (../shared/reliability-catalogue.md) is held by the suite, item by item.

Every item from 1 to 56 has at least one test marked `@pytest.mark.catalogue(N)` (on the test function, its
class, or the module's `pytestmark`), or README's reliability table says, on that item's row, that it is not
runnable here and why (only what needs SQL Server or Azure may say so). README's table has one row per item,
and the files a row names hold a test marked with that item. The marks are read from the source with `ast`
(nothing is imported, nothing is collected): the count is the same whichever pass (`-m "not worker"`, SQLite)
runs this test.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = range(1, 57)
NOT_HERE = "not runnable here"
# Items the suite does not hold yet (issue 18 open). The test requires exactly these to be missing: a new marked
# test must take its number out of here, and nothing else may go missing.
PENDING: set[int] = set()


def _numbers(call: ast.AST) -> list[int]:
    """The item numbers of `pytest.mark.catalogue(1, 2)` (or `mark.catalogue(...)`), else []."""
    if not isinstance(call, ast.Call):
        return []
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "catalogue"):
        return []
    numbers = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, int)):
            raise AssertionError(f"catalogue marks take literal item numbers, not {ast.unparse(arg)}")
        numbers.append(arg.value)
    return numbers


def _module_marks(tree: ast.Module) -> list[int]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            for value in values:
                found += _numbers(value)
    return found


def _has_tests(node: ast.AST) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name.startswith("test")
    if isinstance(node, ast.ClassDef):
        return node.name.startswith("Test") and any(_has_tests(child) for child in node.body)
    return False


def marked() -> dict[int, set[str]]:
    """Item number -> the test files (relative to the project) holding a test marked with it."""
    found: dict[int, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = str(path.relative_to(ROOT))
        numbers = []
        if any(_has_tests(node) for node in tree.body):
            numbers += _module_marks(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _has_tests(node):
                for decorator in node.decorator_list:
                    numbers += _numbers(decorator)
        for number in numbers:
            assert number in ITEMS, f"{where}: catalogue({number}) is not an item of the catalogue (1..56)"
            found.setdefault(number, set()).add(where)
    return found


def readme_rows() -> dict[int, tuple[str, str]]:
    """README's reliability table: item -> (what the test does, where it lives)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Reliability catalogue", 1)
    assert len(section) == 2, "README.md has no '## Reliability catalogue' section"
    body = section[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]  # \| is a pipe in a cell
        if len(cells) >= 3 and cells[0].isdigit():
            number = int(cells[0])
            assert number not in rows, f"README's reliability table has item {number} twice"
            rows[number] = (cells[1], cells[2])
    return rows


def test_every_item_has_a_marked_test_or_a_reason_it_cannot_run_here():
    marks, rows = marked(), readme_rows()
    exempt = {n for n, (_, where) in rows.items() if NOT_HERE in where.lower()}
    for number in exempt:
        where = rows[number][1]
        assert re.search(r"SQL Server|Azure", where), (
            f"README's reliability table: item {number} is not runnable here only for SQL Server or Azure, not: "
            f"{where!r}")
    missing = {n for n in ITEMS if n not in marks and n not in exempt}
    assert missing == PENDING, (f"items with no marked test and no reason in README: {sorted(missing - PENDING)}; "
                                f"marked now, take them out of PENDING: {sorted(PENDING - missing)}")


def test_readme_table_names_where_each_item_lives():
    marks, rows = marked(), readme_rows()
    assert set(rows) == set(ITEMS) - PENDING, (
        f"README's reliability table: rows missing for {sorted(set(ITEMS) - PENDING - set(rows))}, "
        f"rows for items still pending {sorted(set(rows) & PENDING)}")
    for number, (what, where) in sorted(rows.items()):
        assert what, f"README's reliability table: item {number} does not say what its test does"
        if NOT_HERE in where.lower() and number not in marks:
            continue
        named = set(re.findall(r"tests/[\w/]+\.py", where))
        assert named, f"README's reliability table: item {number} names no test file ({where!r})"
        assert named <= marks.get(number, set()), (
            f"README's reliability table: item {number} names {sorted(named - marks.get(number, set()))}, which "
            f"hold no test marked catalogue({number})")


def test_every_parity_suite_names_test_files_and_the_promotion_audit_and_bad_input_suites_are_among_them():
    """Item 50: the SQLite pass runs PARITY_SUITES; an entry that no longer names a test file (a rename) would
    drop a suite from that pass without a word."""
    from tests.environment import PARITY_SUITES

    test_files = [path.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("test_*.py")]
    empty = [suite for suite in PARITY_SUITES if not any(name.startswith(suite) for name in test_files)]
    assert not empty, f"parity suites naming no test file: {empty}"
    for needed in ("tests/promotion/", "tests/console/test_audit_", "tests/evidence/test_csv_edge_cases.py",
                   "tests/console/test_api_json_limits.py", "tests/deliverables/runs/"):
        assert needed in PARITY_SUITES, needed
