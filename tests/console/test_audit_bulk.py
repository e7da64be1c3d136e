"""Bulk and raw writes are audited: every one in the apps is accounted for (console.audit_coverage), and the
business ones, run for real, leave as many audited rows as rows changed."""
from __future__ import annotations

import ast
import functools
from collections import Counter
from pathlib import Path

import pytest
from axes.models import AccessAttempt

from console.audit_coverage import BULK_WRITES, EXEMPT, JOB_BOOKKEEPING, PER_ROW, SUMMARY
from console.models import AuditEvent
from console.services import login_unlock

pytestmark = [pytest.mark.catalogue(18)]

ROOT = Path(__file__).resolve().parents[2]
APPS = ("console", "promotion", "evidence", "deliverables")
BULK_METHODS = {"bulk_create", "bulk_update", "raw"}
QUERYSET_WRITES = {"update", "delete"}
MANAGERS = {"objects", "_default_manager", "_base_manager"}
# Calls that keep a queryset a queryset, and those that turn it into one row (whose .delete() is Model.delete).
QUERYSET_CALLS = {"filter", "exclude", "all", "select_for_update", "using", "order_by", "none", "rows",
                  "select_related", "prefetch_related", "only", "defer", "distinct", "annotate"}
ONE_ROW = {"first", "last", "get", "latest", "earliest"}


def _target(node: ast.expr, querysets: set[str]) -> str | None:
    """What a queryset expression is made on (the model before `.objects`, or the name holding it), or None
    when the expression is not a queryset (a dict, a set, a hash, one model instance)."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ONE_ROW:
                return None
            if node.func.attr not in QUERYSET_CALLS:
                return None
            if node.func.attr == "rows" and not isinstance(node.func.value, ast.Call):
                return ast.unparse(node.func)  # console.jobs' JobTable.rows(...)
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            if node.attr in MANAGERS:
                return ast.unparse(node.value)
            return None
        elif isinstance(node, ast.Name):
            return node.id if node.id in querysets else None
        else:
            return None


def _writes_in(function: ast.AST) -> list[tuple[str, str]]:
    """(target, method) of every bulk or raw write call in a function (its nested functions included)."""
    querysets: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _target(node.value, querysets):
            querysets.update(t.id for t in node.targets if isinstance(t, ast.Name))
    found = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, node.func.value
        if method == "cursor":
            found.append((ast.unparse(receiver), method))
        elif method in BULK_METHODS:
            target = _target(receiver, querysets)
            found.append((target or ast.unparse(receiver), method))
        elif method in QUERYSET_WRITES and not node.args:
            target = _target(receiver, querysets)
            if target:
                found.append((target, method))
    return found


@functools.cache  # one parse of the apps for the tests below
def scan() -> Counter:
    """(module, function, target, method) -> calls, for every bulk or raw write call in the apps."""
    found: Counter = Counter()

    def walk(body, module: str, prefix: str = "") -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for target, method in _writes_in(node):
                    found[(module, prefix + node.name, target, method)] += 1
            elif isinstance(node, ast.ClassDef):
                walk(node.body, module, f"{prefix}{node.name}.")
            else:
                for target, method in _writes_in(node):
                    found[(module, f"{prefix}<module>", target, method)] += 1

    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            walk(ast.parse(path.read_text(), filename=str(path)).body, str(path.relative_to(ROOT)))
    return found


def test_every_bulk_and_raw_write_in_the_apps_is_accounted_for():
    listed = Counter({(w.module, w.function, w.target, w.method): w.calls for w in BULK_WRITES})
    found = scan()
    unlisted = {key: n for key, n in found.items() if listed.get(key) != n}
    gone = {key: n for key, n in listed.items() if found.get(key) != n}
    assert not unlisted, (
        "bulk or raw writes not accounted for in console.audit_coverage.BULK_WRITES (audit them, one event per "
        f"row or one event counting the rows, or say why they are exempt): {sorted(unlisted.items())}")
    assert not gone, f"console.audit_coverage.BULK_WRITES names calls no longer in the code: {sorted(gone.items())}"


def test_the_scan_sees_each_kind_of_bulk_write():
    """The scan is not blind: each kind the catalogue names is found somewhere (and so would a new one be)."""
    methods = {method for (_module, _function, _target, method) in scan()}
    assert {"bulk_create", "bulk_update", "update", "delete", "cursor"} <= methods


def test_each_entry_says_how_it_is_audited_or_why_not():
    for write in BULK_WRITES:
        assert write.audit in (PER_ROW, SUMMARY, EXEMPT), write
        assert write.how.strip(), write
    assert all(JOB_BOOKKEEPING.values())


def test_an_unlock_lists_every_failed_login_row_its_queryset_delete_removes(client, olivia, adam, settings):
    addresses = ["203.0.113.5", "203.0.113.6", "203.0.113.7"]
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        client.post("/login/", {"username": "olivia", "password": f"guess-{index}"},
                    REMOTE_ADDR=addresses[index % len(addresses)])
    rows = {(row.username, row.ip_address, row.failures_since_start) for row in AccessAttempt.objects.all()}
    assert len(rows) == 3

    login_unlock(actor=adam, kind="username", value="olivia")

    [event] = AuditEvent.objects.filter(action="auth.unlocked")
    assert not AccessAttempt.objects.exists()
    assert {(a["username"], a["ip"], a["failures"]) for a in event.before["attempts"]} == rows
    assert len(event.before["attempts"]) == len(rows)
