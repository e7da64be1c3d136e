"""When a card's golden packet may move with the datasets of a request (a promotion or a rollback).

A golden packet is Domo's output over all of a card's datasets, as one export saw them. Its curated
pointer moves with a request only when, afterwards, each of the card's datasets is current at a
version of that same load: the datasets the request moves, and every other one already there.
Otherwise the packet stays where it is, with a note that says which datasets hold it back; the
request that brings the last of them onto the load moves it. Nothing is filled in or guessed.
"""
from __future__ import annotations


def current_from(connection, key: str, manifest) -> bool:
    """Whether `key`'s current curated version was loaded from this manifest."""
    from promotion import curated

    current = curated.read_current(connection, key)
    if current is None:
        return False
    row = next((r for r in curated.versions(connection, key) if r["version"] == current.version), None)
    return row is not None and (row["load_id"], row["manifest_sha256"]) == (manifest.load_id, manifest.manifest_sha256)


def golden_held_back(card, requested: set[int], manifest, connection) -> str:
    """Why `card`'s golden packet does not move with a request moving the datasets `requested` (pks) of
    `manifest`, or "" when it does. Reads the card's datasets (prefetch them) and the curated registry."""
    from promotion import curated

    elsewhere = [d for d in sorted(card.datasets.all(), key=lambda d: d.pk)
                 if d.pk not in requested and not current_from(connection, d.domo_id, manifest)]
    if not elsewhere:
        return ""
    at = curated.read_current(connection, curated.golden_key(card.domo_id))
    where = f"stays at v{at.version}" if at else "is not loaded"
    names = ", ".join(repr(d.name) for d in elsewhere)
    return (f"the golden packet of card {card.domo_id} {where}: the card also reads {names}, whose current "
            f"curated version is not from load {manifest.load_id}; it moves with the last of them")
