"""An admin who resets an approver's password knows it, and signs in as the approver: that approver decides
nothing until two admins grant the role again, so the admin's own request is not approved by the admin."""
import re

from promotion.choices import PromotionState
from tests.console.people_helpers import FormClient
from tests.support.api import Api


def test_an_admin_signed_in_as_the_approver_he_reset_cannot_approve_through_a_real_server(
        ready_request, arthur, adam, no_enqueue, live_server):
    admin = FormClient(live_server.url, "adam")
    status, page, _url = admin.post_form(f"/people/{arthur.pk}/password-reset/", f"/people/{arthur.pk}/", [])
    assert status == 200
    password = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    as_arthur = Api.signed_in(live_server.url, "arthur", password)
    refused = as_arthur.post(f"/api/promotions/{ready_request.pk}/approve/", {"comment": "looks fine"})
    assert refused.status_code == 403
    ready_request.refresh_from_db()
    assert ready_request.state == PromotionState.READY and no_enqueue.sent() == []
