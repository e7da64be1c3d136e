"""Forms of the People screen. They shape input only; every rule is console.people's to enforce."""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from console import roles


class PersonRolesForm(forms.Form):
    """A person's roles and active flag. Decision roles offered here can only be removed; adding one is a grant."""

    groups = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {roles.ROLE_DESCRIPTIONS[name]}") for name in roles.ROLE_PERMISSIONS],
        widget=forms.CheckboxSelectMultiple, required=False, label="Roles",
    )
    is_active = forms.BooleanField(required=False, label="Active (may sign in)")


class GrantProposeForm(forms.Form):
    """Propose a decision role for a person; another admin confirms it."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.order_by("username"), label="Person",
                                  error_messages={"required": "Choose the person.",
                                                  "invalid_choice": "No such person."})
    role = forms.ChoiceField(choices=[(name, name) for name in roles.DECISION_ROLES], label="Decision role",
                             error_messages={"required": "Choose the role."})
