"""What every gate shares: the GateRun verdict, details for the operator, fingerprints, the curated
registry's schema hook, and the Gate base class."""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.urls import reverse

from console.chain import canonical_json
from evidence.models import DomoCard, DomoDataset, SourceManifest
from promotion.choices import GateOutcome

logger = logging.getLogger("promotion.gates")


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class GateRun:
    outcome: str
    details: list[dict] = field(default_factory=list)
    inputs_fingerprint: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == GateOutcome.PASSED


def detail(what: str, where: str = "", link: str = "", **extra) -> dict:
    return {"what": what, "where": where, "link": link, **extra}


def _verdict(details: list[dict], inputs: Any) -> GateRun:
    return GateRun(GateOutcome.FAILED if details else GateOutcome.PASSED, details, sha256_of(inputs))


def _manifest_link(manifest: SourceManifest) -> str:
    return reverse("evidence:manifest-detail", args=[manifest.pk])


def _dataset_link(dataset: DomoDataset) -> str:
    return reverse("evidence:dataset-detail", args=[dataset.pk])


def _card_link(card: DomoCard) -> str:
    return reverse("evidence:card-detail", args=[card.pk])


def requested_datasets(request) -> list[DomoDataset]:
    return sorted(request.datasets.all(), key=lambda d: d.pk)


# --- the curated registry's hook -------------------------------------------------------------------


class CuratedSchema(NamedTuple):
    """The schema of the current curated version of a dataset ([{name, type}] in schema order)."""

    version: str
    schema: list[dict]


CuratedSchemaSource = Callable[[DomoDataset], "CuratedSchema | None"]


def _no_curated_versions(dataset: DomoDataset) -> CuratedSchema | None:
    return None


_curated_schema_source: CuratedSchemaSource = _no_curated_versions


def register_curated_schema_source(source: CuratedSchemaSource) -> None:
    """The curated registry (promotion.curated) names here how to find a dataset's current curated schema.

    Until it does, no dataset has a curated version and schema_compatible passes.
    """
    global _curated_schema_source
    _curated_schema_source = source


@contextlib.contextmanager
def use_curated_schema_source(source: CuratedSchemaSource) -> Iterator[None]:
    global _curated_schema_source
    previous, _curated_schema_source = _curated_schema_source, source
    try:
        yield
    finally:
        _curated_schema_source = previous


def curated_schema_of(dataset: DomoDataset) -> CuratedSchema | None:
    return _curated_schema_source(dataset)


def schema_columns(schema: Iterable[dict]) -> list[list[str]]:
    return [[str(c.get("name", "")), str(c.get("type") or "").upper()] for c in schema or []]


# --- whole-table scans --------------------------------------------------------------------------------

_table_scans: contextvars.ContextVar[bool] = contextvars.ContextVar("gate_table_scans", default=True)


def table_scans() -> bool:
    """Whether a gate may re-verify whole curated tables in this run (see run_all)."""
    return _table_scans.get()


@contextlib.contextmanager
def _table_scans_set(allowed: bool) -> Iterator[None]:
    token = _table_scans.set(allowed)
    try:
        yield
    finally:
        _table_scans.reset(token)


class Gate:
    name: str = ""
    version: str = "1"
    title: str = ""

    def run(self, request) -> GateRun:  # pragma: no cover - every gate overrides it
        raise NotImplementedError


def run_gate(gate: Gate, request) -> GateRun:
    """The gate's verdict; an exception is an `error` outcome with what it said, never a pass."""
    try:
        return gate.run(request)
    except Exception as exc:
        logger.exception("gate %s failed on promotion %s", gate.name, request.pk)
        return GateRun(
            GateOutcome.ERROR,
            [detail(f"the gate could not run: {type(exc).__name__}: {exc}", f"gate {gate.name}")],
            sha256_of(["error", type(exc).__name__, str(exc)]),
        )


def approval_fingerprint(manifest_sha256: str, results: Iterable[tuple[str, str, str, str]]) -> str:
    """sha256 of the manifest's hash and the (gate, version, outcome, inputs fingerprint) approved."""
    return sha256_of([manifest_sha256, sorted([list(r) for r in results])])
