"""Decision roles take two admins: console.people proposes, confirms (bound to the exact change), cancels."""
import pytest
from django.db import IntegrityError, transaction

from console import clock, people, roles
from console.choices import GrantState
from console.models import RoleGrant
from tests.console.people_helpers import events, group, refusals, roles_of


@pytest.mark.catalogue(55)
def test_a_grant_proposed_by_one_admin_and_confirmed_by_another_is_in_the_trail_with_before_and_after(
    adam, ada, olivia
):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    assert roles_of(olivia) == [roles.OPERATOR]  # nothing granted yet

    people.grant_confirm(actor=ada, grant=grant)

    grant.refresh_from_db()
    assert grant.state == GrantState.CONFIRMED and grant.decided_by == ada
    assert roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]
    (proposed,) = events("role.grant_proposed", "olivia")
    assert proposed.actor == adam and proposed.before == {"groups": ["operator"]}
    (confirmed,) = events("role.grant_confirmed", "olivia")
    assert confirmed.actor == ada
    assert confirmed.before == {"groups": ["operator"]}
    assert confirmed.after["groups"] == ["approver", "operator"] and confirmed.after["proposed_by"] == "adam"
    assert confirmed.after["change_hash"] == grant.change_hash
    (changed,) = events("user.groups_changed", "olivia").filter(actor=ada)
    assert changed.before == {"groups": ["operator"]} and changed.after == {"groups": ["approver", "operator"]}


@pytest.mark.catalogue(55)
def test_the_admin_who_proposed_cannot_confirm(adam, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    with pytest.raises(people.RoleChangeRefused, match="four eyes"):
        people.grant_confirm(actor=adam, grant=grant)
    grant.refresh_from_db()
    assert grant.state == GrantState.PENDING and roles_of(olivia) == [roles.OPERATOR]
    (refused,) = refusals("olivia")
    assert refused.actor == adam and refused.after["attempted"] == {"confirm": grant.pk, "role": "approver"}


def test_the_database_refuses_a_grant_confirmed_by_its_proposer(adam, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    grant.state, grant.decided_by, grant.decided_at = GrantState.CONFIRMED, adam, clock.now()
    with pytest.raises(IntegrityError, match="grant_confirmer_not_proposer"), transaction.atomic():
        grant.save()


def test_the_database_refuses_a_grant_proposed_for_oneself(adam):
    with pytest.raises(IntegrityError, match="grant_not_for_proposer"), transaction.atomic():
        RoleGrant.objects.create(user=adam, role=roles.APPROVER, proposed_by=adam, proposed_at=clock.now(),
                                 change_hash="0" * 64)


def test_no_admin_proposes_a_role_for_themselves(adam):
    with pytest.raises(people.RoleChangeRefused, match="themselves"):
        people.grant_propose(actor=adam, user=adam, role=roles.APPROVER)
    assert not RoleGrant.objects.exists()
    assert refusals("adam").get().after["attempted"] == {"propose": "approver"}


def test_a_confirmation_after_the_persons_roles_changed_is_refused_as_stale(adam, ada, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    people.user_change(actor=ada, user=olivia, groups=[roles.OPERATOR, roles.AUDITOR])

    with pytest.raises(people.RoleChangeRefused, match="stale"):
        people.grant_confirm(actor=ada, grant=grant)

    assert roles_of(olivia) == [roles.AUDITOR, roles.OPERATOR]
    grant.refresh_from_db()
    assert grant.state == GrantState.PENDING
    assert "stale" in refusals("olivia").get().after["reason"]


def test_a_cancelled_grant_cannot_be_confirmed(adam, ada, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.ADMIN)
    people.grant_cancel(actor=ada, grant=grant)
    with pytest.raises(people.RoleChangeRefused, match="already cancelled"):
        people.grant_confirm(actor=ada, grant=RoleGrant.objects.get(pk=grant.pk))
    assert roles_of(olivia) == [roles.OPERATOR]
    assert events("role.grant_cancelled", "olivia").get().actor == ada


def test_only_admins_propose(arthur, olivia):
    with pytest.raises(people.RoleChangeRefused, match="admin role"):
        people.grant_propose(actor=arthur, user=olivia, role=roles.APPROVER)
    assert refusals("olivia").get().actor == arthur


def test_a_non_decision_role_takes_effect_at_once_and_is_audited(adam, oscar):
    people.user_change(actor=adam, user=oscar, groups=[roles.AUDITOR])
    assert roles_of(oscar) == [roles.AUDITOR]
    event = events("user.groups_changed", "oscar").last()
    assert event.actor == adam and event.before == {"groups": []} and event.after == {"groups": ["auditor"]}


def test_a_decision_role_is_never_added_by_a_plain_change(adam, oscar):
    with pytest.raises(people.RoleChangeRefused, match="decision role"):
        people.user_change(actor=adam, user=oscar, groups=[roles.APPROVER])
    assert roles_of(oscar) == []


def test_removing_a_decision_role_takes_effect_at_once(adam, arthur):
    people.user_change(actor=adam, user=arthur, groups=[])
    assert roles_of(arthur) == []
    assert events("user.groups_changed", "arthur").last().after == {"groups": []}


@pytest.mark.catalogue(55)
def test_no_admin_changes_their_own_roles_or_active_flag(adam):
    with pytest.raises(people.RoleChangeRefused, match="themselves"):
        people.user_change(actor=adam, user=adam, groups=[roles.ADMIN, roles.OPERATOR])
    assert roles_of(adam) == [roles.ADMIN]
    assert refusals("adam").get().after["attempted"] == {"groups": ["admin", "operator"]}


def test_deactivating_a_person_is_audited(adam, olivia):
    people.user_change(actor=adam, user=olivia, is_active=False)
    olivia.refresh_from_db()
    assert not olivia.is_active
    event = events("user.changed", "olivia").get()
    assert event.actor == adam and event.before == {"is_active": True} and event.after == {"is_active": False}


def test_a_password_reset_is_audited_without_the_hash(adam, olivia):
    old_hash = olivia.password
    password = people.user_password_reset(actor=adam, user=olivia).password
    olivia.refresh_from_db()
    assert olivia.check_password(password)
    event = events("user.password_changed", "olivia").get()
    assert event.actor == adam
    assert event.before == {"password": "set"} and event.after == {"password": "set", "changed": True}
    recorded = str(event.before) + str(event.after)
    assert old_hash not in recorded and olivia.password not in recorded and password not in recorded


def test_group_membership_is_four_eyes_from_the_group_side_too(adam, olivia):
    """group.user_set.add(...) (the reverse side) is seen by the same guard: audited with no command bound too."""
    group(roles.AUDITOR).user_set.add(olivia)
    event = events("user.groups_changed", "olivia").last()
    assert event.actor is None and event.after == {"groups": ["auditor", "operator"]}
