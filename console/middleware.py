"""Request id (accepted from X-Request-ID or minted, bound for the audit trail, echoed back) and the
Permissions-Policy header.

The request itself is bound too, so the model-layer guards (console.people_guard) know who acts; the
refusals they meet are audited here, after the view's transactions have rolled back.
"""
from django.conf import settings

from console import context
from console.audit import audit_record


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = context.accept_request_id(request.headers.get(self.header))
        request.request_id = request_id
        with context.for_request(request, request_id) as work:
            try:
                response = self.get_response(request)
            finally:
                for refusal in work.refusals:
                    audit_record(**refusal)
                work.refusals.clear()
        response[self.header] = request_id
        return response


class PermissionsPolicyMiddleware:
    """Permissions-Policy: deny the browser features the console never uses (PERMISSIONS_POLICY_DENIED)."""

    header = "Permissions-Policy"

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = ", ".join(f"{feature}=()" for feature in settings.PERMISSIONS_POLICY_DENIED)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault(self.header, self.value)
        return response
