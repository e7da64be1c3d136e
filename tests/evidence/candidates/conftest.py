"""Fixtures of the candidate-evidence tests: the sample export received through the real intake (a named state,
restored after its first build), its Domo datasets, and registrations made through the service."""
from __future__ import annotations

import pytest

from evidence.candidates.services import candidate_register, mapping_proposal
from evidence.models import DomoDataset, SourceManifest
from evidence.samples.export import write_sample_export
from tests.promotion.conftest import ingest

CONTRACT_TERMS = "Contract Terms 2025"
MAC_PRICING = "MAC Pricing"
REBATES = "Rebate Invoices 2025"
ACCOUNTS = "Salesforce Accounts"
# Sample clients (evidence.samples.world.CLIENTS): ACME has a contract packet in the sample evidence, Cascade's
# is left unverified, Summit Logistics has none.
ACME = "0015e00000Qm7AcAAJ"
SUMMIT = "0015e00000Qm7SlAAJ"


@pytest.fixture
def manifest(db, tmp_path, states) -> SourceManifest:
    """The generated sample export, received complete (few rows): the promotion tests' state, shared."""
    return states.get("sample manifest", lambda: ingest(write_sample_export(tmp_path / "complete", rows=30).path))


def dataset(manifest: SourceManifest, name: str = CONTRACT_TERMS) -> DomoDataset:
    return manifest.datasets.get(name=name)


def proposed(dataset: DomoDataset, kind: str) -> dict[str, str]:
    return {line.column: line.domo_column for line in mapping_proposal(dataset, kind)}


def register(actor, manifest: SourceManifest, name: str = CONTRACT_TERMS, kind: str = "contract", **changes):
    data = dataset(manifest, name)
    return candidate_register(actor=actor, dataset=data, kind=kind, mapping={**proposed(data, kind), **changes})
