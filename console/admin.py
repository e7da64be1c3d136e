"""Django admin of people and roles, held to the same rules as the console's People screen.

- is_superuser is shown, never editable (a superuser is made with `manage.py createsuperuser`).
- Your own groups, permissions and staff flag are shown read-only; a POST that tries to change them
  anyway (or is_superuser, for anyone) is refused whole, audited ("role.refused"), and saves nothing.
- Adding a decision role (approver, admin) here is refused with a message pointing at the People
  screen, where one admin proposes it and another confirms it. Removing one takes effect at once.
- A group's decision permissions are set by `manage.py seed_roles`; the permissions of a group you
  belong to are read-only.
- A username is never changed (the audit trail knows people by it): read-only here, refused by the guard.
- Someone else's password is reset on the People screen (console.people.user_password_reset, which holds its
  rules), never chosen here: the admin's password form is for your own password only.
- API tokens are listed by owner and fingerprint, never their key; they are revoked here, never issued
  (`manage.py drf_create_token` on the server issues them): a key shown or made for another person would let
  whoever saw it act as them.

console.people_guard refuses the same at the model layer, whatever the path; these make the admin say so.
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect
from django.urls import reverse
from rest_framework.authtoken import admin as token_admin  # registers DRF's token admin, replaced below
from rest_framework.authtoken.models import TokenProxy

from console import roles
from console.models import ApiToken, token_fingerprint
from console.people_guard import groups_of, is_decision_group, permission_labels, refuse

User = get_user_model()
SELF_PROTECTED = ("groups", "user_permissions", "is_staff")


def _refuse_post(request, *, object_type: str, object_id: str, fields: list[str], reason: str, current: dict):
    attempted = {name: request.POST.getlist(name) for name in fields}
    refuse(actor=request.user, object_type=object_type, object_id=object_id, attempted=attempted,
           current=current, reason=reason)  # audited by the middleware once the request is over
    messages.error(request, f"Refused: {reason}. Nothing was saved.")
    return HttpResponseRedirect(request.path)


class ConsoleUserAdmin(auth_admin.UserAdmin):
    readonly_fields = ("is_superuser", "last_login", "date_joined")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("username")
        if obj is not None and obj.pk == request.user.pk:
            fields += [name for name in SELF_PROTECTED if name not in fields]
        return fields

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if user is not None and user.pk != request.user.pk:
            if request.method == "POST":
                refuse(actor=request.user, object_id=user.get_username(), attempted={"password": "set in the admin"},
                       reason="someone else's password is reset on the People screen, never chosen in the admin")
            messages.error(request, f"{user.get_username()}'s password is reset on their People page, which "
                                    "keeps its rules (a new random password, shown once; decision roles and API "
                                    "tokens revoked). Nothing was changed here.")
            return HttpResponseRedirect(reverse("person", args=[user.pk]))
        return super().user_change_password(request, id, form_url)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id is not None:
            user = self.get_object(request, object_id)
            if user is not None:
                refused = self._refused_fields(request, user)
                if refused:
                    fields, reason = refused
                    return _refuse_post(request, object_type="auth.user", object_id=user.get_username(),
                                        fields=fields, reason=reason,
                                        current={"groups": groups_of(user), "is_superuser": user.is_superuser,
                                                 "is_staff": user.is_staff})
        return super().changeform_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _refused_fields(request, user):
        if "is_superuser" in request.POST:
            return ["is_superuser", *[n for n in SELF_PROTECTED if n in request.POST]], (
                "is_superuser is never set from the web: a superuser is made with `manage.py createsuperuser`")
        if user.pk == request.user.pk:
            tried = [name for name in SELF_PROTECTED if name in request.POST]
            if tried:
                return tried, "no one changes their own roles, groups, permissions or staff flag"
        return None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or "groups" not in form.base_fields:
            return form

        class GroupsForm(form):
            def clean_groups(self):
                groups = self.cleaned_data["groups"]
                held = set(groups_of(obj))
                added = [g for g in groups if g.name not in held and is_decision_group(g)]
                if added:
                    names = ", ".join(sorted(g.name for g in added))
                    reason = (f"{names} is a decision role: one admin proposes it on the People screen "
                              f"({reverse('people')}) and another confirms it")
                    refuse(actor=request.user, object_id=obj.get_username(), current={"groups": sorted(held)},
                           attempted={"groups_added": sorted(g.name for g in added)}, reason=reason)
                    raise forms.ValidationError(reason)
                return groups

            def clean_user_permissions(self):
                permissions = self.cleaned_data["user_permissions"]
                held = set(permission_labels(obj.user_permissions.all()))
                labels = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
                added = sorted(label for label in labels - held if roles.is_decision_permission(label))
                if added:
                    reason = "decision permissions come with a decision role, granted by two admins"
                    refuse(actor=request.user, object_id=obj.get_username(), current={"permissions": sorted(held)},
                           attempted={"permissions_added": added}, reason=reason)
                    raise forms.ValidationError(f"{reason}: {', '.join(added)}")
                return permissions

        return GroupsForm


class ConsoleGroupAdmin(auth_admin.GroupAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.name in roles.ROLE_PERMISSIONS:
            fields.append("name")  # the console looks its roles up by name
        if obj is not None and obj.user_set.filter(pk=request.user.pk).exists():
            fields.append("permissions")
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # deleting a group drops its members' roles without a trace of who held them

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id is not None:
            group = self.get_object(request, object_id)
            if group is not None and "permissions" in request.POST and group.user_set.filter(
                pk=request.user.pk
            ).exists():
                return _refuse_post(request, object_type="auth.group", object_id=group.name, fields=["permissions"],
                                    reason="no one changes the permissions of a role they hold",
                                    current={"permissions": permission_labels(group.permissions.all())})
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "permissions" not in form.base_fields:
            return form

        class PermissionsForm(form):
            def clean_permissions(self):
                permissions = self.cleaned_data["permissions"]
                held = set(permission_labels(obj.permissions.all())) if obj else set()
                labels = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
                added = sorted(label for label in labels - held if roles.is_decision_permission(label))
                if added:
                    reason = "decision permissions are set by `manage.py seed_roles`, never from the web"
                    refuse(actor=request.user, object_type="auth.group", object_id=obj.name if obj else "(new)",
                           current={"permissions": sorted(held)}, attempted={"permissions_added": added},
                           reason=reason)
                    raise forms.ValidationError(f"{reason}: {', '.join(added)}")
                return permissions

        return PermissionsForm


class ConsoleTokenAdmin(token_admin.TokenAdmin):
    """API tokens by owner and fingerprint: revoked here (audited by console.credentials), never shown or made.
    DRF's admin addresses a token by its user's id (its URLs and lookups), never by the key."""

    list_display = ("user", "key_fingerprint", "created")
    fields = ("user", "key_fingerprint", "created")
    readonly_fields = fields

    @admin.display(description="fingerprint (sha256 of the key, first 12)")
    def key_fingerprint(self, token) -> str:
        return token_fingerprint(token.key)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.unregister(TokenProxy)  # DRF's TokenAdmin listed every key
admin.site.register(User, ConsoleUserAdmin)
admin.site.register(Group, ConsoleGroupAdmin)
admin.site.register(ApiToken, ConsoleTokenAdmin)
