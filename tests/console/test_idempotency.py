"""Idempotency keys (console.idempotency): kept 24 hours on the console clock, then free again and swept;
a key held by one transaction makes a second claim wait and then replay; every create documents the
header. The HTTP behaviour of each create is in tests/promotion/test_api_live.py and
tests/evidence/test_intake_api_live.py."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

from console import clock, idempotency, tasks
from console.models import IdempotencyKey
from tests.console.conftest import postgresql_only

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
REQUEST = {"fingerprint": "f" * 64, "method": "POST", "path": "/api/promotions/"}


def answered(user, key: str, at: dt.datetime, *, fingerprint: str = REQUEST["fingerprint"]) -> None:
    with clock.frozen(at), transaction.atomic():
        request = {**REQUEST, "fingerprint": fingerprint}
        assert idempotency.idempotency_claim(user=user, key=key, **request) is None
        idempotency.idempotency_answer(user=user, key=key, answer=idempotency.Answer(201, {"id": 7}, "/x/7/"))


def claim(user, key: str, at: dt.datetime):
    with clock.frozen(at), transaction.atomic():
        return idempotency.idempotency_claim(user=user, key=key, **REQUEST)


def test_a_key_answers_for_24_hours_then_is_free_again(olivia):
    answered(olivia, "k1", T0)

    earlier = claim(olivia, "k1", T0 + dt.timedelta(hours=24, seconds=-1))
    assert (earlier.status_code, earlier.body, earlier.location) == (201, {"id": 7}, "/x/7/")

    assert claim(olivia, "k1", T0 + dt.timedelta(hours=24)) is None  # expired: a new request holds it now
    assert IdempotencyKey.objects.get(key="k1").created_at == T0 + dt.timedelta(hours=24)


def test_the_ttl_cannot_be_set_under_24_hours():
    assert settings.IDEMPOTENCY_KEY_TTL_SECONDS >= 24 * 3600
    from console.env import ConfigError, env_int

    with pytest.raises(ConfigError):
        env_int("IDEMPOTENCY_KEY_TTL_SECONDS", 86400, {"IDEMPOTENCY_KEY_TTL_SECONDS": "3600"},
                minimum=24 * 3600)


def test_the_same_key_for_another_request_is_refused_with_what_it_was_for(olivia):
    answered(olivia, "k1", T0)
    with clock.frozen(T0), transaction.atomic(), pytest.raises(idempotency.KeyReused) as refused:
        idempotency.idempotency_claim(user=olivia, key="k1", **{**REQUEST, "fingerprint": "0" * 64})
    assert "'k1' was first used for POST /api/promotions/ with another body" in str(refused.value)

    elsewhere = {**REQUEST, "fingerprint": "1" * 64, "path": "/api/curated/x/rollback/"}
    with clock.frozen(T0), transaction.atomic(), pytest.raises(idempotency.KeyReused) as refused:
        idempotency.idempotency_claim(user=olivia, key="k1", **elsewhere)
    assert str(refused.value).startswith("Idempotency-Key 'k1' was first used for POST /api/promotions/; ")


def test_the_hourly_sweep_deletes_expired_keys_only(olivia, arthur):
    answered(olivia, "old", T0)
    answered(arthur, "new", T0 + dt.timedelta(hours=2))

    with clock.frozen(T0 + dt.timedelta(hours=25)):
        assert tasks.idempotency_sweep() == 1

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    scheduled = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled["console.tasks.idempotency_sweep"]["schedule"] == 3600.0


@pytest.mark.parametrize(
    ("key", "problem"),
    [("", "is empty"), ("k" * 256, "256 characters long; the most is 255"), ("a key", "printable ASCII"),
     ("clé", "printable ASCII")],
)
def test_a_key_that_cannot_be_one_is_named_with_why(key, problem):
    assert problem in idempotency.key_problem(key)


def test_a_uuid_or_255_characters_make_a_key():
    assert idempotency.key_problem("0b5c3f8e-3c1e-4d55-9b8a-6f1f3a2d9e10") is None
    assert idempotency.key_problem("~" * 255) is None


def test_a_claim_outside_a_transaction_is_a_programming_error(transactional_db, olivia):
    with pytest.raises(RuntimeError, match="caller's transaction"):
        idempotency.idempotency_claim(user=olivia, key="k1", **REQUEST)



# --- create_once: the one way the API and the new-request page run a create under a key ------------------


def once(user, key: str, create, *, fingerprint: str = REQUEST["fingerprint"]):
    request = {**REQUEST, "fingerprint": fingerprint}
    with clock.frozen(T0):
        return idempotency.create_once(user=user, key=key, **request, create=create)


def test_create_once_runs_the_first_create_and_replays_it_to_a_retry(olivia):
    ran = []

    def create():
        ran.append(1)
        return "made", idempotency.Answer(201, {"id": 7}, "/x/7/")

    first, retry = once(olivia, "k1", create), once(olivia, "k1", create)

    assert (first.result, first.earlier) == ("made", None)
    assert (retry.result, retry.earlier.status_code, retry.earlier.body) == (None, 201, {"id": 7})
    assert ran == [1]
    with pytest.raises(idempotency.KeyReused):
        once(olivia, "k1", create, fingerprint="0" * 64)
    assert ran == [1]


def test_create_once_frees_the_key_when_the_create_is_refused_or_raises(olivia):
    refused = once(olivia, "k1", lambda: ("refused", None))
    assert refused.result == "refused"
    assert not IdempotencyKey.objects.exists()

    def broken():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        once(olivia, "k1", broken)
    assert not IdempotencyKey.objects.exists()
    assert once(olivia, "k1", lambda: ("made", idempotency.Answer(201, {"id": 8}))).result == "made"


@pytest.mark.catalogue(56)
@postgresql_only
def test_a_second_claim_waits_for_the_first_and_replays_its_answer(transactional_db, olivia):
    first_holds, first_may_finish, outcome = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                outcome["first"] = idempotency.idempotency_claim(user=olivia, key="k1", **REQUEST)
                first_holds.set()
                first_may_finish.wait(timeout=30)
                answer = idempotency.Answer(201, {"id": 1}, "/api/promotions/1/")
                idempotency.idempotency_answer(user=olivia, key="k1", answer=answer)
        finally:
            connections.close_all()

    def second():
        try:
            with transaction.atomic():
                outcome["second"] = idempotency.idempotency_claim(user=olivia, key="k1", **REQUEST)
        finally:
            connections.close_all()

    holder = threading.Thread(target=first)
    holder.start()
    assert first_holds.wait(timeout=30)
    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(timeout=1)
    assert waiter.is_alive()  # waits on the unique (user, key) the first transaction holds
    first_may_finish.set()
    holder.join(timeout=30)
    waiter.join(timeout=30)

    assert outcome["first"] is None  # the first held the key
    assert (outcome["second"].status_code, outcome["second"].body) == (201, {"id": 1})
    assert IdempotencyKey.objects.count() == 1


# --- the schema -------------------------------------------------------------------------------------


def test_every_create_documents_the_idempotency_key(tmp_path):
    """Every POST documented with 201 or 202 takes the header: a new create without IdempotentCreate
    fails here (put `IdempotentCreate` first among its view's bases: console.api.creates)."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    creates = {
        (path, operation["operationId"]): operation
        for path, methods in paths.items()
        for method, operation in methods.items()
        if method == "post" and {"201", "202"} & set(operation["responses"])
    }
    known = {"promotions_request", "curated_rollback", "intake_runs_upload"}
    assert {name for _path, name in creates} >= known
    # Its answer holds a secret shown once: a replay store would keep the secret, so it takes no key (its
    # description says a retry creates another token, to revoke).
    secret_bearing = {"consumer_tokens_create"}
    for (path, name), operation in creates.items():
        if name in secret_bearing:
            assert "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
            assert "a retry creates another token" in operation["description"]
            continue
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, f"{name} ({path}) is a create without an Idempotency-Key"
        assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255
    others = {p["operationId"] for m in paths.values() for p in m.values() if "Idempotency-Key" in str(p)}
    assert others >= {"manifests_dispositions_set", "datasets_schema_drift_acknowledge"}
