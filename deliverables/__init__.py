"""Deliverables: scoped report, dashboard and deliverable payloads, and their publication."""
