"""The comparison itself (deliverables.scope.compare), on hand-made accounts, policies and directories: each case
the page must flag (a user seeing a client in Domo outside the backend scope, the reverse, a dynamic filter, a
negated filter, an open policy, an unscoped client), the operators, nested groups, and a deterministic order."""
from __future__ import annotations

import pytest

from deliverables.scope.compare import (
    BLOCKED,
    THROUGH,
    UNDECIDED,
    Account,
    Dataset,
    Directory,
    Policy,
    compare_client,
    evaluate_filter,
    pdp_only_accounts,
)

ACME = Account(key="0015e00000Qm7AcAAJ", account_id="0015e00000Qm7AcAAJ", name="ACME Manufacturing",
               domo_groups=("ACME Benefits",), governed=True)
DIRECTORY = Directory(
    users={1: ("Dana Whitfield", "dana@acme.example"), 2: ("Marcus Bell", "marcus@leaf.example"),
           3: ("Grace Liu", "grace@harbor.example"), 4: ("Sam Okafor", "sam@leaf.example"),
           5: ("Ivy Nested", "ivy@acme.example")},
    groups={100: ("ACME Benefits", (1, 101)), 101: ("ACME Finance", (5, 100)), 200: ("Analytics", (4,))},
)


def flt(values, *, column="Client Account", operator="EQUALS", negated=False, ignore_case=True, dynamic=False):
    return {"column": column, "operator": operator, "values": list(values), "negated": negated,
            "ignore_case": ignore_case, "dynamic": dynamic}


def policy(name, filters=(), *, users=(), groups=(), type_="user", policy_id=1):
    return Policy(policy_id=policy_id, name=name, type=type_, filters=tuple(filters), user_ids=tuple(users),
                  group_ids=tuple(groups))


def dataset(*policies, name="PBM Claims 2025", pdp_enabled=True):
    return Dataset(domo_id=f"ds-{name}", name=name, pdp_enabled=pdp_enabled, owner_name="Sam Okafor",
                   policies=tuple(policies))


def test_the_backend_group_and_its_nested_group_agree_with_a_client_policy():
    scope = compare_client(ACME, [dataset(policy("ACME", [flt(["ACME Manufacturing"])], groups=[100]))], DIRECTORY)
    assert [name for _, name in scope.backend_groups] == ["ACME Benefits", "ACME Finance"]  # the cycle stops
    assert scope.backend_users == (1, 5)
    assert [(u.name, u.in_backend, u.domo, u.flag) for u in scope.users] == [
        ("Dana Whitfield", True, "saw", ""), ("Ivy Nested", True, "saw", "")]
    assert not scope.has_differences


def test_a_user_who_saw_the_client_in_domo_outside_the_backend_scope_is_domo_only():
    west = policy("Regional Account Manager, West", [flt(["ACME Manufacturing", "Cascade Health Partners"])],
                  users=[2])
    scope = compare_client(ACME, [dataset(policy("ACME", [flt(["ACME Manufacturing"])], groups=[100]), west)],
                           DIRECTORY)
    marcus = next(u for u in scope.users if u.name == "Marcus Bell")
    assert (marcus.in_backend, marcus.domo, marcus.flag) == (False, "saw", "domo_only")
    assert marcus.via == ("PBM Claims 2025: Regional Account Manager, West",)
    assert [u.name for u in scope.domo_only] == ["Marcus Bell"]
    assert "Marcus Bell" in scope.flags[0].message and "outside the backend scope" in scope.flags[0].message


def test_a_backend_user_domo_did_not_let_in_is_backend_only():
    other = policy("Bluewater", [flt(["Bluewater County Schools"])], groups=[100])
    scope = compare_client(ACME, [dataset(other)], DIRECTORY)
    assert [u.name for u in scope.backend_only] == ["Dana Whitfield", "Ivy Nested"]
    assert all(u.domo == "" for u in scope.backend_only)
    assert {f.code for f in scope.flags} == {"backend_only"}


def test_a_dynamic_filter_is_never_guessed_its_users_are_flagged_undecided():
    dynamic = policy("Own account", [flt(["Client Account"], dynamic=True)], users=[3, 1])
    scope = compare_client(ACME, [dataset(dynamic)], DIRECTORY)
    (access,) = scope.datasets[0].policies
    assert access.verdict.outcome == UNDECIDED and "dynamic filter" in access.verdict.reason
    assert [(u.name, u.domo, u.flag) for u in scope.users] == [
        ("Dana Whitfield", "undecided", "undecided"), ("Grace Liu", "undecided", "undecided"),
        ("Ivy Nested", "", "backend_only")]
    assert not scope.domo_only  # an undecided policy lets nobody in for sure


def test_a_negated_filter_lets_every_other_client_through():
    all_but_summit = policy("All but Summit", [flt(["Summit Logistics Group"], negated=True)], users=[3])
    scope = compare_client(ACME, [dataset(all_but_summit)], DIRECTORY)
    assert scope.datasets[0].policies[0].verdict.outcome == THROUGH
    assert [u.name for u in scope.domo_only] == ["Grace Liu"]
    summit = Account(key="S", account_id="S", name="Summit Logistics Group", domo_groups=("ACME Benefits",),
                     governed=True)
    assert compare_client(summit, [dataset(all_but_summit)], DIRECTORY).datasets[0].policies[0].verdict.outcome \
        == BLOCKED


def test_the_open_all_rows_policy_lets_its_users_and_groups_see_every_client():
    open_policy = policy("All Rows", users=[4], groups=[200], type_="open")
    scope = compare_client(ACME, [dataset(open_policy)], DIRECTORY)
    assert scope.datasets[0].policies[0].verdict.reason == "the open All Rows policy"
    assert scope.domo_groups == ((200, "Analytics"),)
    assert [u.name for u in scope.domo_only] == ["Sam Okafor"]


def test_an_unscoped_client_is_flagged_and_no_group_is_inferred():
    prospect = Account(key="P", account_id="P", name="Riverbend Credit Union", governed=True,
                       unscoped_reason="the governed Salesforce account names no Domo group: no backend scope")
    scope = compare_client(prospect, [dataset(policy("All Rows", users=[4], type_="open"))], DIRECTORY)
    assert scope.flags[0].code == "unscoped" and scope.backend_groups == () and scope.backend_users == ()
    assert [u.name for u in scope.domo_only] == ["Sam Okafor"]  # the backend lets nobody see it


def test_a_group_the_directory_does_not_hold_is_flagged_not_guessed():
    lost = Account(key="X", account_id="X", name="ACME Manufacturing", domo_groups=("Gone Group",), governed=True)
    scope = compare_client(lost, [dataset(policy("ACME", [flt(["ACME Manufacturing"])], groups=[999]))], DIRECTORY)
    codes = [f.code for f in scope.flags]
    assert codes == ["group_unknown", "group_id_unknown"]
    assert "'Gone Group'" in scope.flags[0].message and "group 999" in scope.flags[1].message


@pytest.mark.parametrize(("filter_", "outcome"), [
    (flt(["acme manufacturing"]), THROUGH),  # ignoreCase defaults to true
    (flt(["acme manufacturing"], ignore_case=False), BLOCKED),
    (flt(["ACME Manufacturing"], operator="NOT_IN"), BLOCKED),
    (flt(["ACME Manufacturing"], operator="NOT_IN", negated=True), THROUGH),
    (flt(["ACME%"], operator="LIKE"), THROUGH),
    (flt(["ACM_ Manufacturing"], operator="LIKE"), THROUGH),
    (flt(["ACME"], operator="BEGINS_WITH"), THROUGH),
    (flt(["Manufacturing"], operator="ENDS_WITH"), THROUGH),
    (flt(["Manu"], operator="CONTAINS"), THROUGH),
    (flt(["A", "B"], operator="BETWEEN"), THROUGH),
    (flt(["B", "C"], operator="BETWEEN"), BLOCKED),
    (flt(["A"], operator="BETWEEN"), UNDECIDED),
    (flt(["0015e00000Qm7AcAAJ"], column="Client Account ID"), THROUGH),
    (flt(["0015e00000Qm7BwAAJ"], column="Client Account ID"), BLOCKED),
    (flt(["retail"], column="Channel"), UNDECIDED),
    (flt(["x"], operator="REGEX"), UNDECIDED),
])
def test_filters(filter_, outcome):
    assert evaluate_filter(filter_, ACME).outcome == outcome


def test_one_blocking_filter_blocks_the_policy_whatever_else_it_holds():
    both = policy("Both", [flt(["retail"], column="Channel"), flt(["Bluewater County Schools"])], users=[3])
    access = compare_client(ACME, [dataset(both)], DIRECTORY).datasets[0].policies[0]
    assert access.verdict.outcome == BLOCKED


def test_a_client_only_domo_names_is_unscoped_and_the_report_is_deterministic():
    policies = [policy("Northwind", [flt(["Northwind Traders"])], users=[3]),
                policy("ACME", [flt(["acme manufacturing"])], groups=[100])]
    (northwind,) = pdp_only_accounts([ACME], [dataset(*policies)])
    assert (northwind.key, northwind.name, northwind.account_id) == ("Northwind Traders", "Northwind Traders", "")
    assert "no Salesforce account" in northwind.unscoped_reason
    scope = compare_client(northwind, [dataset(*policies)], DIRECTORY)
    assert [u.name for u in scope.domo_only] == ["Grace Liu"]
    assert compare_client(ACME, [dataset(*policies)], DIRECTORY) == compare_client(
        ACME, [dataset(*policies)], DIRECTORY)


def test_pdp_disabled_on_a_dataset_with_policies_is_flagged():
    scope = compare_client(ACME, [dataset(policy("ACME", [flt(["ACME Manufacturing"])], groups=[100]),
                                          pdp_enabled=False)], DIRECTORY)
    assert [f.code for f in scope.flags] == ["pdp_disabled"]
