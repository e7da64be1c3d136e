"""The client scope API, mounted under /api/ (the pages' twin: deliverables.scope.api)."""
from django.urls import path

from deliverables.scope import api

urlpatterns = [
    path("scope/", api.ScopeList.as_view(), name="api-scope-list"),
    # A key is the account id, or the value Domo's PDP names when no account does: any text, as on the page.
    path("scope/<path:key>/", api.ScopeDetail.as_view(), name="api-scope-detail"),
]
