"""Models of the console shell: role capabilities and the audit trail."""
from django.db import models


class Capability(models.Model):
    """Holder of the console's role capabilities (permissions only; no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("receive_export", "Receive Leaf IQ exports"),
            ("request_promotion", "Request promotions for migration and reconciliation"),
            ("request_contract_promotion", "Request promotions into backend contracts"),
            ("approve_promotion", "Approve or reject promotions"),
            ("build_deliverable", "Build deliverables and dashboard outputs"),
            ("publish_output", "Request publication of dashboard outputs"),
            ("approve_publication", "Approve or reject publications"),
            ("view_provenance", "Browse manifests, evidence and provenance"),
            ("view_audit", "Read the audit trail"),
            ("export_audit", "Export the audit trail"),
        ]
