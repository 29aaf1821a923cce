"""Helpers the web tests share: log in through the form, as a browser would."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

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


OWN = "Enhetschef barn och unga"  # the demo kontrollansvarig's befattning


def correct_a_result(app, unit: str = "SN", year: int = 2025, period: str = "helar") -> str:
    """A current result of the demo's corrected through the form service, as a kontrollansvarig would
    after the report was sent: its comment completed. Returns the kontrollpunkt's code."""
    from sqlalchemy import select

    from ikcheck import results
    from ikcheck.store.models import ControlPlan, ControlPoint, ControlResult, Unit

    with app.session() as s:
        rid, code = s.execute(select(ControlResult.id, ControlPoint.code)
                              .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                              .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                              .join(Unit, Unit.id == ControlPlan.unit_id)
                              .where(Unit.code == unit, ControlPlan.year == year, ControlResult.period == period,
                                     ControlResult.is_current.is_(True)).order_by(ControlResult.id).limit(1)).one()
    values = results.current_values(app, rid, org_code="exempelby")
    results.report_form(app, unit, year, period, code, {**values, "comment": "Kompletterad efter inlämningen."},
                        reason="Kommentaren kompletterad", org_code="exempelby")
    return code


def prepare_years(url: str, directory, unit: str = "SN", org: str = "exempelby") -> None:
    """Workshops for 2026 and 2027 (two participants, the demo's agreed scores), and the 2026 plan
    derived, one kontrollpunkt given to the demo kontrollansvarig, accepted and decided: through the
    same services the CLI uses, on the story's dates."""
    import datetime as dt
    from pathlib import Path

    from ikcheck import planning, workshop, yamlsrc
    from ikcheck.app import App
    from ikcheck.calendar import clock_at
    from ikcheck.config import load_settings
    from ikcheck.demo import DEMO_YEAR, PARTICIPANTS, fill_workshop

    app = App(load_settings(url, "testare"))
    risks = app.settings.riskregister_dir / "demo" / "risker.yaml"
    agreed = {(i["unit"], i["title"]): i["scores"][DEMO_YEAR] for i in yamlsrc.load(risks)["risks"]}
    for year, held in ((2026, "2025-09-18"), (2027, "2026-09-17")):
        with clock_at(dt.datetime.fromisoformat(f"{held}T10:00:00")):
            blanks = workshop.template(app, unit, year, Path(directory) / f"ws-{unit}-{year}.xlsx", participants=2,
                                       org_code=org)
            for path, name in zip(blanks, PARTICIPANTS):
                fill_workshop(path, unit, name, agreed, off=False)
            workshop.import_files(app, blanks, org_code=org, held_on=dt.date.fromisoformat(held))
    with clock_at(dt.datetime(2025, 10, 20, 10)):
        planning.derive(app, unit, 2026, org_code=org)
        planning.edit(app, unit, 2026, f"{unit}-2026-K02", {"owner": OWN}, org_code=org)
        planning.accept(app, unit, 2026, org_code=org)
    with clock_at(dt.datetime(2025, 11, 21, 10)):
        planning.decide(app, unit, 2026, "2025-11-20", "§ 88", "SN 2025/301", org_code=org)


# --- a real server and a real browser --------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(url: str, conf=None, workers: int = 2):
    """`ikcheck serve --workers N` on the database, on 127.0.0.1 and a free port; its base URL."""
    import httpx
    import pytest

    port = free_port()
    env = {**os.environ, "IKCHECK_DATABASE_URL": url}
    if conf:
        env["IKCHECK_CONFIG"] = str(conf)
    # the server's own output: IKCHECK_SERVER_LOG=FILE keeps it (a 500 in a browser test says why there)
    log = open(os.environ.get("IKCHECK_SERVER_LOG") or os.devnull, "a", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "ikcheck", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/logga-in", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        log.close()
        pytest.fail("the server did not start (IKCHECK_SERVER_LOG=FILE keeps its output)")
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def chromium():
    """Debian's Chromium through Playwright (never Playwright's own browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                                            "wcag21aa", "best-practice"]}})
    return [f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
            for v in results.response["violations"]]
