"""How the consumer API knows who reads: `Authorization: Bearer <consumer token>`, and nothing else.

The consumer endpoints take this authentication class alone: a browser session, an API token of a person
(`Authorization: Token ...`, told so in the 401's detail) or no header at all is not a consumer, and answers 401
with `WWW-Authenticate: Bearer`. An unknown token answers 401; so does a revoked or expired one, the refusal carrying the token so that
the read is recorded against it. The token is looked up by the SHA-256 of the secret (only that is stored).
"""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from deliverables.consumers import selectors
from deliverables.models import ConsumerToken

KEYWORD = b"bearer"


class TokenRefused(exceptions.AuthenticationFailed):
    """A bearer token that does not let its holder in; `token` is the row when the token is known."""

    def __init__(self, detail: str, token: ConsumerToken | None = None):
        super().__init__(detail)
        self.token = token


class Consumer:
    """request.user of a consumer read: the token's holder. Holds no console permission."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = is_superuser = False
    pk = id = None

    def __init__(self, token: ConsumerToken):
        self.token = token

    def get_username(self) -> str:
        return f"consumer-token:{self.token.prefix}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


class ConsumerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if header and header[0].lower() == b"token":  # a person's API token: say what this endpoint takes instead
            raise TokenRefused("A person's API token (`Token ...`) is not accepted here: the published outputs are "
                               "read with a consumer token, `Authorization: Bearer <consumer token>`.")
        if not header or header[0].lower() != KEYWORD:
            return None
        if len(header) != 2:
            raise TokenRefused("Invalid Authorization header: expected `Bearer <consumer token>`.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise TokenRefused("Invalid consumer token.") from None
        token = selectors.token_by_secret(secret)
        if token is None:
            raise TokenRefused("Invalid consumer token.")
        state = selectors.token_state(token)
        if state != selectors.TokenState.ACTIVE:
            raise TokenRefused(f"This consumer token is {state.label.lower()}.", token)
        return Consumer(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="consumer"'


class IsConsumer(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ConsumerToken)


class ConsumerTokenScheme(OpenApiAuthenticationExtension):
    """The bearer scheme of the consumer endpoints in the OpenAPI schema."""

    target_class = "deliverables.consumers.auth.ConsumerTokenAuthentication"
    name = "consumerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A consumer token created by an admin at /consumers/ (shown once), bound to a set of "
                               "clients; it expires and can be revoked."}
