"""Start a calculation run as a named user, and optionally wait for it.

    python manage.py start_run --as olivia --period 2025-01-01:2025-12-31 [--client ID] [--dataset ID]
                               [--wait] [--json] [--in-process]

The run is queued for the workers (the `runs` queue) like one started from the console; --wait follows it,
printing each step as it changes, until it is final; --in-process computes it in this process instead (no worker
needed; it waits by nature). --json prints the final run (or the queued one, without --wait) as
GET /api/runs/<id>/ shows it.

Exit codes: 0 the run succeeded (or was queued, without --wait); 1 it failed or was cancelled; 2 refused (who
asks may not start runs, bad options, claims not promoted into a backend contract).
"""
from __future__ import annotations

import datetime as dt
import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console import context
from deliverables.choices import RunState
from deliverables.models import CalculationRun
from deliverables.runs import services
from deliverables.runs.inputs import RunRefused

REFUSED = 2
FAILED = 1


def _period(value: str) -> tuple[dt.date, dt.date]:
    start, sep, end = (value or "").partition(":")
    try:
        if not sep:
            raise ValueError
        return dt.date.fromisoformat(start.strip()), dt.date.fromisoformat(end.strip())
    except ValueError:
        raise CommandError(f"--period {value!r}: give START:END as two dates, e.g. 2025-01-01:2025-12-31",
                           returncode=REFUSED) from None


class Command(BaseCommand):
    help = "Start a calculation run (queued for the workers) as a named user; --wait follows it to the end."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True,
                            help="who starts the run (must hold the build_deliverable permission)")
        parser.add_argument("--period", required=True, help="START:END, two ISO dates")
        parser.add_argument("--client", default="", help="a Salesforce account id; omitted: every client")
        parser.add_argument("--dataset", default="", help="the claims dataset (Domo id); omitted: the one promoted "
                                                          "into a backend contract")
        parser.add_argument("--wait", action="store_true", help="follow the run until it is final")
        parser.add_argument("--in-process", action="store_true",
                            help="compute the run in this process instead of the workers (implies --wait)")
        parser.add_argument("--json", action="store_true", help="print the run as GET /api/runs/<id>/ shows it")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks with --wait (1)")

    def handle(self, *args, username: str, period: str, client: str, dataset: str, wait: bool, in_process: bool,
               json: bool, poll: float, **options):
        start, end = _period(period)
        actor = get_user_model().objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"--as {username!r}: no such user", returncode=REFUSED)
        with context.for_command("start_run"):
            try:
                run = services.run_start(actor=actor, period_start=start, period_end=end, client=client.strip(),
                                         dataset=dataset.strip(), enqueue=not in_process)
            except RunRefused as refused:
                raise CommandError(f"refused: {refused}", returncode=REFUSED) from refused
            self.stderr.write(f"run #{run.pk} queued ({run.scope_label}), trace {run.trace_id}")
            if in_process:
                run = self._in_process(run)
            elif wait:
                run = self._follow(run, poll)
        if json:
            self.stdout.write(_json(run))
        elif run.state == RunState.QUEUED:
            self.stdout.write(f"run #{run.pk} queued for the workers")
        else:
            self.stdout.write(_outcome(run))
        if run.state in (RunState.FAILED, RunState.CANCELLED):
            raise CommandError(f"run #{run.pk} {run.state}" + (f": {run.error}" if run.error else ""),
                               returncode=FAILED)

    def _in_process(self, run: CalculationRun) -> CalculationRun:
        try:
            services.run_execute_in_process(run_id=run.pk, by="command")
        except Exception as exc:  # noqa: BLE001 - the run records why it failed; say it and report the run
            self.stderr.write(f"run #{run.pk}: {type(exc).__name__}: {exc}")
        run.refresh_from_db()
        self._steps(run, {})
        return run

    def _follow(self, run: CalculationRun, poll: float) -> CalculationRun:
        seen: dict[str, str] = {}
        while True:
            run.refresh_from_db()
            self._steps(run, seen)
            if run.is_final:
                return run
            time.sleep(max(poll, 0.05))

    def _steps(self, run: CalculationRun, seen: dict[str, str]) -> None:
        """Print each step whose state changed since the last look."""
        for step in (run.progress or {}).get("steps") or []:
            state = step.get("state", "pending")
            if seen.get(step["name"]) != state and state != "pending":
                detail = f" ({step['detail']})" if step.get("detail") else ""
                self.stderr.write(f"  {step['name']}: {state}{detail}")
            seen[step["name"]] = state


def _outcome(run: CalculationRun) -> str:
    if run.state == RunState.SUCCEEDED:
        summary = run.summary or {}
        return (f"run #{run.pk} succeeded: {summary.get('numbers', 0)} numbers, {run.findings_count} findings, "
                f"result {run.result_sha256}")
    return f"run #{run.pk} {run.state}"


def _json(run: CalculationRun) -> str:
    from deliverables.runs.api import RunDetailSerializer
    from deliverables.runs.selectors import runs

    shown = RunDetailSerializer(runs().get(pk=run.pk), context={"request": None}).data
    return json.dumps(shown, indent=2, default=str)
