"""Results import speed: 10k and 100k result rows, as xlsx and as Swedish CSV.

Baselines in the same run on the same files: bare openpyxl read_only iteration (values_only) of the xlsx,
and pandas.read_csv of the CSV. ikcheck's import = read + validate every row + resolve kontrollpunkter +
store in one transaction + the resultat rules + stored conclusions.
Targets (issue #17): xlsx ≥ 0.5× bare openpyxl; CSV ≥ 0.25× the ceiling row below; growth linear
(time(100k)/time(10k) ≈ 10).

The CSV row also measures a ceiling: pandas.read_csv and nothing but an sqlite3 executemany of the rows
into control_result (no validation, no rules, no conclusions, no audit), against pandas.read_csv alone.
No import that stores the rows can beat that ratio, so it shows what the CSV target can be.
And a floor under any import that keeps ikcheck's guarantees: the ceiling, plus the conclusions and
the audit_row entries that a real import of the same file stored, inserted as they are with sqlite3.
ceiling/floor is the most any such import can reach against the ceiling. The engine's floor adds the
rules run as ikcheck runs them (`engine.evaluate`: both rounds the chained rules need, every batch
cross-checked, alike results once): the most an import can reach without a faster engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
from common import best_of_interleaved, growth, table
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert, select

from ikcheck import engine, results, rulebook
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store.db import dispose_all
from ikcheck.store.models import ControlPlan, ControlPoint, Organisation, Unit
from ikcheck.workbooks.results import COLUMNS

YEAR = 2025


def make_db(path: Path, n: int) -> App:
    app = App(Settings(f"sqlite:///{path}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    with app.session(write=True) as s:
        org = Organisation(code="bench", name="Benchkommun", matrix_name="kommun-4x4",
                           settings={"periods": ["halvar", "helar"],
                                     "arshjul": {"plan_beslut": "11-30", "halvar_rapport": "09-30", "ar_rapport": "02-28"}})
        s.add(org)
        s.flush()
        unit = Unit(org_id=org.id, code="U", name="Enheten", kind="namnd")
        s.add(unit)
        s.flush()
        plan = ControlPlan(org_id=org.id, unit_id=unit.id, year=YEAR, version=1, status="decided", created_by="bench",
                           decision_date=dt.date(YEAR - 1, 11, 20), decision_paragraph="§ 1", decision_dnr="1")
        s.add(plan)
        s.flush()
        s.execute(insert(ControlPoint), [
            {"org_id": org.id, "plan_id": plan.id, "code": f"U-{YEAR}-K{i:06d}", "position": i, "title": f"Kontroll {i}",
             "method": "stickprov", "sample_size": 20, "frequency": "halvår", "owner": "Ansvarig",
             "reporting": ["halvar", "helar"], "status": "accepted", "rule_id": "bench"} for i in range(n)])
    return app


def rows(n: int) -> list[list]:
    out = []
    for i in range(n):
        dev = i % 7 == 0
        out.append(["U", f"U-{YEAR}-K{i:06d}", "halvår", 1, "ja", dt.date(YEAR, 5, 1 + i % 28), 20, 3 if dev else 0, None,
                    "Kontrollen genomförd" if dev else None, "Sara Ek", "Karin Ström",
                    "Rutinen ses över" if dev else None, "Enhetschef" if dev else None,
                    dt.date(YEAR, 10, 31) if dev else None])
    return out


HEAD = ["Enhet", "Kontrollpunkt", "Period", "Planversion", "Utförd (ja/nej)", "Datum", "Antal granskade", "Antal avvikelser",
        "Bedömning", "Kommentar", "Utförd av", "Godkänd av", "Åtgärd", "Åtgärd ansvarig", "Åtgärd klart senast"]
assert all(h in {c.header for c in COLUMNS} for h in HEAD)


def write_xlsx(path: Path, data: list[list]) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Resultat")
    ws.append(HEAD)
    for r in data:
        ws.append(r)
    wb.save(path)


def write_csv(path: Path, data: list[list]) -> None:
    with open(path, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(HEAD)
        for r in data:
            w.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in r])


def bare_openpyxl(path: Path) -> int:
    wb = load_workbook(path, read_only=True)
    n = sum(1 for _ in wb["Resultat"].iter_rows(values_only=True))
    wb.close()
    return n


def bare_pandas(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", encoding="cp1252", decimal=",")


def store_only(template_db: Path, work: Path, path: Path) -> int:
    """The ceiling: read the CSV with pandas and insert its rows as they are, in one transaction."""
    db = work / "floor.db"
    shutil.copy(template_db, db)
    df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    con = sqlite3.connect(db)
    ids = dict(con.execute("SELECT code, id FROM control_point"))
    with con:
        batch = con.execute("INSERT INTO import_batch (org_id, kind, filename, content_hash, rows, imported_by, "
                            "imported_at) VALUES (1, 'results', ?, ?, ?, 'bench', '2026-01-01 00:00:00')",
                            (path.name, path.name, len(df))).lastrowid
        con.executemany(
            "INSERT INTO control_result (org_id, control_point_id, period, version, performed, performed_on, "
            "examined, deviations, assessment, comment, performed_by, approved_by, reported_by, reported_at, "
            "import_batch_id, is_current) VALUES (1, ?, 'halvar', 1, ?, ?, ?, ?, ?, ?, ?, ?, 'bench', "
            "'2026-01-01 00:00:00', ?, 1)",
            [(ids[r[1]], r[4] == "ja", r[5], int(r[6]), int(r[7]), r[8] or None, r[9] or None, r[10], r[11], batch)
             for r in df.itertuples(index=False, name=None)])
    n = con.execute("SELECT count(*) FROM control_result").fetchone()[0]
    con.close()
    return n


def golv_parts(template_db: Path, work: Path, path: Path) -> dict:
    """What an import must write and evaluate beyond the ceiling, taken from a real import of the file:
    its conclusions and audit_row entries as stored, and the facts the resultat rules ran on."""
    import_once(template_db, work, [path])
    out = work / "run.db"
    con = sqlite3.connect(template_db)
    seq0 = con.execute("SELECT coalesce(max(seq), 0) FROM audit_row").fetchone()[0]
    con.close()
    con = sqlite3.connect(out)
    parts = {
        "conclusions": con.execute("SELECT org_id, run_id, rule_id, name, subject_type, subject_id, attributes, "
                                   "matched FROM conclusion").fetchall(),
        "audit_rows": con.execute("SELECT seq, tbl, row_id, digest, state FROM audit_row WHERE seq > ?",
                                  (seq0,)).fetchall()}
    con.close()
    dispose_all()
    app = App(Settings(f"sqlite:///{out}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    with app.session() as s:
        org = s.scalar(select(Organisation))
        unit = s.scalar(select(Unit))
        parts["facts"] = results.result_facts(s, org, unit, YEAR, "halvar")
    parts["ruleset"] = rulebook.ruleset(app, "resultat")
    dispose_all()
    return parts


def golv(template_db: Path, work: Path, path: Path, parts: dict, rules: bool = False) -> int:
    """The floor: the ceiling, plus the conclusions and audit_row entries inserted as they are; with
    `rules`, plus the resultat rules over the facts as ikcheck runs them."""
    n = store_only(template_db, work, path)
    con = sqlite3.connect(work / "floor.db")
    with con:
        con.executemany("INSERT INTO conclusion (org_id, run_id, rule_id, name, subject_type, subject_id, attributes, "
                        "matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", parts["conclusions"])
        con.executemany("INSERT INTO audit_row (seq, tbl, row_id, digest, state) VALUES (?, ?, ?, ?, ?)",
                        parts["audit_rows"])
    con.close()
    if rules:
        engine.evaluate(parts["ruleset"], parts["facts"], partition="batch")
    return n


def import_once(template_db: Path, work: Path, files: list[Path]) -> results.ImportReport:
    db = work / "run.db"
    shutil.copy(template_db, db)
    dispose_all()
    app = App(Settings(f"sqlite:///{db}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    report = results.import_files(app, files, on=dt.date(YEAR + 1, 1, 1))
    dispose_all()
    return report


def main() -> None:
    out, ceiling = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {}
        for n in (10_000, 100_000):
            template_db = tmp / f"base-{n}.db"
            make_db(template_db, n)
            dispose_all()
            data = rows(n)
            xlsx, csvf = tmp / f"r{n}.xlsx", tmp / f"r{n}.csv"
            write_xlsx(xlsx, data)
            write_csv(csvf, data)
            files[n] = (template_db, xlsx, csvf)
            reps = 5 if n < 100_000 else 3  # each import against its baseline, taking turns (noisy machines)
            parts = golv_parts(template_db, tmp, csvf)
            t, last = best_of_interleaved(reps, {
                "openpyxl": (bare_openpyxl, xlsx), "xlsx": (import_once, template_db, tmp, [xlsx]),
                "pandas": (bare_pandas, csvf), "csv": (import_once, template_db, tmp, [csvf]),
                "tak": (store_only, template_db, tmp, csvf), "golv": (golv, template_db, tmp, csvf, parts),
                "motorgolv": (golv, template_db, tmp, csvf, parts, True)})
            assert last["xlsx"].new == n and last["csv"].new == n and last["tak"] == n and last["golv"] == n, last
            t_base, t_ik, t_pd, t_ikc = t["openpyxl"], t["xlsx"], t["pandas"], t["csv"]
            out.append([f"{n:,}".replace(",", " "), "xlsx", f"{n / t_base:,.0f}", f"{n / t_ik:,.0f}", f"{t_base / t_ik:.2f}×"])
            out.append(["", "csv", f"{n / t_pd:,.0f}", f"{n / t_ikc:,.0f}", f"{t_pd / t_ikc:.2f}×"])
            out.append(["", "csv: tak", f"{n / t_pd:,.0f}", f"{n / t['tak']:,.0f}", f"{t_pd / t['tak']:.2f}×"])
            out.append(["", "csv: golv", f"{n / t_pd:,.0f}", f"{n / t['golv']:,.0f}", f"{t_pd / t['golv']:.2f}×"])
            out.append(["", "csv: golv med motorn", f"{n / t_pd:,.0f}", f"{n / t['motorgolv']:,.0f}",
                        f"{t_pd / t['motorgolv']:.2f}×"])
            sv = lambda k: f"{k:,}".replace(",", " ")  # noqa: E731
            ceiling.append(f"{sv(n)} rader: {t['tak'] / t_ikc:.2f}× (golvet {t['tak'] / t['golv']:.2f}×, golvet med "
                           f"motorn {t['tak'] / t['motorgolv']:.2f}×; {sv(len(parts['conclusions']))} slutsatser, "
                           f"{sv(len(parts['audit_rows']))} radposter)")
        print("Inläsning av kontrollresultat – rader per sekund (baslinje: openpyxl read_only / pandas.read_csv)\n")
        print(table(["rader", "format", "baslinje", "ikcheck", "ikcheck / baslinje"], out))
        # growth: one 100k import against ten 10k imports timed together, taking turns (common.growth)
        small, large = files[10_000], files[100_000]
        ratios = [growth(2, [functools.partial(import_once, small[0], tmp, [small[k]])] * 10,
                         functools.partial(import_once, large[0], tmp, [large[k]])) for k in (1, 2)]
    print(f"\ntid(100k)/tid(10k): xlsx {ratios[0]:.1f}, csv {ratios[1]:.1f}  (linjärt ≈ 10; tio 10k-filer mot en 100k-fil)")
    print("csv mot taket (ikcheck rader/s / takets rader/s): " + ", ".join(ceiling))
    print("mål: xlsx ≥ 0.5× openpyxl; csv ≥ 0.25× taket (inklusive validering, regler, slutsatser och "
          "granskningslogg); tillväxten linjär")
    print("tak: pandas.read_csv + bara sqlite3-skrivning av raderna (ingen validering, inga regler) – "
          "ingen import som sparar raderna kan nå högre mot pandas.read_csv")
    print("golv: taket + slutsatserna och granskningsloggens radposter (som importen sparar dem) skrivna med "
          "sqlite3, utan något annat – takets tid delad med golvets är den högsta kvot mot taket som en import "
          "med slutsatser och granskningslogg kan nå")
    print("golv med motorn: samma + reglerna som ikcheck kör dem (båda varven, varje batch korskontrollerad, "
          "lika resultat en gång) – den högsta kvot en import kan nå utan att regelmotorn blir snabbare")


if __name__ == "__main__":
    main()
