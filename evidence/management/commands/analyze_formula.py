"""Analyze one Beast Mode formula: its parse, level, columns, flaws and SQL translations. Writes nothing."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.calculations.reports import formula_report, parse_schema
from evidence.formulas import USES


class Command(BaseCommand):
    help = (
        "Analyze one Beast Mode formula. --json prints {parsed, level, columns, flaws, translations}; "
        "the same JSON as POST /api/formulas/analyze/."
    )

    def add_arguments(self, parser):
        parser.add_argument("formula", help="the formula text (quote it for the shell)")
        parser.add_argument(
            "--schema",
            metavar="SCHEMA.json",
            help="the dataset's columns: a JSON object column -> type, or a list of {name, type}",
        )
        parser.add_argument(
            "--used-as",
            choices=USES,
            default="card_value",
            help="how the formula is used (default: card_value)",
        )
        parser.add_argument("--json", action="store_true", help="print the analysis as JSON")

    def handle(self, *args, formula: str, schema: str | None, used_as: str, json: bool, **options):
        report = formula_report(formula, schema=self._schema(schema), used_as=used_as)
        if json:
            self.stdout.write(_dumps(report))
        else:
            self._print(report)

    def _schema(self, path: str | None) -> dict[str, str] | None:
        if path is None:
            return None
        try:
            return parse_schema(json.loads(Path(path).read_text("utf-8")))
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path}: not JSON ({exc})") from exc
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from exc

    def _print(self, report: dict) -> None:
        write = self.stdout.write
        write(f"parsed:  {report['parsed'] if report['parsed'] is not None else '(does not parse)'}")
        write(f"level:   {report['level'] or '-'}")
        write(f"columns: {', '.join(report['columns']) or '-'}")
        write(f"flaws:   {len(report['flaws']) or 'none'}")
        for flaw in report["flaws"]:
            write(f"  {flaw['severity']:7} {flaw['code']}: {flaw['snippet']}")
            write(f"          {flaw['message']}")
            if flaw["suggestion"]:
                write(f"          suggestion: {flaw['suggestion']}")
        write("translations:")
        for target, translation in report["translations"].items():
            faithful = "faithful" if translation["faithful"] else "NOT faithful"
            write(f"  {target:8} {translation['sql'] or '(no SQL)'}  [{faithful}]")
            for problem in translation["problems"]:
                write(f"           - {problem}")


def _dumps(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)
