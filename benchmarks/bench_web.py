"""The web app's pages against the service calls they make, on the national-scale database.

    python benchmarks/bench_web.py [N] [--db URL]

Builds `demo --scale N` (default 290 more kommuner beside the demo kommun) in the database given
(PostgreSQL: --db postgresql+psycopg://…; default a SQLite file in a temp directory), then, in the same run:

1. Per page: the service calls its route makes (portal.*, as the route calls them) and the server's
   time for the whole page (its Server-Timing header: session lookup, permission, services, template),
   the request made in-process through the ASGI app. Best of 7, taking turns. Target: page ≤ 1.5× its
   service calls.
2. Under load: `ikcheck serve --workers 2` on 127.0.0.1; first one client alone (median), then 20
   clients at once, each a bounded loop over the same pages. Target: p95 ≤ 3× the single-client median,
   0 errors.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import best_of_interleaved, table

from ikcheck import accounts, portal
from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.demo import DEMO_PASSWORD, run_demo
from ikcheck.store.db import dispose_all
from ikcheck.web import create_app

CLIENTS, ROUNDS = 20, 5


def pages(app: App, actor) -> dict[str, tuple[str, callable]]:
    """page -> (path, the service calls its route makes)."""
    with app.session() as s:
        from sqlalchemy import select

        from ikcheck.store.models import ControlResult, Organisation
        rid = s.scalar(select(ControlResult.id).join(Organisation, Organisation.id == ControlResult.org_id)
                       .where(Organisation.code == "exempelby", ControlResult.is_current.is_(True)).limit(1))
    return {
        "KS översikt": ("/oversikt?ar=2025", lambda: (portal.ks_overview(app, actor, 2025, None, "enhet"),
                                                      portal.years(app, actor))),
        "risklista med filter": ("/risker?enhet=SN&niva=hög&ar=2025",
                                 lambda: (portal.risks(app, actor, unit="SN", year=2025, level="hög"),
                                          portal.years(app, actor))),
        "en plan": ("/planer/SN/2025/v2", lambda: portal.plan_page(app, actor, "SN", 2025, 2)),
        "en rapport (HTML)": ("/rapporter/SN/2025/ar.html", lambda: portal.report_file(app, actor, "SN", 2025, "ar", "html")),
        "frågesida": ("/granskning/results?unit=SN&year=2025",
                      lambda: portal.query_page(app, actor, "results", {"unit": "SN", "year": "2025"})),
        "spårning": (f"/spara/result/{rid}", lambda: portal.trace(app, actor, "result", str(rid))),
    }


def login(client, base: str = "") -> None:
    import re

    page = client.get(base + "/logga-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    r = client.post(base + "/logga-in", data={"username": "revisor", "password": DEMO_PASSWORD, "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:300]


def in_process(app: App, actor) -> list[list]:
    from starlette.testclient import TestClient

    client = TestClient(create_app(app))
    login(client)
    rows = []
    for name, (path, services) in pages(app, actor).items():
        server: list[float] = []

        def request(path=path, server=server):
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)

        t, _ = best_of_interleaved(7, {"services": (services,), "page": (request,)})
        page = min(server)
        rows.append([name, f"{t['services'] * 1000:.1f}", f"{page * 1000:.1f}", f"{t['page'] * 1000:.1f}",
                     f"{page / t['services']:.2f}×"])
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def under_load(database: str, paths: list[str]) -> list[list]:
    port = _free_port()
    env = {**os.environ, "IKCHECK_DATABASE_URL": database}
    proc = subprocess.Popen([sys.executable, "-m", "ikcheck", "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/logga-in", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)

        def run(times: list, errors: list, rounds: int) -> None:
            with httpx.Client(timeout=120) as c:
                login(c, base)
                for _ in range(rounds):
                    for p in paths:
                        t = time.perf_counter()
                        try:
                            ok = c.get(base + p).status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        times.append(time.perf_counter() - t)
                        if not ok:
                            errors.append(p)

        alone: list[float] = []
        errors: list[str] = []
        t0 = time.perf_counter()
        run(alone, errors, ROUNDS)
        t_alone = time.perf_counter() - t0
        loaded: list[float] = []
        threads = [threading.Thread(target=run, args=(loaded, errors, ROUNDS)) for _ in range(CLIENTS)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t_loaded = time.perf_counter() - t0
        median = statistics.median(alone)
        p95 = statistics.quantiles(loaded, n=20)[-1]
        return [["1 klient", len(alone), f"{median * 1000:.0f}", "", "", f"{len(alone) / t_alone:.1f}"],
                [f"{CLIENTS} klienter", len(loaded), f"{statistics.median(loaded) * 1000:.0f}",
                 f"{p95 * 1000:.0f}", f"{p95 / median:.2f}×", f"{len(loaded) / t_loaded:.1f}"],
                ["fel", len(errors), "", "", "", ""]]
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scale", nargs="?", type=int, default=290)
    ap.add_argument("--db", default=None, help="database URL (PostgreSQL); default a SQLite file")
    ap.add_argument("--reuse", action="store_true", help="measure the database --db already holds (built before)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.db
        if not args.reuse:
            t = time.perf_counter()
            database = run_demo(load_settings(), Path(tmp) / "demo", database=args.db, scale=args.scale).database
            print(f"Databasen med demokommunen och {args.scale} kommuner till byggd på {time.perf_counter() - t:.0f} s "
                  f"({database.split('://')[0]})")
            dispose_all()
        app = App(load_settings(database))
        with app.session() as s:
            from sqlalchemy import func, select

            from ikcheck.store.models import Organisation
            print(f"{s.scalar(select(func.count()).select_from(Organisation))} kommuner i databasen")
        token = accounts.login(app, "revisor", DEMO_PASSWORD, "bench")
        actor = accounts.session_actor(app, token).actor
        rows = in_process(app, actor)
        print()
        print(table(["sida", "tjänsteanrop ms", "sidan i servern ms", "med testklienten ms", "sidan / anropen"], rows))
        print("mål: sidan ≤ 1.5× sina tjänsteanrop")
        load = under_load(database, [p for p, _ in pages(app, actor).values()])
        print()
        print(table(["last", "anrop", "median ms", "p95 ms", "p95 / median (1 klient)", "anrop/s"], load))
        print(f"mål: p95 med {CLIENTS} klienter ≤ 3× medianen för en klient, 0 fel")
        cores = os.cpu_count() or 1
        print(f"(på {cores} kärnor väntar {CLIENTS} klienter utan paus i kö: en sluten slinga ger en svarstid på "
              f"minst ≈ {CLIENTS}/{cores} × tjänstetiden, så målet kräver ≥ {CLIENTS // 3 + 1} kärnor; "
              "anrop/s visar hur mycket av maskinen som används)")


if __name__ == "__main__":
    main()
