"""Console under load: signed-in sessions walking its pages through gunicorn, idle and during an intake.

    python -m bench.console_load [--load 2] [--duration 10m] [--export-mb 200] [--think 5] [--keep]
    python -m bench.console_load [--sessions 50] [--seconds 60] ...      (the phases' sizes by hand)

The expected operator load (README, benchmarks) is EXPECTED_SESSIONS = 25 people signed in at once, each
opening a page every --think = 5 s on average: about 5 pages a second, several times what the team's
operators, approvers, reviewers and auditors ask of the console on a busy day. --load is a multiple of it
(default 2: 50 sessions, about 10 pages a second); --sessions sets the number of sessions instead.
--duration is the time walked under that load, split evenly between the idle phase and the intake
phase (10m: five minutes each); --seconds sets each phase's length instead (default 60).

Gates, over every page of the idle and the intake phases (each phase on its own): p95 <= --gate-p95-ms
(500), p99 <= --gate-p99-ms (1000), failed requests < --gate-failure-ratio (0.001, i.e. 0.1%), and the
worker's intakes succeeded. The figures and each gate's verdict are printed; the exit status is 1 when a
gate fails, 0 otherwise (the last line is the JSON object either way).

Runs on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/leaf_console_bench_load) in
a database it creates and drops, with a throwaway var/ and lake, and a real Celery worker on Redis
(--redis-url, default db 8, keys under a prefix of this run, deleted afterwards). In one run it:

1. seeds what operators look at: a hash-chained audit trail of --audit-events events, three sample
   exports received through the real intake, promotions (two promoted versions, one awaiting
   approval, one rejected) checked in-process and loaded by the worker;
2. starts gunicorn with the top-level gunicorn.conf.py (the production settings; --workers and
   --threads override) on 127.0.0.1, its database connections kept --conn-max-age seconds (the
   recommended `?conn_max_age=60`; 0 opens one per request), and signs --sessions users in through
   the login form (CSRF token and all), roles mixed: operator, approver, reviewer, auditor, admin;
3. baseline: the same walk by one session at a time (the five roles taking turns, no pause), i.e.
   the single-user latency of the same pages on the same server;
4. idle: every session walks for --seconds, picking a page kind at random (list, detail, flaw,
   and audit for the roles allowed to read it), pausing 0 to 2 x --think seconds between pages
   (default 5: a page every 5 s per person is several times a human's reading pace; 50 sessions
   then ask for about 10 pages a second). --think 0 measures the server's capacity instead;
5. intake: the same walk for --seconds while the worker ingests a generated --export-mb export
   queued through the intake service, from the moment it starts; when an intake ends before the
   walk, the same files are queued again under another load id (hard links, a new manifest.json),
   so the worker ingests all along;
6. not in the goals: the received export's own pages (its manifest and datasets), each visited three
   times by one session alone, since a dataset page previews its silver file and so grows with it.

Each phase prints one JSON line per page kind (requests, errors, p50/p95/p99 in ms) and one for all.
An error is anything but a 200 that stays signed in (a 5xx, a 403, a redirect to the login page,
a timeout or a refused connection).
The last line is one JSON object: value = p95 of all pages during the intake (ms), baseline = the
single-user p95 (ms), ratio = baseline / value (as a speed: 1.0 means load costs nothing).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from bench.support import drop_database, recreate_database, say, setup_django
from bench.web_sessions import ROLES, Sample, Session, summarize, walk, walk_alone

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/leaf_console_bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
MIB = 2**20
BYTES_PER_ROW = 208  # bytes of claims CSV per generated row, a little under (bench.intake measured ~211.6)
GOAL_IDLE_MS, GOAL_INTAKE_MS = 300, 1000
EXPECTED_SESSIONS = 25  # the expected operator load: 25 people at a page every 5 s each (module docstring)
GATED_PHASES = ("idle", "intake")
CLAIMS, REBATES = "PBM Claims 2025", "Rebate Invoices 2025"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.console_load",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", type=float, default=2.0,
                        help=f"multiple of the expected operator load ({EXPECTED_SESSIONS} sessions; default 2)")
    parser.add_argument("--sessions", type=int, help="signed-in sessions walking at once (default: from --load)")
    parser.add_argument("--duration", type=duration,
                        help="time walked under load, both phases together: 600, 600s or 10m (half each)")
    parser.add_argument("--seconds", type=int, help="length of each phase (default 60; --duration sets it)")
    parser.add_argument("--gate-p95-ms", type=float, default=500.0, help="gate: p95 of each phase (ms)")
    parser.add_argument("--gate-p99-ms", type=float, default=1000.0, help="gate: p99 of each phase (ms)")
    parser.add_argument("--gate-failure-ratio", type=float, default=0.001,
                        help="gate: failed requests per request in each phase must stay below it")
    parser.add_argument("--seed-exports", type=int, default=3, choices=(1, 2, 3),
                        help="exports received before the walk; the promotions are seeded with 3 only")
    parser.add_argument("--large-repeat", type=int, default=3,
                        help="visits of each page of the export received during the run (not gated)")
    parser.add_argument("--export-mb", type=int, default=200, help="MiB of the export ingested")
    parser.add_argument("--think", type=float, default=5.0, help="mean pause between a session's pages (s)")
    parser.add_argument("--conn-max-age", type=int, default=60, help="the web server's conn_max_age (s)")
    parser.add_argument("--baseline-seconds", type=int, default=15, help="length of the single-user walk")
    parser.add_argument("--warmup-seconds", type=int, default=5, help="untimed walk before the baseline")
    parser.add_argument("--audit-events", type=int, default=100_000, help="events in the seeded audit trail")
    parser.add_argument("--seed-rows", type=int, default=2000, help="claims rows of each seeded export")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker (default: gunicorn.conf.py)")
    parser.add_argument("--intake-timeout", type=int, default=1800, help="seconds the intake may take")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--keep", action="store_true", help="keep the database and var/ afterwards")
    args = parser.parse_args(argv)
    if urlsplit(args.database_url).scheme not in {"postgres", "postgresql"}:
        parser.error("the bench needs a postgres:// DATABASE_URL")
    if args.duration is not None and args.seconds is not None:
        parser.error("give --duration or --seconds, not both")
    if args.seconds is None:
        args.seconds = max(1, round(args.duration / 2)) if args.duration is not None else 60
    if args.sessions is None:
        args.sessions = max(1, round(EXPECTED_SESSIONS * args.load))
    if args.sessions < 1 or args.seconds < 1:
        parser.error("--sessions and --seconds must be at least 1")
    return args


def duration(text: str) -> int:
    """Seconds from "600", "600s" or "10m"."""
    match = re.fullmatch(r"\s*(\d+)\s*([sm]?)\s*", text)
    if not match or int(match.group(1)) < 2:
        raise argparse.ArgumentTypeError(f"not a duration of at least 2 s: {text!r} (600, 600s or 10m)")
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def gates(phases: dict[str, dict], intake_status: str, args: argparse.Namespace) -> dict[str, dict]:
    """Each gate's figure, limit and verdict, for the phases under load."""
    verdicts = {}
    for phase in GATED_PHASES:
        figures = phases[phase]["all"]
        ratio = figures["errors"] / figures["requests"] if figures["requests"] else 1.0
        for name, value, limit, passed in (
            ("p95_ms", figures["p95_ms"], args.gate_p95_ms, figures["p95_ms"] <= args.gate_p95_ms),
            ("p99_ms", figures["p99_ms"], args.gate_p99_ms, figures["p99_ms"] <= args.gate_p99_ms),
            ("failure_ratio", round(ratio, 5), args.gate_failure_ratio, ratio < args.gate_failure_ratio),
        ):
            verdicts[f"{phase}_{name}"] = {"value": value, "limit": limit, "passed": passed}
    verdicts["intake_succeeded"] = {"value": intake_status, "limit": "succeeded",
                                    "passed": intake_status == "succeeded"}
    return verdicts


# --- processes: the worker and gunicorn ------------------------------------------------------------------
def start_process(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_processes(*processes: subprocess.Popen | None) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL after 30 s)."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for(ready, what: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early (exit {process.returncode}):\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def start_worker(var: Path) -> tuple[subprocess.Popen, Callable[[], None]]:
    """The worker's process, and a call that waits until it is ready (it boots while the caller works)."""
    from django.conf import settings

    log = var / "worker.log"
    process = start_process(
        [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool=prefork", "--concurrency=1",
         "-Q", settings.CONSOLE_WORKER_QUEUES, "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "INFO", "-n", f"bench-load-{os.getpid()}@%h"], log)
    return process, lambda: wait_for(lambda: " ready." in log.read_text(), "the Celery worker", process, log)


def start_gunicorn(var: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str, Callable[[], None]]:
    """gunicorn's process, its address, and a call that waits until it answers (it boots meanwhile)."""
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    log = var / "gunicorn.log"
    url = urlsplit(args.database_url)
    query = "&".join(filter(None, [url.query, f"conn_max_age={args.conn_max_age}"]))
    process = start_process([*command, "console.wsgi:application"], log,
                            env={"DATABASE_URL": url._replace(query=query).geturl()})
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    return process, base, lambda: wait_for(healthy, "gunicorn", process, log)


def flush_broker(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


# --- seeding ---------------------------------------------------------------------------------------------
def make_users(sessions: int, password: str) -> list[tuple[str, str]]:
    """One user per session, roles in turn; one password hash for all (the hasher is slow on purpose)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    hashed = make_password(password)
    groups = {role: Group.objects.get(name=role) for role in ROLES}
    made = []
    for index in range(max(sessions, len(ROLES))):
        role = ROLES[index % len(ROLES)]
        user = get_user_model().objects.create(username=f"{role}{index:03d}", password=hashed,
                                               is_staff=role == "admin")
        user.groups.add(groups[role])
        made.append((user.username, role))
    return made


def ingest(path: Path):
    import io

    from django.core.management import call_command

    from evidence.models import SourceManifest

    call_command("ingest_export", str(path), stdout=io.StringIO())
    return SourceManifest.objects.latest("id")


def request_checked(actor, manifest, name: str):
    """A request for one dataset with every flaw behind it dispositioned, its gates checked in-process."""
    from promotion import services
    from promotion.gates import flaw_fingerprint, flaws_behind

    chosen = manifest.datasets.get(name=name)
    for fingerprint in sorted({flaw_fingerprint(flaw) for flaw in flaws_behind(manifest, [chosen])}):
        services.flaw_disposition_set(actor=actor, manifest=manifest, fingerprint=fingerprint,
                                      decision="legacy_fixture_only", note="Domo's number, kept to compare")
    request = services.promotion_request(actor=actor, manifest=manifest, datasets=[chosen], enqueue=False)
    services.promotion_check(request_id=request.pk)
    request.refresh_from_db()
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request


def wait_loaded(request_id: int, timeout: float = 300) -> None:
    from promotion.models import PromotionRequest

    deadline = time.monotonic() + timeout
    states = PromotionRequest.objects.values_list("state", flat=True)
    while (state := states.get(pk=request_id)) != "promoted":
        if state in ("failed", "cancelled") or time.monotonic() > deadline:
            raise SystemExit(f"seeded promotion #{request_id} is {state}, not promoted (see worker.log)")
        time.sleep(0.3)


def seed(work: Path, args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from bench.audit_append import fill_trail
    from console import context
    from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export
    from promotion import services
    from promotion.models import PromotionRequest

    users = get_user_model().objects.order_by("pk")
    operator, approver = users.get(username="operator000"), users.get(username="approver001")
    started = time.perf_counter()
    # Seeded first, ending now: the events the run appends come after it in time as in sequence.
    fill_trail(args.audit_events, list(users[:5]),
               start=dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=200 * args.audit_events))
    with context.for_command("bench_console_load"):
        manifests = [
            ingest(write_sample_export(work / f"seed-{day}", rows=args.seed_rows + 500 * day,
                                       exported_at=DEFAULT_EXPORTED_AT + dt.timedelta(days=day)).path)
            for day in range(args.seed_exports)
        ]
        for manifest in manifests[:2] if len(manifests) == 3 else []:  # the rebate invoices promoted twice: v1, then v2 (the worker loads)
            request = request_checked(operator, manifest, REBATES)
            services.promotion_approve(actor=approver, request=request, comment="figures match Domo")
            wait_loaded(request.pk)
        if len(manifests) == 3:
            request_checked(operator, manifests[1], CLAIMS)  # awaiting approval
            services.promotion_reject(actor=approver, request=request_checked(operator, manifests[2], CLAIMS),
                                      comment="the claims of the last week are missing")
    states = sorted(PromotionRequest.objects.values_list("state", flat=True))
    say(f"seeded {args.audit_events:,} audit events, {len(manifests)} exports, promotions {states} "
        f"in {time.perf_counter() - started:.0f} s")


def targets() -> dict[str, list[str]]:
    """The pages the sessions walk, by kind, from what the seed left."""
    from evidence.models import DomoCard, DomoDataset, SourceManifest
    from promotion.models import PromotionRequest

    manifests = list(SourceManifest.objects.values_list("pk", flat=True))
    return {
        "list": ["/sources/", "/sources/intake/", "/sources/issues/", "/promotions/", "/promotions/curated/"],
        "detail": [f"/sources/{pk}/" for pk in manifests]
        + [f"/promotions/{pk}/" for pk in PromotionRequest.objects.values_list("pk", flat=True)]
        + [f"/sources/datasets/{pk}/" for pk in DomoDataset.objects.values_list("pk", flat=True)[:20]]
        + [f"/sources/cards/{pk}/" for pk in DomoCard.objects.values_list("pk", flat=True)[:20]]
        + [f"/promotions/curated/{key}/" for key in
           DomoDataset.objects.filter(name=REBATES).values_list("domo_id", flat=True).distinct()],
        "flaw": [f"/sources/{pk}/flaws/" for pk in manifests],
        "audit": ["/audit/"],
    }


# --- the intake phase ------------------------------------------------------------------------------------
def generate_export(mb: int) -> tuple[Path, float]:
    from evidence.intake.services import staging_root
    from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export

    started = time.perf_counter()
    folder = Path(staging_root()) / "bench-load" / "export"
    folder.parent.mkdir(parents=True)
    summary = write_sample_export(folder, rows=max(1, mb * MIB // BYTES_PER_ROW), seed=11,
                                  exported_at=DEFAULT_EXPORTED_AT + dt.timedelta(days=30))
    say(f"generated a {summary.bytes / MIB:,.0f} MiB export ({summary.rows:,} claims) in "
        f"{time.perf_counter() - started:.0f} s")
    return folder, summary.bytes / MIB


def export_again(export: Path, number: int) -> Path:
    """The export once more under another load id and time: its files hard-linked, manifest.json rewritten."""
    from evidence.samples.export import load_id_for

    copy = export.parent / f"export-{number}"
    shutil.copytree(export, copy, copy_function=os.link)
    path = copy / "manifest.json"
    manifest = json.loads(path.read_bytes())
    exported_at = dt.datetime.fromisoformat(manifest["exported_at"])
    exported_at += dt.timedelta(hours=number)
    manifest["exported_at"] = exported_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest["load_id"] = load_id_for(exported_at, 11 + number)
    path.unlink()  # a hard link to the original's: write a file of its own
    path.write_text(json.dumps(manifest, indent=2))
    return copy


def during_intake(export: Path, sessions: list[Session], pages: dict, args: argparse.Namespace):
    """Walk for --seconds while the worker ingests the export, again and again (another load id each
    time), from the moment it starts the first; (samples, seconds walked, the first intake's seconds,
    the runs' statuses, the first run's id)."""
    from console import context
    from evidence.choices import INTAKE_TERMINAL, IntakeSource
    from evidence.intake.services import intake_create
    from evidence.models import IntakeRun

    def status(run_id: int) -> str:
        return IntakeRun.objects.values_list("status", flat=True).get(pk=run_id)

    def queue(folder: Path) -> int:
        with context.for_command("bench_console_load"):
            return intake_create(actor=None, source=IntakeSource.COMMAND, original_name=folder.name,
                                 staged_path=folder, enqueue=True).pk

    runs = [queue(export)]
    queued = time.monotonic()
    while status(runs[0]) == "queued":
        if time.monotonic() - queued > 120:
            raise SystemExit("the worker did not start the intake within 120 s (see worker.log)")
        time.sleep(0.1)
    started = time.monotonic()
    first_seconds = None
    result: list[list[Sample]] = []
    walker = threading.Thread(target=lambda: result.append(
        walk(sessions, pages, seconds=args.seconds, think=args.think, stop=threading.Event())))
    walker.start()
    while walker.is_alive():
        if status(runs[-1]) in INTAKE_TERMINAL:  # keep the worker busy until the walk ends
            first_seconds = first_seconds or time.monotonic() - started
            runs.append(queue(export_again(export, len(runs))))
        time.sleep(0.2)
    walked = time.monotonic() - started
    walker.join()
    while any(status(pk) not in INTAKE_TERMINAL for pk in runs):
        if time.monotonic() - started > args.intake_timeout:
            raise SystemExit(f"the intakes did not end within {args.intake_timeout} s (see worker.log)")
        time.sleep(0.5)
    first_seconds = first_seconds or time.monotonic() - started
    verdicts = [f"{run.status}: {run.manifest.status if run.manifest else run.error[:80]}"
                for run in IntakeRun.objects.filter(pk__in=runs).select_related("manifest").order_by("pk")]
    return result[0], walked, first_seconds, verdicts, runs[0]


def large_pages(run_id: int) -> list[str]:
    """The detail pages of what the intake received: their cost grows with the export (silver previews)."""
    from evidence.models import IntakeRun

    manifest = IntakeRun.objects.get(pk=run_id).manifest
    if manifest is None:
        return []
    return [f"/sources/{manifest.pk}/", *(f"/sources/datasets/{pk}/" for pk in
                                         manifest.datasets.order_by("pk").values_list("pk", flat=True))]


# --- main ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    prefix = f"bench-load-{os.getpid()}:"
    os.environ.update({"CELERY_BROKER_URL": args.redis_url, "CELERY_REDIS_KEY_PREFIX": prefix,
                       "DJANGO_ENV": "development", "LOG_LEVEL": "WARNING"})
    os.environ.pop("LAKE_URL", None)  # the lake goes in the throwaway var/
    recreate_database(args.database_url)
    worker = gunicorn = None
    var = None
    try:
        setup_django(args.database_url, name="load")
        from django.conf import settings
        from django.core.management import call_command

        from console.services import roles_seed

        var = Path(settings.VAR_DIR)
        worker, worker_ready = start_worker(var)  # boots while the database is migrated (it reads none)
        call_command("migrate", verbosity=0)
        roles_seed()
        password = "bench-" + os.urandom(12).hex()
        users = make_users(args.sessions, password)
        gunicorn, base, gunicorn_ready = start_gunicorn(var, args)  # boots while the seed is made
        worker_ready()
        seed(var / "seed", args)
        export, export_mib = generate_export(args.export_mb)
        gunicorn_ready()
        log = (var / "gunicorn.log").read_text()
        kind = re.search(r"Using worker: (\S+)", log)
        say(f"gunicorn on {base}: {log.count('Booting worker')} {kind and kind.group(1)} workers, "
            f"{args.threads or 'the configured'} threads each")
        pages = targets()
        sessions = [Session(base, username, role) for username, role in users[:args.sessions]]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:  # a burst of sign-ins, as at 9 in the morning
            list(pool.map(lambda session: session.login(password), sessions))
        say(f"{len(sessions)} sessions signed in through the login form "
            f"in {time.perf_counter() - started:.1f} s")

        # Not counted: the first requests of each process import views and compile templates.
        walk_alone(sessions[:len(ROLES)], pages, seconds=args.warmup_seconds)
        load = {"before": round(os.getloadavg()[0], 1)}  # the machine's, this bench's processes included
        alone = walk_alone(sessions[:len(ROLES)], pages, seconds=args.baseline_seconds)
        baseline = summarize("single_user", alone, args.baseline_seconds)
        idle = summarize("idle", walk(sessions, pages, seconds=args.seconds, think=args.think,
                                      stop=threading.Event()), args.seconds)
        load["idle"] = round(os.getloadavg()[0], 1)
        samples, covered, intake_seconds, statuses, run_id = during_intake(export, sessions, pages, args)
        say(f"{len(statuses)} intakes of {export_mib:,.0f} MiB one after the other while the sessions walked "
            f"{covered:.0f} s (the first took {intake_seconds:.0f} s): {statuses}")
        final = "succeeded" if set(statuses) == {"succeeded: complete"} else "failed"
        intake = summarize("intake", samples, covered)
        load["intake"] = round(os.getloadavg()[0], 1)
        # Not in the goals: what one person waits for the pages of the export just received, alone.
        large = large_pages(run_id)
        started = time.perf_counter()
        summarize("large_export_single_user", [sessions[0].visit("detail", path) for path in large * args.large_repeat],
                  time.perf_counter() - started)

        value, base_p95 = intake["all"]["p95_ms"], baseline["all"]["p95_ms"]
        errors = {phase: figures["all"]["errors"] for phase, figures in
                  (("single_user", baseline), ("idle", idle), ("intake", intake))}
        met = (not any(errors.values()) and idle["all"]["p95_ms"] < GOAL_IDLE_MS and value < GOAL_INTAKE_MS
               and final == "succeeded")
        checked = gates({"idle": idle, "intake": intake}, final, args)
        for name, gate in checked.items():
            say(f"gate {name}: {gate['value']} (limit {gate['limit']}): {'pass' if gate['passed'] else 'FAIL'}")
        passed = all(gate["passed"] for gate in checked.values())
        say(f"p95 idle {idle['all']['p95_ms']:.0f} ms (goal {GOAL_IDLE_MS}), "
            f"during the intake {value:.0f} ms "
            f"(goal {GOAL_INTAKE_MS}), single user {base_p95:.0f} ms; errors {errors}: "
            f"{'goals met' if met else 'goals NOT met'}")
        result = {
            "bench": "console_load", "value": value, "unit": "ms p95 during intake", "baseline": base_p95,
            "ratio": round(base_p95 / value, 3) if value else None,
            "idle_p95_ms": idle["all"]["p95_ms"], "idle_p99_ms": idle["all"]["p99_ms"],
            "intake_p99_ms": intake["all"]["p99_ms"], "errors": errors, "goals_met": met,
            "gates": checked, "gates_passed": passed, "failed_gates": [n for n, g in checked.items() if not g["passed"]],
            "load": round(len(sessions) / EXPECTED_SESSIONS, 2),
            "sessions": len(sessions), "seconds": args.seconds, "think_s": args.think,
            "export_mib": round(export_mib, 1), "intake_seconds": round(intake_seconds, 1),
            "intake_status": final, "intakes": len(statuses), "intake_phase_seconds": round(covered, 1),
            "requests_per_s": {"idle": idle["all"]["requests_per_s"],
                               "intake": intake["all"]["requests_per_s"]},
            "load_average_1min": load,
            "gunicorn": {"workers": args.workers or "conf", "threads": args.threads or "conf",
                         "conn_max_age": args.conn_max_age},
        }
        print(json.dumps(result), flush=True)
        return result
    finally:
        stop_processes(gunicorn, worker)
        flush_broker(args.redis_url, prefix)
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        if args.keep:
            say(f"kept the database {args.database_url} and {var}")
        else:
            drop_database(args.database_url)
            if var:
                shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["gates_passed"] else 1)
