"""Request id: accepted from X-Request-ID or minted, bound for the audit trail, echoed back."""
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
