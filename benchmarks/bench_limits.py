"""Bounded memory and time on files too large to import (issue #17).

Each import runs in a child process of its own and reports its peak RSS (VmHWM); the baseline is a
child that only starts Python and imports ikcheck, measured in the same run. Files: the largest file
an import accepts (reader.MAX_ROWS = 100 000 result rows, CSV and xlsx), and files of a million rows (CSV, and an xlsx
sheet filled to Excel's last row), which must be refused before they are read into memory.
Target: peak RSS ≤ 500 MB for every file; a refused file takes seconds, not minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench_results import HEAD, make_db, rows, write_csv
from common import table

from ikcheck.store.db import dispose_all
from ikcheck.workbooks.reader import MAX_ROWS

CHILD = r"""
import json, sys, time, datetime as dt
t = time.perf_counter()
from ikcheck import results
from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.errors import UserError
out = {"ok": None}
if sys.argv[1] != "-":
    app = App(Settings(f"sqlite:///{sys.argv[1]}", bundled("rules"), bundled("riskregister"), bundled("reports"),
                       default_engine(), "bench"))
    try:
        out["ok"] = results.import_files(app, [sys.argv[2]], on=dt.date(2026, 1, 1)).new
    except UserError as exc:
        out["ok"] = "nej: " + exc.problems[0].message if exc.problems else exc.message
out["s"] = time.perf_counter() - t
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork and exec)
out["mb"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps(out))
"""


def child(db: str, path: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, db, path], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_xlsx_fast(path: Path, n: int) -> None:
    """An xlsx sheet of n result rows written as raw XML (openpyxl would take minutes for a million)."""
    cols = "ABCDEFGHIJKLMNOP"

    def cell(j: int, r: int, v) -> str:
        if v is None:
            return ""
        if isinstance(v, (int, float)):
            return f'<c r="{cols[j]}{r}"><v>{v}</v></c>'
        return f'<c r="{cols[j]}{r}" t="inlineStr"><is><t>{v}</t></is></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Resultat" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            fh.write(("<row r=\"1\">" + "".join(cell(j, 1, h) for j, h in enumerate(HEAD)) + "</row>").encode())
            for i, r in enumerate(rows(n), start=2):
                vals = [v.isoformat() if hasattr(v, "isoformat") else v for v in r]
                fh.write((f'<row r="{i}">' + "".join(cell(j, i, v) for j, v in enumerate(vals)) + "</row>").encode())
            fh.write(b"</sheetData></worksheet>")


def main() -> None:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = child("-", "-")
        template = tmp / "base.db"
        make_db(template, MAX_ROWS)
        dispose_all()
        cases = []
        for n in (MAX_ROWS, 1_000_000):
            csvf, xlsx = tmp / f"r{n}.csv", tmp / f"r{n}.xlsx"
            write_csv(csvf, rows(n))
            write_xlsx_fast(xlsx, n)
            cases += [(f"{n:,}".replace(",", " "), "csv", csvf), ("", "xlsx", xlsx)]
        for label, kind, path in cases:
            db = tmp / "run.db"
            shutil.copy(template, db)
            t = time.perf_counter()
            got = child(str(db), str(path))
            wall = time.perf_counter() - t
            size = path.stat().st_size / 1e6
            out.append([label, kind, f"{size:.0f} MB", str(got["ok"])[:48], f"{wall:.1f} s", f"{got['mb']:.0f} MB",
                        f"{got['mb'] / base['mb']:.1f}×"])
    print("Inläsning av för stora filer – tid och högsta minnesanvändning (RSS) i en egen process\n")
    print(table(["rader", "format", "fil", "utfall", "tid", "RSS", "RSS / baslinje"], out))
    print(f"\nbaslinje: en process som bara startar Python och läser in ikcheck: {base['mb']:.0f} MB, {base['s']:.1f} s")
    print("mål: RSS ≤ 500 MB för varje fil; en fil över gränsen ("
          + f"{MAX_ROWS:,} rader".replace(",", " ") + ") avvisas innan den läses in")


if __name__ == "__main__":
    main()
