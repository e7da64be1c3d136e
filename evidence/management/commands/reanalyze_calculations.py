"""Analyze the beast modes and DataFlow steps with no analysis at the formula engine's current version."""

from django.core.management.base import BaseCommand, CommandError

from console import context
from evidence.calculations.analysis import calculations_analyze_manifest
from evidence.formulas import ENGINE_VERSION
from evidence.models import SourceManifest


class Command(BaseCommand):
    help = (
        "Re-analyze stored calculations: by default only those analyzed by an older engine version "
        "(or never), --force for all of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--manifest", type=int, metavar="ID", help="only this manifest")
        parser.add_argument("--force", action="store_true", help="re-analyze even what is current")

    def handle(self, *args, manifest: int | None, force: bool, **options):
        manifests = SourceManifest.objects.order_by("id")
        if manifest is not None:
            manifests = manifests.filter(pk=manifest)
            if not manifests.exists():
                raise CommandError(f"manifest #{manifest} does not exist")
        analyzed = 0
        with context.for_command("reanalyze_calculations"):
            for item in list(manifests):
                summary = calculations_analyze_manifest(manifest=item, force=force)
                analyzed += summary.analyzed
                if summary.analyzed:
                    self.stdout.write(
                        f"manifest #{item.pk} {item.load_id}: {summary.beast_modes} beast mode(s), "
                        f"{summary.dataflow_steps} DataFlow step(s) analyzed, {summary.flaws} flaw(s)"
                    )
        self.stdout.write(f"engine {ENGINE_VERSION}: {analyzed} calculation(s) analyzed")
