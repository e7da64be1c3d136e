"""Read-only API of the audit trail. Every read is itself audited."""

from rest_framework import generics

from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import AuditEventSerializer
from console.audit import audit_trail_read
from console.filtersets import AuditEventFilterSet
from console.models import AuditEvent


class AuditEventList(generics.ListAPIView):
    """The audit trail, newest first, paged by keyset (`cursor`), with the trail page's filters."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [capability("console.view_audit")]
    filterset_class = AuditEventFilterSet
    pagination_class = KeysetPagination  # ordered by -pk, which is -seq

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        filterset = AuditEventFilterSet(request.query_params, queryset=self.queryset)
        filterset.is_valid()  # the filter backend has already refused invalid filters
        audit_trail_read(
            actor=request.user,
            filters=filterset.active_filters(),
            via="api",
            cursor=request.query_params.get("cursor"),
        )
        return response


class AuditEventDetail(generics.RetrieveAPIView):
    """One event of the audit trail, by seq."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [capability("console.view_audit")]
    lookup_field = "seq"

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        audit_trail_read(actor=request.user, filters={"seq": int(kwargs["seq"])}, via="api")
        return response
