"""Audit trail: chained appends against plain inserts of the same rows, and a page of a large trail.

    python -m bench.audit_append [--events 5000] [--trail 1000000] [--page-requests 60] [--keep]

Runs on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/leaf_console_bench) in a
database it creates and drops. In one run it measures:

1. appends per second through `audit_record` (lock, read the last link, hash, insert), against
   the baseline of plain ORM inserts of the same rows into a twin table with the same columns and
   indexes, one transaction per event each, interleaved in rounds so drift hits both alike;
2. the trail filled to --trail events (a valid chain, bulk-loaded with COPY), then the median time
   the auditor's page takes to serve by keyset: the whole request through Django, unfiltered at
   random depths and with each filter; an OFFSET query at the same depths is printed for contrast.
   Filters use values the trail holds (correlation ids, actions, an actor below the cursor), so a
   small --trail (even one smaller than the appends) works too. Every filter kind of the page is
   timed: actor (exact and prefix), one action and several, object, correlation id, a custom time
   range, the period presets (console.clock frozen half an hour after the trail's middle), and text
   in the details (rare, one event in a thousand, and common words; first and deep pages);
3. verify_audit_chain over the whole trail (time and peak memory).

The last line is one JSON object: value = chained appends/s, baseline = plain inserts/s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import time
import uuid
from urllib.parse import urlsplit

from bench.support import drop_database, recreate_database, say, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/leaf_console_bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit_append", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--events", type=int, default=5000, help="events appended by each side (default 5000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the events are split into")
    parser.add_argument(
        "--trail", type=int, default=1_000_000, help="events in the trail the page is served from"
    )
    parser.add_argument(
        "--page-requests", type=int, default=60, help="page requests timed per kind (default 60)"
    )
    parser.add_argument(
        "--skip-verify", action="store_true", help="do not time verify_audit_chain on the trail"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    if urlsplit(args.database_url).scheme not in {"postgres", "postgresql"}:
        parser.error("the bench needs a postgres:// DATABASE_URL")
    return args




# --- 1. appends --------------------------------------------------------------------------------------


def twin_model():
    """An unmanaged model of bench_plain_event: AuditEvent's columns and indexes, without the chain."""
    from django.db import connection, models

    from console.models import AuditEvent

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_event")
        cursor.execute(
            "CREATE TABLE bench_plain_event (LIKE console_auditevent INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
    fields = {field.name: field.clone() for field in AuditEvent._meta.local_fields}
    meta = type("Meta", (), {"app_label": "console", "db_table": "bench_plain_event", "managed": False})
    return type("PlainEvent", (models.Model,), {**fields, "__module__": __name__, "Meta": meta})


def row(index: int, run: str) -> dict:
    return {
        "action": "promotion.approved",
        "object_type": "promotion.request",
        "object_id": f"PR-{index}",
        "before": {"status": "requested", "amount": "1250.00"},
        "after": {
            "status": "approved",
            "amount": "1250.00",
            "approver": "arthur",
            "gates": ["reconciled", "golden"],
        },
        "correlation_id": run,
    }


def measure_appends(events: int, rounds: int) -> tuple[float, float]:
    from django.db import transaction

    from console import chain, clock
    from console.audit import audit_record

    plain_model = twin_model()
    per_round = max(1, events // rounds)
    ours = plain = 0.0
    done = 0
    run = uuid.uuid4().hex
    for _ in range(rounds):
        indexes = range(done, done + per_round)
        started = time.perf_counter()
        for index in indexes:
            fields = row(index, run)
            with transaction.atomic():
                plain_model.objects.create(
                    seq=index + 1,
                    occurred_at=clock.now(),
                    actor_label="system:command:bench",
                    before=chain.json_safe(fields["before"]),
                    after=chain.json_safe(fields["after"]),
                    prev_hash=uuid.uuid4().hex * 2,
                    hash=uuid.uuid4().hex * 2,
                    **{key: fields[key] for key in ("action", "object_type", "object_id", "correlation_id")},
                )
        plain += time.perf_counter() - started
        started = time.perf_counter()
        for index in indexes:
            audit_record(actor=None, **row(index, run))
        ours += time.perf_counter() - started
        done += per_round
    return done / ours, done / plain


# --- 2. a large trail ----------------------------------------------------------------------------------

ACTIONS = [
    "promotion.requested",
    "promotion.approved",
    "promotion.rejected",
    "output.published",
    "evidence.attached",
    "export.received",
    "deliverable.built",
    "auth.login",
    "auth.logout",
    "audit.read",
]


def fill_trail(target: int, users: list, *, start: dt.datetime | None = None) -> None:
    """Extend the chain to `target` events with COPY: a valid chain, hashed exactly as audit_record does.

    Events are 200 ms apart, from the last event's time, or from `start` (default now) on an empty trail."""
    from django.db import connection

    from console import chain
    from console.models import AuditEvent

    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash", "occurred_at").first()
    seq, prev_hash, start = last if last else (0, chain.GENESIS_HASH, start or dt.datetime.now(dt.UTC))
    if seq >= target:
        return
    actors = [(user.pk, user.get_username()) for user in users] + [
        (None, "system:command:load_export"),
        (None, "system:task:x"),
    ]
    rng = random.Random(7)
    columns = (*chain.HASHED_FIELDS, "prev_hash", "hash")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with (
            cursor.connection.cursor() as raw,
            raw.copy(f"COPY console_auditevent ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            while seq < target:
                seq += 1
                actor_id, actor_label = actors[seq % len(actors)]
                before = {"status": "requested"} if seq % 2 else None
                after = {"status": "approved", "n": seq, "amount": f"{seq % 1000}.25"}
                payload = chain.event_payload(
                    seq=seq,
                    occurred_at=start + dt.timedelta(milliseconds=200 * seq),
                    actor_id=actor_id,
                    actor_label=actor_label,
                    action=ACTIONS[rng.randrange(len(ACTIONS))],
                    object_type=["promotion.request", "evidence.file", "output", "auth.user"][seq % 4],
                    object_id=str(rng.randrange(50_000)),
                    before=before,
                    after=after,
                    correlation_id=f"run-{seq // 5:010d}",
                )
                link = chain.link_hash(prev_hash, payload)
                copy.write_row(
                    (
                        seq,
                        payload["occurred_at"],
                        actor_id,
                        actor_label,
                        payload["action"],
                        payload["object_type"],
                        payload["object_id"],
                        None if before is None else chain.canonical_json(before),
                        chain.canonical_json(after),
                        payload["correlation_id"],
                        prev_hash,
                        link,
                    )
                )
                prev_hash = link
        cursor.execute("ANALYZE console_auditevent")
    say(f"filled the trail to {target:,} events in {time.perf_counter() - started:.1f} s")


# --- page timing --------------------------------------------------------------------------------------


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def deep_cursor(rng: random.Random, top: int) -> int:
    """A seq in the older nine tenths of the trail (beyond the first page at any --trail)."""
    return rng.randrange(max(2, top // 10), top + 1)


def time_pages(client, requests: int, top: int) -> dict[str, float]:
    from console import clock
    from console.models import AuditEvent

    rng = random.Random(11)
    sample = AuditEvent.objects.get(seq=top // 2)
    when = sample.occurred_at.replace(tzinfo=None)
    # Correlation ids the trail holds, at any size: the bulk-loaded part names one per 5 events, but a
    # small --trail is mostly (or only) the append bench's events, which carry their run's id.
    seqs = {rng.randrange(1, top + 1) for _ in range(max(requests, 1) * 4)}
    events = AuditEvent.objects.filter(seq__in=seqs)
    correlation_ids = sorted(set(events.exclude(correlation_id="").values_list("correlation_id", flat=True)))
    actions = sorted(set(events.values_list("action", flat=True)))

    def actor_below(cursor: int) -> dict:
        """A deep page filtered on an actor who has events below the cursor (the bulk part's olivia, or
        at a small --trail whoever acted there)."""
        actor = AuditEvent.objects.filter(seq__lt=cursor).order_by("-seq").values_list("actor_label", flat=True)[0]
        return {"actor": actor, "older": cursor}
    actor_prefixes = sorted({label[:3] for label in events.values_list("actor_label", flat=True)})
    # Words in the details: rare (one event's number), in one event of a thousand (an amount), common.
    texts = [f'"n": {rng.randrange(1, top + 1)}' for _ in range(3)] + [f"{rng.randrange(1000)}.25", "approved"]
    preset_at = sample.occurred_at + dt.timedelta(minutes=30)

    def preset(period: str) -> dict:
        return {"period": period}

    kinds = {
        "first page": dict,
        "deep page (keyset)": lambda: {"older": deep_cursor(rng, top)},
        "actor filter, deep": lambda: actor_below(deep_cursor(rng, top)),
        "action filter": lambda: {"action": rng.choice(actions)},
        "object filter": lambda: {"object_type": sample.object_type, "object_id": sample.object_id},
        "correlation id": lambda: {"correlation_id": rng.choice(correlation_ids)},
        "one-hour range": lambda: {
            "since": (when - dt.timedelta(minutes=30)).isoformat(),
            "until": (when + dt.timedelta(minutes=30)).isoformat(),
        },
        "actions (several)": lambda: {"action": rng.sample(actions, min(3, len(actions)))},
        "actor prefix, deep": lambda: {"actor": rng.choice(actor_prefixes), "older": deep_cursor(rng, top)},
        "text in details": lambda: {"text": rng.choice(texts)},
        "text in details, deep": lambda: {"text": rng.choice(texts), "older": deep_cursor(rng, top)},
        "preset: last hour": lambda: preset("last_hour"),
        "preset: today": lambda: preset("today"),
        "preset: last 7 days": lambda: preset("last_7_days"),
    }
    medians = {}
    for name, params in kinds.items():
        samples = []
        for _ in range(requests):
            query = params()
            # Presets read console.clock: "now" is half an hour after the middle of the trail.
            with clock.frozen(preset_at) if name.startswith("preset") else contextlib.nullcontext():
                started = time.perf_counter()
                response = client.get("/audit/", query)
                samples.append(time.perf_counter() - started)
            assert response.status_code == 200 and b'id="filter-errors"' not in response.content, (name, query)
        medians[name] = median_ms(samples)
        say(f"page served by keyset, {name}: median {medians[name]} ms over {requests} requests")
    return medians


def time_offset_pages(requests: int, top: int) -> float:
    """The OFFSET query at the same depths, for contrast (the page itself never uses OFFSET)."""
    from console.models import AuditEvent

    rng = random.Random(11)
    samples = []
    for _ in range(requests):
        offset = top - deep_cursor(rng, top)
        started = time.perf_counter()
        list(AuditEvent.objects.order_by("-seq")[offset : offset + 50])
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def time_keyset_queries(requests: int, top: int) -> float:
    from console.models import AuditEvent

    rng = random.Random(11)
    samples = []
    for _ in range(requests):
        cursor = deep_cursor(rng, top)
        started = time.perf_counter()
        list(AuditEvent.objects.filter(seq__lt=cursor).order_by("-seq")[:51])
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    recreate_database(args.database_url)
    try:
        setup_django(args.database_url, name="audit")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.test import Client

        from console import roles
        from console.audit import audit_verify_chain
        from console.services import roles_seed

        roles_seed()
        users = []
        for username, role in (
            ("audrey", roles.AUDITOR),
            ("olivia", roles.OPERATOR),
            ("arthur", roles.APPROVER),
        ):
            user = get_user_model().objects.create_user(username=username)
            user.groups.add(Group.objects.get(name=role))
            users.append(user)

        say(f"appending {args.events:,} events each side, in {args.rounds} interleaved rounds")
        ours, plain = measure_appends(args.events, args.rounds)
        say(
            f"chained appends (audit_record): {ours:,.0f} events/s; plain inserts of the same rows: {plain:,.0f} events/s"
        )

        fill_trail(args.trail, users)
        from console.models import AuditEvent

        top = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()  # >= --trail: appends count
        client = Client()
        client.force_login(users[0])
        pages = time_pages(client, args.page_requests, top)
        page_median = pages["deep page (keyset)"]
        keyset_query = time_keyset_queries(args.page_requests, top)
        offset_query = time_offset_pages(args.page_requests, top)
        say(f"query alone at the same depths: keyset {keyset_query} ms, OFFSET {offset_query} ms (median)")
        say(
            f"{top:,}-event trail, page median (keyset, whole request, deep pages): {page_median} ms "
            f"({'under' if page_median < 50 else 'NOT under'} 50 ms)"
        )

        result = {
            "bench": "audit_append",
            "value": round(ours, 1),
            "unit": "events/s",
            "baseline": round(plain, 1),
            "ratio": round(ours / plain, 3),
            "trail_events": top,
            "page_median_ms": page_median,
            "page_median_ms_by_kind": pages,
            "offset_query_median_ms": offset_query,
        }
        if not args.skip_verify:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            report = audit_verify_chain(audit=False)
            seconds = time.perf_counter() - started
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
            say(
                f"verify_audit_chain over {report.checked:,} events: {'intact' if report.ok else report.first_break} "
                f"in {seconds:.1f} s ({report.checked / seconds:,.0f} events/s), max RSS grew {grown:.0f} MiB"
            )
            result["verify_seconds"] = round(seconds, 1)
        print(json.dumps(result), flush=True)
        return result
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main(sys.argv[1:])
