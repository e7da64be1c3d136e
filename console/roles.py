"""The console's roles: Django groups and the capabilities each one holds.

Capabilities are permissions on `console.Capability` (checked as "console.<codename>"); the
admin role also manages people through Django's own auth permissions.
"""
from __future__ import annotations

OPERATOR = "operator"
APPROVER = "approver"
REVIEWER = "reviewer"
AUDITOR = "auditor"
ADMIN = "admin"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    OPERATOR: (
        "console.receive_export",
        "console.receive_evidence",
        "console.request_promotion",
        "console.build_deliverable",
        "console.publish_output",
        "console.view_provenance",
    ),
    APPROVER: (
        "console.approve_promotion",
        "console.approve_publication",
        "console.verify_evidence",
        "console.view_provenance",
    ),
    REVIEWER: ("console.view_provenance",),
    AUDITOR: (
        "console.view_audit",
        "console.export_audit",
        "console.view_provenance",
    ),
    ADMIN: (
        "console.receive_export",
        "console.receive_evidence",
        "console.request_promotion",
        "console.request_contract_promotion",
        "console.build_deliverable",
        "console.publish_output",
        "console.view_provenance",
        "console.view_audit",
        "console.export_audit",
        "console.unlock_login",
        "console.manage_consumer_tokens",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.change_group",
    ),
}

ROLE_DESCRIPTIONS = {
    OPERATOR: "receives exports and evidence packets, requests promotions, builds deliverables",
    APPROVER: "approves or rejects promotions and publications; verifies and withdraws evidence (not their own)",
    REVIEWER: "C-suite: read-only, provenance and evidence pages",
    AUDITOR: "reads and exports the audit trail",
    ADMIN: "manages people and roles; may request contract promotions",
}

# Roles whose grant takes two admins (one proposes, another confirms): they decide, or manage who decides.
DECISION_ROLES = (APPROVER, ADMIN)

# What only a decision role holds: granting one of these permissions, to a group or a person, is
# granting a decision role by another name. Any auth permission counts (it manages people).
DECISION_PERMISSIONS = frozenset(
    label
    for role in DECISION_ROLES
    for label in ROLE_PERMISSIONS[role]
    if not any(label in ROLE_PERMISSIONS[other] for other in ROLE_PERMISSIONS if other not in DECISION_ROLES)
)


def is_decision_permission(label: str) -> bool:
    return label in DECISION_PERMISSIONS or label.startswith(("auth.", "authtoken."))
