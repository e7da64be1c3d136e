"""Read-only admin for the evidence models: what arrived is evidence, and nobody edits it here."""

from django.contrib import admin

from evidence.models import (
    BeastMode,
    DataflowStep,
    DirectoryEntry,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    EvidencePacket,
    IntakeRun,
    ManifestFile,
    ManifestIssue,
    PacketReceipt,
    PacketRevision,
    PdpPolicy,
    SourceManifest,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff with the provenance capability may look; no one may add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm("console.view_provenance")
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + [
            m2m.name for m2m in self.model._meta.many_to_many
        ]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm("console.view_provenance")
        )


class IssueInline(ReadOnlyInline):
    model = ManifestIssue
    fields = ["position", "severity", "code", "file", "row", "column", "message"]
    readonly_fields = fields


@admin.register(IntakeRun)
class IntakeRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "original_name",
        "source",
        "requested_by",
        "status",
        "stage",
        "progress",
        "queued_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["original_name"]
    list_select_related = ["requested_by"]


@admin.register(SourceManifest)
class SourceManifestAdmin(ReadOnlyAdmin):
    list_display = ["id", "load_id", "status", "claimed_status", "exported_at", "received_at", "received_by"]
    list_filter = ["status"]
    search_fields = ["load_id", "manifest_sha256"]
    list_select_related = ["received_by"]
    inlines = [IssueInline]


@admin.register(ManifestIssue)
class ManifestIssueAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "severity", "code", "file", "row", "column"]
    list_filter = ["severity", "code"]
    list_select_related = ["manifest"]


@admin.register(ManifestFile)
class ManifestFileAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "path", "bytes", "sha256"]
    search_fields = ["path", "sha256"]
    list_select_related = ["manifest"]


@admin.register(DomoDataset)
class DomoDatasetAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "name", "domo_id", "declared_rows", "silver_rows"]
    search_fields = ["name", "domo_id"]
    list_select_related = ["manifest"]


@admin.register(DomoCard)
class DomoCardAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "title", "domo_id"]
    search_fields = ["title"]
    list_select_related = ["manifest"]


@admin.register(BeastMode)
class BeastModeAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "name", "scope", "formula_id"]
    list_filter = ["scope"]
    search_fields = ["name", "formula_id"]
    list_select_related = ["manifest"]


@admin.register(DomoDataflow)
class DomoDataflowAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "name", "domo_id", "database_type"]
    list_select_related = ["manifest"]


@admin.register(DataflowStep)
class DataflowStepAdmin(ReadOnlyAdmin):
    list_display = ["id", "dataflow", "position", "action_type", "name"]
    list_select_related = ["dataflow"]


@admin.register(PdpPolicy)
class PdpPolicyAdmin(ReadOnlyAdmin):
    list_display = ["id", "dataset", "name", "type", "policy_id"]
    list_filter = ["type"]
    list_select_related = ["dataset"]


@admin.register(DirectoryEntry)
class DirectoryEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "manifest", "kind", "domo_id", "name"]
    list_filter = ["kind"]
    list_select_related = ["manifest"]


# Evidence packets: read-only too, so a revision is verified or withdrawn only through
# evidence.packets.verification (four eyes, audited); the database refuses self-verification as well.
@admin.register(EvidencePacket)
class EvidencePacketAdmin(ReadOnlyAdmin):
    list_display = ["id", "packet_id", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["packet_id"]


@admin.register(PacketRevision)
class PacketRevisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "claimed_packet_id", "revision", "status", "evidence_class", "received_by_label",
                    "verified_by", "verified_at", "withdrawn_at"]
    list_filter = ["status", "evidence_class", "kind"]
    list_select_related = ["verified_by"]
    search_fields = ["claimed_packet_id", "sha256"]


@admin.register(PacketReceipt)
class PacketReceiptAdmin(ReadOnlyAdmin):
    list_display = ["id", "original_name", "source", "requested_by_label", "status", "outcome", "queued_at"]
    list_filter = ["status", "source", "outcome"]
    search_fields = ["original_name", "upload_sha256"]
