"""What the promotion pages share: the refusal rule and a request's detail context (which actions are
offered is promotion.policy's word)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from promotion import policy, selectors, services
from promotion.choices import REQUEST_TYPE, PromotionKind
from promotion.forms import (
    CommentForm,
)
from promotion.models import PromotionRequest
from promotion.tables import flaw_rows, gate_rows, history_rows

PAGE_SIZE = 50
POLL_SECONDS = 2
LIVE_SECONDS = 5  # how often an open request's page asks whether someone else changed it
HISTORY_SIZE = 50  # the newest audit rows that concern a request; the audit trail (linked) has them all
LIVE_STATES = policy.LIVE_STATES

may_read = policy.may_read  # the pages' reading rule is the policy's


def _reader(view):
    """Pages every promotion reader may see: logged in, a reading capability, GET only."""

    def guarded(request, *args, **kwargs):
        if not may_read(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return login_required(require_GET(guarded))


def _writer(view):
    """Actions: logged in and POST only; the service decides who may (and audits who may not)."""
    return login_required(require_POST(view))


def _status(refused: services.PromotionRefused) -> int:
    """403 for who asks (a permission, four eyes), 409 for when or what (see the module docstring)."""
    return 403 if refused.forbidden else 409


def _bare(refused: services.PromotionRefused) -> HttpResponse:
    """A refusal for someone who may not read the page it would be shown on."""
    return HttpResponse(f"Refused: {refused.reason}", status=_status(refused), content_type="text/plain")


def detail_context(user, promotion: PromotionRequest, *, forms: dict, sections: tuple = ("all",)) -> dict:
    datasets = sorted(promotion.datasets.all(), key=lambda d: d.pk)
    # A rollback points at a version already loaded: its gates do not look at calculation flaws.
    flaws = flaw_rows(promotion, datasets, forms) if promotion.kind == PromotionKind.PROMOTION else []
    context = {
        "promotion": promotion,
        "actions": policy.offered(user, promotion),
        "awaiting": [row for row in flaws if row.disposition is None],
        "decided": [row for row in flaws if row.disposition is not None],
    }
    if sections != ("all",):
        return context
    fingerprints = sorted({row.fingerprint for row in flaws})
    context.update(
        datasets=datasets,
        curated_columns=selectors.curated_columns(datasets),
        gates=gate_rows(promotion, datasets),
        live=promotion.state in LIVE_STATES,
        cancellation_reason=selectors.cancellation_reason(promotion),
        history=history_rows(
            promotion,
            selectors.request_history(promotion, datasets=datasets, fingerprints=fingerprints, limit=HISTORY_SIZE),
        ),
        live_stamp=selectors.request_live_stamp(
            promotion, viewer=user, datasets=datasets, fingerprints=fingerprints
        ).value,
        live_seconds=LIVE_SECONDS,
        request_type=REQUEST_TYPE,
        approve_form=forms.get("approve") or CommentForm(prefix="approve"),
        reject_form=forms.get("reject") or CommentForm(prefix="reject"),
        drift_form=forms.get("drift"),
    )
    return context
