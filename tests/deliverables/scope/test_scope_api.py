"""The client scope API (/api/scope/, /api/scope/<key>/) over the same sample as the pages (test_scope.py): it answers
what the pages show for the same data (read off the pages' HTML, client by client), takes the list's filters (a bad
one is a 400 naming it), 404s an unknown key naming it, and needs console.view_provenance (403 without, 401 when
not signed in)."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence.models import DirectoryEntry, PdpPolicy
from tests.deliverables.scope.test_scope import ACME, CASCADE, RIVERBEND, SUMMIT, add_policy, on_name, row

pytestmark = pytest.mark.django_db

NORTHWIND, SLASHED = "Northwind Traders", "A/B Foods"


@pytest.fixture
def flagged(scope_sample):
    """Every kind of difference (test_scope.py's hand-made rows), and a client only Domo names, with a / in it."""
    manifest = scope_sample.manifest
    DirectoryEntry.objects.create(manifest=manifest, kind="user", domo_id=42, name="Olga Outsider",
                                  email="olga@example.com")
    DirectoryEntry.objects.create(manifest=manifest, kind="user", domo_id=43, name="Dyna Mic", email="d@example.com")
    add_policy(manifest, "Olga sees ACME", on_name(["ACME Manufacturing"]), users=[42])
    add_policy(manifest, "Own account", on_name(["Client Account"], dynamic=True), users=[43])
    add_policy(manifest, "Northwind", on_name([NORTHWIND, SLASHED]), users=[42])
    PdpPolicy.objects.filter(dataset__manifest=manifest, name="Summit Logistics Group").update(group_ids=[])
    return scope_sample


def tds(html: str) -> list[str]:
    return re.findall(r"<td.*?</td>", html, re.DOTALL)


def users_in(html: str) -> list[int]:
    return [int(u) for u in re.findall(r'data-user="(\d+)"', html)]


def test_the_list_answers_what_the_page_shows(flagged, cecilia, client):
    client.force_login(cecilia)
    page = client.get("/scope/").content.decode()
    answer = client.get("/api/scope/")
    assert answer.status_code == 200
    body = answer.json()
    results = {c["key"]: c for c in body["results"]}
    assert [c["key"] for c in body["results"]] == re.findall(r'<tr data-client="([^"]+)"', page)
    counts = re.search(r'id="scope-counts">(\d+) clients?, <strong>(\d+)</strong>', page)
    assert (body["totals"]["clients"], body["totals"]["with_differences"]) == tuple(map(int, counts.groups()))
    assert body["count"] == len(results) == 7 and (body["page"], body["pages"], body["next"]) == (1, 1, None)
    assert body["source"]["load_id"] == flagged.manifest.load_id and body["source"]["datasets"] > 0
    for key, found in results.items():
        html = row(page, key)
        name, backend, domo, differences = tds(html)
        assert f'data-differences="{"yes" if found["has_differences"] else "no"}"' in html
        assert (found["name"] or key) in name
        assert [u["user_id"] for u in found["backend_users"]] == users_in(backend), key
        assert [u["user_id"] for u in found["domo_users"]] == users_in(domo), key
        assert [f["code"] for f in found["flags"]] == re.findall(r'data-flag="([^"]+)"', differences), key
        for flag in found["flags"]:
            assert flag["label"] in differences and all(d in differences.replace("&#x27;", "'")
                                                        for d in flag["details"])
        assert found["scoped"] == ("Unscoped" not in backend)
    summit = results[SUMMIT]
    assert {"code": "backend_only", "label": "In backend scope, not let in by Domo", "count": 1,
            "details": ["Tom Becker"]} in summit["flags"]
    assert [u["name"] for u in summit["backend_users"]] == ["Tom Becker"] and summit["domo_group"]
    acme = results[ACME]
    assert next(f for f in acme["flags"] if f["code"] == "undecided")["details"] == ["Dyna Mic"]
    assert "Olga Outsider" in [u["name"] for u in acme["domo_users"]]
    riverbend = results[RIVERBEND]
    assert not riverbend["scoped"] and "names no Domo group" in riverbend["unscoped_reason"]
    assert riverbend["flags"][0]["code"] == "unscoped"
    northwind = results[NORTHWIND]
    assert northwind["account_id"] == "" and northwind["url"] == "http://testserver/api/scope/Northwind%20Traders/"
    assert northwind["page_url"] == "http://testserver/scope/Northwind%20Traders/"
    assert acme["url"] == f"http://testserver/api/scope/{ACME}/" and acme["page_url"] == f"http://testserver/scope/{ACME}/"


def test_the_filters_are_the_pages_and_a_bad_one_is_named(flagged, cecilia, client):
    client.force_login(cecilia)

    def keys(**query):
        answer = client.get("/api/scope/", query)
        assert answer.status_code == 200, answer.content
        return [c["key"] for c in answer.json()["results"]], answer.json()

    for query in ({"client": "acme"}, {"client": SUMMIT.lower()}, {"client": "north"}, {"client": "no such"}):
        found, body = keys(**query)
        assert found == re.findall(r'<tr data-client="([^"]+)"', client.get("/scope/", query).content.decode())
        assert body["totals"]["clients"] == 7  # the totals count every client, as on the page
    assert keys(client="acme")[0] == [ACME] and keys(client=SUMMIT.lower())[0] == [SUMMIT]
    assert keys(client="no such")[0] == []
    # Every sample client differs (the open All Rows policy): leave only the clients' own policies, as
    # test_scope.py does, and the clients whose own group is all Domo lets in agree.
    PdpPolicy.objects.filter(dataset__manifest=flagged.manifest).exclude(
        name__in=["ACME Manufacturing", "Bluewater County Schools", "Cascade Health Partners",
                  "Summit Logistics Group"]).delete()
    everyone, body = keys()
    differing, _ = keys(differences="true")
    assert differing == re.findall(r'<tr data-client="([^"]+)"',
                                   client.get("/scope/", {"differences": "on"}).content.decode())
    assert ACME in everyone and ACME not in differing and RIVERBEND in differing
    assert body["totals"]["with_differences"] == len(differing) < len(everyone) == body["totals"]["clients"]
    assert keys(differences="false")[0] == everyone

    for query, named in (({"differences": "maybe"}, "differences"), ({"client": "x" * 256}, "client"),
                         ({"page": "0"}, "page"), ({"page": "two"}, "page"), ({"page": "2"}, "page")):
        answer = client.get("/api/scope/", query)
        assert answer.status_code == 400, query
        assert list(answer.json()) == [named], answer.json()


def test_the_detail_answers_what_the_client_page_shows(flagged, cecilia, client):
    client.force_login(cecilia)
    for key, path in ((CASCADE, CASCADE), (ACME, ACME), (NORTHWIND, "Northwind%20Traders"),
                      (SLASHED, "A/B%20Foods")):
        page = client.get(f"/scope/{path}/").content.decode()
        answer = client.get(f"/api/scope/{path}/")
        assert answer.status_code == 200, key
        body = answer.json()
        assert body["key"] == key and f"<h1>{body['name'] or key}</h1>" in page
        assert all(e in page for e in body["evidence"])
        backend = re.search(r'id="backend-scope".*?</section>', page, re.DOTALL).group(0)
        domo = re.search(r'id="domo-scope".*?</section>', page, re.DOTALL).group(0)
        assert [u["user_id"] for u in body["backend_users"]] == users_in(backend)
        assert [u["user_id"] for u in body["domo_users"]] == users_in(domo)
        users = re.search(r'id="users".*?</table>', page, re.DOTALL).group(0)
        assert [(str(u["user_id"]), u["flag"]) for u in body["users"]] == re.findall(
            r'<tr data-user="(\d+)" data-flag="([^"]*)">', users)
        assert [f["code"] for f in body["flag_messages"]] == re.findall(r'<li data-flag="([^"]+)">', page)
        assert [d["domo_id"] for d in body["datasets"]] == re.findall(r'data-dataset="([^"]+)"', page)
        assert [(str(p["policy_id"]), p["outcome"]) for d in body["datasets"] for p in d["policies"]] == \
            re.findall(r'<tr data-policy="(\d+)" data-outcome="(\w+)">', page)
        assert body["url"] == f"http://testserver/api/scope/{path}/"
        assert body["page_url"] == f"http://testserver/scope/{path}/"

    cascade = client.get(f"/api/scope/{CASCADE}/").json()
    assert cascade["scoped"] and cascade["governed"] and cascade["domo_group"] == "Cascade Health Partners - Benefits"
    assert cascade["evidence"] == ["EVP-SALESFORCE-2025 r1 (governed)"]
    marcus = next(u for u in cascade["users"] if u["name"] == "Marcus Bell")
    assert (marcus["in_backend"], marcus["domo"], marcus["flag"], marcus["flag_label"]) == (
        False, "saw", "domo_only", "Saw in Domo, outside backend scope")
    policies = [p for d in cascade["datasets"] for p in d["policies"]]
    assert "Client Account does not equal Summit Logistics Group" in [f for p in policies for f in p["filters"]]
    open_policy = next(p for p in policies if p["reason"] == "the open All Rows policy")
    assert (open_policy["outcome"], open_policy["outcome_label"]) == ("through", "Lets the rows through")
    assert {"through", "blocked", "undecided"} <= {p["outcome"] for p in policies}
    assert cascade["source"]["load_id"] == flagged.manifest.load_id
    assert cascade["list_url"] == "http://testserver/api/scope/"
    northwind = client.get("/api/scope/Northwind%20Traders/").json()
    assert northwind["flag_messages"][0]["code"] == "unscoped"
    assert "no Salesforce account" in northwind["flag_messages"][0]["message"]


def test_an_unknown_client_is_404_naming_it_and_reading_needs_the_capability(scope_sample, cecilia, oscar,
                                                                               client):
    client.force_login(cecilia)
    missing = client.get("/api/scope/0015e00000NOPEAAAA/")
    assert missing.status_code == 404 and "'0015e00000NOPEAAAA'" in missing.json()["detail"]
    assert client.get("/api/scope/Northwind%20Traders/").status_code == 404  # no policy names it yet
    client.force_login(oscar)  # signed in, no role: every role holds console.view_provenance
    for url in ("/api/scope/", f"/api/scope/{ACME}/", "/api/scope/0015e00000NOPEAAAA/"):
        assert client.get(url).status_code == 403, url
    client.logout()
    for url in ("/api/scope/", f"/api/scope/{ACME}/"):
        assert client.get(url).status_code == 401, url


def test_the_api_reads_no_more_than_the_page(flagged, cecilia, client):
    """The report is built once per call, as for the page; shaping it for the API reads nothing more."""
    client.force_login(cecilia)
    counted = {}
    for url in ("/scope/", "/api/scope/", f"/scope/{ACME}/", f"/api/scope/{ACME}/"):
        client.get(url)  # caches (content types, permissions)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counted[url] = len(queries)
    assert counted["/api/scope/"] <= counted["/scope/"], counted
    assert counted[f"/api/scope/{ACME}/"] <= counted[f"/scope/{ACME}/"], counted
