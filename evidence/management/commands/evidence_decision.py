"""What an output may claim for a client from the evidence stored now: authorized, indicative or not
concluded, with the governed revisions used, the candidate evidence seen and what is missing. Reads only.

--json prints the same JSON as GET /api/evidence/decision/ for the same question."""
from django.core.management.base import BaseCommand, CommandError

from evidence.packets.authority import OUTPUTS
from evidence.packets.decisions import DecisionParameterError, answer_json, decision_answer

OPTIONS = {"period": "--period", "component": "--component", "quarter": "--quarter", "ndc": "--ndc",
           "fill_date": "--fill-date", "client": "--client", "output": "OUTPUT"}


class Command(BaseCommand):
    help = ("What an output may claim for a client from the evidence stored now. --json prints the same "
            "JSON as GET /api/evidence/decision/.")

    def add_arguments(self, parser):
        parser.add_argument("output", metavar="OUTPUT", help=f"one of {', '.join(OUTPUTS)}")
        parser.add_argument("--client", metavar="ID", help="the client's 18-character Salesforce account id")
        parser.add_argument("--period", metavar="START:END",
                            help="the reporting period, YYYY-MM-DD:YYYY-MM-DD (contract_guarantee)")
        parser.add_argument("--component", metavar="CHANNEL/CLASS", action="append",
                            help="like retail/brand; repeat it for the combined conclusion over the components "
                                 "with claims (contract_guarantee); the claim's component (pricing_finding)")
        parser.add_argument("--quarter", metavar="YYYYQn", help="the rebate quarter (rebate_claim)")
        parser.add_argument("--ndc", metavar="NDC", help="11 digits (pricing_finding, rebate_claim)")
        parser.add_argument("--fill-date", metavar="DATE", dest="fill_date",
                            help="the claim's fill date, YYYY-MM-DD (pricing_finding)")
        parser.add_argument("--json", action="store_true", help="print the decision as JSON")

    def handle(self, *args, json: bool, **options):
        params = {name: options.get(name) for name in OPTIONS if name != "output"}
        params["output"] = options["output"]
        try:
            answer = decision_answer(params)
        except DecisionParameterError as exc:
            raise CommandError(f"{OPTIONS[exc.parameter]}: {exc.message}") from exc
        if json:
            self.stdout.write(answer_json(answer))
        else:
            self._print(answer)

    def _print(self, answer: dict) -> None:
        write = self.stdout.write
        question = answer["question"]
        write(f"{answer['output']} for client {question['client']}: {answer['decision'].upper()}")
        write(f"governed revisions used: {len(answer['governed_used']) or 'none'}")
        for used in answer["governed_used"]:
            write(f"  {used['kind']:10} {used['packet_id']} revision {used['revision']}  sha256 {used['sha256']}")
        write(f"candidates seen: {len(answer['candidates_seen']) or 'none'}")
        for seen in answer["candidates_seen"]:
            if seen["source"] == "packet":
                write(f"  {seen['kind']:10} {seen['packet_id']} revision {seen['revision']} ({seen['status']})")
            else:
                write(f"  {seen['kind']:10} Domo load {seen['load_id']} dataset {seen['dataset_id']} "
                      f"row {seen['row']}")
        write(f"missing: {len(answer['missing']) or 'nothing'}")
        for missing in answer["missing"]:
            write(f"  {missing['kind']:10} {_where(missing)}: {missing['reason']}"
                  + (" (candidate evidence exists)" if missing["candidate_exists"] else ""))


def _where(missing: dict) -> str:
    parts = []
    if missing["period"]:
        parts.append(f"{missing['period']['start']} to {missing['period']['end']}")
    if missing["date"]:
        parts.append(missing["date"])
    if missing["component"]:
        parts.append(f"{missing['component']['channel']}/{missing['component']['drug_class']}")
    parts += [f"{label} {missing[key]}" for key, label in (("quarter", "quarter"), ("ndc", "NDC"),
                                                          ("price_list", "price list")) if missing[key]]
    return ", ".join(parts) or "the client"
