"""Source intake API: the upload (202 + Location), the read endpoints, their filters and cursors, schema."""

from __future__ import annotations

import hashlib
import io

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from console.models import AuditEvent
from evidence.choices import IntakeSource, IntakeStatus
from evidence.intake.services import staging_root
from evidence.models import IntakeRun, PdpPolicy
from tests.evidence import exports
from tests.evidence.conftest import HTML_FORMULA, ingest, invalid_export
from tests.evidence.test_intake_pages import Untouchable, upload_folders

KIB = 1024
READ_ENDPOINTS = [
    "/api/intake-runs/",
    "/api/manifests/",
    "/api/issues/",
    "/api/datasets/",
    "/api/cards/",
    "/api/beast-modes/",
    "/api/dataflows/",
    "/api/policies/",
]


def detail_urls(manifest) -> list[str]:
    return [
        f"/api/intake-runs/{manifest.intake_run_id}/",
        f"/api/manifests/{manifest.pk}/",
        f"/api/issues/{manifest.issues.first().pk}/",
        f"/api/datasets/{manifest.datasets.first().pk}/",
        f"/api/cards/{manifest.cards.first().pk}/",
        f"/api/beast-modes/{manifest.beast_modes.first().pk}/",
        f"/api/dataflows/{manifest.dataflows.first().pk}/",
        f"/api/policies/{PdpPolicy.objects.filter(dataset__manifest=manifest).first().pk}/",
    ]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["results"]]


# --- who may read and upload ---------------------------------------------------------------------


def test_anonymous_callers_are_refused(client, received):
    for url in [*READ_ENDPOINTS, *detail_urls(received)]:
        response = client.get(url)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token"), url


def test_outsiders_are_refused_every_endpoint(client, oscar, received, export_zip):
    client.force_login(oscar)
    for url in [*READ_ENDPOINTS, *detail_urls(received)]:
        assert client.get(url).status_code == 403, url
    with export_zip.open("rb") as handle:
        assert client.post("/api/intake-runs/", {"file": handle}).status_code == 403
    assert IntakeRun.objects.count() == 1  # the fixture's


@pytest.mark.parametrize("persona", ["olivia", "cecilia", "audrey"])
def test_readers_read_every_endpoint(client, request, persona, received):
    client.force_login(request.getfixturevalue(persona))
    for url in [*READ_ENDPOINTS, *detail_urls(received)]:
        assert client.get(url).status_code == 200, url


def test_the_reviewer_can_read_but_not_upload(client, cecilia, export_zip):
    client.force_login(cecilia)
    before = upload_folders()
    with export_zip.open("rb") as handle:
        assert client.post("/api/intake-runs/", {"file": handle}).status_code == 403
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before


# --- upload ----------------------------------------------------------------------------------------


@pytest.mark.catalogue(48)
def test_an_upload_answers_202_with_the_runs_url_and_a_location(
    client, olivia, export_zip, django_capture_on_commit_callbacks
):
    client.force_login(olivia)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, export_zip.open("rb") as handle:
        response = client.post("/api/intake-runs/", {"file": handle})
    assert response.status_code == 202, response.content
    run = IntakeRun.objects.get()
    body = response.json()
    assert body == {"id": run.pk, "url": f"http://testserver/api/intake-runs/{run.pk}/", "status": "queued"}
    assert response["Location"] == body["url"]
    assert (run.source, run.requested_by, run.original_name) == (
        IntakeSource.API,
        olivia,
        "leafiq-export.zip",
    )
    assert len(callbacks) == 1


@pytest.mark.catalogue(48)
def test_the_runs_url_shows_its_progress(client, olivia, export_zip):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        url = client.post("/api/intake-runs/", {"file": handle})["Location"]
    run = client.get(url).json()
    assert (run["status"], run["stage"], run["progress"], run["is_final"], run["manifest"]) == (
        "queued",
        "",
        0,
        False,
        None,
    )
    assert run["requested_by"] == "olivia" and run["page_url"].endswith(f"/sources/intake/{run['id']}/")


def test_a_token_client_uploads_without_a_session(client, olivia, export_zip):
    token = Token.objects.create(user=olivia)
    with export_zip.open("rb") as handle:
        response = client.post("/api/intake-runs/", {"file": handle}, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 202
    assert IntakeRun.objects.get().requested_by == olivia


def test_an_api_upload_is_audited_with_the_uploader_and_the_file(client, olivia, export_zip):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        run_id = client.post("/api/intake-runs/", {"file": handle}).json()["id"]
    queued = AuditEvent.objects.get(action="intake.queued", object_id=str(run_id))
    uploaded = AuditEvent.objects.get(action="intake.uploaded", object_id=str(run_id))
    assert queued.actor == uploaded.actor == olivia
    assert queued.after["original_name"] == uploaded.after["original_name"] == "leafiq-export.zip"
    assert uploaded.after["source"] == "api"
    assert uploaded.after["sha256"] == hashlib.sha256(export_zip.read_bytes()).hexdigest()


def test_an_upload_without_a_file_is_a_400(client, olivia):
    client.force_login(olivia)
    response = client.post("/api/intake-runs/", {})
    assert response.status_code == 400 and "file" in response.json()
    assert not IntakeRun.objects.exists()


def test_an_upload_that_is_not_a_zip_is_a_400_and_is_not_kept(client, olivia):
    client.force_login(olivia)
    before = upload_folders()
    handle = io.BytesIO(b"{}")
    handle.name = "manifest.json"
    response = client.post("/api/intake-runs/", {"file": handle})
    assert response.status_code == 400
    assert response.json() == {
        "file": ["Upload the export as a .zip of its folder, with manifest.json at its root."]
    }
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before
    (event,) = AuditEvent.objects.filter(action="upload.refused")  # the attempt is on record, its bytes are not
    assert event.actor == olivia and event.after == {
        "what": "export", "via": "api", "original_name": "manifest.json", "bytes": 2,
        "reason": "file: Upload the export as a .zip of its folder, with manifest.json at its root."}


@pytest.mark.catalogue(39)
def test_an_upload_declared_over_the_limit_is_a_413_before_its_body_is_read(
    client, olivia, settings, export_zip
):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2 * KIB
    client.force_login(olivia)
    body = Untouchable()
    before = upload_folders()
    with export_zip.open("rb") as handle:
        response = client.post(
            "/api/intake-runs/", {"file": handle}, CONTENT_LENGTH=str(3 * 1024**3), **{"wsgi.input": body}
        )
    assert response.status_code == 413
    assert response.json()["detail"].startswith(
        "This upload is 3 GiB (3,221,225,472 bytes); the console receives "
        "exports of at most 2 KiB (2,048 bytes) (INTAKE_MAX_UPLOAD_BYTES)."
    )
    assert body.reads == 0
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before
    (event,) = AuditEvent.objects.filter(action="upload.refused")
    assert event.after["declared_bytes"] == 3 * 1024**3 and event.after["reason"].startswith("This upload is 3 GiB")


@pytest.mark.catalogue(39)
def test_an_upload_past_the_limit_while_streaming_is_a_413_and_leaves_nothing(client, olivia, settings):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2 * KIB
    client.force_login(olivia)
    handle = io.BytesIO(b"PK" + b"x" * (8 * KIB))
    handle.name = "big.zip"
    before = upload_folders()
    response = client.post("/api/intake-runs/", {"file": handle})
    assert response.status_code == 413
    assert "at most 2 KiB (2,048 bytes)" in response.json()["detail"]
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before


def test_the_staged_upload_is_what_the_run_will_receive(client, olivia, export_zip):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        client.post("/api/intake-runs/", {"file": handle})
    run = IntakeRun.objects.get()
    staged = staging_root().joinpath(run.staged_path)
    assert staged.parent.parent == staging_root() and staged.read_bytes() == export_zip.read_bytes()


# --- reads: filters shared with the pages, keyset cursors --------------------------------------------


@pytest.fixture
def two_receipts(db, tmp_path):
    first = ingest(exports.Export().write(tmp_path / "complete"))
    second = ingest(invalid_export().write(tmp_path / "invalid"))
    return first, second


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": "succeeded"},
        {"source": "command"},
        {"source": "api"},
        {"status": "queued", "source": "upload"},
    ],
)
def test_intake_run_filters_are_the_same_on_the_page_and_the_api(client, olivia, two_receipts, filters):
    client.force_login(olivia)
    page = [run.pk for run in client.get("/sources/intake/", filters).context["page"].items]
    assert ids(client.get("/api/intake-runs/", filters)) == page


def test_a_bad_filter_value_is_a_400_not_everything(client, olivia, two_receipts):
    client.force_login(olivia)
    assert client.get("/api/manifests/", {"status": "exploded"}).status_code == 400
    assert client.get("/api/manifests/", {"received_from": "yesterday"}).status_code == 400


def test_the_cursor_walks_every_manifest_once_newest_first(client, olivia, tmp_path):
    made = []
    for number in range(5):
        export = exports.Export()
        export.manifest["load_id"] = f"LIQ-20261120-{number + 10:04d}"
        made.append(ingest(export.write(tmp_path / f"e{number}")).pk)
    client.force_login(olivia)
    seen, url = [], "/api/manifests/?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    assert seen == made[::-1]


def test_issues_page_oldest_first_in_the_order_reported(client, olivia, two_receipts):
    client.force_login(olivia)
    listed = ids(client.get("/api/issues/", {"page_size": 1}))
    assert listed == sorted(listed)[:1]
    assert [
        i["position"] for i in client.get("/api/issues/", {"manifest": two_receipts[1].pk}).json()["results"]
    ] == [0]


def test_manifests_carry_claim_verdict_issue_counts_and_locations(client, olivia, two_receipts):
    complete, invalid = two_receipts
    client.force_login(olivia)
    body = client.get(f"/api/manifests/{invalid.pk}/").json()
    assert (body["status"], body["claimed_status"], body["errors"], body["warnings"]) == (
        "invalid",
        "complete",
        1,
        0,
    )
    assert body["bronze_prefix"] == invalid.bronze_prefix and body["received_by"] is None
    assert body["intake_run"] == invalid.intake_run_id
    assert client.get(f"/api/manifests/{complete.pk}/").json()["silver_prefix"] == complete.silver_prefix


def test_issues_carry_file_row_and_column(client, olivia, two_receipts):
    client.force_login(olivia)
    [issue] = client.get("/api/issues/", {"manifest": two_receipts[1].pk}).json()["results"]
    assert (issue["code"], issue["severity"], issue["file"], issue["row"], issue["column"]) == (
        "CSV_BAD_VALUE",
        "error",
        exports.CLAIMS_CSV,
        2,
        "fill_date",
    )


def test_objects_are_filtered_by_manifest(client, olivia, two_receipts):
    complete, invalid = two_receipts
    client.force_login(olivia)
    for endpoint, related in [
        ("/api/datasets/", complete.datasets),
        ("/api/cards/", complete.cards),
        ("/api/beast-modes/", complete.beast_modes),
        ("/api/dataflows/", complete.dataflows),
        ("/api/policies/", PdpPolicy.objects.filter(dataset__manifest=complete)),
    ]:
        assert sorted(ids(client.get(endpoint, {"manifest": complete.pk}))) == sorted(
            related.values_list("pk", flat=True)
        )


def test_datasets_have_a_typed_schema_and_silver_location(client, olivia, two_receipts):
    client.force_login(olivia)
    [claims] = client.get(
        "/api/datasets/", {"manifest": two_receipts[0].pk, "domo_id": exports.CLAIMS}
    ).json()["results"]
    assert claims["schema"] == [{"name": n, "type": t} for n, t in exports.CLAIMS_COLUMNS]
    assert claims["silver_rows"] == 3 and claims["silver_path"].endswith("/data.parquet")


def test_cards_show_their_main_subscription_and_datasets(client, olivia, two_receipts):
    complete = two_receipts[0]
    client.force_login(olivia)
    [card] = client.get("/api/cards/", {"manifest": complete.pk, "domo_id": exports.CARD}).json()["results"]
    assert card["datasets"] == [complete.datasets.get(domo_id=exports.CLAIMS).pk]
    assert [c["formula_id"] for c in card["main"]["columns"]] == [None, exports.CARD_FORMULA]
    assert card["golden_path"] == exports.CARD_GOLDEN


def test_cards_filter_by_the_dataset_they_read_and_an_id_past_bigint_is_400(client, olivia, two_receipts):
    """Found by the API fuzz: `dataset=2**63` went to the database through the relation (SQLite: a 500); an id
    filter refuses it, naming the filter (tests/console/test_api_id_filters.py)."""
    complete = two_receipts[0]
    client.force_login(olivia)
    claims = complete.datasets.get(domo_id=exports.CLAIMS)
    assert ids(client.get("/api/cards/", {"dataset": claims.pk})) == [complete.cards.get(domo_id=exports.CARD).pk]
    past = client.get("/api/cards/", {"dataset": 2**63})
    assert past.status_code == 400 and list(past.json()) == ["dataset"]


def test_beast_modes_come_with_their_formula_text_as_exported(client, olivia, received):
    client.force_login(olivia)
    card = received.cards.get(domo_id=exports.CARD)
    [beast] = client.get("/api/beast-modes/", {"card": card.pk}).json()["results"]
    assert beast["formula"] == HTML_FORMULA  # JSON carries it verbatim; pages escape it
    datasets = client.get("/api/beast-modes/", {"manifest": received.pk, "scope": "dataset"}).json()[
        "results"
    ]
    assert [b["formula_id"] for b in datasets] == [exports.DATASET_FORMULA]


def test_dataflows_carry_their_steps_sql(client, olivia, received):
    client.force_login(olivia)
    [flow] = client.get("/api/dataflows/", {"manifest": received.pk}).json()["results"]
    assert flow["input_ids"] == [exports.CLAIMS] and flow["output_ids"] == [exports.PHARMACIES]
    assert [s["action_type"] for s in flow["steps"]] == ["LoadFromVault", "SQL", "GenerateTableAction"]
    assert flow["steps"][2]["sql"] == [
        "SELECT member AS pharmacy, SUM(paid) AS total FROM claims GROUP BY member"
    ]


def test_policies_say_who_sees_which_rows_in_plain_words(client, olivia, received):
    client.force_login(olivia)
    claims = received.datasets.get(domo_id=exports.CLAIMS)
    policies = {p["name"]: p for p in client.get("/api/policies/", {"dataset": claims.pk}).json()["results"]}
    assert policies["Member M-001"]["description"] == (
        "Group Member services, group 1234 (not in the export's directory) and user Ann Analyst "
        "see rows where member equals M-001"
    )
    assert policies["Member M-001"]["filters"] == [
        {
            "column": "member",
            "operator": "EQUALS",
            "values": ["M-001"],
            "negated": False,
            "ignore_case": True,
            "dynamic": False,
        }
    ]
    single = client.get(f"/api/policies/{policies['Member M-001']['id']}/").json()
    assert single["description"] == policies["Member M-001"]["description"]
    open_policies = client.get("/api/policies/", {"manifest": received.pk, "type": "open"}).json()["results"]
    assert [p["name"] for p in open_policies] == ["All Rows"]


# --- query counts ----------------------------------------------------------------------------------


def api_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def test_api_query_counts_do_not_grow_with_the_data(client, olivia, received, tmp_path):
    client.force_login(olivia)
    urls = [*READ_ENDPOINTS, *detail_urls(received)]
    for url in urls:
        client.get(url)
    before = [api_queries(client, url) for url in urls]
    ingest(invalid_export("LIQ-20261124-0001").write(tmp_path / "second"))
    ingest(exports.Export().write(tmp_path / "third"))
    assert [api_queries(client, url) for url in urls] == before


def test_the_policy_list_names_people_in_one_query(client, olivia, received, django_assert_num_queries):
    client.force_login(olivia)
    client.get("/api/policies/")
    # session, user, the two permission reads, the page, the directory, the session save (3)
    with django_assert_num_queries(9):
        client.get("/api/policies/")


# --- schema ----------------------------------------------------------------------------------------


def test_the_schema_documents_every_endpoint_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for url in READ_ENDPOINTS:
        assert "get" in paths[url], url
        assert "get" in paths[url + "{id}/"], url
    upload = paths["/api/intake-runs/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert set(upload["responses"]) >= {"202", "400", "413"}
    params = {p["name"] for p in paths["/api/manifests/"]["get"]["parameters"]}
    assert params >= {"status", "load_id", "received_from", "received_until", "cursor"}
    assert schema["components"]["schemas"]["IntakeRunStatusEnum"]["enum"] == [s.value for s in IntakeStatus]


def test_the_interactive_docs_work_offline(client, cecilia):
    client.force_login(cecilia)
    body = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in body and "cdn" not in body.lower() and "unpkg" not in body
