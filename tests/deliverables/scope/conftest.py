"""The sample for the client scope tests: the sample export (its PDP policies and directory) received complete, and
the sample evidence (its Salesforce packet names each client's Domo group) received by the operator and verified by
the approver, through the real services (tests.deliverables.runs.conftest.receive_evidence)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from evidence.models import SourceManifest
from evidence.samples.evidence import SampleEvidenceSummary
from tests.deliverables.runs.conftest import receive_evidence
from tests.promotion.conftest import manifest  # noqa: F401 (fixture)


@dataclass
class ScopeSample:
    manifest: SourceManifest
    evidence: SampleEvidenceSummary


@pytest.fixture
def scope_sample(manifest, tmp_path, olivia, arthur) -> ScopeSample:  # noqa: F811
    return ScopeSample(manifest=manifest, evidence=receive_evidence(tmp_path, olivia, arthur))
