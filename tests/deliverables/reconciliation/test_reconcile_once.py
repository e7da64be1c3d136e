"""Reconcile now is done once per ask, through a real HTTP server as a browser and a script send it: the button sent
twice at once (a double click) or again after its answer leads to the first send's reconciliation; a second ask
(another page, the API) while a reconciliation of the same mapping version against the same run is queued or running
is a 409 naming the one to follow (audited), even when both come at once; once it is final, a new one may start."""
from __future__ import annotations

import pytest
import requests

from console.models import AuditEvent
from deliverables.models import Reconciliation
from deliverables.reconciliation import services
from tests.deliverables.reconciliation.conftest import REBATE_PER_CLAIM
from tests.deliverables.runs.conftest import CURATED_DB
from tests.support.api import Api
from tests.support.forms import Shown, at_once, browser


class ShownButton(Shown):
    """A subject page's Reconcile now as one signed-in browser session was shown it."""

    def __init__(self, live_server, session: requests.Session, subject):
        page_url = f"{live_server.url}/reconciliation/{subject.kind}/{subject.id}/"
        super().__init__(session, page_url, f"{page_url}reconcile/", form_id="reconcile-form")

    def send(self) -> requests.Response:
        return self.post({})


@CURATED_DB
@pytest.mark.postgres_only  # SQLite's in-memory test database answers "table is locked" to concurrent writers
def test_reconcile_now_sent_four_times_at_once_queues_one_and_every_answer_leads_to_it(mapped, olivia, live_server):
    button = ShownButton(live_server, browser(live_server), mapped.subject(REBATE_PER_CLAIM))

    answers = at_once(*[button.send] * 4)

    [recon] = Reconciliation.objects.all()
    assert [a.status_code for a in answers] == [302] * 4
    assert {a.headers["Location"] for a in answers} == {f"/reconciliation/{recon.pk}/"}
    assert AuditEvent.objects.filter(action="deliverables.reconciliation.queued").count() == 1


@CURATED_DB
def test_a_resend_of_reconcile_now_leads_to_the_same_reconciliation_and_says_so(mapped, olivia, live_server):
    button = ShownButton(live_server, browser(live_server), mapped.subject(REBATE_PER_CLAIM))
    first = button.send()
    button.session.get(live_server.url + first.headers["Location"], timeout=30)  # the first answer, read

    again = button.send()

    [recon] = Reconciliation.objects.all()
    assert first.headers["Location"] == again.headers["Location"] == f"/reconciliation/{recon.pk}/"
    page = button.session.get(live_server.url + again.headers["Location"], timeout=30).text
    assert f"This form was sent twice: reconciliation #{recon.pk} is its one reconciliation." in page


@CURATED_DB
def test_a_second_ask_while_one_is_queued_is_409_naming_it_and_a_final_one_frees_the_subject(
        mapped, olivia, live_server):
    subject, session = mapped.subject(REBATE_PER_CLAIM), browser(live_server)
    first = ShownButton(live_server, session, subject).send()
    [recon] = Reconciliation.objects.all()
    mapping = recon.mapping
    follow = (f"reconciliation #{recon.pk} of {subject.kind}:{subject.id} (mapping v{mapping.version}) against run "
              f"#{mapped.run.pk} is already queued: follow it")

    other_page = ShownButton(live_server, session, subject).send()
    by_api = Api.with_token(live_server.url, olivia).post(
        f"/api/reconciliation/subjects/{subject.kind}/{subject.id}/reconciliations/", {})

    assert first.status_code == 302 and other_page.status_code == 409 and by_api.status_code == 409
    assert follow in other_page.text.replace("&#x27;", "'") and by_api.json() == {"detail": follow}
    refusals = AuditEvent.objects.filter(action="deliverables.reconciliation.refused")
    assert [e.after["following"] for e in refusals] == [recon.pk, recon.pk]
    assert Reconciliation.objects.count() == 1

    services.reconciliation_cancel(actor=olivia, reconciliation=recon)
    assert ShownButton(live_server, session, subject).send().status_code == 302
    assert Reconciliation.objects.count() == 2


@CURATED_DB
@pytest.mark.postgres_only
def test_two_pages_asking_at_once_queue_one_and_the_other_is_told_to_follow_it(mapped, olivia, live_server):
    subject, session = mapped.subject(REBATE_PER_CLAIM), browser(live_server)
    one, two = ShownButton(live_server, session, subject), ShownButton(live_server, session, subject)
    assert one.key != two.key

    answers = at_once(one.send, two.send)

    [recon] = Reconciliation.objects.all()
    assert sorted(a.status_code for a in answers) == [302, 409]
    assert f"reconciliation #{recon.pk} of" in next(a for a in answers if a.status_code == 409).text
