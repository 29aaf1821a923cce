"""Halvårsrapport, årsrapport, KS-sammanställning and submission: content, formats, reproducibility."""

from __future__ import annotations

import datetime as dt
import random
import re
import subprocess

import pytest
from openpyxl import load_workbook

from ikcheck import calendar, demo, planning, register, results, rulebook
from ikcheck.config import bundled
from ikcheck.reporting import datasets, heatmap, reports
from ikcheck.reporting.render import file_hash

YEAR = demo.DEMO_YEAR
ON = dt.date(YEAR + 1, 1, 31)


@pytest.fixture
def cycle(app, kommun, tmp_path):
    for unit, date in (("SN", "2024-11-21"), ("BUN", "2024-12-09")):  # BUN decides late
        planning.derive(app, unit, YEAR)
        planning.accept(app, unit, YEAR)
        planning.decide(app, unit, YEAR, date, "§ 1", f"{unit} 2024/1")
    rng = random.Random(5)
    for period in ("halvar", "helar"):
        files = []
        for unit in ("SN", "BUN"):
            blank = results.template(app, unit, YEAR, period, tmp_path / f"m-{unit}-{period}.xlsx")
            files.append(demo.fill_results(blank, tmp_path / f"r-{unit}-{period}.xlsx", rng, period, YEAR,
                                           bad={0} if unit == "SN" else frozenset(),
                                           not_done=1 if unit == "BUN" and period == "helar" else None))
        results.import_files(app, files, on=ON)
    return app


def test_annual_report_has_every_section_and_names_its_rule(cycle, tmp_path):
    own = tmp_path / "text.txt"
    own.write_text("Förvaltningen instämmer.\n\nNya rutiner införs i januari.", encoding="utf-8")
    path, data = reports.unit_report(cycle, "SN", YEAR, "ar", "html", tmp_path / "sn.html", own_text=own)
    html = path.read_text(encoding="utf-8")
    for section in ("Sammanfattning", "Bedömning av den interna kontrollen", "Resultat per kontrollpunkt",
                    "Åtgärder", "Kontroller som inte utförts eller rapporterats", "Jämförelse", "Riskbild 2025",
                    "Förvaltningens bedömning", "Nya rutiner införs i januari."):
        assert section in html, section
    s = data["summary"]
    # each kontrollpunkt once, whatever its periods; the one that failed both periods once, and marked so
    codes = [r["code"] for r in data["rows"]]
    assert s["points"] == len(codes) == len(set(codes)) and s["significant"] >= 1 and s["persistent"] >= 1
    assert "Väsentliga brister i båda perioderna" in html
    assert data["judgement"]["rule_id"] == "BED-01" and data["judgement"]["colour"] == "röd"
    body, appendix = html.split("Underlag och spårbarhet</h2>")
    assert f"regel {data['judgement']['rule_id']}" in appendix and data["judgement"]["rule_id"] not in body
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert data["provenance"]["data_hash"] in html


def test_findings_say_what_follows_and_the_appendix_names_their_rules_by_title(cycle, tmp_path):
    # the nämnd reads what a finding means ("… eskaleras till kommunstyrelsen"), in plain Swedish
    # without rule ids; the revisor reads which rule said so; neither reads the conclusion's code
    path, data = reports.unit_report(cycle, "SN", YEAR, "ar", "html", tmp_path / "sn.html")
    html = path.read_text(encoding="utf-8")
    body, appendix = html.split("Underlag och spårbarhet</h2>")
    rs = rulebook.ruleset(cycle, "resultat")
    assert data["findings"]
    for f in data["findings"]:
        title = rs.rule(f["rule_id"]).title
        assert f["text"] in body and f["rule_id"] not in body and f"{f['rule_id']} {title}" in appendix, f["rule_id"]
        assert f["name"].replace("_", " ") not in appendix, f["name"]
    escalated = [f for f in data["findings"] if f["name"] == "eskalera_till_ks"]
    assert escalated and all(f["text"].endswith(" Bristen eskaleras till kommunstyrelsen.") for f in escalated)
    assessed = {c["assessed_by"] for r in data["rows"] for c in r["cells"] if c["reported"]} - {"rapportör"}
    assert assessed and all(f"{a} ({rs.rule(a).title}):" in appendix for a in assessed)
    reports.unit_report(cycle, "SN", YEAR, "ar", "xlsx", tmp_path / "sn.xlsx")
    wb = load_workbook(tmp_path / "sn.xlsx")
    sheet = [[c.value for c in row] for row in wb["Iakttagelser"].iter_rows()]
    assert [r[2] for r in sheet[1:]] == [f["text"] for f in data["findings"]]
    trace = "\n".join(str(row[1].value) for row in wb["Underlag och spårbarhet"].iter_rows())
    assert all(f"Bedömd enligt {a} ({rs.rule(a).title})" in trace for a in assessed)


def test_half_year_report_xlsx_has_one_sheet_per_table(cycle, tmp_path):
    path, data = reports.unit_report(cycle, "BUN", YEAR, "halvar", "xlsx", tmp_path / "bun.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Sammanfattning", "Resultat", "Iakttagelser", "Åtgärder", "Värmekarta", "Underlag och spårbarhet"]
    assert wb["Resultat"].max_row == len(data["rows"]) + 1  # one period: a row per kontrollpunkt
    assert all([c["period"] for c in r["cells"]] == ["halvar"] for r in data["rows"])


def test_regenerating_gives_the_same_bytes_in_every_format(cycle, tmp_path):
    import time

    from ikcheck.reporting import plan as plan_out

    for fmt in ("pdf", "html", "xlsx", "docx"):
        a, _ = reports.unit_report(cycle, "SN", YEAR, "ar", fmt, tmp_path / f"a.{fmt}")
        time.sleep(1.1 if fmt in ("xlsx", "docx") else 0)  # a zip stamped with the clock would differ now
        b, _ = reports.unit_report(cycle, "SN", YEAR, "ar", fmt, tmp_path / f"b.{fmt}")
        assert file_hash(a) == file_hash(b), fmt
    for fmt in ("docx", "xlsx"):
        a = plan_out.export(cycle, "SN", YEAR, fmt, tmp_path / f"pa.{fmt}")
        time.sleep(1.1)
        assert file_hash(a) == file_hash(plan_out.export(cycle, "SN", YEAR, fmt, tmp_path / f"pb.{fmt}")), fmt
    hm = heatmap.write_xlsx(register.heatmap(cycle, "SN", YEAR), tmp_path / "v1.xlsx")
    time.sleep(1.1)
    assert file_hash(hm) == file_hash(heatmap.write_xlsx(register.heatmap(cycle, "SN", YEAR), tmp_path / "v2.xlsx"))


def test_submission_is_frozen_and_a_change_is_a_new_version(cycle, tmp_path, cli):
    first = reports.submit(cycle, "SN", YEAR, "ar", out_dir=tmp_path, date="2026-02-20")
    assert first["version"] == 1 and not first["unchanged"]
    # regenerating the submitted report yields the same content hash
    again, _ = reports.unit_report(cycle, "SN", YEAR, "ar", "pdf", tmp_path / "again.pdf", on=dt.date(2026, 2, 20))
    assert file_hash(again) == first["hash"] == file_hash(tmp_path / "arsrapport-SN-2025-v1.pdf")
    assert reports.submit(cycle, "SN", YEAR, "ar", out_dir=tmp_path, date="2026-02-21")["unchanged"]
    # KS uses the submitted version; a later correction shows as changed, then as version 2
    path = tmp_path / "r-SN-helar.xlsx"
    from tests.test_results import edit_cell

    fixed = edit_cell(path, "Antal granskade", 2, 30, tmp_path / "fix.xlsx")
    results.import_files(cycle, [fixed], reason="Omräknat", on=ON)
    _p, ks = reports.ks_report(cycle, YEAR, "ar", "html", tmp_path / "ks.html")
    sn = next(u for u in ks["units"] if u["code"] == "SN")
    assert sn["submitted"]["version"] == 1 and sn["submitted"]["changed_since"] is True
    second = reports.submit(cycle, "SN", YEAR, "ar", out_dir=tmp_path, date="2026-02-25")
    assert second["version"] == 2 and second["hash"] != first["hash"]
    assert (tmp_path / "arsrapport-SN-2025-v1.pdf").is_file()  # the old version is kept as sent
    r = cli("report", "list", "--year", YEAR)
    assert r.code == 0 and "SN" in r.out and "2" in r.out


def test_ks_summary_flags_late_plan_and_late_report(cycle, tmp_path):
    reports.submit(cycle, "SN", YEAR, "ar", out_dir=tmp_path, date="2026-02-20")
    reports.submit(cycle, "BUN", YEAR, "ar", out_dir=tmp_path, date="2026-04-15")  # 46 days late
    path, ks = reports.ks_report(cycle, YEAR, "ar", "html", tmp_path / "ks.html")
    units = {u["code"]: u for u in ks["units"]}
    bun = {t["rule_id"]: t["message"] for t in units["BUN"]["timing"]}
    assert bun["ARS-02"] == "Planen för 2025 beslutades 9 dagar för sent"
    assert bun["ARS-04"] == "Rapporten för 2025 (årsrapporten) lämnades till KS 46 dagar för sent"
    assert "ARS-04" not in {t["rule_id"] for t in units["SN"]["timing"]}
    assert units["KS"]["judgement"]["colour"] == "röd" and units["KS"]["plan"] is None
    html = path.read_text(encoding="utf-8")
    assert "46 dagar för sent" in html and "eskaleras till kommunstyrelsen" in html


def test_report_cli_formats_and_errors(cycle, cli, tmp_path):
    for fmt in ("html", "pdf", "xlsx"):
        r = cli("report", "halvar", "--unit", "SN", "--year", YEAR, "--format", fmt, "--out", tmp_path / f"h.{fmt}")
        assert r.code == 0 and (tmp_path / f"h.{fmt}").is_file()
    r = cli("report", "ks", "--year", YEAR, "--format", "xlsx", "--out", tmp_path / "ks.xlsx")
    assert r.code == 0 and "röda" in r.out
    r = cli("report", "ar", "--unit", "KFN", "--year", YEAR, "--format", "html")
    assert r.code == 2 and "ingen beslutad plan" in r.err
    r = cli("report", "ar", "--unit", "SN", "--year", YEAR, "--format", "odt")
    assert r.code == 2 and "Okänt format" in r.err
    r = cli("report", "ar", "--unit", "SN", "--year", YEAR, "--format", "docx", "--out", tmp_path / "ar.docx")
    assert r.code == 0
    from docx import Document
    from docx.oxml.ns import qn

    word = Document(str(tmp_path / "ar.docx"))
    assert word.paragraphs[1].text.startswith("Årsrapport intern kontroll") and len(word.tables) >= 2
    assert "ikcheck-kontrollsumma:" in word.core_properties.keywords
    footer = word.sections[0].footer
    assert footer.paragraphs[0].text.endswith("\tSida  av ")  # the numbers are Word's fields:
    fields = footer._element.findall(".//" + qn("w:fldSimple"))
    assert [f.get(qn("w:instr")).strip() for f in fields] == ["PAGE", "NUMPAGES"]
    # an åtgärd group's heading row (its kontrollpunkt) stays on the page of its first åtgärd
    actions = next(t for t in word.tables if t.rows[0].cells[0].text == "Kod")
    groups = [row for row in actions.rows[1:] if len({id(c._tc) for c in row.cells}) == 1]
    assert groups and all(p.paragraph_format.keep_with_next for row in groups for p in row.cells[0].paragraphs)
    r = cli("report", "ks", "--year", YEAR, "--format", "docx", "--out", tmp_path / "ks.docx")
    assert r.code == 0
    ks = Document(str(tmp_path / "ks.docx"))
    headings = [p.text for p in ks.paragraphs if p.style.name.startswith("Heading")]
    assert headings[0] == "KS-sammanställning intern kontroll 2025" and "Översikt" in headings
    assert headings[-1] == "Underlag och spårbarhet" and len(ks.tables) >= 3
    # as the PDF has it: spaces between the colour badges, the columns' proportions, the chart's figures
    assert any(re.search(r"\d+ grön\w* \d+ gul\w* \d+ röd", p.text) for p in ks.paragraphs)
    overview = ks.tables[0]
    assert overview.columns[9].width > 3 * overview.columns[1].width  # Skäl 22 %, Bedömning 6 %
    units = [row.cells[0].text for row in overview.rows[1:]]
    chart = next(t for t in ks.tables if len(t.columns) == 2)
    assert [row.cells[0].text for row in chart.rows] == units
    assert [row.cells[1].text for row in chart.rows] == [row.cells[6].text for row in overview.rows[1:]]


def test_word_documents_are_swedish_and_read_as_their_pdf(cycle, cli, tmp_path):
    """What a secretary sees on opening the Word file, rendered through LibreOffice: the text was
    marked en-US (Word underlined every Swedish word, a screen reader read it in English); narrow
    columns broke words anywhere ("Myndighetsutö/vning"), where the PDF hyphenates; the colour badges
    were plain bold; numbers stood to the left; an empty line before the appendix made an empty page.
    And a hash in a table cell must never be hyphenated, in the PDF either: the hyphen reads as part
    of it."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, RGBColor

    w = lambda name: qn(f"w:{name}")  # noqa: E731
    sent = reports.submit(cycle, "SN", YEAR, "ar", out_dir=tmp_path, date="2026-02-20")
    assert cli("report", "ks", "--year", YEAR, "--format", "docx", "--out", tmp_path / "ks.docx").code == 0
    word = Document(str(tmp_path / "ks.docx"))
    lang = word.styles.element.find(f"{w('docDefaults')}/{w('rPrDefault')}/{w('rPr')}/{w('lang')}")
    assert lang.get(w("val")) == "sv-SE"
    section = word.sections[0]  # A4, not python-docx's US Letter
    assert abs(section.page_width - Cm(29.7)) < Cm(0.01) and abs(section.page_height - Cm(21)) < Cm(0.01)
    # hyphenation in table cells only, as in the PDF
    assert word.settings.element.find(w("autoHyphenation")) is not None
    outside = word.element.body.findall(w("p"))
    assert outside and all(p.find(f"{w('pPr')}/{w('suppressAutoHyphens')}") is not None for p in outside)
    overview = word.tables[0]
    bun = next(r for r in overview.rows if r.cells[0].text == "Barn- och utbildningsnämnden")
    assert bun.cells[0].paragraphs[0]._p.find(f"{w('pPr')}/{w('suppressAutoHyphens')}") is None
    heading = overview.rows[0].cells[1]
    assert heading.text == "Bedömning" and heading._tc.find(f".//{w('softHyphen')}") is not None  # Bedöm-/ning
    # numbers to the right, words to the left
    assert overview.rows[0].cells[5].text == "Utförda"
    assert bun.cells[5].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert bun.cells[0].paragraphs[0].alignment is None
    # the badges in the CSS's colours, dark text on each (white on this green or red is under 4.5:1)
    css = (bundled("reports") / "ikcheck.css").read_text(encoding="utf-8")
    colours = {"grön": "5CB85C", "gul": "F0AD4E", "röd": "D9534F"}
    for word_, fill in colours.items():
        assert f"#{fill.lower()}" in css
        run = next(r for p in word.paragraphs for r in p.runs if re.fullmatch(rf"\d+ {word_}\w*", r.text.strip()))
        assert run._r.find(f"{w('rPr')}/{w('shd')}").get(w("fill")) == fill and run.bold
        assert run.font.color.rgb == RGBColor(0x11, 0x11, 0x11)
    # a submitted report's hash: whole, in Word and in the PDF
    appendix = next(t for t in word.tables if t.rows[0].cells[-1].text == "Inlämnad rapport")
    row = next(r for r in appendix.rows if r.cells[0].text == "Socialnämnden")
    assert sent["hash"] in row.cells[-1].text
    assert row.cells[-1].paragraphs[0]._p.find(f"{w('pPr')}/{w('suppressAutoHyphens')}") is not None
    assert cli("report", "ks", "--year", YEAR, "--format", "pdf", "--out", tmp_path / "ks.pdf").code == 0
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "ks.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert sent["hash"] in re.sub(r"\s+", "", text)
    # a table's heading and caption go to the table's page (the draft plan's "Kontrollpunkter" stayed
    # behind at the foot of page 1, its table on page 2)
    body = list(word.element.body)
    introduced = [body[i - 1] for i, e in enumerate(body) if e.tag == w("tbl") and body[i - 1].tag == w("p")
                  and "".join(body[i - 1].itertext()).strip()]
    assert introduced and all(e.find(f"{w('pPr')}/{w('keepNext')}") is not None for e in introduced)
    # the appendix starts on a new page, with no empty line left behind on the page before
    title = next(p for p in word.paragraphs if p.text == "Underlag och spårbarhet")
    assert title.paragraph_format.page_break_before
    before = title._p.getprevious()
    assert before.tag != w("p") or "".join(before.itertext()).strip()


def test_a_kommuns_word_template_keeps_its_logo_paper_and_styles(cycle, tmp_path):
    """mall.docx in the reports folder is the base of the Word documents. The running header was
    written over the template's first header line, so a kommun's logo disappeared; a portrait
    template made the plan's nine columns portrait too, where the PDF is landscape. Without a template
    the paper is A4: python-docx's own default is US Letter."""
    import dataclasses
    import shutil

    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    from docx.shared import Cm
    from PIL import Image

    from ikcheck.app import App
    from ikcheck.reporting import plan as plan_out

    def a4_landscape(section):
        return section.orientation == WD_ORIENT.LANDSCAPE and abs(section.page_width - Cm(29.7)) < Cm(0.01) \
            and abs(section.page_height - Cm(21)) < Cm(0.01)

    plain = Document(str(plan_out.export(cycle, "SN", YEAR, "docx", tmp_path / "plain.docx")))
    assert a4_landscape(plain.sections[0])
    shaded = lambda p: sum(r._r.find(f"{qn('w:rPr')}/{qn('w:shd')}") is not None for r in p.runs)  # noqa: E731
    assert any(shaded(p) >= 3 for p in plain.paragraphs)  # the heat map's legend: each level in its colour
    folder = tmp_path / "rapporter"
    shutil.copytree(bundled("reports"), folder)
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (31, 78, 121)).save(logo)
    mall = Document()
    section = mall.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4 portrait, as a kommun's letters
    section.left_margin = section.right_margin = Cm(2.5)
    mall.styles["Normal"].font.name = "Georgia"
    line = section.header.paragraphs[0]
    line.add_run().add_picture(str(logo), width=Cm(3))
    line.add_run(" Exempelby kommun")
    mall.save(folder / "mall.docx")
    app = App(dataclasses.replace(cycle.settings, reports_dir=folder))
    word = Document(str(plan_out.export(app, "SN", YEAR, "docx", tmp_path / "plan.docx")))
    section = word.sections[0]
    assert a4_landscape(section) and abs(section.left_margin - Cm(2.5)) < Cm(0.01)
    logo_line, running = section.header.paragraphs[:2]
    assert logo_line._p.find(".//" + qn("w:drawing")) is not None and logo_line.text == " Exempelby kommun"
    assert running.text == f"Plan för intern kontroll {YEAR} – Socialnämnden\tDnr SN 2024/1 · version 1"
    assert word.styles["Normal"].font.name == "Georgia"
    lang = word.styles.element.find(".//" + qn("w:rPrDefault") + "/" + qn("w:rPr") + "/" + qn("w:lang"))
    assert lang.get(qn("w:val")) == "sv-SE"
    # the decision's facts in a column, as in the PDF's box
    facts = [p for p in word.paragraphs if p.text.split("\t")[0] in ("Beslutad av", "Datum", "Paragraf", "Diarienummer")]
    assert len(facts) == 4 and len({tuple(t.position for t in p.paragraph_format.tab_stops) for p in facts}) == 1
    assert facts[0].paragraph_format.tab_stops[0].position > Cm(2)


def test_every_workbook_names_its_fonts(cycle, cli, tmp_path):
    """A bold heading was Font(bold=True) with no name: Calibri in Excel, a serif in LibreOffice,
    which some kommuner use. Every cell's font now says Calibri."""
    for *args, out in [
        ("plan", "export", "--unit", "SN", "--year", YEAR, "--format", "xlsx", "--out", "plan.xlsx"),
        ("report", "ar", "--unit", "SN", "--year", YEAR, "--format", "xlsx", "--out", "ar.xlsx"),
        ("report", "ks", "--year", YEAR, "--format", "xlsx", "--out", "ks.xlsx"),
        ("results", "template", "--unit", "SN", "--year", YEAR, "--period", "helar", "--out", "mall.xlsx"),
        ("workshop", "template", "--unit", "SN", "--year", YEAR + 1, "--participants", 1, "--out", "workshop.xlsx"),
    ]:
        assert cli(*args, tmp_path / out).code == 0, args
        wb = load_workbook(tmp_path / out)
        unnamed = [f"{ws.title}!{c.coordinate}" for ws in wb.worksheets for row in ws.iter_rows() for c in row
                   if c.value is not None and c.font.name != "Calibri"]
        assert not unnamed, (out, unnamed[:5])


def test_out_may_be_a_directory_and_a_wrong_ending_is_refused(cycle, cli, tmp_path):
    """A directory given to --out gets the usual file name inside it (it used to end in
    IsADirectoryError); a name without an ending gets its format's; another format's ending is refused
    instead of writing, say, a PDF into "h.html"; a path that cannot be written is a Swedish error."""
    d = tmp_path / "ut"
    d.mkdir()
    for args, name in [
        (("report", "halvar", "--unit", "SN", "--year", YEAR, "--format", "html", "--out"), f"halvarsrapport-SN-{YEAR}.html"),
        (("plan", "export", "--unit", "SN", "--year", YEAR, "--format", "xlsx", "--out"), f"plan-SN-{YEAR}.xlsx"),
        (("query", "actions", "--format", "csv", "--out"), "actions.csv"),
        (("results", "template", "--unit", "SN", "--year", YEAR, "--period", "helar", "--out"), f"resultat-SN-{YEAR}-helar.xlsx"),
        (("workshop", "template", "--unit", "SN", "--year", YEAR + 1, "--participants", 2, "--out"),
         f"workshop-SN-{YEAR + 1}-deltagare-2.xlsx"),
        (("risk", "heatmap", "--unit", "Socialnämnden", "--year", YEAR, "--html"), f"riskkarta-SN-{YEAR}.html"),
    ]:
        r = cli(*args, d)
        assert r.code == 0 and (d / name).is_file(), (args, r.text)
    r = cli("report", "ks", "--year", YEAR, "--format", "pdf", "--out", tmp_path / "ks")
    assert r.code == 0 and (tmp_path / "ks.pdf").read_bytes().startswith(b"%PDF")
    r = cli("report", "halvar", "--unit", "SN", "--year", YEAR, "--format", "pdf", "--out", tmp_path / "h.html")
    assert r.code == 2 and "namnet ska sluta på .pdf" in r.err and not (tmp_path / "h.html").exists()
    blocker = tmp_path / "fil"
    blocker.write_text("x")
    r = cli("query", "actions", "--format", "csv", "--out", blocker / "a.csv")
    assert r.code == 2 and r.err.startswith(f"Fel: {blocker} kunde inte skrivas eller läsas: ") and "Traceback" not in r.err


def test_swedish_words_for_periods_and_reports_are_accepted(cycle, cli, tmp_path, monkeypatch):
    """halvår, helår, år are what a Swede types; halvar, helar, ar keep working (#21)."""
    monkeypatch.chdir(tmp_path)
    r = cli("results", "template", "--unit", "SN", "--year", YEAR, "--period", "Halvår", "--out", tmp_path / "m.xlsx")
    assert r.code == 0, r.text
    assert (tmp_path / "m.xlsx").is_file()
    by_word = cli("results", "list", "--unit", "SN", "--year", YEAR, "--period", "helår").out
    by_code = cli("results", "list", "--unit", "SN", "--year", YEAR, "--period", "helar").out
    assert by_word == by_code and "SN-2025" in by_word
    assert cli("query", "results", "--unit", "SN", "--period", "halvår").out == \
        cli("query", "results", "--unit", "SN", "--period", "halvar").out
    r = cli("report", "ks", "--year", YEAR, "--period", "år", "--format", "xlsx", "--out", tmp_path / "ks.xlsx")
    assert r.code == 0, r.text
    r = cli("report", "ks", "--year", YEAR, "--period", "kvartal", "--format", "xlsx")
    assert r.code == 2 and "välj halvår eller år" in r.err
    r = cli("results", "template", "--unit", "SN", "--year", YEAR, "--period", "kvartal")
    assert r.code == 2 and "rapporterar: halvår, helår" in r.err
    assert "Rapportering: halvår, helår" in cli("org", "show").out


def test_plan_edit_takes_the_reporting_it_shows(app, kommun, cli):
    planning.derive(app, "KFN", YEAR)
    code = planning.show(app, "KFN", YEAR)["lines"][0]["kod"]
    r = cli("plan", "edit", "--unit", "KFN", "--year", YEAR, "--code", code, "--reporting", "halvår, helår")
    assert r.code == 0, r.text
    line = next(ln for ln in planning.show(app, "KFN", YEAR)["lines"] if ln["kod"] == code)
    assert line["rapportering"] == "halvår, helår"


def test_an_election_year_tolerates_a_december_decision_everywhere(app, tmp_path):
    """2022, 2026, … by default; here the kommun lists 2024 as its election year, so BUN's decision of
    9 December 2024 is on time in plan list, the årshjul rules (KS summary) and the web (#21)."""
    rr = bundled("riskregister") / "demo"
    text = (rr / "exempelby.yaml").read_text(encoding="utf-8")
    assert "arshjul:\n" in text
    org_file = tmp_path / "valår.yaml"
    org_file.write_text(text.replace("arshjul:\n", "arshjul:\n  valår: [2024]\n", 1), encoding="utf-8")
    demo.build_kommun(app, org_file, rr / "risker.yaml")
    for unit, date in (("SN", "2024-11-21"), ("BUN", "2024-12-09")):
        planning.derive(app, unit, YEAR)
        planning.accept(app, unit, YEAR)
        planning.decide(app, unit, YEAR, date, "§ 1", f"{unit} 2024/1")
    plans = {p["enhet"]: p for p in planning.list_plans(app, YEAR, on=dt.date(2025, 1, 15))}
    assert plans["BUN"]["sen"] == "" and plans["BUN"]["sista dag"] == dt.date(2024, 12, 31)
    assert plans["KFN"]["sen"] == "15 dagar"  # not decided: late from 31 December
    with app.session() as s:
        org = app.org(s)
        assert calendar.election_year(org, 2024) and not calendar.election_year(org, 2026)
        ks = datasets.ks_summary(app, s, org, YEAR, "halvar")
    bun = next(u for u in ks["units"] if u["code"] == "BUN")
    assert not [t for t in bun["timing"] if "för sent" in t["message"]]


def test_the_default_election_years_are_every_fourth_from_2026(app, kommun):
    with app.session() as s:
        org = app.org(s)
        assert [y for y in range(2020, 2032) if calendar.election_year(org, y)] == [2022, 2026, 2030]
        assert calendar.deadline(org, "plan_beslut", 2026) == dt.date(2026, 12, 31)
        assert calendar.deadline(org, "plan_beslut", 2025) == dt.date(2025, 11, 30)


def test_pdfs_are_tagged_pdf_a_with_title_author_and_language(cycle, tmp_path):
    """What an ärendesystem archives and a screen reader reads (issue #20): PDF/A-3a, a structure tree,
    Swedish, the document's title, the kommun as author, every font embedded."""
    import pikepdf

    from ikcheck.reporting import plan as plan_out

    docs = [plan_out.export(cycle, "SN", YEAR, "pdf", tmp_path / "plan.pdf"),
            reports.unit_report(cycle, "SN", YEAR, "halvar", "pdf", tmp_path / "halvar.pdf")[0],
            reports.unit_report(cycle, "SN", YEAR, "ar", "pdf", tmp_path / "ar.pdf")[0],
            reports.ks_report(cycle, YEAR, "ar", "pdf", tmp_path)[0]]
    for path in docs:
        with pikepdf.open(path) as pdf:
            root = pdf.Root
            assert "/StructTreeRoot" in root and root.MarkInfo.Marked, path.name
            assert str(root.Lang) == "sv", path.name
            meta = pdf.open_metadata()
            assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "A", path.name
            assert meta["dc:title"].startswith(("Plan för intern kontroll 2025", "Halvårsrapport", "Årsrapport", "KS")), \
                meta["dc:title"]
            assert str(pdf.docinfo["/Author"]) == "Exempelby kommun", path.name
            for page in pdf.pages:
                for font in (page.Resources.get("/Font") or {}).values():
                    desc = font.get("/FontDescriptor") or font.DescendantFonts[0].FontDescriptor
                    assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), (path.name, font.BaseFont)

    # reading order: the headings in the order the document has them, and the plan's table read row by
    # row, cell by cell (a header row of its nine column headings, then a row of nine cells per line)
    with pikepdf.open(docs[0]) as pdf:
        order = [s for s in _structure(pdf.Root.StructTreeRoot) if s in ("/H1", "/H2", "/Table")]
        assert order[0] == "/H1" and order.count("/H2") >= 8 and order.index("/Table") > order.index("/H2")
        document = _first(pdf.Root.StructTreeRoot, "/Document")
        # the document's <main> is a Part on each page it spans; read through them
        kids = [k for part in _kids(document) for k in (_kids(part) if str(part.S) == "/Part" else [part])]
        start = next(i for i, k in enumerate(kids) if str(k.S) == "/Table")
        parts = []  # a table that runs over pages is one Table per page, each with its header row
        for k in kids[start:]:
            if str(k.S) != "/Table":
                break
            parts.append(k)
        rows = []
        for part in parts:
            head, *bodies = _kids(part)
            assert str(head.S) == "/THead" and [str(c.S) for c in _kids(_kids(head)[0])] == ["/TH"] * 9
            rows += [r for b in bodies for r in _kids(b)]
        lines = planning.show(cycle, "SN", YEAR)["lines"]
        assert len(rows) == len(lines) and all([str(c.S) for c in _kids(r)] == ["/TD"] * 9 for r in rows)


def _kids(node) -> list:
    import pikepdf

    k = node.get("/K")
    items = [] if k is None else (list(k) if isinstance(k, pikepdf.Array) else [k])
    return [x for x in items if isinstance(x, pikepdf.Dictionary) and "/S" in x]


def _structure(node) -> list[str]:
    """The structure tree's element types in reading order (depth first)."""
    return [str(node.S)] + [s for kid in _kids(node) for s in _structure(kid)] if "/S" in node else \
        [s for kid in _kids(node) for s in _structure(kid)]


def _first(node, kind: str):
    if "/S" in node and str(node.S) == kind:
        return node
    return next((found for kid in _kids(node) if (found := _first(kid, kind)) is not None), None)


def test_report_text_and_decision_through_the_cli(cycle, cli, tmp_path):
    """Förvaltningens bedömning written once is in every report written after; the nämnd's decision is
    recorded on the submitted report, § as minutes write it."""
    own = tmp_path / "bedomning.txt"
    own.write_text("Kontrollen fungerar i huvudsak.\nTvå brister återstår.\n\n- Attest\n- Delegation\n", encoding="utf-8")
    assert cli("report", "text", "--unit", "SN", "--year", YEAR, "--period", "år", "--file", own).code == 0
    assert "Två brister återstår." in cli("report", "text", "--unit", "SN", "--year", YEAR, "--period", "år").out
    path, _ = reports.unit_report(cycle, "SN", YEAR, "ar", "html", tmp_path / "ar.html")
    html = path.read_text(encoding="utf-8")
    assert "<p>Kontrollen fungerar i huvudsak.<br>Två brister återstår.</p>" in html and "<li>Delegation</li>" in html
    r = cli("report", "decide", "--unit", "SN", "--year", YEAR, "--date", "2026-03-18", "--paragraph", "§31")
    assert r.code == 2 and "inte inlämnad" in r.text
    assert cli("report", "submit", "--unit", "SN", "--year", YEAR, "--date", "2026-02-20", "--dir", tmp_path).code == 0
    r = cli("report", "decide", "--unit", "SN", "--year", YEAR, "--date", "2026-03-18", "--paragraph", "§31")
    assert r.code == 0, r.text
    from ikcheck.store.models import ReportRecord
    from sqlalchemy import select

    with cycle.session() as s:
        rec = s.scalar(select(ReportRecord).where(ReportRecord.submitted_at.is_not(None)))
        assert (rec.decision_date, rec.decision_paragraph) == (dt.date(2026, 3, 18), "§ 31")
    assert cli("audit", "verify").code == 0


def test_plan_texts_through_the_cli(app, kommun, cli, tmp_path):
    planning.derive(app, "SN", YEAR)
    proposal = tmp_path / "forslag.txt"
    proposal.write_text("Socialnämnden beslutar\n- att anta planen", encoding="utf-8")
    assert cli("plan", "text", "--unit", "SN", "--year", YEAR, "--forslag", proposal).code == 0
    shown = cli("plan", "text", "--unit", "SN", "--year", YEAR).out
    assert "att anta planen" in shown
    from ikcheck.reporting import plan as plan_out

    html = plan_out.export(app, "SN", YEAR, "html", tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "<h2>Förslag till beslut</h2>" in html and "<li>att anta planen</li>" in html
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-11-21", "§ 1", "SN 2024/1")
    r = cli("plan", "text", "--unit", "SN", "--year", YEAR, "--inledning", proposal)
    assert r.code == 2 and "beslutad" in r.text.lower()  # frozen by the decision


def test_a_draft_plan_says_so_on_every_page(app, kommun, tmp_path):
    """Issue #20: a draft printed or attached by mistake cannot be taken for the decided plan."""
    from ikcheck.reporting import plan as plan_out

    planning.derive(app, "SN", YEAR)
    path = plan_out.export(app, "SN", YEAR, "pdf", tmp_path / "utkast.pdf")
    pages = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3 and all("Utkast – ej beslutad · version 1" in p for p in pages)  # the running header
    # the watermark, drawn on every page in its pale red (a rotated word pdftotext does not read)
    for n in range(1, len(pages) + 1):
        subprocess.run(["pdftoppm", "-r", "20", "-f", str(n), "-l", str(n), str(path), str(tmp_path / "sida")],
                       check=True)
        raw = next(tmp_path.glob(f"sida-*{n}.ppm")).read_bytes()
        pixels = raw.split(b"\n", 3)[3]  # P6, width height, 255, then RGB triples
        tinted = sum(1 for i in range(0, len(pixels) - 2, 3)
                     if pixels[i] > 240 and 220 <= pixels[i + 1] <= 236 and 220 <= pixels[i + 2] <= 236)
        assert tinted > 200, (n, tinted)
    html = plan_out.export(app, "SN", YEAR, "html", tmp_path / "utkast.html").read_text(encoding="utf-8")
    assert 'class="watermark"' in html and "Dnr " not in html


def test_kommunstyrelsens_own_report_is_not_sent_to_itself(app, kommun, tmp_path):
    """A nämnd's report is approved and sent to KS; KS's own report is approved, and its plan says its
    results are summarised with the others' under its uppsikt, not handed to itself."""
    for unit in ("KS", "SN"):
        planning.derive(app, unit, YEAR)
        planning.accept(app, unit, YEAR)
        planning.decide(app, unit, YEAR, "2024-11-21", "§ 1", f"{unit} 2024/1")
    from ikcheck.reporting import plan as plan_out

    said = {}
    for unit in ("KS", "SN"):
        path, _ = reports.unit_report(app, unit, YEAR, "halvar", "html", tmp_path / f"{unit}.html")
        plan = plan_out.export(app, unit, YEAR, "html", tmp_path / f"plan-{unit}.html")
        said[unit] = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", p.read_text(encoding="utf-8"))) for p in (path, plan)]
    (ks_report, ks_plan), (sn_report, sn_plan) = said["KS"], said["SN"]
    assert f"att godkänna halvårsrapporten för intern kontroll {YEAR}." in ks_report
    assert "lämna den till kommunstyrelsen" not in ks_report and "lämnas till kommunstyrelsen" not in ks_plan
    assert "sammanställs med nämndernas och bolagens i kommunstyrelsens uppsikt" in ks_plan
    assert "att lämna den till kommunstyrelsen" in sn_report and "som därefter lämnas till kommunstyrelsen" in sn_plan
