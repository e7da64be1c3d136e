"""Debian's Chromium driven by Playwright's Python client. Never a downloaded browser."""
from __future__ import annotations

import shutil

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None


# Every CSP violation on any page the test visits, reported from the page to the test as it happens.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportCspViolation({
    page: location.pathname, directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber, sample: event.sample,
  });
});
"""


def watch_csp_violations(page) -> list[dict]:
    """The list every Content-Security-Policy violation of this page, on every page it visits, lands in."""
    violations: list[dict] = []
    page.expose_function("reportCspViolation", lambda violation: violations.append(violation))
    page.add_init_script(_REPORT_VIOLATIONS)
    return violations
