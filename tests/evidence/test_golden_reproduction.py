"""Every golden packet of a received export is rebuilt from silver and shown on its card page."""
import io

import pytest
from django.core.management import call_command

from evidence.models import DomoCard, GoldenReproduction
from evidence.samples.export import write_sample_export


@pytest.fixture
def received(db, tmp_path):
    export = write_sample_export(tmp_path / "export", rows=1500, seed=7)
    call_command("ingest_export", str(export.path), stdout=io.StringIO())
    return export


def test_every_golden_packet_of_the_sample_is_reproduced_exactly(received):
    reproductions = GoldenReproduction.objects.select_related("card")
    assert {r.card.domo_id for r in reproductions} == set(received.goldens)
    for reproduction in reproductions:
        assert reproduction.status == "reproduced", (reproduction.card.title, reproduction.problems)
        assert reproduction.matched == reproduction.golden_rows > 0
        assert reproduction.differing_count == reproduction.only_in_golden_count == reproduction.only_in_ours_count == 0


def test_a_card_without_golden_has_no_reproduction(received):
    without = DomoCard.objects.filter(golden_path="")
    assert without.exists()
    assert not GoldenReproduction.objects.filter(card__in=without).exists()


def test_the_card_page_shows_the_reproduction(received, client, cecilia):
    card = DomoCard.objects.exclude(golden_path="").order_by("title").first()
    client.force_login(cecilia)
    body = client.get(f"/sources/cards/{card.pk}/").content.decode()
    assert "Golden reproduction" in body
    assert "Reproduced" in body
    assert f"{card.reproduction.matched} of {card.reproduction.golden_rows} golden row" in body


def test_the_card_page_shows_differences_when_the_golden_disagrees(received, client, cecilia):
    card = DomoCard.objects.exclude(golden_path="").order_by("title").first()
    GoldenReproduction.objects.filter(card=card).update(
        status="differs", differing_count=1,
        differing=[{"key": ["ACME Manufacturing"], "column": "Total Paid", "golden": "10.00", "ours": "12.50",
                    "difference": "2.50"}],
    )
    client.force_login(cecilia)
    body = client.get(f"/sources/cards/{card.pk}/").content.decode()
    assert "Differs" in body
    assert "ACME Manufacturing" in body and "2.50" in body


def test_a_card_page_without_golden_says_why(received, client, cecilia):
    card = DomoCard.objects.filter(golden_path="").first()
    client.force_login(cecilia)
    assert "No golden packet to reproduce" in client.get(f"/sources/cards/{card.pk}/").content.decode()
