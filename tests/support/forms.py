"""A page's create form as one signed-in browser session was shown it, sent through a real server; several sends
released at once (a double click, racing tabs). Used by the send-once tests of promotions, runs and
reconciliations (console.submissions)."""
from __future__ import annotations

import re
import threading

import requests

from tests.conftest import PASSWORD
from tests.support.api import Api


def browser(live_server, username: str = "olivia") -> requests.Session:
    """A session signed in through the login page."""
    return Api.signed_in(live_server.url, username, PASSWORD).session


class Shown:
    """The form at `url` as the page at `page_url` showed it (within `<form id=form_id>` when the page has several):
    its CSRF token and its own submission key, read once; `post(fields)` sends them with the fields."""

    def __init__(self, session: requests.Session, page_url: str, url: str | None = None, form_id: str = ""):
        self.session, self.page_url, self.url = session, page_url, url or page_url
        page = session.get(page_url, timeout=30)
        assert page.status_code == 200, page.text
        form = page.text if not form_id else re.search(
            rf'<form[^>]*id="{form_id}".*?</form>', page.text, re.DOTALL).group(0)
        self.csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        self.key = re.search(r'name="submission" value="([0-9a-f]{32})"', form).group(1)

    def post(self, fields: dict) -> requests.Response:
        return self.session.post(self.url, timeout=60, allow_redirects=False, headers={"Referer": self.page_url},
                                 data={"csrfmiddlewaretoken": self.csrf, "submission": self.key, **fields})


def at_once(*sends) -> list:
    """Each of `sends` called in its own thread, all released together; their answers."""
    start, answers = threading.Barrier(len(sends)), []

    def one(send):
        start.wait()
        answers.append(send())

    threads = [threading.Thread(target=one, args=(send,)) for send in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers
