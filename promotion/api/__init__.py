"""The promotion API (mounted under /api/)."""
