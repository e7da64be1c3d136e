"""The client scope over the sample export and evidence (what the sample plants: each client's governed Domo group
holds its one client user, Domo's open All Rows policy lets the analysts see everyone, the West account manager sees
ACME and Cascade, the benefits consultant every client but Summit through a negated filter, the prospect's governed
account names no group), then hand-made policies and directory rows on the newest export for each case: a user
seeing a client in Domo outside the backend scope, the reverse, a dynamic filter, a client only Domo names, an
invalid newer export ignored; and the pages: list, filters, detail, 404, the reader capability."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from deliverables.scope.selectors import scope_report
from evidence.models import DirectoryEntry, DomoDataset, IntakeRun, PdpPolicy, SourceManifest

pytestmark = pytest.mark.django_db

ACME, BLUEWATER, CASCADE, SUMMIT = ("0015e00000Qm7AcAAJ", "0015e00000Qm7BwAAJ", "0015e00000Qm7CaAAJ",
                                    "0015e00000Qm7SlAAJ")
RIVERBEND = "0015e00000Qn2RvAAJ"
CLIENT_USERS = {ACME: "Dana Whitfield", BLUEWATER: "Luis Ortega", CASCADE: "Hannah Cho", SUMMIT: "Tom Becker"}


def names(lines):
    return [u.name for u in lines]


def claims(manifest) -> DomoDataset:
    return DomoDataset.objects.get(manifest=manifest, name="PBM Claims 2025")


def add_policy(manifest, name, filters, *, users=(), groups=()) -> PdpPolicy:
    return PdpPolicy.objects.create(dataset=claims(manifest), policy_id=9000 + PdpPolicy.objects.count(), name=name,
                                    type="user", filters=filters, user_ids=list(users), group_ids=list(groups),
                                    api_shape="public")


def on_name(values, **options):
    return [{"column": "Client Account", "operator": "EQUALS", "values": values, "negated": False,
             "ignore_case": True, "dynamic": False, **options}]


def test_the_sample_scope_and_what_domo_let_see(scope_sample):
    report = scope_report()
    assert report.manifest == scope_sample.manifest
    assert [c.account.name for c in report.clients] == [
        "ACME Manufacturing", "Bluewater County Schools", "Cascade Health Partners", "Riverbend Credit Union",
        "Summit Logistics Group"]
    for key, user in CLIENT_USERS.items():
        scope = report.client(key)
        assert scope.account.domo_group == f"{scope.account.name} - Benefits"
        assert scope.account.evidence == ("EVP-SALESFORCE-2025 r1 (governed)",)
        assert [u.name for u in scope.users if u.in_backend] == [user]
        assert next(u for u in scope.users if u.name == user).flag == ""  # Domo let the client's own user in
        assert not scope.backend_only
    # The open All Rows policy: Sam by name, Priya through the analytics group; on every client.
    for scope in report.clients:
        assert {"Sam Okafor", "Priya Raman"} <= set(names(scope.domo_only))
        assert "Leaf Health Analytics" in [name for _, name in scope.domo_groups]
    # The West account manager (one EQUALS filter, two values): ACME and Cascade only.
    assert [c.key for c in report.clients if "Marcus Bell" in names(c.domo_only)] == [ACME, CASCADE]
    # The consultant's negated filter: every client but Summit (on the contract terms and claims datasets).
    grace = [c.key for c in report.clients if "Grace Liu" in names(c.domo_only)]
    assert grace == [ACME, BLUEWATER, CASCADE, RIVERBEND]
    assert next(u for u in report.client(ACME).users if u.name == "Grace Liu").via == (
        "Contract Terms 2025: Benefits Consultant (all but Summit)",
        "PBM Claims 2025: Benefits Consultant (all but Summit)")
    # The prospect's governed account names no Domo group: unscoped, nothing inferred.
    riverbend = report.client(RIVERBEND)
    assert riverbend.flags[0].code == "unscoped"
    assert "names no Domo group" in riverbend.flags[0].message
    assert riverbend.backend_users == () and riverbend.account.domo_group == ""
    assert scope_report() == report  # the same inputs, the same report


def test_hand_made_policies_and_directory_rows_are_flagged(scope_sample, cecilia, client):
    manifest = scope_sample.manifest
    DirectoryEntry.objects.create(manifest=manifest, kind="user", domo_id=42, name="Olga Outsider",
                                  email="olga@example.com")
    DirectoryEntry.objects.create(manifest=manifest, kind="user", domo_id=43, name="Dyna Mic", email="d@example.com")
    add_policy(manifest, "Olga sees ACME", on_name(["ACME Manufacturing"]), users=[42])
    add_policy(manifest, "Own account", on_name(["Client Account"], dynamic=True), users=[43])
    add_policy(manifest, "Northwind", on_name(["Northwind Traders"]), users=[42])
    # Summit's own policies lose their group: Summit's user is in the backend scope, Domo no longer lets him in.
    PdpPolicy.objects.filter(dataset__manifest=manifest, name="Summit Logistics Group").update(group_ids=[])

    report = scope_report()
    acme = report.client(ACME)
    olga = next(u for u in acme.users if u.name == "Olga Outsider")
    assert (olga.flag, olga.via) == ("domo_only", ("PBM Claims 2025: Olga sees ACME",))
    assert "Olga Outsider" not in names(report.client(BLUEWATER).users)

    summit = report.client(SUMMIT)
    assert names(summit.backend_only) == ["Tom Becker"]
    assert any(f.code == "backend_only" and "Tom Becker" in f.message for f in summit.flags)

    for scope in report.clients:  # a dynamic filter is undecided for every client, never a guess
        if not scope.account.account_id:
            continue  # Northwind, below
        assert names(scope.undecided) == ["Dyna Mic"], scope.key
        dynamic = next(p for d in scope.datasets for p in d.policies if p.policy.name == "Own account")
        assert dynamic.verdict.outcome == "undecided" and "dynamic filter" in dynamic.verdict.reason

    northwind = report.client("Northwind Traders")
    assert northwind.account.account_id == "" and northwind.flags[0].code == "unscoped"
    assert "no Salesforce account" in northwind.flags[0].message
    assert names(northwind.domo_only) == ["Grace Liu", "Olga Outsider", "Priya Raman", "Sam Okafor"]
    # Known only by the name Domo uses: the policies filtering on the account id cannot be evaluated for it.
    per_client = next(p for d in northwind.datasets for p in d.policies if p.policy.name == "ACME Manufacturing"
                      and d.dataset.name == "Contract Terms 2025")
    assert "the client's Client Account ID is not known" in per_client.verdict.reason

    client.force_login(cecilia)
    listing = client.get("/scope/").content.decode()
    assert 'href="/scope/Northwind%20Traders/"' in listing
    assert 'data-flag="backend_only"' in row(listing, SUMMIT) and "Tom Becker" in row(listing, SUMMIT)
    assert 'data-flag="undecided"' in row(listing, ACME) and "Dyna Mic" in row(listing, ACME)
    page = client.get("/scope/Northwind%20Traders/").content.decode()
    assert "<h1>Northwind Traders</h1>" in page and "no Salesforce account" in page


def test_an_invalid_newer_export_is_not_read(scope_sample):
    intake = IntakeRun.objects.create(source="command", original_name="broken.zip", staged_path="/nowhere")
    SourceManifest.objects.create(load_id="LIQ-20271231-0001", manifest_sha256="0" * 64, status="invalid",
                                  exported_at=scope_sample.manifest.exported_at + dt.timedelta(days=30),
                                  bronze_prefix="bronze/x", intake_run=intake)
    assert scope_report().manifest == scope_sample.manifest


# --- pages -------------------------------------------------------------------------------------------------
def row(page: str, key: str) -> str:
    found = re.search(rf'<tr data-client="{re.escape(key)}".*?</tr>', page, re.DOTALL)
    assert found, key
    return found.group(0)


def test_the_list_shows_each_client_its_scope_and_differences_with_filters(scope_sample, cecilia, client):
    client.force_login(cecilia)
    page = client.get("/scope/").content.decode()
    assert scope_sample.manifest.load_id in page
    assert 'href="/scope/"' in page and ">Scope</a>" in page  # the nav link
    acme = row(page, ACME)
    assert "ACME Manufacturing - Benefits" in acme and "Dana Whitfield" in acme
    assert 'data-flag="domo_only"' in acme and "Marcus Bell" in acme
    riverbend = row(page, RIVERBEND)
    assert 'data-flag="unscoped"' in riverbend and "names no Domo group" in riverbend

    only_acme = client.get("/scope/", {"client": "acme"}).content.decode()
    assert re.findall(r'<tr data-client="([^"]+)"', only_acme) == [ACME]
    by_id = client.get("/scope/", {"client": SUMMIT.lower()}).content.decode()
    assert re.findall(r'<tr data-client="([^"]+)"', by_id) == [SUMMIT]
    nothing = client.get("/scope/", {"client": "no such client"}).content.decode()
    assert "No client matches these filters." in nothing


def test_differences_only_hides_clients_that_agree(scope_sample, cecilia, client):
    # Only the client's own group may see ACME: drop the open policy's, the West manager's and the consultant's
    # rights on ACME's datasets, and keep every other client different.
    PdpPolicy.objects.filter(dataset__manifest=scope_sample.manifest).exclude(
        name__in=["ACME Manufacturing", "Bluewater County Schools", "Cascade Health Partners",
                  "Summit Logistics Group", "Benefits Consultant (all but Summit)"]).delete()
    PdpPolicy.objects.filter(dataset__manifest=scope_sample.manifest,
                             name="Benefits Consultant (all but Summit)").update(
        filters=on_name(["Summit Logistics Group"], negated=True) + on_name(["ACME Manufacturing"], negated=True))
    client.force_login(cecilia)
    page = client.get("/scope/").content.decode()
    assert 'data-differences="no"' in row(page, ACME) and "No difference" in row(page, ACME)
    assert 'data-differences="yes"' in row(page, BLUEWATER)
    shown = client.get("/scope/", {"differences": "on"}).content.decode()
    keys = re.findall(r'<tr data-client="([^"]+)"', shown)
    assert ACME not in keys and BLUEWATER in keys and RIVERBEND in keys


def test_the_client_page_shows_both_sides_each_policy_and_each_flag(scope_sample, cecilia, client):
    client.force_login(cecilia)
    page = client.get(f"/scope/{CASCADE}/").content.decode()
    assert "<h1>Cascade Health Partners</h1>" in page
    assert "EVP-SALESFORCE-2025 r1 (governed)" in page
    backend = re.search(r'id="backend-scope".*?</section>', page, re.DOTALL).group(0)
    assert "Cascade Health Partners - Benefits" in backend and "Hannah Cho" in backend
    assert "Marcus Bell" not in backend
    domo = re.search(r'id="domo-scope".*?</section>', page, re.DOTALL).group(0)
    assert "Marcus Bell" in domo and "Hannah Cho" in domo and "Leaf Health Analytics" in domo
    users = re.search(r'id="users".*?</table>', page, re.DOTALL).group(0)
    marcus = re.search(r'<tr data-user="\d+" data-flag="domo_only">.*?Marcus Bell.*?</tr>', users, re.DOTALL)
    assert marcus and "Saw in Domo, outside backend scope" in marcus.group(0)
    assert re.search(r'data-flag="">\s*<td>Hannah Cho', users)
    # Each dataset's policies with what they decided for this client.
    assert 'data-outcome="blocked"' in page and 'data-outcome="through"' in page
    assert "the open All Rows policy" in page
    assert "Client Account does not equal Summit Logistics Group" in page  # the negated filter, in words


def test_unknown_client_is_404_and_the_pages_need_the_provenance_capability(scope_sample, cecilia, client,
                                                                           django_user_model):
    client.force_login(cecilia)
    assert client.get("/scope/0015e00000NOPEAAAA/").status_code == 404
    assert client.get("/scope/Northwind%20Traders/").status_code == 404
    outsider = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(outsider)
    assert client.get("/scope/").status_code == 403
    assert client.get(f"/scope/{ACME}/").status_code == 403
    client.logout()
    assert client.get("/scope/").status_code == 302


@pytest.mark.catalogue(31)
def test_a_withdrawn_salesforce_packet_leaves_every_client_unscoped(scope_sample, arthur):
    from evidence.packets.models import PacketRevision
    from evidence.packets.verification import packet_withdraw

    revision = PacketRevision.objects.get(claimed_packet_id="EVP-SALESFORCE-2025", status="accepted")
    packet_withdraw(actor=arthur, revision=revision, sha256=revision.sha256, reason="wrong report")
    report = scope_report()
    acme = report.client(ACME)
    assert acme.account.name == "ACME Manufacturing"  # named from the candidate row, never used for the scope
    assert acme.account.evidence == ("EVP-SALESFORCE-2025 r1 (candidate, not used)",)
    assert acme.flags[0].code == "unscoped" and "no governed Salesforce account row" in acme.flags[0].message
    assert acme.backend_users == () and "Dana Whitfield" in names(acme.domo_only)
    assert all(c.flags[0].code == "unscoped" for c in report.clients)
