"""Halvårsrapport, årsrapport and KS-sammanställning: rendering to HTML, PDF and XLSX, reproducibly
(the same database state gives the same bytes), and submission of a unit's report to KS."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ikcheck import words
from ikcheck.app import App, output_path
from ikcheck.calendar import not_in_future, now, parse_date, period_end, swedish_date, today
from ikcheck.errors import UserError
from ikcheck.reporting import datasets, heatmap
from ikcheck.reporting.render import file_hash, period_name, render_html, write_pdf
from ikcheck.store.audit import snapshot
from ikcheck.store.models import ReportRecord, ReportText
from ikcheck.workbooks import layout
from ikcheck.workbooks.save import save_reproducibly

if TYPE_CHECKING:
    from openpyxl import Workbook

FORMATS = ("html", "pdf", "xlsx", "docx")
EPOCH_2000 = 946684800


@contextmanager
def _source_date(at: dt.datetime | None):
    """Fonts embedded in a PDF carry a timestamp; pin it to the data's own time (reproducible)."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = int(at.replace(tzinfo=dt.timezone.utc).timestamp()) if at else EPOCH_2000
    os.environ["SOURCE_DATE_EPOCH"] = str(stamp)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"Okänt format {fmt!r}; välj html, pdf, xlsx eller docx.")


def unit_report(app: App, unit_code: str, year: int, kind: str, fmt: str, out: Path | None = None,
                own_text: Path | None = None, org_code: str | None = None,
                on: dt.date | None = None) -> tuple[Path, dict]:
    _check_format(fmt)
    text = None
    if own_text:
        try:
            text = Path(own_text).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            raise UserError(f"Textfilen {own_text} kan inte läsas (förväntat en textfil i UTF-8).") from None
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        if text is None:  # the text written for the report (web app), if any
            stored = s.scalar(select(ReportText).where(ReportText.unit_id == unit.id, ReportText.year == year,
                                                       ReportText.kind == words.report_kind(kind)))
            text = stored.text if stored else None
        data = datasets.unit_report(app, s, org, unit, year, kind, text, on=on)
    path = output_path(out, f"{'halvarsrapport' if kind == 'halvar' else 'arsrapport'}-{unit.code}-{year}.{fmt}")
    _write(app, path, fmt, "rapport.html.j2", {"r": data, "heatmap_html": heatmap.html_table(data["heatmap"])},
           data, _unit_sheets)
    return path, data


def ks_report(app: App, year: int, kind: str | None, fmt: str, out: Path | None = None,
              org_code: str | None = None) -> tuple[Path, dict]:
    """The KS-sammanställning; `kind` None: the report due by today (datasets.report_kind_on)."""
    _check_format(fmt)
    kind = words.report_kind(kind)
    with app.session() as s:
        org = app.org(s, org_code)
        data = datasets.ks_summary(app, s, org, year, kind)
    path = output_path(out, f"ks-sammanstallning-{year}{'-halvar' if data['kind'] == 'halvar' else ''}.{fmt}")
    _write(app, path, fmt, "ks.html.j2", {"k": data}, data, _ks_sheets)
    return path, data


def _write(app: App, path: Path, fmt: str, template: str, context: dict, data: dict, sheets) -> None:
    at = data["provenance"]["as_of"]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        wb.remove(wb.active)
        sheets(wb, data)
        save_reproducibly(wb, path, at)
        return
    html = render_html(app.settings.reports_dir, template, **context)
    if fmt == "html":
        path.write_text(html, encoding="utf-8")
    elif fmt == "docx":
        from ikcheck.reporting import word

        title = data["title"] + (f" – {data['unit']}" if data.get("unit") else "")
        word.write(html, path, title=title, author=data["org"], token=(data["provenance"].get("anchor") or {}).get("token", ""),
                   at=at, template=app.settings.reports_dir / "mall.docx")
    else:
        with _source_date(at):
            write_pdf(html, path, app.settings.reports_dir)


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]], empty: str | None = None) -> None:
    layout.sheet(wb, title, headers, rows, empty=empty)


def _provenance_rows(d: dict) -> list[list[Any]]:
    p = d["provenance"]
    return [["Underlag", f"Granskningsloggen t.o.m. händelse {p['as_of_seq']}"], ["Innehållshash", p["data_hash"]],
            ["Kontrollsumma", p["anchor"]["token"]], ["Regelversioner", d["rules_version"]],
            ["Framtagen med", f"ikcheck {p['ikcheck']}"]]


def _unit_sheets(wb: Workbook, d: dict) -> None:
    s = d["summary"]
    dec = d.get("decision")
    _sheet(wb, "Sammanfattning", ["Uppgift", "Värde"], [
        ["Rapport", f"{d['title']} – {d['unit']}"],
        ["Nämndens beslut", f"{swedish_date(dec['date'])} {dec['paragraph']}" + (f", dnr {dec['dnr']}" if dec["dnr"] else "")
         if dec else "Ej registrerat"],
        ["Kontrollpunkter", s["points"]], ["Utförda", s["performed"]],
        ["Med avvikelser", s["with_deviations"]], ["Väsentliga brister", s["significant"]],
        ["Ej utförda", s["not_performed"]], ["Ej rapporterade", s["not_reported"]], ["Åtgärder", s["actions"]],
        ["Försenade åtgärder", s["overdue_actions"]],
        ["Bedömning", f"{d['judgement']['colour'].capitalize()}: {d['judgement']['text']}"],
        ["Förvaltningens bedömning", d["own_text"]]])
    _sheet(wb, "Resultat", ["Kontrollpunkt", "Period", "Risk", "Riskvärde", "Kontrollmoment", "Metod", "Omfattning",
                            "Rapporterad", "Utförd", "Granskade", "Avvikelser", "Bedömning", "Utförd av", "Datum",
                            "Kommentar", "Väsentliga brister i båda perioderna"],
           [[r["code"], period_name(c["period"]), r["risk_text"], r["score"], r["title"], r["method"], r["sample"],
             c["reported"], c["performed"], c["examined"], c["deviations"], c["assessment"], c["performed_by"],
             c["performed_on"], c["comment"], r["persistent"]]
            for r in d["rows"] for c in r["cells"]])
    _sheet(wb, "Iakttagelser", ["Period", "Kontrollpunkt", "Iakttagelse"],
           [[period_name(f["period"]), f["code"], f["text"]] for f in d["findings"]], "Inga iakttagelser.")
    _sheet(wb, "Åtgärder", ["Kontrollpunkt", "Kod", "Period", "Åtgärd", "Ansvarig", "Klart senast", "Status"],
           [[a["group"], a["code"], period_name(a["period"]) if a["period"] else None,
             a["description"], a["owner"], a["due"], a["status"]]
            for a in sorted(d["actions"], key=lambda a: (a["point"] is None, a["group"], a["code"]))], "Inga åtgärder.")
    heatmap.add_sheet(wb, d["heatmap"])
    rules = [["Bedömning av den interna kontrollen", f"{d['judgement']['rule_id']} ({d['judgement']['rule_title']})"]]
    titled = {rule_id: f"{rule_id} ({title})" for rule_id, title in d["rule_titles"].items()}
    rules += [[f"{r['code']} {period_name(c['period'])}", f"Bedömd enligt {titled.get(c['assessed_by'], c['assessed_by'])}"]
              for r in d["rows"] for c in r["cells"] if c["reported"] and c["assessed_by"] != "rapportör"]
    rules += [[f"{f['code'] or ''} {period_name(f['period'])}".strip(),
               f"{f['text']} Regel {titled.get(f['rule_id'], f['rule_id'])}"] for f in d["findings"]]
    _sheet(wb, "Underlag och spårbarhet", ["Uppgift", "Värde"], _provenance_rows(d) + rules)


def _ks_sheets(wb: Workbook, d: dict) -> None:
    _sheet(wb, "Enheter", ["Enhet", "Bedömning", "Bedömning av intern kontroll", "Plan beslutad",
                           "Inlämnad version", "Inlämnad", "Plan sen, dagar", "Rapport sen, dagar", "Kontrollpunkter",
                           "Utförda", "Väsentliga brister", "Ej utförda", "Ej rapporterade", "Eskaleringar",
                           "Försenade åtgärder", "Väsentliga brister föreg. år", "Årshjul"],
           [[u["unit"], u["judgement"]["colour"], u["judgement"]["text"],
             u["plan"]["decided"] if u["plan"] else None,
             u["submitted"]["version"] if u["submitted"] else None, u["submitted"]["date"] if u["submitted"] else None,
             u["late"]["plan"], u["late"]["report"],
             u["summary"]["points"], u["summary"]["performed"], u["summary"]["significant"],
             u["summary"]["not_performed"], u["summary"]["not_reported"], u["summary"]["escalations"],
             u["summary"]["overdue_actions"], u["last_year"]["significant"] if u["last_year"]["points"] else None,
             " ".join(words.sentence(t["message"]) for t in u["timing"])] for u in d["units"]])
    _sheet(wb, "Brister", ["Enhet", "Kontrollpunkt", "Period", "Iakttagelse", "Eskaleras till KS"],
           [[b["unit_name"], b.get("code"), period_name(b["period"]),
             f"{b['title']}: {b['deviations']} avvikelser av {b['examined']}", b["escalated"]]
            for b in d["brister"]], "Inga väsentliga brister.")
    _sheet(wb, "Ej utförda", ["Enhet", "Kontrollpunkt", "Kontrollmoment", "Status", "Kommentar"],
           [[m["unit_name"], m["code"], m["title"], m["status"], m["comment"]] for m in d["missing"]],
           "Alla kontroller är utförda och rapporterade.")
    _sheet(wb, "Försenade åtgärder", ["Enhet", "Kod", "Kontrollpunkt", "Åtgärd", "Ansvarig", "Klart senast"],
           [[a["unit_name"], a["code"], a["point"], a["description"], a["owner"], a["due"]] for a in d["overdue"]],
           "Inga försenade åtgärder.")
    rules = [[u["unit"], ", ".join([u["judgement"]["rule_id"]] + [t["rule_id"] for t in u["timing"]])] for u in d["units"]]
    _sheet(wb, "Underlag och spårbarhet", ["Uppgift", "Värde"], _provenance_rows(d) + rules)


# --- submission ---------------------------------------------------------------------------------

def submit(app: App, unit_code: str, year: int, kind: str, *, fmt: str = "pdf", out_dir: Path | None = None,
           date: str | None = None, own_text: Path | None = None, org_code: str | None = None) -> dict:
    """Generate the report and record that it was sent to KS: date, by whom, the file's content hash.
    A submitted report is frozen; a changed report submitted again becomes a new version."""
    kind = words.report_kind(kind)
    submitted_on = not_in_future(parse_date(date, "Inlämningsdatum"), "Inlämningsdatumet") if date else today()
    with app.session() as s:
        org = app.org(s, org_code)
        ends = period_end(year, datasets.report_periods(org, kind)[-1], org.settings.get("periods", ["halvar", "helar"]))
    if submitted_on <= ends:
        raise UserError(f"Inlämningsdatumet {submitted_on} ligger inom perioden som rapporten följer upp (t.o.m. "
                        f"{ends}); rapporten lämnas in när perioden är slut.")
    out_dir = Path(out_dir or "rapporter")
    # a name of its own: two submitting at once must not write one file
    tmp = out_dir / f".utkast-{unit_code}-{year}-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}.{fmt}"
    path, data = unit_report(app, unit_code, year, kind, fmt, tmp, own_text, org_code, on=submitted_on)
    digest = file_hash(path)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        last = datasets.last_submitted(s, unit, year, kind)
        if last is not None and last.content_hash == digest:
            path.unlink()
            return {"version": last.version, "path": last.path, "hash": digest, "unchanged": True,
                    "submitted": last.submitted_at}
        version = (last.version + 1) if last else 1
        final = out_dir / f"{'halvarsrapport' if kind == 'halvar' else 'arsrapport'}-{unit.code}-{year}-v{version}.{fmt}"
        path.replace(final)
        rec = ReportRecord(org_id=org.id, unit_id=unit.id, kind=kind, year=year, format=fmt, version=version,
                           path=str(final.resolve()), content_hash=digest, data_hash=data["provenance"]["data_hash"],
                           rules_version=data["rules_version"], created_by=app.user, submitted_at=submitted_on,
                           submitted_by=app.user, supersedes_id=last.id if last else None)
        s.add(rec)
        s.flush()
        app.audit(s, "lämna till KS", "report_record", rec.id, after=snapshot(rec), org_id=org.id)
        return {"version": version, "path": str(final), "hash": digest, "unchanged": False,
                "submitted": submitted_on, "judgement": data["judgement"]["colour"]}


def submissions(app: App, year: int, org_code: str | None = None) -> list[dict]:
    with app.session() as s:
        org = app.org(s, org_code)
        units = {u.id: u.code for u in org.units}
        return [{"enhet": units.get(r.unit_id), "rapport": r.kind, "version": r.version,
                 "inlämnad": swedish_date(r.submitted_at), "av": r.submitted_by, "hash": r.content_hash[:16],
                 "fil": r.path}
                for r in s.scalars(select(ReportRecord).where(ReportRecord.org_id == org.id, ReportRecord.year == year)
                                   .order_by(ReportRecord.unit_id, ReportRecord.kind, ReportRecord.version))]


def own_text(app: App, unit_code: str, year: int, kind: str, org_code: str | None = None) -> dict:
    """Förvaltningens bedömning written for the report: its text, who wrote it last and when."""
    kind = words.report_kind(kind)
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        row = s.scalar(select(ReportText).where(ReportText.unit_id == unit.id, ReportText.year == year,
                                                ReportText.kind == kind))
        return {"text": row.text if row else "", "by": row.updated_by if row else None,
                "at": row.updated_at if row else None}


def save_text(app: App, unit_code: str, year: int, kind: str, text: str, org_code: str | None = None) -> None:
    """Write förvaltningens bedömning for the report (paragraphs separated by a blank line, lines that
    begin with "- " a list). An empty text removes it. A submitted report keeps its text; submitting
    again after a change makes a new version."""
    kind = words.report_kind(kind)
    text = "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")).strip()
    if len(text) > 20_000:
        raise UserError(f"Texten är {len(text)} tecken; högst 20 000 ryms i rapporten.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        row = s.scalar(select(ReportText).where(ReportText.unit_id == unit.id, ReportText.year == year,
                                                ReportText.kind == kind))
        before = snapshot(row) if row else None
        if not text:
            if row is not None:
                s.delete(row)
                app.audit(s, "ta bort förvaltningens text", "report_text", row.id, before=before, org_id=org.id)
            return
        if row is None:
            row = ReportText(org_id=org.id, unit_id=unit.id, year=year, kind=kind, text=text, updated_by=app.user)
            s.add(row)
        else:
            row.text, row.updated_by, row.updated_at = text, app.user, now()
        s.flush()
        app.audit(s, "skriv förvaltningens text", "report_text", row.id, before=before, after=snapshot(row),
                  org_id=org.id)


def record_decision(app: App, unit_code: str, year: int, kind: str, date: str, paragraph: str,
                    org_code: str | None = None, dnr: str | None = None) -> int:
    """The nämnd's decision on its submitted report (datum and §), on the newest submitted version."""
    kind = words.report_kind(kind)
    decided = not_in_future(parse_date(date, "Beslutsdatum"), "Beslutsdatumet")
    if not (paragraph or "").strip():
        raise UserError("Ange paragrafen i protokollet, till exempel § 45.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        rec = datasets.last_submitted(s, unit, year, kind)
        if rec is None:
            raise UserError("Rapporten är inte inlämnad än; nämndens beslut registreras på den inlämnade rapporten.")
        ends = period_end(year, datasets.report_periods(org, kind)[-1], org.settings.get("periods", ["halvar", "helar"]))
        if decided <= ends:
            raise UserError(f"Beslutsdatumet {decided} ligger inom perioden som rapporten följer upp (t.o.m. {ends}).")
        before = snapshot(rec)
        rec.decision_date, rec.decision_paragraph = decided, words.paragraph(paragraph)
        rec.decision_dnr = " ".join((dnr or "").split()) or None
        app.audit(s, "nämndens beslut om rapporten", "report_record", rec.id, before=before, after=snapshot(rec),
                  org_id=org.id)
        return rec.version
