"""A page's create form sent once: each shown form carries its own key (`submission`, drawn when the page is shown),
so a second send of the same form (a double click, a resend after a dropped answer) leads to what the first send
made instead of making another. The API's Idempotency-Key does the same for scripts; both go through
`console.idempotency.create_once` (one way to run a create under a key).

- `SubmissionForm`: a form's base (or mixin, first among the bases): the hidden `submission` field, a new key
  each time an unbound form is made;
- `send_once(request, form, ...)`: runs the view's create under the form's key and answers the page: the first
  send's own answer; a repeat, a redirect to what the first made (saying so); the same key with other choices,
  the form shown again with a new key (409).

A form posted without a key (a script, a page from before the key) is one send, one create.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect

from console import idempotency

KEY_PATTERN = r"^[0-9a-f]{32}$"


class SubmissionForm(forms.Form):
    """A create form with its own key, drawn when the page shows it."""

    submission = forms.RegexField(regex=KEY_PATTERN, required=False, widget=forms.HiddenInput,
                                  error_messages={"invalid": "This form's key is not one the console made: "
                                                             "reload the page."})

    def __init__(self, *args, **kwargs):
        if not (args and args[0] is not None) and kwargs.get("data") is None:  # shown, not sent: a new key
            kwargs["initial"] = {**(kwargs.get("initial") or {}), "submission": uuid.uuid4().hex}
        super().__init__(*args, **kwargs)


def send_once(request, form: SubmissionForm, *, name: str, choices: Any, thing: str,
              create: Callable[[], tuple[Any, Any]], again: Callable[[], HttpResponse],
              named: Callable[[int], str], query: list | None = None) -> HttpResponse:
    """The page's answer to a valid `form` whose create is `create()`.

    `create()` returns (its answer, the object it made) or (its answer, None) when refused (the key is freed; the
    refusal and its audit are committed). An answer that is an exception (e.g. PermissionDenied) is raised once
    the transaction has committed. `name` namespaces the key (one per form), `choices` are what the form asks
    (the same key with other choices is refused), `thing` is what the form makes ("run"), `named(pk)` how a
    message names it ("run #12"), `again()` the form shown again with a new key."""
    submission = form.cleaned_data.get("submission")
    if not submission:
        result = create()[0]
    else:
        fingerprint = idempotency.fingerprint(method="POST", path=request.path, query=query or [], body=choices)

        def guarded():
            answer, made = create()
            kept = None if made is None else idempotency.Answer(302, {"id": made.pk}, answer["Location"])
            return answer, kept

        try:
            outcome = idempotency.create_once(user=request.user, key=f"{name}:{submission}",
                                              fingerprint=fingerprint, method="POST", path=request.path,
                                              create=guarded)
        except idempotency.KeyReused:
            messages.error(request, "This form was already sent with other choices. It is shown again with its own "
                                    f"key: send it to make a new {thing}.")
            return again()
        if outcome.earlier is not None:
            messages.info(request, f"This form was sent twice: {named(outcome.earlier.body['id'])} is its one "
                                   f"{thing}.")
            return redirect(outcome.earlier.location)
        result = outcome.result
    if isinstance(result, Exception):
        raise result
    return result
