"""Request id (accepted from X-Request-ID or minted, bound for the audit trail, echoed back) and the
Permissions-Policy header."""
from django.conf import settings

from console import context


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = context.accept_request_id(request.headers.get(self.header))
        request.request_id = request_id
        with context.bind(context.WorkContext(correlation_id=request_id)):
            response = self.get_response(request)
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
