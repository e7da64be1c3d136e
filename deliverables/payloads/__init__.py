"""Scoped dashboard payloads (versioned JSON per client and period) and their published JSON Schema."""
