"""Filter sets shared by the promotion pages and their API endpoints: the same query parameters on both."""

from __future__ import annotations

import django_filters

from console.filtersets import IdFilter
from promotion.choices import PromotionKind, PromotionState, PromotionTarget
from promotion.models import PromotionRequest


class PromotionRequestFilterSet(django_filters.FilterSet):
    """/promotions/ and /api/promotions/."""

    state = django_filters.ChoiceFilter(choices=PromotionState.choices, label="State")
    target = django_filters.ChoiceFilter(choices=PromotionTarget.choices, label="Target")
    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    kind = django_filters.ChoiceFilter(choices=PromotionKind.choices, label="Kind")

    class Meta:
        model = PromotionRequest
        fields: list[str] = []
