"""The new-request form sent twice (catalogue item 8), through a real HTTP server as a browser sends it: each
shown form carries its own key, so a double click or a resend answers the first send's request and makes no
second one; the same form with other choices is a 409 shown again with a new key; a form shown again is a new
ask. (Scripts get the same through the API's Idempotency-Key: tests/promotion/test_api_live.py.)"""
from __future__ import annotations

import re

import pytest
import requests

from console.models import AuditEvent, IdempotencyKey
from promotion.models import PromotionRequest
from tests.promotion.conftest import CONTRACT_TERMS, dataset
from tests.support.forms import Shown, at_once, browser

pytestmark = pytest.mark.usefixtures("broker")  # the gates' messages go to this run's broker keys


class ShownForm(Shown):
    """The new-request form as the page showed it to one signed-in browser session."""

    def __init__(self, live_server, session: requests.Session, manifest):
        super().__init__(session, f"{live_server.url}/promotions/new/?manifest={manifest.pk}")
        self.manifest = manifest

    def send(self, name: str | None = None) -> requests.Response:
        chosen = dataset(self.manifest) if name is None else dataset(self.manifest, name)
        return self.post({"manifest": self.manifest.pk, "datasets": [chosen.pk]})


@pytest.mark.catalogue(8)
# As the API's race (test_api_live.py): SQLite's in-memory test database under a live server answers "table is
# locked" to concurrent writers instead of waiting as the embedded default's file database does.
@pytest.mark.postgres_only
def test_the_same_form_sent_four_times_at_once_makes_one_request_and_every_answer_leads_to_it(
    live_server, manifest, olivia
):
    form, racers = ShownForm(live_server, browser(live_server), manifest), 4
    answers = at_once(*[form.send] * racers)

    [request] = PromotionRequest.objects.all()
    assert [a.status_code for a in answers] == [302] * racers
    assert {a.headers["Location"] for a in answers} == {f"/promotions/{request.pk}/"}
    assert AuditEvent.objects.filter(action="promotion.requested").count() == 1


@pytest.mark.catalogue(8)
def test_a_resend_after_the_answer_leads_to_the_same_request_and_says_so(live_server, manifest, olivia):
    form = ShownForm(live_server, browser(live_server), manifest)
    first = form.send()
    form.session.get(live_server.url + first.headers["Location"], timeout=30)  # the first answer, read

    again = form.send()

    [request] = PromotionRequest.objects.all()
    assert first.headers["Location"] == again.headers["Location"] == f"/promotions/{request.pk}/"
    page = form.session.get(live_server.url + again.headers["Location"], timeout=30).text
    assert f"This form was sent twice: promotion #{request.pk} is its one request." in page


@pytest.mark.catalogue(8)
def test_the_same_form_with_other_choices_is_409_shown_again_with_a_new_key(live_server, manifest, olivia):
    form = ShownForm(live_server, browser(live_server), manifest)
    first = form.send()

    other = form.send(CONTRACT_TERMS)

    assert first.status_code == 302 and other.status_code == 409
    assert "already sent with other choices" in other.text
    new_key = re.search(r'name="submission" value="([0-9a-f]{32})"', other.text).group(1)
    assert new_key != form.key
    assert PromotionRequest.objects.count() == 1


def test_a_form_shown_again_is_a_new_ask(live_server, manifest, olivia):
    session = browser(live_server)
    one, two = ShownForm(live_server, session, manifest), ShownForm(live_server, session, manifest)
    assert one.key != two.key

    assert one.send().status_code == 302 and two.send().status_code == 302
    assert PromotionRequest.objects.count() == 2  # two shown forms, two asks: each its own record
    assert IdempotencyKey.objects.filter(user=olivia).count() == 2


def test_a_key_the_console_did_not_make_is_refused_and_nothing_is_requested(live_server, manifest, olivia):
    form = ShownForm(live_server, browser(live_server), manifest)
    form.key = "not-a-key"

    answer = form.send()

    assert answer.status_code == 400 and "reload the page" in answer.text
    assert not PromotionRequest.objects.exists() and not IdempotencyKey.objects.exists()
