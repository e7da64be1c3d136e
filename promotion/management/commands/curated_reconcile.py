from django.core.management.base import BaseCommand, CommandError

from console import context
from promotion import services


class Command(BaseCommand):
    help = (
        "Record in the audit trail every curated pointer move it does not hold yet (a process killed between a "
        "move and its audit row), then compare each dataset's live version with the trail's last recorded one. "
        "Exits non-zero if they still disagree."
    )

    def handle(self, *args, **options):
        with context.for_command("curated_reconcile"):
            recorded = services.curated_moves_audit(source="command")
            disagreements = services.curated_trail_disagreements()
        self.stdout.write(f"{len(recorded)} pointer move(s) recorded in the audit trail now.")
        if disagreements:
            lines = [f"{key}: live v{live}, trail v{trail}" for key, (live, trail) in sorted(disagreements.items())]
            raise CommandError("live pointers and the audit trail disagree:\n" + "\n".join(lines))
        self.stdout.write(self.style.SUCCESS("Every live pointer is the one the audit trail last recorded."))
