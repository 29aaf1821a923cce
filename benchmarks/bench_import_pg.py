"""Results import on PostgreSQL: the 10k- and 100k-row CSV of bench_results.

    python benchmarks/bench_import_pg.py postgresql+psycopg://user@host:port/postgres

The URL names a database the user may create databases from (a scratch cluster: ./dev test starts
one the same way). Each run imports into a fresh copy (CREATE DATABASE … TEMPLATE) of a database
holding the plan. Baselines in the same run, taking turns: the ceiling on PostgreSQL (pandas.read_csv
and a bare COPY of the rows into control_result, no validation, no rules, no log) and ikcheck's own
import of the same file on SQLite. No target: the figures show what PostgreSQL costs on top of SQLite
(decisions.md, 2026-12-07).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import pandas as pd
import psycopg
from bench_results import YEAR, import_once, make_db, rows, write_csv
from common import best_of_interleaved, table
from sqlalchemy import create_engine, make_url, text

from ikcheck import results
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store.db import dispose_all, get_engine, migrate

BASE = "ikcheck_bench_base"
RUN = "ikcheck_bench_run"


def _url(admin: str, name: str) -> str:
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def _fresh(admin_engine, name: str, template: str | None = None) -> None:
    dispose_all()
    with admin_engine.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))


def pg_import(admin_engine, admin: str, path: Path) -> results.ImportReport:
    _fresh(admin_engine, RUN, BASE)
    app = App(Settings(_url(admin, RUN), bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    report = results.import_files(app, [path], on=dt.date(YEAR + 1, 1, 1))
    dispose_all()
    return report


def pg_ceiling(admin_engine, admin: str, path: Path) -> int:
    """pandas.read_csv and a bare COPY of the rows into control_result, in one transaction."""
    _fresh(admin_engine, RUN, BASE)
    df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    u = make_url(_url(admin, RUN))
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=RUN) as con:
        ids = dict(con.execute("SELECT code, id FROM control_point").fetchall())
        batch = con.execute("INSERT INTO import_batch (org_id, kind, filename, content_hash, rows, imported_by, "
                            "imported_at) VALUES (1, 'results', %s, %s, %s, 'bench', '2026-01-01') RETURNING id",
                            (path.name, path.name, len(df))).fetchone()[0]
        with con.cursor().copy(
                "COPY control_result (org_id, control_point_id, period, version, performed, performed_on, examined, "
                "deviations, assessment, comment, performed_by, approved_by, reported_by, reported_at, "
                "import_batch_id, is_current) FROM STDIN") as copy:
            for r in df.itertuples(index=False, name=None):
                copy.write_row((1, ids[r[1]], "halvar", 1, r[4] == "ja", r[5], int(r[6]), int(r[7]), r[8] or None,
                                r[9] or None, r[10], r[11], "bench", dt.datetime(2026, 1, 1), batch, True))
        n = con.execute("SELECT count(*) FROM control_result").fetchone()[0]
    return n


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    admin = sys.argv[1]
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in (10_000, 100_000):
            csvf = tmp / f"r{n}.csv"
            write_csv(csvf, rows(n))
            _fresh(admin_engine, BASE)
            migrate(get_engine(_url(admin, BASE)))
            make_db(_url(admin, BASE), n)
            sqlite_db = tmp / f"base-{n}.db"
            make_db(sqlite_db, n)
            dispose_all()
            t, last = best_of_interleaved(3 if n < 100_000 else 2, {
                "tak": (pg_ceiling, admin_engine, admin, csvf), "pg": (pg_import, admin_engine, admin, csvf),
                "sqlite": (import_once, sqlite_db, tmp, [csvf])})
            assert last["tak"] == n and last["pg"].new == n and last["sqlite"].new == n, last
            sv = f"{n:,}".replace(",", " ")
            out.append([sv, f"{t['pg']:.1f} s", f"{n / t['pg']:,.0f}", f"{t['tak'] / t['pg']:.2f}×",
                        f"{t['sqlite'] / t['pg']:.2f}×"])
        dispose_all()
        with admin_engine.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {RUN} WITH (FORCE)"))
            c.execute(text(f"DROP DATABASE IF EXISTS {BASE} WITH (FORCE)"))
    print("Inläsning av kontrollresultat (CSV) på PostgreSQL\n")
    print(table(["rader", "tid", "rader/s", "mot taket på PostgreSQL", "mot samma import på SQLite"], out))
    print("\ntak: pandas.read_csv + bara COPY av raderna till control_result (ingen validering, inga regler, "
          "ingen logg)")


if __name__ == "__main__":
    main()
