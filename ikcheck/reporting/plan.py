"""Plan exports in the customary layout: HTML (one self-contained file), PDF (A4, page numbers,
Swedish dates) and XLSX (one sheet per table)."""

from __future__ import annotations

import datetime as dt

from pathlib import Path

from ikcheck import planning
from ikcheck.app import App, output_path
from ikcheck.calendar import swedish_date
from ikcheck.errors import UserError
from ikcheck.reporting import heatmap
from ikcheck.reporting.render import render_html, write_pdf
from ikcheck.workbooks import layout
from ikcheck.workbooks.safe import set_text
from ikcheck.workbooks.save import save_reproducibly

FORMATS = ("xlsx", "html", "pdf", "docx")
COLUMNS = [("Kontrollpunkt", "kod", 18), ("Process/rutin", "process", 22), ("Risk", "risk", 34),
           ("Sannolikhet", "sannolikhet", 11), ("Konsekvens", "konsekvens", 11), ("Riskvärde", "riskvärde", 10),
           ("Nivå", "nivå", 10), ("Kontrollmoment", "kontrollmoment", 46), ("Metod", "metod", 16),
           ("Omfattning", "omfattning_text", 16), ("Frekvens", "frekvens", 11), ("Kontrollansvarig", "ansvarig", 20),
           ("Rapporteras", "rapportering", 14), ("Motivering", "motivering", 50)]


def export(app: App, unit: str, year: int, fmt: str, out: Path | None = None, *,
           version: int | None = None, org_code: str | None = None) -> Path:
    if fmt not in FORMATS:
        raise UserError(f"Okänt format {fmt!r}; välj xlsx, html, pdf eller docx.")
    data = planning.show(app, unit, year, version, org_code=org_code)
    path = output_path(out, f"plan-{data['unit_code']}-{year}.{fmt}")
    if fmt == "xlsx":
        write_xlsx(data, path)
        return path
    html = render_html(app.settings.reports_dir, "plan.html.j2", p=data,
                       heatmap_html=heatmap.html_table(data["heatmap"]))
    if fmt == "html":
        path.write_text(html, encoding="utf-8")
    elif fmt == "docx":
        from ikcheck.reporting import word

        dec = data["decision"]
        word.write(html, path, title=f"Plan för intern kontroll {year} – {data['unit']}", author=data["org"],
                   token=((dec or {}).get("anchor") or {}).get("token", ""),
                   at=dt.datetime.combine(dec["date"], dt.time()) if dec else None,
                   template=app.settings.reports_dir / "mall.docx")
    else:
        write_pdf(html, path, app.settings.reports_dir)
    return path


def write_xlsx(d: dict, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    set_text(ws.cell(1, 1), f"Plan för intern kontroll {d['year']} – {d['unit']}").font = layout.font(bold=True, size=14)
    dec = d["decision"]
    set_text(ws.cell(2, 1), f"{d['org']} · version {d['version']} · " + (
        f"beslutad av {d['body']} {swedish_date(dec['date'])} {dec['paragraph']}, dnr {dec['dnr']}" if dec
        else "utkast – ej beslutad"))
    layout.table(ws, 4, [c[0] for c in COLUMNS], [[ln[c[1]] for c in COLUMNS] for ln in d["lines"]],
                 [c[2] for c in COLUMNS])
    layout.sheet(wb, "Ej granskade", ["Risk", "Rubrik", "Riskvärde", "Utfall", "Skäl"],
                 [[o["risk"], o["rubrik"], o["riskvärde"], o["utfall_sv"], o["skäl"]] for o in d["others"]],
                 empty="Inga risker bevakas eller accepteras i år.")
    layout.sheet(wb, "Direktåtgärder", ["Kod", "Åtgärd", "Ansvarig", "Klart senast", "Status"],
                 [[a["kod"], a["åtgärd"], a["ansvarig"], a["klart senast"], a["status"]] for a in d["actions"]],
                 empty="Planen har inga direktåtgärder.")
    heatmap.add_sheet(wb, d["heatmap"])
    trace = [[ln["kod"], ", ".join(ln["regler"]) or "–", ln["källa"]] for ln in d["lines"]]
    trace += [[f"{o['risk']} ({o['utfall_sv'].lower()})", o["regel"], "Reglerna för prioritering"] for o in d["others"]]
    trace += [["Regelversioner", d["rules_version"], ""]]
    if dec:
        trace += [["Beslutet", f"registrerat av {dec['by']}", ""],
                  ["Kontrollsumma", (dec.get("anchor") or {}).get("token") or "", ""],
                  ["Planens innehållshash", dec.get("content_hash") or "", ""]]
    layout.sheet(wb, "Underlag och spårbarhet", ["Kontrollpunkt eller uppgift", "Regler", "Källa"], trace, [34, 60, 50])
    save_reproducibly(wb, path, dt.datetime.combine(dec["date"], dt.time()) if dec else None)
