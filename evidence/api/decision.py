"""GET /api/evidence/decision/: what an output may claim for a client from the evidence stored now, the same
JSON, byte for byte, as `manage.py evidence_decision ... --json` (evidence.packets.decisions answers both).

Reading needs console.view_provenance (every role has it). Nothing is stored and nothing changes, so nothing
is audited (reads of evidence are not either).
"""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from console.api.permissions import capability
from evidence.packets.authority import DECISIONS, OUTPUTS
from evidence.packets.decisions import DecisionParameterError, answer_json, decision_answer
from evidence.packets.model import KINDS

CanRead = capability("console.view_provenance")


def _text(help_text: str, **kwargs) -> serializers.CharField:
    return serializers.CharField(help_text=help_text, **kwargs)


def _nullable(help_text: str) -> serializers.CharField:
    return serializers.CharField(help_text=help_text, allow_null=True)


class DecisionComponentSerializer(serializers.Serializer):
    channel = _text("retail, mail or specialty")
    drug_class = _text("brand or generic")


class DecisionPeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


_QUESTION = inline_serializer("DecisionQuestion", fields={
    "output": _text(f"one of {', '.join(OUTPUTS)}"),
    "client": _text("the client's Salesforce account id"),
    "period": DecisionPeriodSerializer(allow_null=True, help_text="the reporting period (contract_guarantee), else null"),
    "component": DecisionComponentSerializer(allow_null=True, help_text="the one component asked about, else null"),
    "components": serializers.ListField(child=DecisionComponentSerializer(),
                                        help_text="the combined conclusion's components with claims, sorted"),
    "quarter": _nullable("YYYYQn (rebate_claim), else null"),
    "ndc": _nullable("11 digits (pricing_finding, rebate_claim), else null"),
    "fill_date": serializers.DateField(allow_null=True, help_text="the claim's fill date (pricing_finding)"),
})
_USED = inline_serializer("DecisionGovernedUsed", fields={
    "kind": _text(f"the evidence kind: one of {', '.join(KINDS)}"),
    "class": _text("always governed"),
    "packet_id": _text("the packet"),
    "revision": serializers.IntegerField(help_text="the revision number, from 1"),
    "sha256": _text("the revision's packet.json SHA-256"),
})
_SEEN = inline_serializer("DecisionCandidateSeen", fields={
    "kind": _text(f"the evidence kind: one of {', '.join(KINDS)}"),
    "class": _text("always candidate"),
    "source": _text("packet (a revision not verified, or withdrawn) or domo (a registered Domo row)"),
    "packet_id": _nullable("a packet's id; null for a Domo row"),
    "revision": serializers.IntegerField(allow_null=True, help_text="a packet's revision; null for a Domo row"),
    "sha256": _nullable("a packet revision's SHA-256; null for a Domo row"),
    "status": _nullable("a packet revision's status: received (not verified) or withdrawn"),
    "load_id": _nullable("a Domo row's load id; null for a packet"),
    "dataset_id": _nullable("a Domo row's dataset id; null for a packet"),
    "row": serializers.IntegerField(allow_null=True, help_text="a Domo row's number, from 1; null for a packet"),
})
_MISSING = inline_serializer("DecisionMissing", fields={
    "kind": _text(f"the evidence kind that is missing: one of {', '.join(KINDS)}"),
    "client": _text("the client's Salesforce account id"),
    "period": DecisionPeriodSerializer(allow_null=True, help_text="the days missing (contract), else null"),
    "date": serializers.DateField(allow_null=True, help_text="the one day missing (a fill date), else null"),
    "component": DecisionComponentSerializer(allow_null=True, help_text="the component missing, if any"),
    "ndc": _nullable("the NDC missing, if any"),
    "quarter": _nullable("the quarter missing, if any"),
    "price_list": _nullable("the price list the price is missing on, if any"),
    "candidate_exists": serializers.BooleanField(help_text="whether candidate evidence would cover it"),
    "reason": _text("why, in words a person can read"),
})
DecisionSerializer = inline_serializer("EvidenceDecision", fields={
    "output": _text(f"one of {', '.join(OUTPUTS)}"),
    "decision": _text(f"one of {', '.join(DECISIONS)}: authorized (a final number), indicative (internal only, "
                      "labelled candidate), not_concluded (flagged, naming what is missing)"),
    "question": _QUESTION,
    "governed_used": serializers.ListField(child=_USED, help_text="the governed revisions the decision rests on"),
    "candidates_seen": serializers.ListField(child=_SEEN, help_text="candidate evidence speaking to the question"),
    "missing": serializers.ListField(child=_MISSING, help_text="what no governed evidence covers; empty when "
                                                               "authorized"),
})

PARAMETER_DOCS = [
    OpenApiParameter("output", str, required=True, enum=list(OUTPUTS), description="the output asked about"),
    OpenApiParameter("client", str, required=True, description="the client's 18-character Salesforce account id"),
    OpenApiParameter("period", str, description="START:END, YYYY-MM-DD:YYYY-MM-DD: the reporting period; "
                                                "contract_guarantee only, and needed there"),
    OpenApiParameter("component", str, many=True, description=(
        "CHANNEL/CLASS, like retail/brand. contract_guarantee needs at least one: one is the per-component "
        "conclusion, several (repeated or comma-separated) the combined conclusion over the components with "
        "claims. pricing_finding: the claim's component, optional")),
    OpenApiParameter("quarter", str, description="YYYYQn; rebate_claim only, and needed there"),
    OpenApiParameter("ndc", str, description="11 digits; pricing_finding and rebate_claim, needed by both"),
    OpenApiParameter("fill_date", str, description="YYYY-MM-DD, the claim's fill date; pricing_finding only, "
                                                   "and needed there"),
]


class EvidenceDecision(APIView):
    """What an output may claim for a client, as `manage.py evidence_decision ... --json` prints it."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="evidence_decision",
        summary="Decide what an output may claim from the evidence",
        description=(
            "The authority rules of evidence-packets-v1 applied to the evidence stored now: authorized, "
            "indicative or not_concluded, with the governed revisions used, the candidate evidence seen and "
            "what is missing. A parameter the output does not take is refused (400), as is a missing or "
            "malformed one; the body names it: `{\"<parameter>\": [\"<message>\"]}`."
        ),
        parameters=PARAMETER_DOCS,
        responses={
            200: DecisionSerializer,
            400: OpenApiResponse(description="a parameter missing, malformed, unknown or not taken by the output; "
                                             "the body's one key names it"),
        },
    )
    def get(self, request):
        params = {name: request.query_params.getlist(name) for name in request.query_params}
        try:
            answer = decision_answer(params)
        except DecisionParameterError as exc:
            raise ValidationError({exc.parameter: [exc.message]}) from exc
        return HttpResponse(answer_json(answer), content_type="application/json")
