"""The audit trail: the one append service, the chain verifier, the lake anchors and the trail's reads.

Every change in the console records its event with `audit_record`, inside the transaction of the
change. Appends are serialized by a lock held until that transaction ends, so each event links
to the one committed before it and the chain never forks (the unique `prev_hash` makes a fork
impossible in the database too).

The head is anchored in the lake (`console.anchors`) when a decision commits (`DECISION_ACTIONS`)
and by the periodic verification, so that cutting events off the tail is detected.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from django.db import OperationalError, connections, router, transaction

from console import anchors, chain, clock, context
from console.lake import get_lake
from console.models import AuditEvent
from console.paging import KeysetPage, keyset_page

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the chain ("LEAFAUDT"); sp_getapplock resource on SQL Server.
APPEND_LOCK_KEY = 0x4C45414641554454
APPEND_LOCK_RESOURCE = "console.audit_chain"
APPEND_LOCK_TIMEOUT_MS = 30_000
TRAIL_OBJECT_TYPE = "console.auditevent"
UNKNOWN_SYSTEM_ACTOR = "system:unknown"
VERIFIED_ACTION = "audit.verified"

# The decisions: the events whose commit anchors the head at once (the rest wait for the beat).
# The one list of them; an action is a decision if it is named here or starts with a prefix below.
DECISION_ACTIONS = frozenset({
    "promotion.approved",
    "promotion.rejected",
    "promotion.cancelled",
    "promotion.flaw_dispositioned",  # an operator's judgment that lets a flaw pass the gates
    "promotion.flaw_disposition_cleared",
    "promotion.schema_drift_acknowledged",
    "promotion.promoted",  # a load done
    "promotion.load_failed",
    "promotion.rolled_back",
    "intake.finished",  # an export's verdict: complete, partial or invalid
    "auth.unlocked",
    "evidence_packet.verified",
    "evidence_packet.withdrawn",
    "consumer_token.created",  # grants a presentation surface access to clients' published outputs
    "consumer_token.revoked",
})
DECISION_PREFIXES = ("role.", "publication.")  # every grant, proposal, confirmation; every publication


def is_decision(action: str) -> bool:
    """True if committing an event with this action anchors the chain's head in the lake at once."""
    return action in DECISION_ACTIONS or action.startswith(DECISION_PREFIXES)


# --- append ---------------------------------------------------------------------------------------


def _lock_chain(using: str) -> None:
    """Take the chain's append lock for the rest of the current transaction."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
    elif connection.vendor == "microsoft":
        # Not exercised by the test suite (no SQL Server here); released when the transaction ends.
        with connection.cursor() as cursor:
            cursor.execute(
                "SET NOCOUNT ON; DECLARE @result int; "
                "EXEC @result = sp_getapplock @Resource = %s, @LockMode = 'Exclusive', "
                "@LockOwner = 'Transaction', @LockTimeout = %s; SELECT @result",
                [APPEND_LOCK_RESOURCE, APPEND_LOCK_TIMEOUT_MS],
            )
            (result,) = cursor.fetchone()
        if result < 0:
            raise OperationalError(f"could not take the audit append lock (sp_getapplock returned {result})")
    # SQLite: every transaction starts with BEGIN IMMEDIATE (see console.env.database_from_url),
    # which already serializes writers.


def _actor_label(actor, work: context.WorkContext | None) -> tuple[Any, str]:
    """(user to link, label to hash): a user, "anonymous", or the system actor of the task/command."""
    if actor is None:
        system_actor = work.system_actor if work else None
        return None, f"system:{system_actor}" if system_actor else UNKNOWN_SYSTEM_ACTOR
    if not actor.is_authenticated:
        return None, "anonymous"
    return actor, chain.clean_text(actor.get_username())


@transaction.atomic
def audit_record(
    *,
    actor,
    action: str,
    object_type: str,
    object_id: str,
    before: dict | None = None,
    after: dict | None = None,
    correlation_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    actor: the user who acted, an AnonymousUser (failed logins), or None for the system, named
    by the bound work context ("command:<name>", "task:<id>").
    """
    work = context.current()
    if correlation_id is None:
        correlation_id = work.correlation_id if work else context.new_id()
    user, label = _actor_label(actor, work)
    before, after = chain.json_safe(before), chain.json_safe(after)
    using = router.db_for_write(AuditEvent)
    _lock_chain(using)
    last = AuditEvent.objects.using(using).order_by("-seq").values_list("seq", "hash", "occurred_at").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, chain.GENESIS_HASH)
    # Read under the lock, so appends take their readings in chain order. Time never runs backwards
    # along the chain (the trail's time filters rely on it, and PostgreSQL refuses an insert that
    # would): a reading earlier than the previous event (the clock stepped back, or another host's
    # clock lags) is held at the previous event's time, and the reading itself is kept and hashed.
    reading = clock.now()
    occurred_at, clock_reading = reading, None
    if last and reading < last[2]:
        occurred_at, clock_reading = last[2], reading
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        clock_reading=clock_reading,
        actor=user,
        actor_label=label,
        action=chain.clean_text(action),
        object_type=chain.clean_text(object_type),
        object_id=chain.clean_text(str(object_id))[: AuditEvent._meta.get_field("object_id").max_length],
        before=before,
        after=after,
        correlation_id=chain.clean_text(correlation_id),
        prev_hash=prev_hash,
    )
    event.hash = chain.link_hash(prev_hash, event.payload())
    event.save(using=using)
    if is_decision(event.action):
        transaction.on_commit(lambda: anchors.anchor_after_commit(using, event.action, event.seq), using=using)
    return event


# --- reads of the trail (themselves audited) ---------------------------------------------------------


def audit_trail_page(queryset, *, size: int, older: int | None = None, newer: int | None = None) -> KeysetPage:
    """One page of the trail, newest first, by keyset on seq (never OFFSET): one query.

    `older` shows the events below that seq (the next page), `newer` the ones above it.
    """
    return keyset_page(queryset, key="seq", size=size, after=older, before=newer)


def audit_trail_read(
    *, actor, filters: Mapping[str, Any], via: str, cursor: str | int | None = None
) -> AuditEvent:
    """Record that actor read the trail (a page or an API list) with these filters."""
    return audit_record(
        actor=actor,
        action="audit.read",
        object_type=TRAIL_OBJECT_TYPE,
        object_id="*",
        after={"via": via, "filters": dict(filters), "cursor": cursor},
    )


@dataclass(frozen=True)
class ChainStatus:
    """The trail page's chain status: the last verification's result, and the anchors against the table."""

    verified_at: Any  # datetime of the last audit.verified event, or None
    verified: dict | None  # that run's report (ok, first_break, head_seq, ...)
    anchor: anchors.AnchorStatus
    verified_by: str = ""  # who ran it: "system:task:<id>" (beat or verify now), "system:command:verify_audit_chain"


def audit_chain_status() -> ChainStatus:
    """Cheap enough for every page view: no recomputation (that is verify_audit_chain's)."""
    last = (
        AuditEvent.objects.filter(action=VERIFIED_ACTION)
        # Ordered as console_audit_action_seq is, so that PostgreSQL reads that index backwards: ordered by
        # seq alone it walks the primary key from the end, through every event when none is a verification.
        .order_by("-action", "-seq")
        .values_list("occurred_at", "after", "actor_label")
        .first()
    )
    return ChainStatus(
        verified_at=last[0] if last else None,
        verified=last[1] if last else None,
        anchor=anchors.anchor_status(),
        verified_by=last[2] if last else "",
    )


# --- verification ----------------------------------------------------------------------------------


class BreakKind(StrEnum):
    EDITED = "edited"  # a row's content (or its hash) no longer matches its link
    DELETED = "deleted"  # a seq is missing from the middle of the chain
    REORDERED = "reordered"  # the event that continues the chain sits at another seq
    TRUNCATED_TAIL = "truncated-tail"  # a head recorded in the lake is past the table's end
    REWRITTEN = "rewritten"  # the chain is consistent but differs from a head recorded in the lake
    TIME_REVERSED = "time-reversed"  # an event is stamped earlier than the one before it


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    kind: BreakKind
    detail: str


@dataclass(frozen=True)
class ChainReport:
    checked: int  # events recomputed
    head_seq: int | None  # the last event checked
    head_hash: str | None
    head_occurred_at: str | None
    heads_checked: int  # heads recorded in the lake by earlier runs
    first_break: ChainBreak | None
    unanchored: anchors.Unanchored  # before this run recorded its head
    head_path: str | None = None  # where this run recorded the head (only when intact)

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def _link_break(row: AuditEvent, expected_prev: str, recomputed: str, using: str) -> ChainBreak | None:
    """Why row (at the expected seq) does not continue the chain, or None if it does."""
    if row.prev_hash == expected_prev:
        if recomputed == row.hash:
            return None
        return ChainBreak(row.seq, BreakKind.EDITED, f"event {row.seq} no longer matches its hash")
    elsewhere = (
        AuditEvent.objects.using(using)
        .filter(prev_hash=expected_prev)
        .exclude(seq=row.seq)
        .values_list("seq", flat=True)
        .first()
    )
    if elsewhere is not None:
        return ChainBreak(
            row.seq, BreakKind.REORDERED, f"the event that follows seq {row.seq - 1} sits at seq {elsewhere}"
        )
    if recomputed == row.hash and row.seq > 1:
        # Row is intact; it links to an event that is not the one now at seq - 1.
        return ChainBreak(
            row.seq - 1,
            BreakKind.EDITED,
            f"event {row.seq - 1} was replaced: event {row.seq} links to another hash",
        )
    return ChainBreak(row.seq, BreakKind.EDITED, f"event {row.seq} does not link to event {row.seq - 1}")


def _verify_rows(heads: list[anchors.RecordedHead], chunk_size: int, using: str) -> ChainReport:
    events = AuditEvent.objects.using(using)
    last = events.order_by("-seq").values_list("seq", flat=True).first()
    wanted = {head.seq for head in heads}
    anchor = max(heads, key=lambda head: head.seq, default=None)
    anchor_seq = anchor.seq if anchor else 0
    oldest_unanchored = None
    hashes_at: dict[int, str] = {}
    good: AuditEvent | None = None  # the last event that continues the chain
    first_break = None
    if last is not None:
        # Rows up to `last` are all committed and never change; later appends are left for the next run.
        for row in events.filter(seq__lte=last).order_by("seq").iterator(chunk_size=chunk_size):
            expected_seq, expected_prev = (good.seq + 1, good.hash) if good else (1, chain.GENESIS_HASH)
            if row.seq != expected_seq:
                missing = (
                    f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}..{row.seq - 1}"
                )
                first_break = ChainBreak(expected_seq, BreakKind.DELETED, f"event(s) {missing} are missing")
                break
            first_break = _link_break(
                row, expected_prev, chain.link_hash(row.prev_hash, row.payload()), using
            )
            if first_break is None and good and row.occurred_at < good.occurred_at:
                # Intact links, but not written by audit_record (or written before it held time
                # monotonic): the trail's time filters, which read a time range as a seq range,
                # would miss it.
                first_break = ChainBreak(
                    row.seq,
                    BreakKind.TIME_REVERSED,
                    f"event {row.seq} is stamped {chain.isoformat_utc(row.occurred_at)}, "
                    f"before event {good.seq} ({chain.isoformat_utc(good.occurred_at)})",
                )
            if first_break:
                break
            if row.seq in wanted:
                hashes_at[row.seq] = row.hash
            if row.seq == anchor_seq + 1:
                oldest_unanchored = chain.isoformat_utc(row.occurred_at)
            good = row
    if first_break is None:
        first_break = _heads_break(heads, hashes_at, last)
    return ChainReport(
        checked=good.seq if good else 0,
        head_seq=good.seq if good else None,
        head_hash=good.hash if good else None,
        head_occurred_at=chain.isoformat_utc(good.occurred_at) if good else None,
        heads_checked=len(heads),
        first_break=first_break,
        unanchored=anchors.Unanchored(
            count=max((good.seq if good else 0) - anchor_seq, 0),
            anchor_seq=anchor.seq if anchor else None,
            anchor_occurred_at=anchor.occurred_at if anchor else None,
            oldest_at=oldest_unanchored,
        ),
    )


def _heads_break(heads: list[anchors.RecordedHead], hashes_at: dict[int, str], last: int | None) -> ChainBreak | None:
    """Compare an internally consistent chain with the heads earlier runs recorded in the lake."""
    breaks = []
    for head in heads:
        if last is None or head.seq > last:
            end = f"ends at seq {last}" if last else "is empty"
            first = (last or 0) + 1
            missing = f"event {first} is" if first == head.seq else f"events {first}..{head.seq} are"
            breaks.append(
                ChainBreak(
                    first,
                    BreakKind.TRUNCATED_TAIL,
                    f"{missing} missing: the lake recorded head seq {head.seq} ({head.path}) but the table {end}",
                )
            )
        elif hashes_at.get(head.seq) != head.hash:
            breaks.append(
                ChainBreak(
                    head.seq,
                    BreakKind.REWRITTEN,
                    f"event {head.seq} no longer has the hash recorded in {head.path}; the chain was recomputed",
                )
            )
    return min(breaks, key=lambda item: item.seq, default=None)


def audit_verify_chain(
    *, chunk_size: int = 5000, record_head: bool = True, audit: bool = True
) -> ChainReport:
    """Recompute the chain from genesis, compare it with the recorded heads, record the new head.

    Streams the table (flat memory at any size). With `record_head`, an intact chain's head is
    written to the lake, so that cutting the tail off is detectable later; with `audit`, the run
    and its result are themselves an event of the trail.
    """
    using = router.db_for_read(AuditEvent)
    lake = get_lake()
    heads = anchors.recorded_heads(lake)  # lake I/O before and after the database work, never during
    # On PostgreSQL a transaction lets .iterator() stream through a server-side cursor instead of
    # materializing a WITH HOLD cursor; SQLite would take its write lock for it, and needs none.
    in_transaction = (
        transaction.atomic(using=using)
        if connections[using].vendor == "postgresql"
        else contextlib.nullcontext()
    )
    with in_transaction:
        report = _verify_rows(heads, chunk_size, using)
    if report.ok and report.head_seq and record_head:
        path = anchors.put_head(lake, report.head_seq, report.head_hash, report.head_occurred_at)
        report = replace(report, head_path=path)
    if not report.ok:
        logger.error(
            "audit chain broken at seq %s (%s): %s",
            report.first_break.seq,
            report.first_break.kind,
            report.first_break.detail,
        )
    if audit:
        audit_record(
            actor=None,
            action=VERIFIED_ACTION,
            object_type=TRAIL_OBJECT_TYPE,
            object_id="*",
            after=report.as_dict(),
        )
    return report
