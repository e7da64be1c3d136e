"""The demo's golden reconciliation on first start (deliverables.reconciliation.demo, called by run_console): the
run over every client is computed in the start-up process and records that it was (queue `in-process`, task
`demo:<id>`), sending the workers no message for it, and so are the reconciliations it queues; a second start
reuses it."""
from __future__ import annotations

from console.models import AuditEvent
from console.services import demo_users_create
from deliverables.models import CalculationRun, Reconciliation
from deliverables.reconciliation.demo import demo_reconciliation
from deliverables.runs import services as runs
from tests.deliverables.reconciliation.conftest import contract_sample  # noqa: F401 (fixture)
from tests.deliverables.runs.conftest import CURATED_DB
from tests.promotion.conftest import queued


@CURATED_DB
def test_the_demo_run_is_computed_in_process_and_says_so(contract_sample):  # noqa: F811
    demo_users_create()

    first = demo_reconciliation()

    run = CalculationRun.objects.get()
    assert first.run.pk == run.pk and run.state == "succeeded", first.line()
    assert (run.queue, run.task_id) == ("in-process", f"demo:{run.pk}")
    assert run.requested_by.username == "olivia.operator"
    assert [args for name, args in queued("runs") if name == runs.RUN_TASK] == []  # none for a worker to find done
    [started] = AuditEvent.objects.filter(action="deliverables.run.started", object_id=str(run.pk))
    assert (started.after["queue"], started.after["task_id"]) == ("in-process", f"demo:{run.pk}")
    assert f"reconciled against run #{run.pk}" in first.line()
    # The reconciliations it queued (their messages reach the worker later) were done here too, and say so.
    done = list(Reconciliation.objects.filter(run=run).order_by("pk"))
    assert done and first.reconciled == len(done)
    assert {(r.state, r.queue, r.task_id) for r in done} == {("succeeded", "in-process", f"demo:{r.pk}") for r in done}

    again = demo_reconciliation()
    assert again.run.pk == run.pk and CalculationRun.objects.count() == 1
