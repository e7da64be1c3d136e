"""The demo's missing-evidence flags on start (`make run`): computed in this process once the sample evidence, the
Domo candidate terms and the sample claims are in, so the first page a new user opens shows open flags.

The changes before it each queued a flag run (coalesced into one); that run is the one executed here, and its
message, when a worker reads it later, finds it done. A second start executes a run that raises and resolves
nothing, unless a person changed the evidence meanwhile: the run then says what it resolved.
"""
from __future__ import annotations

from dataclasses import dataclass

from evidence.flags.models import FlagRun, FlagRunStatus
from evidence.flags.needs import FlagInputError
from evidence.flags.services import flag_run_execute, request_flags_recompute


@dataclass(frozen=True)
class DemoFlags:
    run: FlagRun | None

    def line(self) -> str:
        run = self.run
        if run is None:
            return "Missing-evidence flags: a worker holds the run; see /evidence/missing/"
        if run.status != FlagRunStatus.SUCCEEDED:
            return f"Missing-evidence flags: run #{run.pk} {run.status}: {run.error}"
        summary = run.summary
        return (f"Missing-evidence flags: run #{run.pk}: {summary.get('open', 0)} open ({summary.get('raised', 0)} "
                f"raised, {summary.get('resolved', 0)} resolved now); /evidence/overview/ and /evidence/missing/")


def demo_flags_compute() -> DemoFlags:
    """Run the flags now, in this process (the queued run if there is one)."""
    run = request_flags_recompute(trigger="run_console", enqueue=False, audited=False)
    try:
        return DemoFlags(flag_run_execute(run_id=run.pk))
    except FlagInputError:  # the run is failed and keeps the error, nothing stored changed
        return DemoFlags(FlagRun.objects.get(pk=run.pk))
