"""Auditor query latency over a national-scale volume: 290 kommuner × 8 units, ≈ 500k risks with
assessments for two years, ≈ 2M results over two years. The rows are bulk-inserted here: `demo --scale`
builds kommuner of the demo kommun's size (~60 risks each), far below this volume.
Then each index the queries use is dropped in turn, inside a transaction that is rolled back, to show
what it is worth.

Baseline in the same run: the same SQL run bare through the driver (sqlite3 cursor, rows fetched; the
connection gets ikcheck's Unicode lower() so that the SQL means the same).
ikcheck = `ikcheck.query` (the view, parameters, a typed pandas DataFrame). Median of 21 runs,
the two taking turns.
Target: ikcheck ≤ 1.5× the bare query.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import table

from ikcheck import query
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store.db import dispose_all, sqlite_functions

KOMMUNER, UNITS, RISKS_PER_UNIT, POINTS_PER_UNIT, YEARS = 290, 8, 215, 215, (2024, 2025)
YEAR = YEARS[-1]


def build(path: Path, kommuner: int) -> None:
    app = App(Settings(f"sqlite:///{path}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    app.db  # migrate
    dispose_all()
    rng = random.Random(1)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("INSERT INTO risk_matrix (id, name, version, content_hash, definition, created_at) "
                "VALUES (1, 'kommun-4x4', '1', 'x', '{}', '2025-01-01')")
    now = "2025-01-01 00:00:00"
    rid = cpid = resid = 0
    plans: list[tuple] = []
    for k in range(1, kommuner + 1):
        con.execute("INSERT INTO organisation (id, code, name, matrix_name, settings, created_at) VALUES (?,?,?,?,?,?)",
                    (k, f"k{k:03d}", f"Kommun {k}", "kommun-4x4", '{"periods": ["halvar", "helar"]}', now))
        risks, assessments, points, results = [], [], [], []
        for u in range(UNITS):
            unit_id = (k - 1) * UNITS + u + 1
            con.execute("INSERT INTO unit (id, org_id, code, name, kind) VALUES (?,?,?,?,?)",
                        (unit_id, k, f"U{u}", f"Enhet {u}", "namnd"))
            first = rid + 1
            for i in range(RISKS_PER_UNIT):
                rid += 1
                risks.append((rid, k, unit_id, f"U{u}-R{i:03d}", f"Risk {i} om {rng.choice(['inköp', 'lön', 'bistånd', 'bygglov'])}",
                              rng.choice(["legal", "IT", "verksamhet"]), "active", "workshop", 0, now))
            for year in YEARS:  # two years of workshops, plans and results: the register keeps history
                plan_id = len(plans) + 1
                plans.append((plan_id, k, unit_id, year, 1, "decided", "bench", now, "[]"))
                for r in range(first, rid + 1):
                    li, im = rng.randint(1, 4), rng.randint(1, 4)
                    sc = li * im
                    assessments.append((k, r, year, 1, li, im, sc, "hög" if sc >= 9 else "medel" if sc >= 5 else "låg",
                                        0, 0, "[]", "bench", now, 1))
                for i in range(POINTS_PER_UNIT):
                    cpid += 1
                    points.append((cpid, k, plan_id, f"U{u}-{year}-K{i:03d}", i, f"Kontroll {i}", '["halvar", "helar"]',
                                   0, "accepted"))
                    for period in ("halvar", "helar"):
                        for version in (1, 2) if i % 40 == 0 else (1,):
                            resid += 1
                            dev = rng.choice([0, 0, 0, 1, 3])
                            results.append((resid, k, cpid, period, version, 1, 20, dev,
                                            "väsentliga brister" if dev >= 3 else "mindre avvikelser" if dev else "inga avvikelser",
                                            "bench", now, 1 if version == 2 or i % 40 else 0))
        con.executemany("INSERT INTO risk (id, org_id, unit_id, code, title, category, status, source, legal_requirement, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)", risks)
        con.executemany("INSERT INTO risk_assessment (org_id, risk_id, year, matrix_id, likelihood, impact, score, level, spread, flagged, participants, assessed_by, assessed_at, is_current) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", assessments)
        con.executemany("INSERT INTO control_plan (id, org_id, unit_id, year, version, status, created_by, created_at, overrides) VALUES (?,?,?,?,?,?,?,?,?)", plans[-UNITS * len(YEARS):])
        con.executemany("INSERT INTO control_point (id, org_id, plan_id, code, position, title, reporting, municipality_wide, status) VALUES (?,?,?,?,?,?,?,?,?)", points)
        con.executemany("INSERT INTO control_result (id, org_id, control_point_id, period, version, performed, examined, deviations, assessment, reported_by, reported_at, is_current) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", results)
        con.commit()
    con.close()


QUERIES = [
    ("resultat: en kommuns enhet och år", "results", {"org": "k145", "unit": "U3", "year": YEAR, "current": True}),
    ("väsentliga brister i en kommun", "results", {"org": "k145", "assessment": "väsentliga brister", "current": True}),
    ("höga risker i en kommun", "risks", {"org": "k200", "level": "hög"}),
    ("fritextsökning i riskrubriker, en kommun", "risks", {"org": "k010", "text": "bistånd"}),
    ("planrader för en enhet", "plans", {"org": "k077", "unit": "U5", "year": YEAR}),
]


_bare: dict[Path, sqlite3.Connection] = {}


def bare(path: Path, what: str, filters: dict) -> int:
    """The same SQL through the sqlite3 driver on one open connection, all rows fetched."""
    sql, params = query.sql_for(what, filters)
    con = _bare.get(path)
    if con is None:
        con = _bare[path] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        sqlite_functions(con)  # the SQL's lower() is ikcheck's Unicode one (store/db.py)
    return len(con.execute(sql, params).fetchall())


def medians_interleaved(fns: list, n: int = 21) -> list[float]:
    """Median time of each function, the functions taking turns so that the machine's slow spells
    fall on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for own, fn in zip(times, fns):
            t = time.perf_counter()
            fn()
            own.append(time.perf_counter() - t)
    return [statistics.median(own) for own in times]


def median_time(fn, n: int = 7) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(kommuner: int = KOMMUNER) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.db"
        t = time.perf_counter()
        build(path, kommuner)
        print(f"Byggde {kommuner} kommuner på {time.perf_counter() - t:.0f} s")
        con = sqlite3.connect(path)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("risk", "control_result")}
        con.close()
        print(f"{counts['risk']:,} risker, {counts['control_result']:,} resultat\n".replace(",", " "))
        app = App(Settings(f"sqlite:///{path}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                           default_engine(), "bench"), read_only=True)
        rows = []
        for label, what, filters in QUERIES:
            n_bare = bare(path, what, filters)
            n_ik = len(query.run(app, what, **filters))
            assert n_bare == n_ik, (label, n_bare, n_ik)
            t_bare, t_ik = medians_interleaved([lambda: bare(path, what, filters),
                                                lambda: query.run(app, what, **filters)])
            rows.append([label, n_ik, f"{t_bare * 1000:.1f}", f"{t_ik * 1000:.1f}", f"{t_ik / t_bare:.2f}×"])
        print(table(["fråga", "rader", "bar SQL ms", "ikcheck ms", "ikcheck / bar"], rows))
        print("\nmål: ikcheck ≤ 1.5× samma SQL direkt genom drivrutinen (median av 21, turvis)")
        print("\nIndexen som frågorna använder, var för sig borttagna (i en transaktion som rullas tillbaka):\n")
        print(table(["index", "fråga", "med ms", "utan ms", "utan / med"], index_justification(path)))


def used_indexes(con: sqlite3.Connection) -> dict[str, list[str]]:
    """Index name -> the queries whose plan (EXPLAIN QUERY PLAN) searches it; primary keys and
    unique constraints are not optional and left out."""
    used: dict[str, list[str]] = {}
    for label, what, filters in QUERIES:
        sql, params = query.sql_for(what, filters)
        for row in con.execute("EXPLAIN QUERY PLAN " + sql, params):
            words = row[3].split()
            if "INDEX" in words:
                name = words[words.index("INDEX") + 1]
                if not name.startswith("sqlite_autoindex"):
                    used.setdefault(name, []).append(label)
    return used


CAP = 20.0  # seconds: a query slower than this without an index is stopped and shown as "> 20 000 ms"


def capped(con: sqlite3.Connection, sql: str, params: dict) -> float | None:
    """One run's time, or None if it passed CAP (SQLite's progress handler interrupts it)."""
    start = time.perf_counter()
    con.set_progress_handler(lambda: time.perf_counter() - start > CAP, 10_000)
    try:
        con.execute(sql, params).fetchall()
        return time.perf_counter() - start
    except sqlite3.OperationalError:  # interrupted
        return None
    finally:
        con.set_progress_handler(None, 0)


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def index_justification(path: Path) -> list[list]:
    con = sqlite3.connect(path, isolation_level=None)
    sqlite_functions(con)
    out = []
    for name, labels in sorted(used_indexes(con).items()):
        for label in labels:
            what, filters = next((w, f) for lbl, w, f in QUERIES if lbl == label)
            sql, params = query.sql_for(what, filters)
            with_ix = median_time(lambda: con.execute(sql, params).fetchall(), 5)
            con.execute("BEGIN")
            con.execute(f"DROP INDEX {name}")
            without = capped(con, sql, params)
            con.execute("ROLLBACK")
            out.append([name, label, f"{with_ix * 1000:.1f}",
                        f"{without * 1000:.1f}" if without else f"> {CAP * 1000:.0f}",
                        _times(without / with_ix) if without else f"> {CAP / with_ix:.0f}×"])
    con.close()
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else KOMMUNER)
