"""Plan exports in the customary layout: HTML (one self-contained file), PDF (A4, page numbers,
Swedish dates) and XLSX (one sheet per table)."""

from __future__ import annotations

import datetime as dt

from pathlib import Path
from typing import TYPE_CHECKING

from ikcheck import planning
from ikcheck.app import App, output_path
from ikcheck.calendar import swedish_date
from ikcheck.errors import UserError
from ikcheck.reporting import heatmap
from ikcheck.reporting.render import render_html, write_pdf
from ikcheck.workbooks.safe import set_text
from ikcheck.workbooks.save import save_reproducibly

if TYPE_CHECKING:
    from openpyxl import Workbook

FORMATS = ("xlsx", "html", "pdf", "docx")
COLUMNS = [("Process/rutin", "process", 22), ("Risk", "risk", 34), ("Riskvärde", "riskvärde", 10),
           ("Kontrollmoment", "kontrollmoment", 46), ("Metod", "metod", 16), ("Omfattning", "omfattning", 11),
           ("Frekvens", "frekvens", 11), ("Kontrollansvarig", "ansvarig", 20), ("Rapportering", "rapportering", 14),
           ("Regel", "regel", 9), ("Varför", "varför", 50)]


def export(app: App, unit: str, year: int, fmt: str, out: Path | None = None, *,
           version: int | None = None, org_code: str | None = None) -> Path:
    if fmt not in FORMATS:
        raise UserError(f"Okänt format {fmt!r}; välj xlsx, html, pdf eller docx.")
    data = planning.show(app, unit, year, version, org_code=org_code)
    path = output_path(out, f"plan-{data['unit_code']}-{year}.{fmt}")
    if fmt == "xlsx":
        write_xlsx(data, path)
    elif fmt == "docx":
        from ikcheck.reporting.word import write_plan

        write_plan(data, path)
    else:
        html = render_html(app.settings.reports_dir, "plan.html.j2", p=data,
                           heatmap_html=heatmap.html_table(data["heatmap"]))
        if fmt == "html":
            path.write_text(html, encoding="utf-8")
        else:
            write_pdf(html, path, app.settings.reports_dir)
    return path


def write_xlsx(d: dict, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    bold = Font(bold=True)
    set_text(ws.cell(1, 1), f"Plan för intern kontroll {d['year']} – {d['unit']}").font = Font(bold=True, size=14)
    set_text(ws.cell(2, 1), f"{d['org']} · version {d['version']} · {d['status']}")
    row = 3
    if d["decision"]:
        dec = d["decision"]
        set_text(ws.cell(3, 1), f"Beslutad {swedish_date(dec['date'])} {dec['paragraph']}, dnr {dec['dnr']}")
        row = 4
    row += 1
    header_fill = PatternFill("solid", fgColor="E8EEF5")
    for j, (title, _key, width) in enumerate(COLUMNS, start=1):
        c = set_text(ws.cell(row, j), title)
        c.font, c.fill = bold, header_fill
        ws.column_dimensions[c.column_letter].width = width
    ws.freeze_panes = ws.cell(row + 1, 1)
    for ln in d["lines"]:
        row += 1
        for j, (_title, key, _w) in enumerate(COLUMNS, start=1):
            set_text(ws.cell(row, j), ln[key]).alignment = Alignment(wrap_text=True, vertical="top")
    row += 2
    set_text(ws.cell(row, 1), f"Regler: {d['rules_version']}").font = Font(italic=True, size=8)
    if d["decision"] and d["decision"]["anchor"]["token"]:
        a = d["decision"]["anchor"]
        set_text(ws.cell(row + 1, 1), f"Kontrollsumma: granskningsloggens händelse {a['seq']} · {a['short']} "
                                      f"(beslutet) – {a['token']}").font = Font(italic=True, size=8)
    _table(wb, "Ej granskade", ["Risk", "Rubrik", "Riskvärde", "Utfall", "Regel", "Skäl"],
           [[o["risk"], o["rubrik"], o["riskvärde"], o["utfall"], o["regel"], o["skäl"]] for o in d["others"]])
    _table(wb, "Direktåtgärder", ["Kod", "Åtgärd", "Ansvarig", "Klart senast", "Status"],
           [[a["kod"], a["åtgärd"], a["ansvarig"], a["klart senast"], a["status"]] for a in d["actions"]])
    heatmap.add_sheet(wb, d["heatmap"])
    decided = d["decision"]["date"] if d["decision"] else None
    save_reproducibly(wb, path, dt.datetime.combine(decided, dt.time()) if decided else None)


def _table(wb: Workbook, title: str, headers: list[str], rows: list[list]) -> None:
    from openpyxl.styles import Font

    ws = wb.create_sheet(title)
    for j, h in enumerate(headers, start=1):
        set_text(ws.cell(1, j), h).font = Font(bold=True)
        ws.column_dimensions[ws.cell(1, j).column_letter].width = 40 if h in ("Rubrik", "Åtgärd", "Skäl") else 14
    for i, r in enumerate(rows, start=2):
        for j, v in enumerate(r, start=1):
            set_text(ws.cell(i, j), v)
