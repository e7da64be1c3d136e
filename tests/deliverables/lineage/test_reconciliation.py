"""Lineage events of a reconciliation (deliverables.lineage): the run's numbers and the golden packet in, the class
counts as data-quality assertions, the result artifact out."""
from __future__ import annotations

import pytest

from deliverables.lineage.events import lake_namespace
from tests.deliverables.lineage.conftest import by_name, events_of
from tests.deliverables.reconciliation.conftest import (  # noqa: F401 (fixtures)
    REBATE_PER_CLAIM,
    curated_db,
    mapped,
    no_enqueue,
    reconcile,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def test_a_reconciliation_reports_its_inputs_its_class_counts_and_its_result(mapped, olivia, settings,  # noqa: F811
                                                                            receiver):
    settings.OPENLINEAGE_URL = receiver.url
    recon = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM), mapped.run)
    start, complete = events_of(recon)
    # The same two events reached the Marquez-compatible endpoint.
    sent = [event for path, event in receiver.received
            if path == "/api/v1/lineage" and event["job"]["name"] == complete["job"]["name"]]
    assert sent == [start, complete]
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["job"]["name"] == f"deliverables.reconciliation.{recon.subject_kind}.{recon.subject_id}"
    assert complete["job"]["facets"]["leafConsole_mapping"]["details"]["version"] == recon.mapping.version

    inputs = by_name(complete["inputs"])
    numbers = inputs[f"deliverables/runs/{mapped.run.pk}/numbers"]  # the run's output, as the run named it
    counts = {a["assertion"]: (a["actual"], a["success"])
              for a in numbers["inputFacets"]["dataQualityAssertions"]["assertions"]}
    total = recon.summary["total"]
    assert counts == {f"reconciliation.{name}": (str(n), not (n and name in ("variance", "only_backend", "only_domo")))
                      for name, n in total.items()}
    assert any(not ok for _, ok in counts.values())  # this card has open variances: an assertion fails
    golden = inputs[recon.golden["path"]]
    assert golden["namespace"] == lake_namespace()
    assert golden["facets"]["leafConsole_integrity"]["sha256"] == recon.golden["sha256"]
    assert golden["inputFacets"]["inputStatistics"]["rowCount"] == recon.golden["rows"]
    [result] = complete["outputs"]
    assert (result["name"], result["facets"]["version"]["datasetVersion"]) == (recon.artifact_path,
                                                                              recon.artifact_sha256)
    assert result["outputFacets"]["outputStatistics"]["rowCount"] == recon.rows
