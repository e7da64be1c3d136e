"""Missing-evidence flags: what the claims current in the curated registry need, and which of those needs no
governed evidence covers (evidence-packets-v1.md, "Coverage"). Persisted, recomputed by a Celery task when
evidence or the curated registry changes, never on a page view."""
