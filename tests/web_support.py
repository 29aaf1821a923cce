"""Helpers the web tests share: log in through the form, as a browser would."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from ikcheck.demo import DEMO_PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m[1]


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD):
    page = client.get("/logga-in")
    return client.post("/logga-in", data={"username": username, "password": password, "csrf": csrf_of(page.text),
                                          "nasta": "/"}, follow_redirects=False)
