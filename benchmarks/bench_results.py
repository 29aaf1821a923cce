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
The columnar sketch (`columnar`) is not ikcheck: it does the least work that yields what ikcheck's import
of the file stores (the same results with their derived assessments, åtgärder and their changes,
conclusions, and log entries, checked against a real import after each run), column by column with pandas
and sqlite3, so its ratio bounds what any import written in Python with these guarantees can reach.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import shutil
import sqlite3
import tempfile
from operator import itemgetter
from pathlib import Path

import pandas as pd
from common import best_of_interleaved, growth, table
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert, select

from ikcheck import engine, results, rulebook
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store import coverage
from ikcheck.store.db import dispose_all
from ikcheck.store.models import ControlPlan, ControlPoint, Organisation, Unit
from ikcheck.workbooks.results import ASSESSMENTS, COLUMNS, YES_NO

YEAR = 2025


def make_db(path: Path | str, n: int) -> App:
    """A kommun with one unit and a decided plan of n kontrollpunkter; `path` a SQLite file, or the
    URL of an empty, migrated database (bench_import_pg)."""
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    app = App(Settings(url, bundled("rules"), bundled("riskregister"), bundled("reports"),
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


def columnar(template_db: Path, work: Path, path: Path, parts: dict) -> int:
    """A sketch, not ikcheck: the least an import keeping ikcheck's guarantees can do, column by column.
    pandas reads the file; every column is typed and checked at once (unit, kontrollpunkt, period, plan
    version, ja/nej, dates not in the future, counts, assessments, text lengths, the consistency checks);
    the facts are built from the typed columns and the resultat rules run as ikcheck runs them; results
    (with the derived assessments), åtgärder, conclusions, their log states (canonical JSON and SHA-256,
    built from the values, not read back) and the event are inserted with sqlite3, in one transaction.
    It leaves out what a real import also does (a Swedish message per problem, corrections, permissions,
    plan lineage across versions), so an import cannot beat it: its ratio bounds what the target asks."""
    db = work / "columnar.db"
    shutil.copy(template_db, db)
    df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    con = sqlite3.connect(db)
    points = dict(con.execute("SELECT code, id FROM control_point"))
    plan_version = con.execute("SELECT version FROM control_plan").fetchone()[0]
    on = pd.Timestamp(YEAR + 1, 1, 1)
    null = lambda s: [None if v == "" else v for v in s]  # noqa: E731
    blank = lambda col: df[col].where(df[col] != "", None)  # noqa: E731
    cp = df["Kontrollpunkt"].map(points)
    period = df["Period"].str.lower().map({"halvår": "halvar", "halvar": "halvar", "helår": "helar", "helar": "helar"})
    version = pd.to_numeric(df["Planversion"], errors="coerce")
    performed = df["Utförd (ja/nej)"].str.lower().map(YES_NO)
    day = pd.to_datetime(blank("Datum"), format="%Y-%m-%d", errors="coerce")
    examined = pd.to_numeric(blank("Antal granskade"), errors="coerce")
    deviations = pd.to_numeric(blank("Antal avvikelser"), errors="coerce")
    assessment = blank("Bedömning")
    assessed = null(df["Bedömning"])
    texts = ["Kommentar", "Utförd av", "Godkänd av", "Åtgärd", "Åtgärd ansvarig"]
    due = pd.to_datetime(blank("Åtgärd klart senast"), format="%Y-%m-%d", errors="coerce")
    bad = ((df["Enhet"] != "U") | cp.isna() | period.isna() | (version != plan_version) | performed.isna()
           | (df["Datum"].ne("") & day.isna()) | (day > on) | (examined < 0) | (deviations < 0)
           | (examined % 1 != 0) | (deviations % 1 != 0) | ~(assessment.isna() | assessment.isin(ASSESSMENTS))
           | (performed & (examined.isna() | deviations.isna() | day.isna() | (deviations > examined)
                          | df["Utförd av"].eq("")))
           | (~performed & (examined.gt(0) | deviations.gt(0) | assessment.notna()))
           | (df["Åtgärd"].ne("") & (df["Åtgärd ansvarig"].eq("") | due.isna())))
    for col in texts:
        bad |= df[col].str.len() > 2000
    assert not bad.any()  # a real import would read these rows again, one by one, for their messages
    n = len(df)
    first = con.execute("SELECT coalesce(max(id), 0) FROM control_result").fetchone()[0] + 1
    ids = range(first, first + n)
    exa = [None if v != v else int(v) for v in examined]
    dev = [None if v != v else int(v) for v in deviations]
    by, appr = null(df["Utförd av"]), null(df["Godkänd av"])
    facts = [{"type": "result", "cp_id": c, "risk_id": None, "unit": "U", "period": p, "year": YEAR,
              "previous_assessment": None, "batch": i // 2000, "result_id": rid, "reported": True, "performed": f,
              "examined": e, "deviations": d, "deviation_rate": (d / e) if e else None, "assessment": a,
              "performed_by": b, "approved_by": ap,
              "same_person": bool(b and ap and b.strip().lower() == ap.strip().lower()),
              "has_action": has}
             for i, (rid, c, p, f, e, d, a, b, ap, has) in enumerate(zip(
                 ids, cp, period, performed, exa, dev, assessed, by, appr, df["Åtgärd"].ne("")))]
    ev = engine.evaluate(parts["ruleset"], facts, partition="batch")
    derived = {c.subject_id: (c.attributes["value"], c.rule_id) for c in ev.conclusions
               if c.name == "bedömning" and facts[c.subject_id - first]["assessment"] is None}
    stamp = "2026-01-01 00:00:00"
    dates = null(df["Datum"])  # checked above as ISO dates: stored as written
    comment = null(df["Kommentar"])
    batch = con.execute("INSERT INTO import_batch (org_id, kind, filename, content_hash, rows, imported_by, "
                        "imported_at) VALUES (1, 'results', ?, ?, ?, 'bench', ?)",
                        (path.name, path.name, n, stamp)).lastrowid
    rows = [(rid, 1, c, c, p, 1, f, dd, e, d, *(derived.get(rid) or (a, None)), cm, b, ap, "bench", stamp, batch, None,
             None, True)
            for rid, c, p, f, dd, e, d, a, cm, b, ap in zip(ids, cp, period, performed, dates, exa, dev, assessed,
                                                            comment, by, appr)]
    names = ("id", "org_id", "control_point_id", "lineage_id", "period", "version", "performed", "performed_on",
             "examined", "deviations", "assessment", "assessment_rule", "comment", "performed_by", "approved_by",
             "reported_by", "reported_at", "import_batch_id", "supersedes_id", "correction_reason", "is_current")
    order = sorted(range(len(names)), key=names.__getitem__)
    keys, pick = [names[i] for i in order], itemgetter(*order)
    encode = coverage._UNSORTED
    sha = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    entries = []
    with con:
        con.executemany(f"INSERT INTO control_result ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        entries += [("control_result", r[0], sha(t := encode(dict(zip(keys, pick(r))))), t) for r in rows]
        acts = [(1, 1, f"Å-{k:05d}", rid, None, None, text, owner, d, "planerad", None, "[]", stamp)
                for k, (rid, text, owner, d) in enumerate(
                    (x for x in zip(ids, df["Åtgärd"], df["Åtgärd ansvarig"], df["Åtgärd klart senast"]) if x[1]),
                    start=1)]
        anames = ("org_id", "unit_id", "code", "result_id", "risk_id", "plan_id", "description", "owner", "due_date",
                  "status", "closed_on", "notes", "created_at")
        a0 = con.execute("SELECT coalesce(max(id), 0) FROM action").fetchone()[0] + 1
        con.executemany(f"INSERT INTO action ({', '.join(anames)}) VALUES ({', '.join('?' * len(anames))})", acts)
        entries += [("action", a0 + k, sha(t := encode(dict(sorted(zip(("id", *anames), (a0 + k, *a)))))), t)
                    for k, a in enumerate(acts)]
        cnames = ("org_id", "action_id", "on", "status_from", "status_to", "comment", "by", "recorded_at")
        changes = [(1, a0 + k, "2026-01-01", None, "planerad", None, "bench", stamp) for k in range(len(acts))]
        c0 = con.execute("SELECT coalesce(max(id), 0) FROM action_change").fetchone()[0] + 1
        quoted = ", ".join(f'"{c}"' for c in cnames)  # "on" is an SQL keyword
        con.executemany(f"INSERT INTO action_change ({quoted}) "
                        f"VALUES ({', '.join('?' * len(cnames))})", changes)
        entries += [("action_change", c0 + k, sha(t := encode(dict(sorted(zip(("id", *cnames), (c0 + k, *c)))))), t)
                    for k, c in enumerate(changes)]
        run = con.execute("INSERT INTO rule_run (org_id, ruleset, ruleset_version, ruleset_hash, engine, purpose, facts, "
                          "conclusions, run_by, run_at, rule_digests) VALUES (1, 'resultat', 1, 'h', 'durable', 'bench', "
                          "?, ?, 'bench', ?, '{}')", (len(facts), len(ev.conclusions), stamp)).lastrowid
        k0 = con.execute("SELECT coalesce(max(id), 0) FROM conclusion").fetchone()[0] + 1
        conclusions = [(k0 + k, 1, run, c.rule_id, c.name, c.subject_type, c.subject_id, encode(c.attributes),
                        encode(list(c.matched))) for k, c in enumerate(ev.conclusions)]
        con.executemany("INSERT INTO conclusion (id, org_id, run_id, rule_id, name, subject_type, subject_id, "
                        "attributes, matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", conclusions)
        ckeys, cpick = ("attributes", "id", "matched", "name", "org_id", "rule_id", "run_id", "subject_id",
                        "subject_type"), itemgetter(7, 0, 8, 4, 1, 3, 2, 6, 5)  # the columns in sorted order
        group = hashlib.sha256("\n".join(sha(encode(dict(zip(ckeys, cpick(c))))) for c in conclusions)
                               .encode()).hexdigest()
        entries.append(("conclusion", run, group, encode({"rader": len(conclusions)})))
        for tbl, i in (("import_batch", batch), ("rule_run", run)):
            row = con.execute(f"SELECT * FROM {tbl} WHERE id = ?", (i,))
            state = dict(sorted(zip((d[0] for d in row.description), row.fetchone())))
            entries.append((tbl, i, sha(t := encode(state)), t))
        entries.sort()
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM audit_event").fetchone()[0] + 1
        digest = coverage.entries_digest((tbl, i, d) for tbl, i, d, _t in entries)
        con.execute("INSERT INTO audit_event (seq, org_id, at, actor, action, entity, entity_id, before, after, "
                    "prev_hash, hash) VALUES (?, 1, ?, 'bench', 'spara rader', 'import_batch', NULL, NULL, ?, '', ?)",
                    (seq, stamp, encode({"digest": digest}), sha(digest)))
        con.executemany("INSERT INTO audit_row (seq, tbl, row_id, digest, state) VALUES (?, ?, ?, ?, ?)",
                        [(seq, *e) for e in entries])
    n = con.execute("SELECT count(*) FROM control_result").fetchone()[0]
    con.close()
    return n


def same_as_import(work: Path) -> bool:
    """The columnar sketch stored what the real import stored: as many conclusions, log entries, results
    per assessment and the rule that derived it, åtgärder and changes."""
    real, sketch = sqlite3.connect(work / "run.db"), sqlite3.connect(work / "columnar.db")
    queries = ["SELECT assessment, assessment_rule, count(*) FROM control_result GROUP BY 1, 2",
               "SELECT count(*) FROM action", "SELECT count(*) FROM action_change",
               "SELECT rule_id, name, count(*) FROM conclusion GROUP BY 1, 2",
               "SELECT tbl, count(*) FROM audit_row GROUP BY 1"]
    same = all(real.execute(q).fetchall() == sketch.execute(q).fetchall() for q in queries)
    real.close()
    sketch.close()
    return same


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
                "motorgolv": (golv, template_db, tmp, csvf, parts, True),
                "kolumnvis": (columnar, template_db, tmp, csvf, parts)})
            assert last["xlsx"].new == n and last["csv"].new == n and last["tak"] == n and last["golv"] == n, last
            assert last["kolumnvis"] == n and same_as_import(tmp), last
            t_base, t_ik, t_pd, t_ikc = t["openpyxl"], t["xlsx"], t["pandas"], t["csv"]
            out.append([f"{n:,}".replace(",", " "), "xlsx", f"{n / t_base:,.0f}", f"{n / t_ik:,.0f}", f"{t_base / t_ik:.2f}×"])
            out.append(["", "csv", f"{n / t_pd:,.0f}", f"{n / t_ikc:,.0f}", f"{t_pd / t_ikc:.2f}×"])
            out.append(["", "csv: tak", f"{n / t_pd:,.0f}", f"{n / t['tak']:,.0f}", f"{t_pd / t['tak']:.2f}×"])
            out.append(["", "csv: golv", f"{n / t_pd:,.0f}", f"{n / t['golv']:,.0f}", f"{t_pd / t['golv']:.2f}×"])
            out.append(["", "csv: golv med motorn", f"{n / t_pd:,.0f}", f"{n / t['motorgolv']:,.0f}",
                        f"{t_pd / t['motorgolv']:.2f}×"])
            out.append(["", "csv: kolumnvis skiss", f"{n / t_pd:,.0f}", f"{n / t['kolumnvis']:,.0f}",
                        f"{t_pd / t['kolumnvis']:.2f}×"])
            sv = lambda k: f"{k:,}".replace(",", " ")  # noqa: E731
            ceiling.append(f"{sv(n)} rader: {t['tak'] / t_ikc:.2f}× (golvet {t['tak'] / t['golv']:.2f}×, golvet med "
                           f"motorn {t['tak'] / t['motorgolv']:.2f}×, kolumnvis skiss {t['tak'] / t['kolumnvis']:.2f}×, "
                           f"ikcheck mot skissen {t['kolumnvis'] / t_ikc:.2f}×; "
                           f"{sv(len(parts['conclusions']))} slutsatser, "
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
    print("kolumnvis skiss: det minsta en import med samma garantier gör, kolumn för kolumn (pandas läser och "
          "kontrollerar hela kolumner, fakta ur de typade kolumnerna, reglerna, samma rader, slutsatser och "
          "granskningslogg som ikchecks import, tillstånden byggda ur värdena) – inte ikcheck, en gräns för målet")


if __name__ == "__main__":
    main()
