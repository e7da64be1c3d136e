"""Promotion: gates, four-eyes approval and the curated load."""
