"""Plans and reports as Word documents (python-docx), for the nämnd's agenda in the ärendesystem:
the same datasets and the same contents as the PDF, as headings, paragraphs and tables a secretary
can edit. Issue #20 refines the wording and adds what a nämnd document still lacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt

from ikcheck.calendar import swedish_date
from ikcheck.reporting.render import period_name, prose_blocks


def _text(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, (dt.date, dt.datetime)):
        return swedish_date(v)
    return str(v)


def _document(title: str, token: str = "", landscape: bool = True):
    doc = Document()
    doc.core_properties.title = title
    doc.core_properties.keywords = token  # the Kontrollsumma, read back by `audit verify --anchor`
    doc.core_properties.language = "sv-SE"
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(10.5)
    return doc


def _table(doc, headers: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, h in zip(table.rows[0].cells, headers, strict=True):
        cell.text = h
        for run in cell.paragraphs[0].runs:
            run.bold = True
    # the header row repeats on every page
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)
    for r in rows:
        cells = table.add_row().cells
        for cell, v in zip(cells, r, strict=True):
            cell.text = _text(v)


def _provenance(doc, p: dict, rules: str) -> None:
    anchor = p.get("anchor") or {}
    para = doc.add_paragraph()
    run = para.add_run(f"Underlag: data t.o.m. granskningsloggens händelse {p.get('as_of_seq')}. "
                       + (f"Kontrollsumma: granskningsloggens händelse {anchor.get('seq')} · {anchor.get('short')}. "
                          if anchor.get("seq") else "") + f"Regler: {rules}. ikcheck {p.get('ikcheck')}.")
    run.font.size = Pt(8.5)


def _prose(doc, text: str) -> None:
    """A text as written: paragraphs with their line breaks, '- ' lines as a bulleted list."""
    for kind, lines in prose_blocks(text):
        if kind == "ul":
            for item in lines:
                doc.add_paragraph(item, style="List Bullet")
        else:
            para = doc.add_paragraph(lines[0])
            for line in lines[1:]:
                run = para.add_run()
                run.add_break()
                run.add_text(line)


def write_plan(d: dict, path: Path) -> Path:
    title = f"Plan för intern kontroll {d['year']} – {d['unit']}"
    doc = _document(title, ((d["decision"] or {}).get("anchor") or {}).get("token", ""))
    doc.add_paragraph(f"{d['org']}" + (f" · {d['forvaltning']}" if d["forvaltning"] else ""))
    doc.add_heading(title, level=1)
    dec = d["decision"]
    status = (f"Beslutad {swedish_date(dec['date'])} {dec['paragraph']}, dnr {dec['dnr']}." if dec
              else "Utkast – inte beslutad.")
    doc.add_paragraph(f"Version {d['version']}. {status}"
                      + (f" Skäl till revideringen: {d['revision_reason']}." if d["revision_reason"] else ""))
    for heading, key in (("Förslag till beslut", "proposal_text"), ("Inledning", "intro_text")):
        if d.get(key):
            doc.add_heading(heading, level=2)
            _prose(doc, d[key])
    doc.add_heading("Kontrollpunkter", level=2)
    _table(doc, ["Kod", "Process", "Risk", "Riskvärde", "Kontrollmoment", "Metod", "Omfattning", "Frekvens",
                 "Kontrollansvarig", "Rapportering"],
           [[ln["kod"], ln["process"], ln["risk"], ln["riskvärde"], ln["kontrollmoment"], ln["metod"],
             ln["omfattning"], ln["frekvens"], ln["ansvarig"], ln["rapportering"]] for ln in d["lines"]])
    if d["actions"]:
        doc.add_heading("Direktåtgärder", level=2)
        _table(doc, ["Kod", "Åtgärd", "Ansvarig", "Klart senast", "Status"],
               [[a["kod"], a["åtgärd"], a["ansvarig"], a["klart senast"], a["status"]] for a in d["actions"]])
    if d["others"]:
        doc.add_heading("Risker som bevakas eller accepteras", level=2)
        _table(doc, ["Risk", "Rubrik", "Riskvärde", "Utfall", "Skäl"],
               [[o["risk"], o["rubrik"], o["riskvärde"], o["utfall"], o["skäl"]] for o in d["others"]])
    if dec:
        _provenance(doc, {"as_of_seq": (dec.get("anchor") or {}).get("seq"), "anchor": dec.get("anchor"),
                          "ikcheck": ""}, d["rules_version"])
    doc.save(path)
    return path


def write_report(d: dict, path: Path) -> Path:
    title = f"{d['title']} – {d['unit']}"
    doc = _document(title, (d["provenance"].get("anchor") or {}).get("token", ""))
    doc.add_paragraph(f"{d['org']}" + (f" · {d['forvaltning']}" if d["forvaltning"] else ""))
    doc.add_heading(title, level=1)
    plan = d["plan"]
    doc.add_paragraph(f"Uppföljning av plan för intern kontroll {d['year']} (version {plan['version']}, beslutad "
                      f"{swedish_date(plan['decided'])} {plan['paragraph']}, dnr {plan['dnr']}).")
    s = d["summary"]
    doc.add_heading("Sammanfattning", level=2)
    _table(doc, ["Uppgift", "Antal"], [["Kontrollpunkter att rapportera", s["points"]], ["Utförda", s["performed"]],
                                      ["Med avvikelser", s["with_deviations"]], ["Väsentliga brister", s["significant"]],
                                      ["Ej utförda", s["not_performed"]], ["Ej rapporterade", s["not_reported"]],
                                      ["Åtgärder", s["actions"]], ["Varav försenade", s["overdue_actions"]]])
    doc.add_heading("Bedömning av den interna kontrollen", level=2)
    doc.add_paragraph(f"{d['judgement']['colour'].capitalize()}: {d['judgement']['text']}")
    if d["own_text"]:
        doc.add_heading("Förvaltningens bedömning", level=3)
        _prose(doc, d["own_text"])
    doc.add_heading("Resultat per kontrollpunkt", level=2)
    rows = []
    for row in d["rows"]:
        outcome = []
        for c in row["cells"]:
            if not c["reported"]:
                what = "ej rapporterad" if c["due"] else "ännu inte aktuell"
            elif c["performed"] is False:
                what = "ej utförd"
            else:
                what = f"{_text(c['deviations'])} avvikelser av {_text(c['examined'])}, {c['assessment'] or '–'}"
            outcome.append(f"{period_name(c['period']).capitalize()}: {what}")
        comments = "; ".join(c["comment"] for c in row["cells"] if c.get("comment")) or "–"
        rows.append([row["code"], row["risk"], row["score"], row["title"], "\n".join(outcome), comments])
    _table(doc, ["Kontrollpunkt", "Risk", "Riskvärde", "Vad som granskats", "Resultat", "Kommentar"], rows)
    doc.add_heading("Åtgärder", level=2)
    if d["actions"]:
        _table(doc, ["Kod", "Kontrollpunkt", "Åtgärd", "Ansvarig", "Klart senast", "Status"],
               [[a["code"], a["point"] or "direktåtgärd", a["description"], a["owner"], a["due"], a["status"]]
                for a in d["actions"]])
    else:
        doc.add_paragraph("Inga åtgärder.")
    doc.add_heading("Kontroller som inte utförts eller rapporterats", level=2)
    if d["not_performed"]:
        for row in d["not_performed"]:
            doc.add_paragraph(f"{row['code']} – {row['title']}: {'ej rapporterad' if not row['reported'] else 'ej utförd'}",
                              style="List Bullet")
    else:
        doc.add_paragraph("Alla kontroller är utförda och rapporterade.")
    _provenance(doc, d["provenance"], d["rules_version"])
    doc.save(path)
    return path
