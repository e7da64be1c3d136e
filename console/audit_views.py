"""The audit trail's 'verify now': ask for a verification on the worker, and follow it on the page."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.audit_verify import audit_verify_progress, audit_verify_request
from console.htmx import wants_fragment

VERIFY_PERMISSION = "console.view_audit"  # an auditor's; admins hold it too
POLL_SECONDS = 1  # the page asks again this often until the run's report is on the trail


@login_required
@permission_required(VERIFY_PERMISSION, raise_exception=True)
@require_POST
def audit_verify_now(request):
    run_id = audit_verify_request(actor=request.user)
    if wants_fragment(request):
        return _run_fragment(request, run_id)
    return redirect(reverse("audit-trail") + f"?verify={run_id}#chain-status")


@login_required
@permission_required(VERIFY_PERMISSION, raise_exception=True)
@require_GET
def audit_verify_status(request, run_id: str):
    return _run_fragment(request, run_id)


def _run_fragment(request, run_id: str):
    run = audit_verify_progress(run_id)
    if run is None:
        raise Http404(f"no verification {run_id} was requested")
    return render(request, "console/partials/verify_run.html", {"run": run, "poll_seconds": POLL_SECONDS})
