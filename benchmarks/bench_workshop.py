"""Workshop import speed: 10k and 100k risk rows in one participant's file.

Baseline in the same run on the same file: bare openpyxl read_only iteration (values_only).
ikcheck's import = read + validate every row against the matrix + aggregate + write in one transaction.
Targets: ikcheck ≥ 0.5× the baseline's rows/s; time(100k)/time(10k) ≤ 11.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
from pathlib import Path

from common import best_of_interleaved, growth, table
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert

from ikcheck import workshop
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store.db import dispose_all
from ikcheck.store.models import Organisation, Process, Risk, Unit
from ikcheck.workbooks.workshop import COLUMNS

YEAR = 2026


def settings(path: Path) -> Settings:
    return Settings(f"sqlite:///{path}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                    default_engine(), "bench")


def make_db(path: Path, n: int) -> tuple[App, list[int]]:
    app = App(settings(path))
    with app.session(write=True) as s:
        org = Organisation(code="bench", name="Benchkommun", matrix_name="kommun-4x4",
                           settings={"periods": ["halvar", "helar"], "arshjul": {}})
        s.add(org)
        s.flush()
        unit = Unit(org_id=org.id, code="U", name="Enheten", kind="namnd")
        s.add(unit)
        s.flush()
        s.add(Process(org_id=org.id, unit_id=unit.id, code="P", name="Processen"))
        s.execute(insert(Risk), [{"org_id": org.id, "unit_id": unit.id, "code": f"U-R{i:06d}", "title": f"Risk {i}",
                                  "category": "verksamhet", "status": "active", "source": "workshop",
                                  "legal_requirement": False, "created_at": dt.datetime(2026, 1, 1)} for i in range(n)])
        s.flush()
        ids = [r for (r,) in s.execute(Risk.__table__.select().with_only_columns(Risk.id).order_by(Risk.id))]
    dispose_all()
    return app, ids


def write_file(path: Path, ids: list[int], matrix_hash: str) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Risker")
    ws.append(["Riskbedömning"])
    ws.append(["Deltagare:", "Anna"])
    ws.append([])
    ws.append([c.header for c in COLUMNS])
    for k, rid in enumerate(ids):
        li, im = 1 + k % 4, 1 + (k // 4) % 4
        ws.append([f"R{rid}", f"U-R{k:06d}", "Processen", f"Risk {k}", "verksamhet", None, None, None, None,
                   f"{li} – x", f"{im} – y", None, None, None, None])
    info = wb.create_sheet("Info")
    for row in (["org", "bench"], ["unit", "U"], ["year", YEAR], ["matrix", "kommun-4x4"], ["matrix_hash", matrix_hash]):
        info.append(row)
    wb.save(path)


def bare(path: Path) -> int:
    wb = load_workbook(path, read_only=True)
    n = sum(1 for _ in wb["Risker"].iter_rows(values_only=True))
    wb.close()
    return n


def import_once(base: Path, work: Path, path: Path) -> workshop.WorkshopReport:
    db = work / "run.db"
    shutil.copy(base, db)
    dispose_all()
    r = workshop.import_files(App(settings(db)), [path])
    dispose_all()
    return r


def main() -> None:
    rows, files = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in (10_000, 100_000):
            base = tmp / f"base{n}.db"
            app, ids = make_db(base, n)
            path = tmp / f"w{n}.xlsx"
            write_file(path, ids, app.load_matrix("kommun-4x4").content_hash)
            files[n] = (base, path)
            reps = 5 if n < 100_000 else 3  # the import and its baseline taking turns (noisy machines)
            t, last = best_of_interleaved(reps, {"openpyxl": (bare, path), "ikcheck": (import_once, base, tmp, path)})
            t_base, t_ik = t["openpyxl"], t["ikcheck"]
            assert last["ikcheck"].assessed == n, last["ikcheck"]
            rows.append([f"{n:,}".replace(",", " "), f"{n / t_base:,.0f}", f"{n / t_ik:,.0f}", f"{t_base / t_ik:.2f}×"])
        # growth: one 100k import against ten 10k imports timed together, taking turns (common.growth)
        ratio = growth(2, [functools.partial(import_once, files[10_000][0], tmp, files[10_000][1])] * 10,
                       functools.partial(import_once, files[100_000][0], tmp, files[100_000][1]))
    print("Inläsning av riskworkshop – rader per sekund (baslinje: openpyxl read_only)\n")
    print(table(["rader", "openpyxl", "ikcheck", "ikcheck / openpyxl"], rows))
    print(f"\ntid(100k)/tid(10k) = {ratio:.1f}  (mål ≤ 11; tio 10k-filer mot en 100k-fil)")
    print("mål: ikcheck / openpyxl ≥ 0.5× (inklusive validering och skrivning)")


if __name__ == "__main__":
    main()
