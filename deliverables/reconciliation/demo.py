"""The demo's golden reconciliation on first start (`make run`): the sample's mappings (shipped as data) loaded by
the demo operator, a calculation run over every client for the sample's plan year started by the operator and
executed in this process (never sent to the workers: it records queue `in-process`, task `demo:<id>`, as
`start_run --in-process` does), and the reconciliations it queues for the mapped cards executed here too, so that
the scoreboard's first view shows reconciled cards, explained variances and open ones (each records that it was
done here: queue `in-process`, task `demo:<id>`). The messages the reconciliations sent reach the worker later
and find them done.

Idempotent: a start that finds a succeeded run over every client for the period reuses it, and only reconciles a
mapped card that has no reconciliation against it yet. A refusal or a failure is reported in the start-up line
(the console still starts).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from deliverables.choices import RunState
from deliverables.models import CalculationRun, Reconciliation
from deliverables.reconciliation import selectors, services
from deliverables.runs import services as runs

OPERATOR = "olivia.operator"
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))  # the sample's plan year


@dataclass(frozen=True)
class DemoReconciliation:
    mapped: int
    run: CalculationRun | None
    reconciled: int
    counts: dict
    explained: int
    detail: str = ""

    def line(self) -> str:
        if self.run is None or self.run.state != RunState.SUCCEEDED:
            why = self.detail or (f"run #{self.run.pk} {self.run.state}: {self.run.error}" if self.run else "no run")
            return f"Golden reconciliation: {self.mapped} card(s) mapped; not reconciled ({why}); /reconciliation/"
        c = self.counts
        return (f"Golden reconciliation: {self.mapped} card(s) mapped, reconciled against run #{self.run.pk} "
                f"({self.reconciled} now): {c.get('reconciled', 0)} reconciled, {c.get('open', 0)} with open "
                f"variances, {self.explained} variance(s) explained by planted flaws; /reconciliation/")


def demo_reconciliation() -> DemoReconciliation:
    operator = get_user_model().objects.get(username=OPERATOR)
    loaded = services.mappings_load(actor=operator)
    mapped = sum(1 for entry in loaded if entry.outcome in ("saved", "kept"))
    run = (CalculationRun.objects.filter(state=RunState.SUCCEEDED, client_account_id="", period_start=PERIOD[0],
                                         period_end=PERIOD[1]).order_by("-pk").first())
    if run is None:
        try:
            queued = runs.run_start(actor=operator, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False)
        except runs.RunRefused as refusal:
            return DemoReconciliation(mapped, None, 0, {}, 0, str(refusal))
        run = runs.run_execute_in_process(run_id=queued.pk, by="demo")
    if run.state != RunState.SUCCEEDED:
        return DemoReconciliation(mapped, run, 0, {}, 0)
    services.reconcile_after_run(run)  # queues what this run has not reconciled yet (none when it just did)
    done = 0
    for recon in Reconciliation.objects.filter(run=run, state=RunState.QUEUED).order_by("pk"):
        services.reconciliation_execute(reconciliation_id=recon.pk, task_id=f"demo:{recon.pk}",
                                        queue=runs.IN_PROCESS)
        done += 1
    rows, counts = selectors.scoreboard()
    explained = sum((row.reconciliation.summary or {}).get("explained", 0) for row in rows
                    if row.reconciliation is not None and row.reconciliation.run_id == run.pk)
    return DemoReconciliation(mapped, run, done, counts, explained)
