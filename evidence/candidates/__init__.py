"""Candidate evidence recovered from Domo: a received Domo dataset registered as candidate evidence of a kind,
its columns mapped onto the kind's record columns, every row keeping where it came from. Never governed."""
