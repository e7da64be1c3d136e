"""Signed-in sessions of the console over HTTP, as a browser keeps them: sign in through the login form,
visit pages timed, walk in threads with pauses, and the percentiles of what they saw (bench.console_load)."""
from __future__ import annotations

import html
import http.cookiejar
import json
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from bench.support import say

ROLES = ("operator", "approver", "reviewer", "auditor", "admin")
AUDIT_ROLES = ("auditor", "admin")
KINDS = ("list", "detail", "flaw", "audit")
REQUEST_TIMEOUT = 30.0
OLDER_LINK = re.compile(r'href="([^"]*[?&](?:amp;)?older=[^"]*)"')  # the audit page's link to older events


@dataclass
class Sample:
    kind: str
    path: str
    seconds: float
    status: int  # 0: no answer (timeout, refused)
    ok: bool


@dataclass
class Session:
    base: str
    username: str
    role: str
    older: list[str] = field(default_factory=list)  # "older" links seen on audit pages, followed next time

    def __post_init__(self) -> None:
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies)

    def open(self, path: str, data: bytes | None = None) -> tuple[int, str, str]:
        headers = {"Referer": self.base + path} if data else {}
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data, headers=headers),
                                  timeout=REQUEST_TIMEOUT) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode(errors="replace")
        except OSError:
            return 0, "", ""

    def login(self, password: str) -> None:
        status, _, page = self.open("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise SystemExit(f"{self.username}: the login page answered {status} without a CSRF token")
        form = {"csrfmiddlewaretoken": token.group(1), "username": self.username, "password": password}
        status, url, _ = self.open("/login/", urllib.parse.urlencode(form).encode())
        if status != 200 or "/login/" in url:
            raise SystemExit(f"{self.username}: signing in answered {status} at {url}")

    def visit(self, kind: str, path: str) -> Sample:
        started = time.perf_counter()
        status, url, page = self.open(path)
        seconds = time.perf_counter() - started
        if kind == "audit":
            self.older = [html.unescape(link) for link in OLDER_LINK.findall(page)]
        return Sample(kind, path, seconds, status, status == 200 and "/login/" not in url)

    def step(self, rng: random.Random, pages: dict[str, list[str]]) -> Sample:
        kind = rng.choice(KINDS if self.role in AUDIT_ROLES else KINDS[:3])
        deeper = kind == "audit" and self.older and rng.random() < 0.5  # half the time, the next page
        path = self.older[0] if deeper else rng.choice(pages[kind])
        if not path.startswith("/"):
            path = urllib.parse.urljoin("/audit/", path)
        return self.visit(kind, path)


def walk(sessions: list[Session], pages: dict, *, seconds: float, think: float,
         stop: threading.Event) -> list[Sample]:
    """Every session in its own thread until `seconds` pass or `stop` is set; the samples of all."""
    samples: list[Sample] = []
    deadline = time.monotonic() + seconds

    def run(index: int, session: Session) -> None:
        rng = random.Random(index)
        stop.wait(rng.uniform(0, think))  # do not all start on the same tick
        while time.monotonic() < deadline and not stop.is_set():
            samples.append(session.step(rng, pages))  # list.append is atomic
            stop.wait(min(rng.uniform(0, 2 * think), max(0.0, deadline - time.monotonic())))

    threads = [threading.Thread(target=run, args=(i, s), daemon=True) for i, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * think + REQUEST_TIMEOUT + 5)
    return list(samples)


def walk_alone(sessions: list[Session], pages: dict, *, seconds: float) -> list[Sample]:
    """The baseline: one request in flight at a time, the sessions taking turns."""
    samples, rng = [], random.Random(0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(sessions[len(samples) % len(sessions)].step(rng, pages))
    return samples


# --- figures ---------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest rank, in ms."""
    ordered = sorted(values)
    return round(1000 * ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))], 1)


def summarize(phase: str, samples: list[Sample], seconds: float) -> dict[str, dict]:
    """One JSON line per page kind and one for all; the figures by kind."""
    figures = {}
    for kind in (*KINDS, "all"):
        chosen = [s for s in samples if kind in (s.kind, "all")]
        if not chosen:
            continue
        latencies = [s.seconds for s in chosen]
        figures[kind] = {
            "phase": phase, "kind": kind, "requests": len(chosen), "errors": sum(not s.ok for s in chosen),
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99), "max_ms": percentile(latencies, 100),
            "requests_per_s": round(len(chosen) / seconds, 1),
        }
        print(json.dumps(figures[kind]), flush=True)
    errors = [s for s in samples if not s.ok]
    for sample in errors[:5]:
        say(f"  {phase} error: {sample.status} on {sample.path} after {sample.seconds * 1000:.0f} ms")
    slowest = sorted(samples, key=lambda s: s.seconds)[-3:]
    say(f"  {phase} slowest: " + ", ".join(f"{s.path} {s.seconds * 1000:.0f} ms" for s in reversed(slowest)))
    return figures
