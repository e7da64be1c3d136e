"""Reads of the manifest pages, the lists and the home page's intake section: each in a fixed number of
queries, whatever the export holds."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.shortcuts import get_object_or_404

from evidence.calculations.analysis import pending_analyses
from evidence.choices import IntakeStatus, ManifestStatus, Severity
from evidence.formulas import ENGINE_VERSION
from evidence.models import (
    CalculationAnalysis,
    CalculationFlaw,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    IntakeRun,
    ManifestFile,
    ManifestIssue,
    SourceManifest,
)

PREVIEW_ROWS = 50
ISSUES_PER_SEVERITY = 50  # on the manifest page; the issues page and the API list every one
FILES_SHOWN = 500
RECENT_INTAKES = 5
SEVERITY_ORDER = [Severity.ERROR, Severity.WARNING, Severity.INFO]


# --- lists -----------------------------------------------------------------------------------------


def intake_runs():
    return IntakeRun.objects.select_related("requested_by", "manifest")


def manifests():
    """Manifests with their issue counts by severity (one grouped query per page)."""
    return SourceManifest.objects.select_related("received_by").annotate(
        errors=Count("issues", filter=Q(issues__severity=Severity.ERROR)),
        warnings=Count("issues", filter=Q(issues__severity=Severity.WARNING)),
    )


def issues():
    return ManifestIssue.objects.select_related("manifest")


def calculation_flaws():
    """Flaws with the object they are in (card or dataset beast mode, DataFlow step): one query a page."""
    return CalculationFlaw.objects.select_related(
        "manifest",
        "analysis__beast_mode__card",
        "analysis__beast_mode__dataset",
        "analysis__dataflow_step__dataflow",
    )


# Each beast mode's or step's analyses with their flaws: two queries, whatever the page holds.
ANALYSES = Prefetch(
    "analyses", queryset=CalculationAnalysis.objects.order_by("part").prefetch_related("flaws")
)


def severity_counts(queryset) -> list[tuple[str, str, int]]:
    """(severity, label, count) of the severities present, most severe first: one query."""
    counts = dict(
        queryset.order_by().values_list("severity").annotate(n=Count("id")).values_list("severity", "n")
    )
    labels = dict(Severity.choices)
    known = [s for s in SEVERITY_ORDER if counts.get(s)]
    known += sorted(s for s in counts if s not in SEVERITY_ORDER)
    return [(s, labels.get(s, s), counts[s]) for s in known]


@dataclass(frozen=True)
class FlawSummary:
    """The head of a manifest's flaws page: counts by severity, and what is left to analyze."""

    severity_counts: list[tuple[str, str, int]]
    pending: int  # beast modes and steps without an analysis at the engine's current version
    engine_version: str


def flaw_summary(manifest: SourceManifest) -> FlawSummary:
    """Three queries."""
    return FlawSummary(
        severity_counts=severity_counts(manifest.calculation_flaws.all()),
        pending=pending_analyses(manifest),
        engine_version=ENGINE_VERSION,
    )


# --- home ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeSummary:
    runs_by_status: list[
        tuple[str, str, int]
    ]  # (status, label, count), every status, in the lifecycle's order
    manifests_by_status: list[tuple[str, str, int]]
    recent: list[IntakeRun]
    running: list[IntakeRun]


def _counts(queryset, choices) -> list[tuple[str, str, int]]:
    found = dict(queryset.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return [(value, label, found.get(value, 0)) for value, label in choices]


def intake_summary() -> IntakeSummary:
    """The home page's intake section: four queries."""
    return IntakeSummary(
        runs_by_status=_counts(IntakeRun.objects.all(), IntakeStatus.choices),
        manifests_by_status=_counts(SourceManifest.objects.all(), ManifestStatus.choices),
        recent=list(intake_runs().order_by("-id")[:RECENT_INTAKES]),
        running=running_intakes(),
    )


def running_intakes() -> list[IntakeRun]:
    return list(
        intake_runs().filter(status__in=[IntakeStatus.QUEUED, IntakeStatus.RUNNING]).order_by("id")[:20]
    )


# --- manifest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestDetail:
    manifest: SourceManifest
    severity_counts: list[tuple[str, str, int]]  # (severity, label, count) for severities present
    issues_by_severity: list[
        tuple[str, str, int, list[ManifestIssue]]
    ]  # the first ISSUES_PER_SEVERITY of each
    files: list[ManifestFile]
    file_count: int
    datasets: list[DomoDataset]
    cards: list[DomoCard]
    dataflows: list[DomoDataflow]
    beast_modes: int
    directory: dict[str, int]
    flaw_counts: list[tuple[str, str, int]]  # calculation flaws by severity

    @property
    def flaw_count(self) -> int:
        return sum(count for _s, _l, count in self.flaw_counts)

    @property
    def issue_count(self) -> int:
        return sum(count for _s, _l, count in self.severity_counts)


def manifest_detail(pk: int) -> ManifestDetail:
    files_of = ManifestFile.objects.filter(manifest=OuterRef("pk")).order_by().values("manifest")
    manifest = get_object_or_404(
        SourceManifest.objects.select_related(
            "received_by", "intake_run", "intake_run__requested_by"
        ).annotate(file_count=Coalesce(Subquery(files_of.annotate(n=Count("id")).values("n")), 0)),
        pk=pk,
    )
    issue_counts = severity_counts(manifest.issues.all())
    # The first issues of each severity in one query: number them within their severity, keep the first few.
    shown = list(
        manifest.issues.annotate(
            rank=Window(RowNumber(), partition_by=[F("severity")], order_by=[F("position").asc()])
        )
        .filter(rank__lte=ISSUES_PER_SEVERITY)
        .order_by("position")
    )
    grouped: dict[str, list[ManifestIssue]] = {}
    for item in shown:
        grouped.setdefault(item.severity, []).append(item)
    directory = dict(
        manifest.directory.order_by().values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    return ManifestDetail(
        manifest=manifest,
        severity_counts=issue_counts,
        issues_by_severity=[(s, label, n, grouped.get(s, [])) for s, label, n in issue_counts],
        files=list(manifest.files.all()[:FILES_SHOWN]),
        file_count=manifest.file_count,
        datasets=list(manifest.datasets.annotate(policy_count=Count("policies"))),
        cards=list(manifest.cards.annotate(beast_mode_count=Count("beast_modes"))),
        dataflows=list(manifest.dataflows.annotate(step_count=Count("steps"))),
        beast_modes=manifest.beast_modes.count(),
        directory=directory,
        flaw_counts=severity_counts(manifest.calculation_flaws.all()),
    )
