"""Recompute the missing-evidence flags: in this process (default), or queued for the workers with --queue.

In process, the run already queued and not started (if any) is the one run here (its queued task then finds it
done); the command prints the run's summary (raised, resolved, open, needs), or with --json the run as
GET /api/evidence-flag-runs/<id>/ shows it. With --queue it prints the queued run."""
import json

from django.core.management.base import BaseCommand, CommandError

from console import context
from evidence.api.serializers.flags import FlagRunSerializer
from evidence.flags.needs import FlagInputError
from evidence.flags.services import flag_run_execute, request_flags_recompute


class Command(BaseCommand):
    help = "Recompute the missing-evidence flags from the current claims and evidence."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="hand the run to the Celery workers")
        parser.add_argument("--json", action="store_true", help="print the run as one JSON object")

    def handle(self, *args, queue: bool, json: bool, **options):
        with context.for_command("recompute_evidence_flags"):
            run = request_flags_recompute(trigger="command", actor=None, enqueue=queue)
            if not queue:
                try:
                    done = flag_run_execute(run_id=run.pk)
                except FlagInputError as exc:
                    raise CommandError(f"flag run #{run.pk} failed: {exc}") from exc
                if done is None:
                    raise CommandError(f"flag run #{run.pk} is held by a worker; see it with --json later")
                run = done
        shown = FlagRunSerializer(run).data
        if json:
            self.stdout.write(_json(shown))
            return
        if queue:
            self.stdout.write(f"flag run #{run.pk} queued for the workers: {shown['url']}")
            return
        summary = run.summary
        found = summary.get("needs", {})
        self.stdout.write(
            f"flag run #{run.pk} {run.status}: {summary.get('raised', 0)} raised, {summary.get('resolved', 0)} "
            f"resolved, {summary.get('open', 0)} open; needs of {found.get('clients', 0)} client(s): "
            f"{found.get('contract', 0)} contract, {found.get('pricing', 0)} pricing, {found.get('rebate', 0)} rebate")


def _json(value) -> str:
    return json.dumps(value, indent=2, default=str)
