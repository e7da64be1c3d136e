"""Reads of the evidence pages, one module per kind of page; every public name is importable from here.

- `manifests`: the lists (intake runs, manifests, issues, calculation flaws), the home page's intake
  section and a manifest's page;
- `objects`: a dataset's, card's or DataFlow's page, with the previews read from the lake.
"""
from .manifests import (
    ANALYSES, FILES_SHOWN, ISSUES_PER_SEVERITY, PREVIEW_ROWS, RECENT_INTAKES, SEVERITY_ORDER, FlawSummary,
    IntakeSummary, ManifestDetail, calculation_flaws, flaw_summary, intake_runs, intake_summary, issues,
    manifest_detail, manifests, running_intakes, severity_counts,
)
from .objects import (
    CardColumnLine, CardDetail, DataflowDetail, DatasetDetail, PolicyLine, Preview, card_detail, dataflow_detail,
    dataset_detail, directories_for, golden_preview, policy_lines, silver_preview,
)

__all__ = [
    "ANALYSES", "FILES_SHOWN", "ISSUES_PER_SEVERITY", "PREVIEW_ROWS", "RECENT_INTAKES", "SEVERITY_ORDER",
    "CardColumnLine", "CardDetail", "DataflowDetail", "DatasetDetail", "FlawSummary", "IntakeSummary",
    "ManifestDetail", "PolicyLine", "Preview", "calculation_flaws", "card_detail", "dataflow_detail",
    "dataset_detail", "directories_for", "flaw_summary", "golden_preview", "intake_runs", "intake_summary",
    "issues", "manifest_detail", "manifests", "policy_lines", "running_intakes", "severity_counts",
    "silver_preview",
]
