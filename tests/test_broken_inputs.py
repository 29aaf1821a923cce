"""Files that cannot hurt: every kind of broken or deceptive input issue #17 found is refused with a
Swedish message naming file, sheet, row and column, and leaves the database file byte-identical;
the kinds that are merely unusual (Unicode text from Excel, BOMs) are read."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ikcheck import results, workshop
from ikcheck.errors import ValidationFailed
from ikcheck.workbooks import reader
from tests.conftest import BACKEND
from tests.test_results import ON, YEAR, dump, edit_cell, filled
from tests.test_results import kommun as kommun  # noqa: F401, PLC0414 - the fixture with SN's and BUN's plans

SHEET = "xl/worksheets/sheet2.xml"  # the template's Resultat sheet (sheet1 is the guide)


def fingerprint(app) -> object:
    """The database file's bytes on SQLite; every row on PostgreSQL."""
    if BACKEND == "sqlite":
        from ikcheck.store.db import dispose_all

        dispose_all()  # nothing held open: the file is at rest
        return hashlib.sha256(Path(app.settings.database_url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    return dump(app)


def refused(app, path: Path, *words: str, **kw) -> str:
    before = fingerprint(app)
    with pytest.raises(ValidationFailed) as exc:
        results.import_files(app, [path], on=ON, **kw)
    text = str(exc.value)
    for w in words:
        assert w in text, text
    assert path.name in text, text
    assert "None" not in text and "True" not in text and "\\x" not in text, text
    assert not re.search(r"Error\b|Exception|BadZipFile", text), text  # no Python class names
    assert fingerprint(app) == before, "the database changed"
    return text


def rezip(src: Path, out: Path, change) -> Path:
    """A copy of a workbook with one part's bytes changed by `change(name, data)`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item.filename, data)
    return out


def _text(v) -> str:
    """A cell as Swedish Excel writes it into a CSV."""
    if v is None:
        return ""
    if hasattr(v, "date") and callable(v.date):
        return v.date().isoformat()
    return str(v)


def csv_of(app, tmp_path: Path, name: str = "r.csv", unit: str | None = "SN", encoding: str = "utf-8",
           delimiter: str = ";") -> tuple[Path, list[list[str]]]:
    """SN's template as the CSV Excel would save from it: every row filled, an Enhet column."""
    wb = load_workbook(filled(app, tmp_path, name=f"{name}.xlsx"), data_only=True)
    ws = wb["Resultat"]
    rows = [[_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
    if unit:
        rows = [["Enhet", *rows[0]]] + [[unit, *r] for r in rows[1:]]
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path = tmp_path / name
    path.write_bytes(buf.getvalue().encode(encoding))
    return path, rows


# --- no traceback, whatever the damage --------------------------------------------------------

def test_damaged_deflate_data_in_a_sheet(app, kommun, tmp_path):
    good = filled(app, tmp_path)
    bad = tmp_path / "deflate.xlsx"
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo(SHEET)
    with open(good, "rb") as fh:
        fh.seek(info.header_offset + 26)
        n, m = int.from_bytes(fh.read(2), "little"), int.from_bytes(fh.read(2), "little")
    start = info.header_offset + 30 + n + m
    raw[start + 10:start + 40] = b"\xff" * 30
    bad.write_bytes(bytes(raw))
    refused(app, bad, "blad 'Resultat'", "bladet är skadat: de packade data är förstörda")


def test_a_sheet_packed_with_a_compression_excel_does_not_use(app, kommun, tmp_path):
    """Deflate64 (method 9), as some zip tools write when a workbook is repacked: zipfile cannot read it."""
    good = filled(app, tmp_path)
    bad = tmp_path / "deflate64.xlsx"
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        local = z.getinfo(SHEET).header_offset
    central = raw.index(b"PK\x01\x02")  # the central directory: find the sheet's entry
    while raw[central + 46:central + 46 + len(SHEET)] != SHEET.encode():
        central = raw.index(b"PK\x01\x02", central + 4)
    raw[local + 8:local + 10] = (9).to_bytes(2, "little")
    raw[central + 10:central + 12] = (9).to_bytes(2, "little")
    bad.write_bytes(bytes(raw))
    refused(app, bad, "blad 'Resultat'", "bladet är skadat: den är packad med en komprimering som Excel inte använder")


@pytest.mark.parametrize("key, value, words", [
    ("year", "tjugotjugofem", ["blad 'Info'", "rad 3", "år", "inget heltal"]),
    ("version", "ett", ["blad 'Info'", "rad 5", "planversion", "inget heltal"]),
])
def test_a_non_numeric_year_or_version_in_the_info_sheet(app, kommun, tmp_path, key, value, words):
    good = filled(app, tmp_path)
    wb = load_workbook(good)
    info = wb["Info"]
    row = next(r for r in range(1, 10) if info.cell(r, 1).value == key)
    info.cell(row, 2).value = value
    wb.save(tmp_path / f"info-{key}.xlsx")
    refused(app, tmp_path / f"info-{key}.xlsx", *words)


# --- bounded output, time and memory -----------------------------------------------------------

def test_a_file_full_of_errors_prints_fifty_and_counts_the_rest(app, kommun, tmp_path, cli):
    path, rows = csv_of(app, tmp_path)
    head, first = rows[0], rows[1]
    col = head.index("Antal granskade")
    bad = [first[:col] + ["tjugo"] + first[col + 1:] for _ in range(3000)]
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows([head, *bad])
    path.write_text(buf.getvalue(), encoding="utf-8")
    text = refused(app, path, "läsningen avbröts efter 1000 fel")
    assert text.count("\n  - ") == 50 and "… och 952 fel till" in text, text[-300:]
    r = cli("results", "import", path)
    assert r.code == 2 and r.err.count("  - fil r.csv") == 50, r.err[-500:]


def test_more_rows_than_a_file_may_hold_are_refused_before_they_are_read(app, kommun, tmp_path):
    good = filled(app, tmp_path)

    def far(name, data):  # one more row, far down the sheet: Excel's last row
        if name != SHEET:
            return data
        return data.replace(b"</sheetData>", b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c>'
                                             b"</row></sheetData>")
    most = f"fler än {reader.MAX_ROWS:,} rader".replace(",", " ")
    refused(app, rezip(good, tmp_path / "lang.xlsx", far), most, "dela upp filen")
    path, rows = csv_of(app, tmp_path)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\r\n".join(";".join(rows[1]) for _ in range(reader.MAX_ROWS + 100)))
    refused(app, path, most)


def test_a_sheet_that_unpacks_past_the_limit_is_refused_unread(app, kommun, tmp_path):
    good = filled(app, tmp_path)
    bomb = tmp_path / "bomb.xlsx"  # 150 MB of spaces in the sheet, a few hundred KB packed
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename != SHEET:
                zout.writestr(item.filename, data)
                continue
            head, rest = data.split(b"<sheetData>")
            with zout.open(item.filename, "w", force_zip64=True) as fh:
                fh.write(head + b"<sheetData>")
                for _ in range(9):
                    fh.write(b" " * (1 << 24))
                fh.write(rest)
    refused(app, bomb, "packas upp till", f"högst {reader.MAX_UNZIPPED >> 20} MB uppackat")


# --- what a person cannot see or did not type ---------------------------------------------------

def test_a_formula_in_a_text_column_is_refused(app, kommun, tmp_path):
    path = edit_cell(filled(app, tmp_path), "Kommentar", 2, '=HYPERLINK("http://x","klicka")',
                     tmp_path / "formel.xlsx")
    refused(app, path, "rad 2", "kolumn N", "formeln", "inte en formel")
    path = edit_cell(filled(app, tmp_path), "Utförd av", 3, "=B3", tmp_path / "formel2.xlsx")
    refused(app, path, "rad 3", "kolumn O", "formeln ”=B3”")


def test_control_characters_anywhere_are_refused(app, kommun, tmp_path):
    path, rows = csv_of(app, tmp_path, name="nul.csv")
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    padding = "x" * 5000  # past the first 4 KB, where a binary file is recognised
    col = rows[0].index("Kommentar")
    cells = lines[3].split(";")
    cells[col] = padding + "\x00" + "slut"
    lines[3] = ";".join(cells)
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    refused(app, path, "rad 4", "osynligt styrtecken (U+0000)")
    path2, _ = csv_of(app, tmp_path, name="bell.csv")
    path2.write_text(path2.read_text(encoding="utf-8").replace("Sara", "Sa\x07ra", 1), encoding="utf-8")
    refused(app, path2, "osynligt styrtecken (U+0007)")


def test_a_file_of_only_empty_rows_is_refused_and_not_recorded(app, kommun, tmp_path, cli):
    blank = results.template(app, "SN", YEAR, "halvar", tmp_path / "tom-mall.xlsx")
    refused(app, blank, "inga ifyllda rader")
    r = cli("results", "import", blank)  # and again: still refused, never "redan inläst"
    assert r.code == 2 and "inga ifyllda rader" in r.err


def test_hidden_rows_columns_and_sheets_are_refused_by_name(app, kommun, tmp_path):
    good = filled(app, tmp_path)
    wb = load_workbook(good)
    wb["Resultat"].row_dimensions[3].hidden = True
    wb.save(tmp_path / "dold-rad.xlsx")
    refused(app, tmp_path / "dold-rad.xlsx", "rad 3 är dold men har innehåll")
    # most hidden rows are a filter's: as Excel saves a sheet filtered on Bedömning
    wb = load_workbook(good)
    ws = wb["Resultat"]
    ws.auto_filter.ref = f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    ws.auto_filter.add_filter_column([c.value for c in ws[1]].index("Bedömning"), ["väsentliga brister"])
    for r in (2, 4):
        ws.row_dimensions[r].hidden = True
    wb.save(tmp_path / "filter.xlsx")
    refused(app, tmp_path / "filter.xlsx", "rad 2, 4 döljs av bladets filter men har innehåll",
            "Data > Filter > Rensa")
    wb = load_workbook(good)
    wb["Resultat"].column_dimensions["J"].hidden = True
    wb.save(tmp_path / "dold-kolumn.xlsx")
    refused(app, tmp_path / "dold-kolumn.xlsx", "kolumn J är dold men har innehåll")
    # a hidden "Resultat" with other figures, and a visible copy: neither is guessed at
    wb = load_workbook(good)
    copy = wb.copy_worksheet(wb["Resultat"])
    wb["Resultat"].sheet_state = "hidden"
    copy.title = "Resultat (2)"
    wb.save(tmp_path / "dolt-blad.xlsx")
    refused(app, tmp_path / "dolt-blad.xlsx", "bladet 'Resultat' är dolt")


def test_what_is_written_in_a_column_the_import_does_not_read_is_named_not_dropped(app, kommun, tmp_path, cli):
    """A kontrollansvarig adds a column for notes, types beside the table, or pastes a second Kommentar:
    none of it would be stored, so the file is refused with the column, its first row and where the
    text belongs. A column added but left empty is harmless and the file is read."""
    good = filled(app, tmp_path)
    wb = load_workbook(good)
    ws = wb["Resultat"]
    width = ws.max_column
    ws.insert_cols(14)  # before Utförd av: the columns after it move one step right
    ws.cell(1, 14, "Anteckningar")
    ws.cell(3, 14, "ringde enhetschefen")
    ws.cell(5, 14, "se mejl")
    ws.cell(4, width + 3, "fråga Sara")  # beside the table, under no header
    wb.save(tmp_path / "egen-kolumn.xlsx")
    text = refused(app, tmp_path / "egen-kolumn.xlsx",
                   "rad 3, kolumn N: kolumnen ”Anteckningar” finns inte i mallen och läses inte in, men har "
                   "innehåll på 2 rader (förväntat: texten flyttad till kolumnen Kommentar, eller kolumnen "
                   "borttagen)",
                   f"rad 4, kolumn {reader._letter(width + 2)}: kolumnen har ingen rubrik och läses inte in, men har "
                   "innehåll på 1 rad")
    assert text.count("läses inte in") == 2, text
    wb = load_workbook(good)
    ws = wb["Resultat"]
    comment = [c.value for c in ws[1]].index("Kommentar") + 1
    ws.cell(1, width + 1, "Kommentar")
    ws.cell(2, width + 1, "mer text")
    wb.save(tmp_path / "två-kommentarer.xlsx")
    refused(app, tmp_path / "två-kommentarer.xlsx",
            f"kolumn {reader._letter(width)}: kolumnen ”Kommentar” finns två gånger och bara kolumn "
            f"{reader._letter(comment - 1)} läses in, men den här har innehåll på 1 rad")
    path, rows = csv_of(app, tmp_path, name="extra.csv")
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines = [lines[0] + ";Notering", lines[1] + ";viktigt"] + [ln + ";" for ln in lines[2:] if ln]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    refused(app, path, "rad 2", "kolumnen ”Notering” finns inte i mallen")
    # the same column with nothing in it: read, and the results stored
    wb = load_workbook(good)
    wb["Resultat"].cell(1, width + 1, "Anteckningar")
    wb.save(tmp_path / "tom-kolumn.xlsx")
    r = cli("results", "import", tmp_path / "tom-kolumn.xlsx")
    assert r.code == 0 and "nya resultat" in r.out, r.err
    # a workshop participant's note beside the risks: the workshop import reads through the same reader
    from tests.test_workshop import fill

    ws_file = workshop.template(app, "SN", YEAR + 1, tmp_path / "ws.xlsx")
    ws_file = ws_file[0] if isinstance(ws_file, list) else ws_file
    fill(ws_file, "Anna", {"SN-R001": (2, 2)})
    wb = load_workbook(ws_file)
    sheet = wb["Risker"]
    sheet.cell(5, sheet.max_column + 1, "osäker på konsekvensen")
    wb.save(tmp_path / "ws-anteckning.xlsx")
    before = fingerprint(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [tmp_path / "ws-anteckning.xlsx"])
    assert "rad 5" in str(exc.value) and "texten flyttad till kolumnen Kommentar" in str(exc.value), str(exc.value)
    assert fingerprint(app) == before


def test_the_info_sheets_period_is_checked_against_every_row(app, kommun, tmp_path):
    path = edit_cell(filled(app, tmp_path), "Period", 2, "helår", tmp_path / "period.xlsx")
    refused(app, path, "rad 2", "raden gäller helår, men filen är mallen för halvår")


def test_a_csv_must_name_its_unit_and_every_row_must_match(app, kommun, tmp_path, cli):
    nameless, _ = csv_of(app, tmp_path, name="utan-enhet.csv", unit=None)
    said = refused(app, nameless, "anger inte vilken enhet", "en kolumn Enhet", "filen som Excel-arbetsbok (xlsx)")
    assert "--unit" not in said, said  # the service's words hold in the browser; the option is the terminal's
    r = cli("results", "import", nameless)
    assert r.code == 2 and "Enheten kan också anges med --unit KOD." in r.err, r.err
    wrong, _ = csv_of(app, tmp_path, name="fel-enhet.csv", unit="BUN")
    refused(app, wrong, "rad 2", "hör till SN, men raden anger enheten BUN")
    refused(app, nameless, "hör till SN, men inläsningen anger enheten BUN", unit_code="BUN")
    r = cli("results", "import", "--unit", "SN", nameless)
    assert r.code == 0 and "nya resultat" in r.out, r.err


def test_an_encrypted_workbook_is_called_password_protected(app, kommun, tmp_path):
    # Excel's "Kryptera med lösenord" wraps the package in an OLE file with an EncryptionInfo stream
    path = tmp_path / "lösen.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1016 + "EncryptionInfo".encode("utf-16-le")
                     + b"\x00" * 4000)
    refused(app, path, "lösenordsskyddad")


def _zip_of(path: Path, parts: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


STRICT = {b"http://schemas.openxmlformats.org/spreadsheetml/2006/main":
          b"http://purl.oclc.org/ooxml/spreadsheetml/main",
          b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
          b"http://purl.oclc.org/ooxml/officeDocument/relationships"}


def test_files_of_other_kinds_are_named_with_what_to_send_instead(app, kommun, tmp_path):
    """What people send instead of the template: another of Excel's formats, LibreOffice's, a system's
    "Excel export" that is a web page, or the wrong document. Each named, and what to do."""
    save_as = "filen öppnad i Excel och sparad som Excel-arbetsbok (.xlsx)"
    other = "en Excel-arbetsbok (.xlsx) eller en CSV-fil"

    def strict(name: str, data: bytes) -> bytes:
        for old, new in STRICT.items():
            data = data.replace(old, new)
        return data

    cases = [
        (rezip(filled(app, tmp_path), tmp_path / "strikt.xlsx", strict), "ett Strict Open XML-kalkylblad", save_as),
        (_zip_of(tmp_path / "lo.ods", {"mimetype": "application/vnd.oasis.opendocument.spreadsheet",
                                       "content.xml": "<office:document-content/>"}),
         "ett OpenDocument-kalkylblad (.ods, från LibreOffice eller OpenOffice)", save_as),
        (_zip_of(tmp_path / "bin.xlsb", {"xl/workbook.bin": "x"}), "en binär Excel-arbetsbok (.xlsb)", save_as),
        (_zip_of(tmp_path / "bilder.pptx", {"ppt/presentation.xml": "<p/>"}), "en PowerPoint-presentation", other),
        (_zip_of(tmp_path / "r.numbers", {"Index/Document.iwa": "x"}), "ett Numbers-dokument (Apple)",
         "exporterad som Excel-arbetsbok (.xlsx) från Numbers"),
    ]
    html = tmp_path / "export.xls"  # what many systems call an "Excel export"
    html.write_text("<html><head><meta charset='utf-8'></head><body><table><tr><td>Kontrollpunkt</td></tr>"
                    "</table></body></html>", encoding="utf-8")
    cases.append((html, "en webbsida (HTML)", save_as))
    xml = tmp_path / "2003.xml"
    xml.write_text('<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
                   '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', encoding="utf-8")
    cases.append((xml, "ett XML-kalkylblad (Excel 2003)", save_as))
    doc = tmp_path / "protokoll.xls"  # an old Word document: an OLE file with a WordDocument stream
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1016 + "WordDocument".encode("utf-16-le"))
    cases.append((doc, "ett Word-dokument i det gamla formatet (.doc)", other))
    for path, what, expected in cases:
        refused(app, path, f"filen är {what}, som inte går att läsa in", expected)
    # the workshop import reads files through the same reader
    before = fingerprint(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [tmp_path / "lo.ods"])
    assert "OpenDocument-kalkylblad" in str(exc.value), str(exc.value)
    assert fingerprint(app) == before


@pytest.mark.parametrize("kind", ["long-field", "open-quote", "mixed-encoding"])
def test_csv_errors_name_the_row_in_swedish(app, kommun, tmp_path, kind):
    path, rows = csv_of(app, tmp_path, name=f"{kind}.csv")
    raw = path.read_bytes()
    lines = raw.split(b"\r\n")
    if kind == "long-field":
        fields = lines[2].split(b";")
        fields[rows[0].index("Utförd av")] = b"S" + b"a" * 150_000
        lines[2] = b";".join(fields)
        words = ["rad 3", "längre än 100 000 tecken"]
    elif kind == "open-quote":
        lines[3] = lines[3].replace(b";ja;", b';"ja;', 1)
        words = ["rad 4", "öppnas på raden men stängs aldrig"]
    else:
        lines[4] = lines[4].replace(b";ja;", b";ja\xe4;", 1)  # the header's "Utförd" is UTF-8
        words = ["rad 5", "blandad teckenkodning", "0xE4", "CSV UTF-8"]
    path.write_bytes(b"\r\n".join(lines))
    refused(app, path, *words)


def test_excels_unicode_text_and_stray_boms_are_read(app, kommun, tmp_path):
    path, rows = csv_of(app, tmp_path, name="unicode.txt", encoding="utf-16", delimiter="\t")
    assert path.read_bytes()[:2] == b"\xff\xfe"
    assert results.import_files(app, [path], on=ON).new == len(rows) - 1
    path2, rows2 = csv_of(app, tmp_path, name="bun.csv", unit="BUN")
    # two files put together, each with its BOM: the second one lands inside the text
    wb = load_workbook(filled(app, tmp_path, unit="BUN", name="bun.xlsx"), data_only=True)
    bun = [["BUN", *[_text(v) for v in r]] for r in list(wb["Resultat"].iter_rows(values_only=True))[1:]]
    head = ["Enhet", *rows[0][1:]]
    half = len(bun) // 2
    body = ("\ufeff" + ";".join(head) + "\r\n" + "\r\n".join(";".join(r) for r in bun[:half]) + "\r\n\ufeff"
            + "\r\n".join(";".join(r) for r in bun[half:]) + "\r\n")
    path2.write_bytes(body.encode("utf-8"))
    assert results.import_files(app, [path2], on=ON).new == len(bun)


def test_workshop_messages_show_no_python_values(app, kommun, tmp_path):
    from tests.test_workshop import fill

    a = workshop.template(app, "SN", YEAR + 1, tmp_path / "ws.xlsx")
    a = a[0] if isinstance(a, list) else a
    fill(a, "Anna", {"SN-R001": (2, 2)})
    wb = load_workbook(a)
    ws = wb["Risker"]
    col = {c.value: c.column for c in ws[4]}
    ws.cell(5, col["Sannolikhet"]).value = True
    wb.save(tmp_path / "bool.xlsx")
    before = fingerprint(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [tmp_path / "bool.xlsx"])
    assert "SANT är ingen" in str(exc.value) and "True" not in str(exc.value), str(exc.value)
    wb = load_workbook(a)
    del wb["Info"]
    wb.save(tmp_path / "utan-info.xlsx")
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [tmp_path / "utan-info.xlsx"])
    assert "ingen workshopmall från ikcheck" in str(exc.value) and "None" not in str(exc.value), str(exc.value)
    assert fingerprint(app) == before
