"""Snapshot SDK guard: every call of the Azure storage SDK that can create or replace a file passes a
create-only condition; nothing relies on the SDK's default, which overwrites.

Read from the source with `ast` over every app module (nothing is imported): a new `upload_data(...)` or
`create_file()` without `match_condition=MatchConditions.IfMissing` (or `overwrite=False`) fails here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("console", "promotion", "evidence", "deliverables")
# azure-storage-file-datalake and azure-storage-blob methods that write a path; each overwrites unless told not to.
CREATING = frozenset({
    "create_file", "create_directory", "rename_file", "rename_directory", "upload_data", "upload_blob",
    "create_append_blob", "create_page_blob", "commit_block_list", "start_copy_from_url", "put_blob",
    "upload_blob_from_url",
})
CREATE_ONLY = "MatchConditions.IfMissing"


def unguarded_creates(source: str, where: str = "<source>") -> list[str]:
    """`where:line method` of each creating call without a create-only condition, and of any overwrite=True."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        keywords = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
        name = node.func.attr
        if keywords.get("overwrite") == "True":
            found.append(f"{where}:{node.lineno} {name}(overwrite=True)")
        elif name in CREATING and keywords.get("match_condition") != CREATE_ONLY and keywords.get("overwrite") != "False":
            found.append(f"{where}:{node.lineno} {name}()")
    return found


def app_modules() -> list[Path]:
    return sorted(path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts)


@pytest.mark.catalogue(53)
def test_every_sdk_call_that_creates_a_lake_path_is_create_only():
    found = [hit for path in app_modules()
             for hit in unguarded_creates(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


@pytest.mark.catalogue(53)
def test_the_guard_sees_the_lakes_own_creating_calls():
    """Not vacuous: the ADLS backend's two creating calls (the private upload, its rename onto the lake
    path) are found, and both carry the condition."""
    source = (ROOT / "console" / "lake" / "adls.py").read_text()
    calls = [node.func.attr for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CREATING]
    assert sorted(calls) == ["create_file", "rename_file"]
    assert unguarded_creates(source) == []


@pytest.mark.catalogue(53)
@pytest.mark.parametrize("call", [
    "client.upload_data(data)",
    "client.upload_data(data, overwrite=True)",
    "client.create_file()",
    "client.rename_file(target, match_condition=MatchConditions.IfNotModified)",
    "blob.upload_blob(stream)",
])
def test_the_guard_refuses_a_call_relying_on_the_default_overwrite(call):
    assert unguarded_creates(call) != []


@pytest.mark.catalogue(53)
@pytest.mark.parametrize("call", [
    "client.upload_data(data, overwrite=False)",
    "client.create_file(match_condition=MatchConditions.IfMissing)",
])
def test_the_guard_accepts_a_create_only_call(call):
    assert unguarded_creates(call) == []
