"""The client scope API, the twin of the pages at /scope/ (mounted under /api/):

- GET /api/scope/?client=&differences=&page=: every client as the list shows it (its backend scope and users,
  the users Domo's PDP let see its rows, its flags grouped by kind), with the list's filters and totals;
  50 a page (the report is built whole, as for the page: page numbers, not a keyset);
- GET /api/scope/<key>/: one client as its page shows it (the backend scope, every dataset's policies with their
  filters in words and what they decided for the client, every user with their flag, every flag's message).

The report is deliverables.scope.selectors' (compare.py decides); nothing here decides anything. Reading needs
console.view_provenance, as the pages do; nothing can be changed.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.scope import compare, selectors
from deliverables.scope.api_serializers import (
    ScopeDetailSerializer,
    ScopeListSerializer,
    ScopeQuerySerializer,
)

VIEW = "console.view_provenance"
CanRead = capability(VIEW)
PAGE_SIZE = 50

READ_REFUSED = {401: OpenApiResponse(ErrorSerializer, description="not signed in"),
                403: OpenApiResponse(ErrorSerializer, description="without console.view_provenance")}


def _source(request, report: selectors.ScopeReport) -> dict | None:
    manifest = report.manifest
    if manifest is None:
        return None
    return {"load_id": manifest.load_id, "status": manifest.status, "exported_at": manifest.exported_at,
            "datasets": len(report.datasets),
            "url": request.build_absolute_uri(reverse("api-manifest-detail", args=[manifest.pk])),
            "page_url": request.build_absolute_uri(reverse("evidence:manifest-detail", args=[manifest.pk]))}


def _user(line: compare.UserLine) -> dict:
    return {"user_id": line.user_id, "name": line.name, "email": line.email}


def _id_names(pairs) -> list[dict]:
    return [{"id": i, "name": name} for i, name in pairs]


def client_row(request, scope: compare.ClientScope) -> dict:
    """A client as the list page shows it."""
    account = scope.account
    return {
        "key": scope.key, "account_id": account.account_id, "name": account.name,
        "scoped": bool(account.domo_group), "domo_group": account.domo_group,
        "unscoped_reason": account.unscoped_reason,
        "backend_users": [_user(u) for u in selectors.backend_users(scope)],
        "domo_groups": _id_names(scope.domo_groups),
        "domo_users": [_user(u) for u in selectors.domo_users(scope)],
        "flags": [vars(group) for group in selectors.flag_groups(scope)],
        "has_differences": scope.has_differences,
        "url": request.build_absolute_uri(reverse("api-scope-detail", args=[scope.key])),
        "page_url": request.build_absolute_uri(reverse("scope:scope-detail", args=[scope.key])),
    }


def client_detail(request, report: selectors.ScopeReport, scope: compare.ClientScope) -> dict:
    """A client as its page shows it."""
    datasets = [{
        "domo_id": access.dataset.domo_id, "name": access.dataset.name, "pdp_enabled": access.dataset.pdp_enabled,
        "owner_name": access.dataset.owner_name,
        "policies": [{
            "policy_id": pa.policy.policy_id, "name": pa.policy.name, "type": pa.policy.type,
            "filters": selectors.described_filters(pa.policy), "outcome": pa.verdict.outcome,
            "outcome_label": selectors.VERDICT_LABELS[pa.verdict.outcome], "reason": pa.verdict.reason,
            "groups": _id_names(pa.groups), "users": _id_names(pa.users),
        } for pa in access.policies],
    } for access in scope.datasets]
    users = [{**_user(u), "in_backend": u.in_backend, "domo": u.domo, "via": list(u.via), "flag": u.flag,
              "flag_label": compare.FLAG_LABELS.get(u.flag, u.flag)} for u in scope.users]
    return {
        **client_row(request, scope), "governed": scope.account.governed, "evidence": list(scope.account.evidence),
        "backend_groups": _id_names(scope.backend_groups), "users": users,
        "flag_messages": [{"code": f.code, "label": f.label, "message": f.message} for f in scope.flags],
        "datasets": datasets, "source": _source(request, report),
        "list_url": request.build_absolute_uri(reverse("api-scope-list")),
    }


class ScopeList(APIView):
    """Every client's scope, as the list page shows it."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="scope_list", summary="Client scope: every client",
        description="Per client, who the backend scope lets see it and who Domo's PDP let see its rows, each "
                    "difference flagged; filtered as the page is. `totals` counts every client whatever the filters.",
        parameters=[OpenApiParameter("client", OpenApiTypes.STR, description="any part of the client's name or "
                                                                             "account id (case folded)"),
                    OpenApiParameter("differences", OpenApiTypes.BOOL, description="true: only clients with a flag"),
                    OpenApiParameter("page", OpenApiTypes.INT, description=f"{PAGE_SIZE} clients a page, from 1")],
        responses={200: ScopeListSerializer,
                   400: OpenApiResponse(OpenApiTypes.OBJECT, description="a filter or the page is not valid: "
                                                                         "{name: [what is wrong]}"),
                   **READ_REFUSED})
    def get(self, request):
        query = ScopeQuerySerializer(data=request.query_params)
        if not query.is_valid():
            return Response(query.errors, status=400)
        wanted = query.validated_data
        report = selectors.scope_report()
        shown = selectors.filter_clients(report.clients, client=wanted["client"], differences=wanted["differences"])
        paginator = Paginator(shown, PAGE_SIZE, allow_empty_first_page=True)
        if wanted["page"] > paginator.num_pages:
            return Response({"page": [f"{wanted['page']} is past the last page ({paginator.num_pages})"]}, status=400)
        page = paginator.page(wanted["page"])
        base = request.build_absolute_uri(request.path)
        filters = {k: v for k, v in request.query_params.items() if k in ("client", "differences")}

        def link(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'page': number})}"

        total, with_differences = selectors.counts(report)
        return Response(ScopeListSerializer({
            "count": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "totals": {"clients": total, "with_differences": with_differences},
            "source": _source(request, report),
            "results": [client_row(request, scope) for scope in page.object_list],
        }).data)


class ScopeDetail(APIView):
    """One client's scope, as its page shows it."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="scope_retrieve", summary="Client scope: one client",
        parameters=[OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="the client's Salesforce account id, or the value Domo's PDP names "
                                                 "when no account does (URL-encoded; may hold /)")],
        responses={200: ScopeDetailSerializer,
                   404: OpenApiResponse(ErrorSerializer, description="no such client (the key is named)"),
                   **READ_REFUSED})
    def get(self, request, key: str):
        report = selectors.scope_report()
        scope = report.client(key)
        if scope is None:
            raise NotFound(f"No client {key!r} in the Salesforce accounts or Domo's PDP policies")
        return Response(ScopeDetailSerializer(client_detail(request, report, scope)).data)
