"""Serializers of the evidence API, one module per subject; every public name is importable from here.

They validate and shape; they never save.

- `intake`: uploads, intake runs, manifests and their issues;
- `objects`: the Domo objects inside a manifest (datasets, cards, beast modes, DataFlows, PDP policies);
- `calculations`: calculation flaws and ad-hoc formula analyses.
"""
# The API's one refusal shape, named here for evidence's views.
from console.api.serializers import ErrorSerializer

from .calculations import (
    CalculationFlawSerializer, FormulaAnalyzeSerializer, FormulaFlawSerializer, FormulaReportSerializer,
    TranslationSerializer, TranslationsSerializer,
)
from .intake import (
    MISSING_KINDS, IntakeAcceptedSerializer, IntakeRunSerializer, IntakeUploadSerializer,
    IssueSerializer, ManifestSerializer, MissingSerializer,
)
from .objects import (
    BeastModeSerializer, CardColumnSerializer, CardFilterSerializer, CardMainSerializer, CardOrderSerializer,
    CardSerializer, DataflowSerializer, DataflowStepSerializer, DatasetSerializer, DateGrainSerializer,
    PolicyFilterSerializer, PolicySerializer, SchemaColumnSerializer,
)

__all__ = [
    "MISSING_KINDS", "BeastModeSerializer", "CalculationFlawSerializer", "CardColumnSerializer",
    "CardFilterSerializer", "CardMainSerializer", "CardOrderSerializer", "CardSerializer", "DataflowSerializer",
    "DataflowStepSerializer", "DatasetSerializer", "DateGrainSerializer", "ErrorSerializer",
    "FormulaAnalyzeSerializer", "FormulaFlawSerializer", "FormulaReportSerializer", "IntakeAcceptedSerializer",
    "IntakeRunSerializer", "IntakeUploadSerializer", "IssueSerializer", "ManifestSerializer", "MissingSerializer",
    "PolicyFilterSerializer", "PolicySerializer", "SchemaColumnSerializer", "TranslationSerializer",
    "TranslationsSerializer",
]
