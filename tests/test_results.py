"""Control results: template, import from xlsx and Swedish CSV, evaluation, corrections, actions,
and a corpus of broken files that must each be refused in Swedish without changing a byte."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import MetaData, select

from ikcheck import actions, demo, planning, results
from ikcheck.errors import ValidationFailed
from ikcheck.workbooks import reader
from ikcheck.workbooks.reader import Formula
from ikcheck.store.models import Action, Conclusion, ControlResult

YEAR = demo.DEMO_YEAR
ON = dt.date(YEAR + 1, 1, 31)


@pytest.fixture
def kommun(kommun, app):
    """The demo register, with decided plans for SN and BUN."""
    org = kommun
    for unit in ("SN", "BUN"):
        planning.derive(app, unit, YEAR)
        planning.accept(app, unit, YEAR)
        planning.decide(app, unit, YEAR, "2024-11-21", "§ 1", f"{unit} 2024/1")
    return org


def dump(app) -> list:
    """Every row of every table, ordered: equal dumps mean an unchanged database."""
    meta = MetaData()
    meta.reflect(app.db.engine)
    out = []
    with app.db.engine.connect() as c:
        for name in sorted(meta.tables):
            t = meta.tables[name]
            rows = c.execute(t.select().order_by(*t.primary_key.columns)).all()
            out.append((name, [tuple(r) for r in rows]))
    return out


def filled(app, tmp_path, unit="SN", period="halvar", name=None, **kw) -> Path:
    blank = results.template(app, unit, YEAR, period, tmp_path / f"mall-{unit}-{period}.xlsx")
    return demo.fill_results(blank, tmp_path / (name or f"{unit}-{period}.xlsx"), random.Random(1), period, YEAR, **kw)


def edit_cell(path: Path, header: str, row: int, value, out: Path | None = None) -> Path:
    wb = load_workbook(path)
    ws = wb["Resultat"]
    col = {c.value: c.column for c in ws[1]}
    ws.cell(row, col[header]).value = value  # (ws.cell(r, c, None) would leave the cell as it was)
    wb.save(out or path)
    return out or path


def test_template_has_a_row_per_due_point_and_dropdowns(app, kommun, tmp_path):
    path = results.template(app, "SN", YEAR, "halvar", tmp_path / "t.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Instruktioner", "Resultat", "Åtgärder", "Info"]
    assert wb["Info"].sheet_state == "hidden"
    ws = wb["Resultat"]
    codes = [r[0].value for r in ws.iter_rows(min_row=2)]
    plan = planning.show(app, "SN", YEAR)
    assert codes == [ln["kod"] for ln in plan["lines"] if "halvår" in ln["rapportering"]]
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert '"ja,nej"' in lists and '"inga avvikelser,mindre avvikelser,väsentliga brister"' in lists


def test_import_evaluates_and_derives_assessments(app, kommun, tmp_path):
    path = filled(app, tmp_path, bad={0})
    path = edit_cell(path, "Godkänd av", 3, "Sara Ek")
    path = edit_cell(path, "Utförd av", 3, "Sara Ek")
    path = edit_cell(path, "Bedömning", 4, "inga avvikelser")
    path = edit_cell(path, "Antal avvikelser", 4, 5)
    r = results.import_files(app, [path], on=ON)
    rows = results.list_results(app, "SN", YEAR, "halvar")
    assert r.new == len(rows) > 3
    first = rows[0]
    assert first["bedömning"] == "väsentliga brister" and first["bedömd av"] == "RES-02"
    assert r.findings["bristande_dualitet"] == 1
    assert r.findings["motstridig_bedömning"] == 1  # reported "inga avvikelser" with 5 deviations
    assert rows[2]["bedömning"] == "inga avvikelser" and rows[2]["bedömd av"] == "rapportör"
    with app.session() as s:
        assert s.scalars(select(Action)).all()  # the åtgärd written in the file
        names = set(s.scalars(select(Conclusion.name)))
    assert {"bedömning", "bristande_dualitet", "motstridig_bedömning"} <= names


def test_same_file_twice_changes_nothing_and_says_so(app, kommun, tmp_path, cli):
    path = filled(app, tmp_path)
    assert cli("results", "import", path).code == 0
    before = dump(app)
    r = cli("results", "import", path)
    assert r.code == 0 and "Redan inläst, ingenting ändrat" in r.out
    assert dump(app) == before


def test_correction_supersedes_with_reason_and_keeps_the_old(app, kommun, tmp_path):
    path = filled(app, tmp_path)
    results.import_files(app, [path], on=ON)
    fixed = edit_cell(path, "Antal granskade", 2, 99, tmp_path / "rättad.xlsx")
    before = dump(app)
    with pytest.raises(ValidationFailed, match="ange skälet|Ange skälet"):
        results.import_files(app, [fixed], on=ON)
    assert dump(app) == before
    r = results.import_files(app, [fixed], reason="Fel antal i första filen", on=ON)
    assert (r.corrected, r.new) == (1, 0)
    hist = [x for x in results.list_results(app, "SN", YEAR, "halvar", history=True) if x["id"] in (1,) or x["version"] == 2]
    assert any(x["version"] == 2 and x["granskade"] == 99 and x["rättelse"] == "Fel antal i första filen" for x in hist)
    with app.session() as s:
        old = s.get(ControlResult, 1)
        assert old.is_current is False and old.examined != 99


def test_a_workbook_saved_under_another_name_is_read_by_its_content(app, kommun, tmp_path):
    path = filled(app, tmp_path)
    renamed = path.rename(tmp_path / "resultat SN.xls")  # a workbook, whatever its name says
    assert results.import_files(app, [renamed], on=ON).new > 0


def test_a_folder_of_returned_templates_is_read_whole_leaving_out_excels_lock_files(app, kommun, tmp_path, cli):
    """A controller saves the returned files in one folder and reads in the folder; an Excel lock file
    beside a workbook still open is left out of the folder, and named for what it is when given."""
    folder = tmp_path / "inkommna"
    folder.mkdir()
    filled(app, folder, unit="SN", name="SN halvår.xlsx")
    filled(app, folder, unit="BUN", name="BUN halvår.xlsx")
    for blank in folder.glob("mall-*"):
        blank.unlink()  # the templates filled() wrote beside them
    lock = folder / "~$SN halvår.xlsx"
    lock.write_bytes(b"\x0aAnna Lind " + b"\x00" * 154)  # what Excel writes while the workbook is open
    (folder / "anteckningar").mkdir()  # a subfolder is not read
    r = cli("results", "import", lock)
    assert r.code == 2 and "filen är Excels låsfil för en arbetsbok som är öppen" in r.err, r.err
    r = cli("results", "import", folder)
    assert r.code == 0 and "2 filer inlästa" in r.out, r.err
    assert {x["kontrollpunkt"][:2] for u in ("SN", "BUN") for x in results.list_results(app, u, YEAR, "halvar")} \
        == {"SN", "BU"}
    empty = tmp_path / "tom"
    empty.mkdir()
    r = cli("results", "import", empty)
    assert r.code == 2 and "Mappen" in r.err and "har inga xlsx- eller csv-filer" in r.err, r.err


def test_an_id_typed_by_hand_is_read_and_a_near_miss_is_suggested(app, kommun, tmp_path):
    """A kontrollansvarig who types an id rather than keeping the template's: another case, spaces or
    Word's dash still name the kontrollpunkt; a digit short is refused with the id it was likely to be.
    Excel's own SANT in Utförd is a yes; any other word is told the two choices, not seven spellings."""
    good = filled(app, tmp_path, name="good.xlsx")
    ws = load_workbook(good)["Resultat"]
    first, second, third = (ws.cell(r, 1).value for r in (2, 3, 4))  # e.g. SN-2025-K01
    wrong = edit_cell(good, "Kontrollpunkt", 2, first[:-2] + first[-1:], tmp_path / "miss.xlsx")  # SN-2025-K1
    with pytest.raises(ValidationFailed) as exc:
        results.import_files(app, [wrong], on=ON)
    assert f"rad 2, kolumn A: okänd kontrollpunkt '{first[:-2] + first[-1:]}'; menar du {first}?" in str(exc.value)
    path = edit_cell(good, "Utförd (ja/nej)", 2, "kanske", tmp_path / "kanske.xlsx")
    with pytest.raises(ValidationFailed) as exc:
        results.import_files(app, [path], on=ON)
    assert "”kanske” är inget giltigt val (förväntat: ja eller nej)" in str(exc.value), str(exc.value)
    path = edit_cell(good, "Kontrollpunkt", 2, first.lower(), tmp_path / "typed.xlsx")
    path = edit_cell(path, "Kontrollpunkt", 3, " " + second.replace("-", "\u2013") + " ")
    path = edit_cell(path, "Kontrollpunkt", 4, third.replace("-", " - ", 1))
    path = edit_cell(path, "Utförd (ja/nej)", 2, True)  # SANT
    assert results.import_files(app, [path], on=ON).new == ws.max_row - 1
    stored = {x["kontrollpunkt"]: x for x in results.list_results(app, "SN", YEAR, "halvar")}
    assert {first, second, third} <= set(stored) and stored[first]["utförd"] is True, stored[first]
    # the same kontrollpunkt twice, once as typed by hand, is a duplicate like any other
    twice = edit_cell(good, "Kontrollpunkt", 3, first.lower(), tmp_path / "twice.xlsx")
    with pytest.raises(ValidationFailed) as exc:
        results.import_files(app, [twice], on=ON, reason="test")
    assert f"{first} halvår förekommer redan i twice.xlsx rad 2" in str(exc.value), str(exc.value)


def test_empty_row_is_not_reported_never_no_deviations(app, kommun, tmp_path):
    path = filled(app, tmp_path, skip=0)
    r = results.import_files(app, [path], on=ON)
    assert r.not_reported == 1 and r.findings["ej_rapporterad"] == 1
    codes = {x["kontrollpunkt"] for x in results.list_results(app, "SN", YEAR, "halvar")}
    first = planning.show(app, "SN", YEAR)["lines"][0]["kod"]
    assert first not in codes


def test_a_deficiency_needs_an_action_and_the_same_deficiency_twice_goes_to_ks(app, kommun, tmp_path):
    """RES-07 reads whether a result has an åtgärd and RES-08 the same control's previous assessment:
    both facts are assembled from the stored results of the whole plan."""
    def codes(period):
        ws = load_workbook(results.template(app, "SN", YEAR, period, tmp_path / f"t-{period}.xlsx"))["Resultat"]
        return [r[0].value for r in ws.iter_rows(min_row=2)]

    code = next(c for c in codes("halvar") if c in codes("helar"))  # reported in both periods
    half = filled(app, tmp_path, bad={codes("halvar").index(code)})
    half = edit_cell(half, "Åtgärd", 2 + codes("halvar").index(code), None)  # a deficiency with no åtgärd
    r = results.import_files(app, [half], on=ON)
    assert r.findings["åtgärd_krävs"] == 1 and "eskalera_till_ks" not in r.findings
    full = filled(app, tmp_path, period="helar", bad={codes("helar").index(code)})
    r = results.import_files(app, [full], on=ON)
    assert r.findings["eskalera_till_ks"] == 1 and "åtgärd_krävs" not in r.findings  # the file has its åtgärd
    with app.session() as s:
        subject = s.scalars(select(ControlResult).join(Conclusion, Conclusion.subject_id == ControlResult.id)
                            .where(Conclusion.name == "eskalera_till_ks")).one()
        assert (subject.control_point.code, subject.period) == (code, "helar")


def test_swedish_csv_in_cp1252_with_semicolons(app, kommun, tmp_path):
    plan = planning.show(app, "SN", YEAR)
    code = plan["lines"][0]["kod"]
    text = ("Enhet;Kontrollpunkt;Period;Utförd (ja/nej);Datum;Antal granskade;Antal avvikelser;Bedömning;Kommentar;"
            "Utförd av;Godkänd av\n"
            f"SN;{code};halvår;ja;2025-05-20;20,0;1;mindre avvikelser;Två ärenden saknade underskrift – åtgärdat;"
            "Åsa Öberg;Göran Ärlig\n")
    path = tmp_path / "resultat.csv"
    path.write_bytes(text.encode("cp1252"))
    r = results.import_files(app, [path], on=ON)
    assert r.new == 1
    row = results.list_results(app, "SN", YEAR, "halvar")[0]
    assert row["granskade"] == 20 and row["avvikelser"] == 1
    with app.session() as s:
        assert s.get(ControlResult, row["id"]).performed_by == "Åsa Öberg"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.replace(code, plan["lines"][1]["kod"]).replace(";", ",").replace("20,0", "20")
                    .encode("utf-8"))
    assert results.import_files(app, [bom], on=ON).new == 1


# --- the broken-input corpus ----------------------------------------------------------------------

def _corpus(app, tmp_path: Path) -> list[tuple[str, Path, list[str]]]:
    good = filled(app, tmp_path, name="good.xlsx")
    bun = filled(app, tmp_path, unit="BUN", name="bun.xlsx")
    cases = []

    def variant(name: str, header: str, row: int, value, words: list[str]):
        cases.append((name, edit_cell(good, header, row, value, tmp_path / f"{name}.xlsx"), words))

    variant("text-count", "Antal granskade", 2, "tjugo", ["rad 2", "kolumn K", "”tjugo” är inget heltal"])
    variant("negative", "Antal avvikelser", 3, -1, ["rad 3", "kolumn L", "utanför", "ett heltal ≥ 0"])
    variant("more-deviations", "Antal avvikelser", 2, 500, ["rad 2", "500 avvikelser men bara"])
    variant("unknown-point", "Kontrollpunkt", 2, "SN-2025-K99", ["okänd kontrollpunkt 'SN-2025-K99'"])
    variant("future", "Datum", 2, dt.date(2030, 1, 1), ["datumet 2030-01-01 ligger i framtiden"])
    variant("date-text", "Datum", 2, "i maj", ["”i maj” är inget datum", "ÅÅÅÅ-MM-DD"])
    variant("formula", "Antal granskade", 2, "=5*4", ["formeln ”=5*4”"])
    variant("old-version", "Planversion", 2, 7, ["planversion 7", "gällande plan är version 1"])
    variant("period", "Period", 2, "kvartal", ["”kvartal” är inget giltigt val"])
    # a BUN kontrollpunkt pasted into SN's file
    bun_code = load_workbook(bun)["Resultat"].cell(2, 1).value
    variant("other-unit", "Kontrollpunkt", 2, bun_code, [f"kontrollpunkten {bun_code} hör till BUN"])
    wb = load_workbook(good)
    ws = wb["Resultat"]
    ws.cell(1, 1, "Punkt")
    wb.save(tmp_path / "wrong-header.xlsx")
    cases.append(("wrong-header", tmp_path / "wrong-header.xlsx", ["kolumnen 'Kontrollpunkt' saknas"]))
    wb = load_workbook(good)
    wb["Resultat"].delete_cols(1)
    wb.save(tmp_path / "no-id.xlsx")
    cases.append(("no-id", tmp_path / "no-id.xlsx", ["kolumnen 'Kontrollpunkt' saknas"]))
    wb = load_workbook(good)
    wb["Resultat"].merge_cells("J2:K3")
    wb.save(tmp_path / "merged.xlsx")
    cases.append(("merged", tmp_path / "merged.xlsx", ["J2:K3 är sammanfogade"]))
    wb = load_workbook(good)
    wb["Resultat"].delete_rows(1, 200)
    wb.save(tmp_path / "empty-sheet.xlsx")
    cases.append(("empty-sheet", tmp_path / "empty-sheet.xlsx", ["bladet är tomt"]))
    (tmp_path / "empty.xlsx").write_bytes(b"")
    cases.append(("empty-file", tmp_path / "empty.xlsx", ["är tom"]))
    with zipfile.ZipFile(tmp_path / "zip.xlsx", "w") as z:
        z.writestr("word/document.xml", "<w/>")
    cases.append(("docx-as-xlsx", tmp_path / "zip.xlsx", ["Word-dokument"]))
    with zipfile.ZipFile(tmp_path / "zip2.xlsx", "w") as z:
        z.writestr("bilder/foto.txt", "x")
    cases.append(("zip-as-xlsx", tmp_path / "zip2.xlsx", ["zip-fil med annat innehåll"]))
    cut = tmp_path / "avbruten.xlsx"  # the sheet's XML ends halfway, as after a crash while saving
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(cut, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet2.xml" else data)
    cases.append(("cut-sheet-xml", cut, ["blad 'Resultat'", "bladet är skadat"]))
    bomb = tmp_path / "bomb.xlsx"  # 5 MB that unpack to 1.1 GB: the sheet padded with spaces
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename != "xl/worksheets/sheet2.xml":
                zout.writestr(item.filename, data)
                continue
            head, rest = data.split(b"<sheetData>")
            with zout.open(item.filename, "w", force_zip64=True) as fh:
                fh.write(head + b"<sheetData>")
                for _ in range(66):
                    fh.write(b" " * (1 << 24))
                fh.write(rest)
    cases.append(("zip-bomb", bomb, ["packas upp till 1056 MB", f"högst {reader.MAX_UNZIPPED >> 20} MB uppackat"]))
    big = tmp_path / "stor.xlsx"
    with open(big, "wb") as fh:
        fh.write(b"\x00" + os.urandom(1024) * (50 * 1024))  # 50 MB of binary noise with an .xlsx name
    cases.append(("50mb", big, ["varken en Excel-arbetsbok eller en textfil"]))
    code = load_workbook(good)["Resultat"].cell(2, 1).value
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("Kontrollpunkt;Period;Utförd (ja/nej);Datum;Antal granskade;Antal avvikelser;Bedömning;Utförd av;Godkänd av\n"
                     f"{code},halvår,ja,2025-05-01,10,0,,A,B\n", encoding="utf-8")
    cases.append(("mixed-separators", mixed, ["raden har 1 fält men rubrikraden har 9"]))
    quoting = tmp_path / "quote.csv"
    quoting.write_text("Kontrollpunkt;Period;Utförd (ja/nej);Datum;Antal granskade;Antal avvikelser;Bedömning;Utförd av;Godkänd av\n"
                       f'{code};halvår;ja;2025-05-01;10;0;"inga avvikelser;A;B\n', encoding="utf-8")
    cases.append(("broken-quoting", quoting, ["rad 2", "öppnas på raden men stängs aldrig"]))
    dup = tmp_path / "dup.xlsx"
    wb = load_workbook(good)
    ws = wb["Resultat"]
    ws.cell(3, 1, ws.cell(2, 1).value)
    wb.save(dup)
    cases.append(("duplicate", dup, ["förekommer redan i dup.xlsx rad 2"]))
    return cases


def test_broken_input_corpus_changes_nothing(app, kommun, tmp_path, cli):
    cases = _corpus(app, tmp_path)
    before = dump(app)
    for name, path, words in cases:
        with pytest.raises(ValidationFailed) as exc:
            results.import_files(app, [path], on=ON)
        text = str(exc.value)
        for w in words:
            assert w in text, (name, text)
        assert path.name in text, (name, text)
        assert dump(app) == before, name
    # one bad file among good ones: nothing from any of them is stored
    good = tmp_path / "good.xlsx"
    with pytest.raises(ValidationFailed):
        results.import_files(app, [good, tmp_path / "negative.xlsx"], on=ON)
    assert dump(app) == before
    r = cli("results", "import", tmp_path / "negative.xlsx")
    assert r.code == 2 and "fil negative.xlsx, blad 'Resultat', rad 3, kolumn L" in r.err
    assert dump(app) == before
    # the same file twice in one import (here under two names)
    copy = tmp_path / "good (kopia).xlsx"
    copy.write_bytes(good.read_bytes())
    r = cli("results", "import", good, copy)
    assert r.code == 2 and "fil good (kopia).xlsx: filen har samma innehåll som good.xlsx" in r.err
    assert dump(app) == before


def test_actions_update_close_and_overdue(app, kommun, tmp_path, cli):
    results.import_files(app, [filled(app, tmp_path, bad={0})], on=ON)
    acts = actions.list_actions(app, "SN", on=dt.date(YEAR, 7, 1))
    assert acts and acts[0]["status"] == "planerad"
    late = actions.list_actions(app, "SN", on=dt.date(YEAR + 1, 6, 1))
    assert late[0]["status"] == "försenad"
    code = acts[0]["kod"]
    assert cli("action", "update", code, "--status", "pågår", "--comment", "Utbildning bokad").code == 0
    r = cli("action", "update", code, "--status", "avbruten")
    assert r.code == 2 and "Okänd status" in r.err
    assert cli("action", "close", code, "--comment", "Utbildningen genomförd 2025-09-12").code == 0
    closed = next(a for a in actions.list_actions(app, "SN", on=dt.date(YEAR + 2, 1, 1)) if a["kod"] == code)
    assert closed["status"] == "klar" and "genomförd" in closed["senaste kommentar"]


# --- reading a sheet's cells --------------------------------------------------------------------

SHEET_XML = """<row r="1"><c r="A1"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>2</v></c><c r="B1"><v>1</v></c>\
<c r="C1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="D1" t="d"><v>2025-03-01T10:30:00</v></c>\
<c r="E1" t="e"><v>#DIV/0!</v></c><c r="F1" s="1"><v>45659.5</v></c><c r="H1" t="b"><v>0</v></c></row>\
<row r="2"><c r="A2"><f t="shared" si="0"/><v>4</v></c><c t="inlineStr"><is><r><t xml:space="preserve">Hej </t></r>\
<r><rPr><b/></rPr><t>då &lt;&amp;&gt;</t></r><rPh sb="0" eb="1"><t>X</t></rPh></is></c><c><v/></c><c><v>-1.5E-3</v></c>\
<c t="inlineStr"/></row><row r="5"><c r="C5"><f t="array" ref="C5:C6">SUM(A1:A2)</f><v>6</v></c></row>\
<row><c r="B6" t="s"><v>1</v></c></row><row r="7"/><row r="8"><c r="A8" t="s"><v>0</v></c></row>"""
SHARED_STRINGS = """<?xml version="1.0" encoding="UTF-8"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">\
<si><t>Kontrollpunkt &amp; år</t></si><si><r><t>fet</t></r><r><rPr><i/></rPr><t xml:space="preserve"> kursiv</t></r>\
<rPh sb="0" eb="1"><t>Y</t></rPh></si></sst>"""
SHARED_STRINGS_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                       'officedocument.spreadsheetml.sharedStrings+xml"/>')


def _sheet_variants(tmp_path: Path) -> list[Path]:
    """Workbooks as openpyxl writes them (inline strings, with a dimension), write-only (without one),
    one with hand-written XML for what openpyxl does not write (a shared string table as Excel's, shared
    and array formulas, rich inline text, cells and rows without a reference, gaps), and that one with
    a namespace prefix."""
    from openpyxl import Workbook

    values = ["Åsa <Öberg> & co", 7, -2.25, 1e-05, True, dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 13, 45),
              dt.timedelta(hours=30), None, "=SUM(B1:C1)", "#N/A", "", "  mellanslag  "]
    wb = Workbook()
    ws = wb.active
    ws.append(values)
    ws.append([])
    ws.append([None, None, "ensam"])
    ws.merge_cells("A4:B5")
    ws["A4"] = "sammanfogad"
    wb.save(tmp_path / "normal.xlsx")
    wo = Workbook(write_only=True)
    ws = wo.create_sheet("Blad")
    for i in range(50):
        ws.append([f"rad {i}", i, dt.date(2025, 1, 1) + dt.timedelta(days=i), None, "rad 0" if i % 3 else None])
    wo.save(tmp_path / "write-only.xlsx")

    def rewrite(source: Path, target: Path, change, strings: bool = False) -> Path:
        with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    data = change(data.decode()).encode()
                elif item.filename == "[Content_Types].xml" and strings:
                    data = data.replace(b"</Types>", SHARED_STRINGS_TYPE.encode() + b"</Types>")
                zout.writestr(item, data)
            if strings:  # as Excel saves text: in a shared table (openpyxl writes inline strings)
                zout.writestr("xl/sharedStrings.xml", SHARED_STRINGS)
        return target

    hand = rewrite(tmp_path / "write-only.xlsx", tmp_path / "hand.xlsx",
                   lambda xml: re.sub(r"<sheetData>.*</sheetData>", lambda _: f"<sheetData>{SHEET_XML}</sheetData>",
                                      xml, flags=re.S), strings=True)
    prefixed = rewrite(hand, tmp_path / "prefixed.xlsx", lambda xml: re.sub(
        r"<(/?)([A-Za-z]+)(?=[\s>/])", r"<\1x:\2",
        xml.replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                    'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')))
    return [tmp_path / "normal.xlsx", tmp_path / "write-only.xlsx", hand, prefixed]


def _comparable(rows) -> list:
    """openpyxl pads rows to the sheet's dimension when the file has one, and gives an array formula
    as an object with its text; values and positions count."""
    out = [[("str" if isinstance(v, Formula) else type(v).__name__, v) for v in (getattr(v, "text", v) for v in r)]
           for r in rows]
    for r in out:
        while r and r[-1] == ("NoneType", None):
            r.pop()
    while out and not out[-1]:
        out.pop()
    return out


def test_sheet_cells_are_read_as_openpyxl_reads_them(tmp_path):
    from ikcheck.workbooks.cells import Book

    for path in _sheet_variants(tmp_path):
        wb = load_workbook(path, read_only=True)
        ws = wb.worksheets[0]
        expected = list(ws.iter_rows(values_only=True))
        wb.close()
        with Book(path) as book:
            assert book.sheetnames == [ws.title] and book.sheets[0].state == "visible"
            sheet = book.read(book.sheets[0])
            assert book.read(book.sheets[0], max_rows=2).rows == sheet.rows[:2]
        assert _comparable(sheet.rows) == _comparable(expected), path.name
        assert len(_comparable(expected)) > 2, path.name  # the variant really has rows
        assert sheet.merged == (["A4:B5"] if path.name == "normal.xlsx" else []), path.name
    # rows out of order (openpyxl silently drops the later one): refused, so no row number is wrong
    with zipfile.ZipFile(path) as z:
        source = z.read("xl/worksheets/sheet1.xml").decode()
    swapped = tmp_path / "swapped.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(swapped, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = source.replace('<x:row r="8">', '<x:row r="2">').encode()
            zout.writestr(item, data)
    with Book(swapped) as book, pytest.raises(ValueError, match="row 2 comes after row 7"):
        book.read(book.sheets[0])


def test_the_template_is_locked_where_the_plan_speaks_and_takes_several_åtgärder(app, kommun, tmp_path):
    """Issue #20: the plan's columns are protected like the workshop template's, Kontrollmoment wraps,
    the risk is shown, and the sheet Åtgärder takes more åtgärder for a kontrollpunkt; an åtgärd for a
    kontrollpunkt the file does not report is refused with its sheet, row and column."""
    from openpyxl import load_workbook

    demo_mod = demo
    blank = results.template(app, "SN", YEAR, "halvar", tmp_path / "mall.xlsx")
    wb = load_workbook(blank)
    assert wb.sheetnames[:3] == ["Instruktioner", "Resultat", "Åtgärder"]
    ws = wb["Resultat"]
    head = [c.value for c in ws[1]]
    assert head[:8] == ["Kontrollpunkt", "Period", "Planversion", "Kontrollmoment", "Risk", "Metod", "Omfattning",
                        "Kontrollansvarig"]
    assert ws.protection.sheet and wb["Åtgärder"].protection.sheet
    assert ws.cell(2, 1).protection.locked and ws.cell(2, 4).protection.locked
    assert not ws.cell(2, head.index("Utförd (ja/nej)") + 1).protection.locked
    assert ws.cell(2, 4).alignment.wrap_text and ws.cell(2, 5).value.startswith("SN-R")
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1 and ws.print_title_rows
    assert "ikcheck " not in " ".join(str(c.value) for c in wb["Instruktioner"]["A"] if c.value)
    filled = demo_mod.fill_results(blank, tmp_path / "ifylld.xlsx", random.Random(1), "halvar", YEAR)
    wb = load_workbook(filled)
    first = wb["Resultat"].cell(2, 1).value
    more = wb["Åtgärder"]
    for r, text in ((2, "Ny checklista för förhandsbedömning"), (3, "Uppföljning på ledningsgruppen")):
        more.cell(r, 1).value, more.cell(r, 3).value = first, text
        more.cell(r, 4).value, more.cell(r, 5).value = "Enhetschef barn och unga", dt.date(YEAR, 10, 31)
    wrong = tmp_path / "fel.xlsx"
    more.cell(4, 1).value, more.cell(4, 3).value = "SN-2025-K99", "Finns inte"
    more.cell(4, 4).value, more.cell(4, 5).value = "Någon", dt.date(YEAR, 10, 31)
    wb.save(wrong)
    with pytest.raises(ValidationFailed) as e:
        results.import_files(app, [wrong], on=ON)
    text = "\n".join(str(p) for p in e.value.problems)
    assert "blad 'Åtgärder', rad 4, kolumn A" in text and "SN-2025-K99" in text
    more.cell(4, 1).value = more.cell(4, 3).value = more.cell(4, 4).value = more.cell(4, 5).value = None
    good = tmp_path / "rätt.xlsx"
    wb.save(good)
    results.import_files(app, [good], on=ON)
    with app.session() as s:
        texts = set(s.scalars(select(Action.description)))
    assert {"Ny checklista för förhandsbedömning", "Uppföljning på ledningsgruppen"} <= texts


def test_a_file_past_one_insert_chunk_links_every_row_and_action_to_its_own_result(app, tmp_path, cli):
    """Results are stored 5,000 at a time and their ids read back chunk by chunk: two files of 7,000
    and 4,000 rows (three chunks), with an åtgärd on every 97th row, each land on their own
    kontrollpunkt, the import events name their first and last result, and the log verifies."""
    import csv

    from ikcheck.store.db import bulk_insert
    from ikcheck.store.models import AuditEvent, ControlPlan, ControlPoint, ImportBatch, Organisation, Unit
    with app.session(write=True) as s:
        org = Organisation(code="stor", name="Storkommun", matrix_name="kommun-4x4",
                           settings={"periods": ["halvar", "helar"]})
        s.add(org)
        s.flush()
        unit = Unit(org_id=org.id, code="U", name="Enheten", kind="namnd")
        s.add(unit)
        s.flush()
        plan = ControlPlan(org_id=org.id, unit_id=unit.id, year=YEAR, version=1, status="decided", created_by="t",
                           decision_date=dt.date(YEAR - 1, 11, 20), decision_paragraph="§ 1", decision_dnr="1")
        s.add(plan)
        s.flush()
        bulk_insert(s, ControlPoint, [
            {"org_id": org.id, "plan_id": plan.id, "code": f"U-K{i:05d}", "position": i, "title": f"Kontroll {i}",
             "method": "stickprov", "sample_size": 20, "frequency": "halvår", "owner": "Ansvarig",
             "reporting": ["halvar", "helar"], "status": "accepted", "rule_id": "t"} for i in range(11_000)])
        plan.content_hash = planning.plan_content_hash(s, plan.id)  # decided as `plan decide` would record it
    head = ["Enhet", "Kontrollpunkt", "Period", "Utförd (ja/nej)", "Datum", "Antal granskade", "Antal avvikelser",
            "Bedömning", "Utförd av", "Godkänd av", "Åtgärd", "Åtgärd ansvarig", "Åtgärd klart senast"]
    files = []
    for name, span in (("a.csv", range(0, 7000)), ("b.csv", range(7000, 11_000))):
        path = tmp_path / name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(head)
            for i in span:
                act = i % 97 == 0
                w.writerow(["U", f"U-K{i:05d}", "halvår", "ja", f"{YEAR}-05-02", 20, i % 5, "", "Sara Ek", "Karin Ström",
                            f"Åtgärd för {i}" if act else "", "Chefen" if act else "", f"{YEAR}-10-31" if act else ""])
        files.append(path)
    report = results.import_files(app, files, org_code="stor", on=ON)
    assert report.new == 11_000 and report.actions == len(range(0, 11_000, 97))
    with app.session() as s:
        got = s.execute(select(ControlPoint.code, ControlResult.deviations, ControlResult.id, ImportBatch.filename)
                        .join(ControlResult, ControlResult.control_point_id == ControlPoint.id)
                        .join(ImportBatch, ImportBatch.id == ControlResult.import_batch_id)).all()
        assert len(got) == 11_000
        assert all(dev == int(code[3:]) % 5 for code, dev, _id, _f in got)
        assert all((f == "a.csv") == (int(code[3:]) < 7000) for code, _d, _id, f in got)
        linked = s.execute(select(ControlPoint.code, Action.description)
                           .join(ControlResult, ControlResult.id == Action.result_id)
                           .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)).all()
        assert len(linked) == report.actions and all(text == f"Åtgärd för {int(code[3:])}" for code, text in linked)
        events = [e.after for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "importera resultat"))]
        for ev in events:
            ids = sorted(i for _c, _d, i, f in got if f == ev["file"])
            assert ev["result_ids"] == [ids[0], ids[-1]] and ev["results"] == len(ids)
    r = cli("audit", "verify")
    assert r.code == 0, r.text
