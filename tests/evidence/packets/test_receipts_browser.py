"""An operator in a real browser receives a packet from the packet list: the upload hands over to the receipt's
page, which follows a real worker until it links to the packet, received as the operator."""

import re

import pytest

from evidence.models import PacketReceipt, PacketRevision
from tests.conftest import login
from tests.evidence.packets.builders import contract_packet

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_an_operator_receives_a_packet_and_follows_it_to_the_packet(celery_worker, olivia, page, live_server,
                                                                     tmp_path):
    archive = contract_packet().zip(tmp_path / "contract.zip")

    login(page, "olivia")
    page.goto("/evidence/packets/")
    page.get_by_role("link", name="Receive a packet").click()
    page.wait_for_url("**/evidence/packets/receive/")
    page.set_input_files("#id_file", str(archive))
    page.get_by_role("button", name="Upload").click()

    page.wait_for_url(re.compile(r".*/evidence/packets/receipts/\d+/$"))
    receipt = PacketReceipt.objects.get()
    assert (receipt.original_name, receipt.requested_by, receipt.source) == ("contract.zip", olivia, "upload")
    page.locator("#receipt-status", has_text="Done").wait_for(timeout=90_000)
    assert page.locator("#receipt-outcome").inner_text() == "accepted"
    assert page.locator("#receipt-progress[hx-trigger]").count() == 0  # final: polling stopped

    page.locator("#open-packet").click()
    revision = PacketRevision.objects.get()
    page.wait_for_url(f"**/evidence/packets/{revision.packet_id}/revisions/1/")
    assert revision.received_by == olivia
