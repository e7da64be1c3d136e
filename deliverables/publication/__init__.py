"""Four-eyes publication of built deliverables (deliverables.publication.services)."""
