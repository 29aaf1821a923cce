"""Reading tables from the files people actually send: xlsx from Excel, and CSV as Swedish Excel
writes it (UTF-8, UTF-8 with BOM or cp1252; semicolon or comma; decimal comma).

Nothing here touches the database. A reader finds the header row (it may have moved down), maps
columns by their Swedish header, and yields rows with their location, so every problem can name
file, sheet, row and column. What a person cannot see or did not type is refused, not guessed at:
merged cells, formulas (except a template's own computed columns), hidden sheets, rows and columns
with data, control characters, and text in a column the import does not read (it would not be
stored). Every decoding error becomes a Swedish problem, and a file's size, unpacked size and number
of rows are bounded, so a read takes bounded time and memory. A file that is not a table (another
format, the wrong document) is named for what it is, with what to send instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
import zlib
from xml.parsers.expat import ExpatError
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ikcheck.errors import Problem, ValidationFailed

if TYPE_CHECKING:
    from ikcheck.workbooks.cells import Book, Sheet, SheetInfo

MAX_BYTES = 200 * 1024 * 1024
# rows of data one file may hold: a kommun's whole year is a few thousand; a 100k-row import peaks
# under 500 MB (benchmarks/bench_limits.py), 200k did not
MAX_ROWS = 100_000
# what a workbook may unpack to: a results sheet unpacks to 500–750 bytes a row, so MAX_ROWS fit in
# 75 MB; the rest is room for the template's other sheets and styles
MAX_UNZIPPED = 128 * 1024 * 1024
HEADER_SCAN_ROWS = 20
MAX_PROBLEMS = 1000  # a file with more is not read further: the rest would not be valid either
# characters no one types: C0 controls other than tab and line breaks, DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Formula(str):
    """A formula cell's text ("=A1", from workbooks/cells.py): told apart from typed text beginning with '='."""

    __slots__ = ()


def shown(v: Any) -> str:
    """A cell's value as a message shows it: text in quotes, Excel's own words, never Python's."""
    if v is None or v == "":
        return "tomt"
    if isinstance(v, bool):
        return "SANT" if v else "FALSKT"
    if isinstance(v, float):
        return f"{v:g}".replace(".", ",")
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()[:10] if isinstance(v, dt.datetime) and not (v.hour or v.minute) else v.isoformat()
    if isinstance(v, str):
        text = _CONTROL.sub("?", v.replace("\ufeff", ""))
        return f"”{text[:40]}{'…' if len(text) > 40 else ''}”"
    return str(v)


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def norm(text: Any) -> str:
    """Header matching ignores case, surrounding space, repeated space and a trailing '*'."""
    return re.sub(r"\s+", " ", str(text or "")).strip().rstrip("*").strip().lower()


@dataclass
class Column:
    key: str
    header: str  # the Swedish header in the template
    required: bool = True
    aliases: tuple[str, ...] = ()
    computed: bool = False  # the template's own formula: its value is not read
    hidden: bool = False  # the template itself hides it


@dataclass(slots=True)
class Row:
    file: str
    sheet: str | None
    number: int  # 1-based, as Excel shows it
    values: dict[str, Any]
    letters: dict[str, str] = field(default_factory=dict)  # key -> column letter or header name

    def where(self, key: str | None = None) -> dict[str, Any]:
        return {"file": self.file, "sheet": self.sheet, "row": self.number,
                "column": self.letters.get(key) if key else None}

    def problem(self, key: str | None, message: str, expected: str | None = None) -> Problem:
        return Problem(message, expected=expected, **self.where(key))

    def is_empty(self, keys: list[str]) -> bool:
        return all(self.values.get(k) in (None, "") for k in keys)


@dataclass
class Table:
    file: str
    sheet: str | None
    rows: list[Row]
    kind: str  # xlsx | csv
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the template's hidden info sheet


def _letter(index: int) -> str:
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


TABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt")


def files_of(paths: list[Path]) -> list[Path]:
    """The files named, a folder standing for the tables in it: its xlsx and csv files (not those in
    its subfolders), in name order, leaving out Excel's lock files (~$…) and hidden files. A controller
    collects the returned templates in a folder; a folder with none is an error, not an empty import."""
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            out.append(path)
            continue
        found = sorted(f for f in path.iterdir() if f.suffix.lower() in TABLE_SUFFIXES and f.is_file()
                       and not f.name.startswith(("~$", ".")))
        if not found:
            raise ValidationFailed(f"Mappen {path} har inga xlsx- eller csv-filer att läsa in.",
                                   [Problem("mappen har inga xlsx- eller csv-filer", file=path.name,
                                            expected="de ifyllda mallarna i mappen, eller filerna själva")])
        out += found
    return out


def sniff(path: Path) -> str:
    """'xlsx' or 'csv' by content, not by name; anything else is refused."""
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValidationFailed(f"Filen {path} finns inte.") from None
    if name.startswith("~$"):  # the owner file Excel keeps beside an open workbook (a glob picks it up)
        raise _not_a_workbook(name, ("Excels låsfil för en arbetsbok som är öppen",
                                     "arbetsboken själv (samma namn utan ~$)"))
    if size == 0:
        raise ValidationFailed(f"Filen {name} är tom.", [Problem("filen är tom", file=name)])
    if size > MAX_BYTES:
        raise ValidationFailed(f"Filen {name} är för stor ({size // (1024 * 1024)} MB; högst {MAX_BYTES // (1024 * 1024)} MB).",
                               [Problem(f"filen är för stor ({size // (1024 * 1024)} MB)", file=name, expected=f"högst {MAX_BYTES // (1024 * 1024)} MB")])
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                unzipped = sum(i.file_size for i in z.infolist())  # zipfile never inflates past these sizes
                if unzipped > MAX_UNZIPPED:
                    mb, most = unzipped // (1024 * 1024), MAX_UNZIPPED // (1024 * 1024)
                    raise ValidationFailed(f"Filen {name} packas upp till {mb} MB; högst {most} MB går att läsa in.",
                                           [Problem(f"filen packas upp till {mb} MB (en zip-bomb eller ett orimligt "
                                                    "stort blad)", file=name, expected=f"högst {most} MB uppackat")])
                what = _zip_kind(z, names)
        except zipfile.BadZipFile:
            raise ValidationFailed(f"Filen {name} är en trasig zip-fil, inte en Excel-fil.",
                                   [Problem("filen är en trasig zip-fil och kan inte öppnas som Excel (xlsx)", file=name)]) from None
        except _BROKEN:  # a part read to tell what the file is (the workbook's start, the mimetype) is damaged
            what = None  # read as a workbook: the reader names the damage
        if what:
            raise _not_a_workbook(name, what)
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE file: encrypted Office, the old .xls, or a .doc
        if _ole_holds(path, "EncryptionInfo"):
            raise ValidationFailed(f"Filen {name} är lösenordsskyddad.", [Problem(
                "arbetsboken är lösenordsskyddad (krypterad) och kan inte läsas", file=name,
                expected="filen sparad utan lösenord (Arkiv > Info > Skydda arbetsbok)")])
        if _ole_holds(path, "WordDocument"):
            raise _not_a_workbook(name, ("ett Word-dokument i det gamla formatet (.doc)", OTHER))
        raise ValidationFailed(f"Filen {name} är i det gamla Excel-formatet (.xls).",
                               [Problem("filen är i det gamla Excel-formatet (.xls)", file=name, expected=SAVE_AS)])
    if head.startswith(b"%PDF"):
        raise ValidationFailed(f"Filen {name} är en PDF, inte en tabell.", [Problem("filen är en PDF, inte en tabell", file=name, expected="xlsx eller CSV")])
    what = _markup_kind(path)
    if what:
        raise _not_a_workbook(name, what)
    return "csv"


# what to do with a file that is not a workbook: a table in another format is saved again from Excel;
# any other file was sent by mistake
SAVE_AS = "filen öppnad i Excel och sparad som Excel-arbetsbok (.xlsx)"
OTHER = "en Excel-arbetsbok (.xlsx) eller en CSV-fil"


def _not_a_workbook(name: str, kind: tuple[str, str]) -> ValidationFailed:
    what, expected = kind
    return ValidationFailed(f"Filen {name} är {what} och kan inte läsas in.",
                            [Problem(f"filen är {what}, som inte går att läsa in", file=name, expected=expected)])


def _zip_kind(z: zipfile.ZipFile, names: set[str]) -> tuple[str, str] | None:
    """What a zip file is when it is not a workbook ikcheck reads, in words its sender knows, and what
    to send instead; None for an xlsx (or xlsm)."""
    if "xl/workbook.xml" in names:
        with z.open("xl/workbook.xml") as fh:
            start = fh.read(2048)
        # Excel's "Strict Open XML-kalkylblad": the same parts in other namespaces, which openpyxl does not read
        strict = b"purl.oclc.org/ooxml/spreadsheetml" in start
        return ("ett Strict Open XML-kalkylblad", SAVE_AS) if strict else None
    if "xl/workbook.bin" in names:
        return "en binär Excel-arbetsbok (.xlsb)", SAVE_AS
    if "mimetype" in names:
        with z.open("mimetype") as fh:
            mime = fh.read(100)
        if b"opendocument.spreadsheet" in mime:
            return "ett OpenDocument-kalkylblad (.ods, från LibreOffice eller OpenOffice)", SAVE_AS
        if b"opendocument.text" in mime:
            return "ett OpenDocument-textdokument (.odt)", OTHER
    if "word/document.xml" in names:
        return "ett Word-dokument", OTHER
    if "ppt/presentation.xml" in names:
        return "en PowerPoint-presentation", OTHER
    if any(n.startswith("Index/") and n.endswith(".iwa") for n in names):
        return "ett Numbers-dokument (Apple)", "filen exporterad som Excel-arbetsbok (.xlsx) från Numbers"
    return "en zip-fil med annat innehåll", OTHER


def _markup_kind(path: Path) -> tuple[str, str] | None:
    """A text file that is markup, not a table of values: a web page or an XML file. Systems often call
    an HTML table their "Excel export" and name it .xls; Excel opens it and can save it as a workbook."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom):].decode(encoding, "replace").encode()
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return "en webbsida (HTML)", SAVE_AS
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in start:
            return "ett XML-kalkylblad (Excel 2003)", SAVE_AS
        return "en XML-fil", OTHER
    if start.startswith(b"{\\rtf"):
        return "ett RTF-dokument", OTHER
    return None


def _ole_holds(path: Path, stream: str) -> bool:
    """An OLE file with a stream of this name: EncryptionInfo (an Office file encrypted with a password,
    Excel's "Kryptera med lösenord"), WordDocument (a Word .doc)."""
    import mmap

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(stream.encode("utf-16-le")) >= 0


# the templates' own hidden sheets
HIDDEN_SHEETS = ("Info", "Listor")


def read(path: Path, columns: list[Column], sheet: str | None = None, info_sheet: str | None = None,
         also: tuple[str, list[Column]] | None = None) -> Table:
    """The file's table. `also` (sheet, columns): a second sheet of a workbook read with the same checks
    when the workbook has it, in `table.extra["also"]` (a results file's Åtgärder)."""
    path = Path(path)
    kind = sniff(path)
    if kind == "xlsx":
        return _read_xlsx(path, columns, sheet, info_sheet, also)
    return _read_csv(path, columns)


def _cap(problems: list[Problem], file: str) -> list[Problem]:
    """At most MAX_PROBLEMS, and a last one saying that reading stopped."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return problems[:MAX_PROBLEMS] + [Problem(f"läsningen avbröts efter {MAX_PROBLEMS} fel; resten av filen lästes inte",
                                              file=file)]


def _too_many_rows(file: str, sheet: str | None, row: int) -> ValidationFailed:
    most = f"{MAX_ROWS:,}".replace(",", " ")
    return ValidationFailed(f"Filen {file} har för många rader (minst {row:,}; högst {most} går att läsa in)."
                            .replace(",", " "),
                            [Problem(f"filen har fler än {most} rader", file=file, sheet=sheet, row=row,
                                     expected=f"högst {most} rader per fil; dela upp filen")])


def _header_map(cells: list[Any], columns: list[Column]) -> dict[str, int]:
    wanted = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            wanted[norm(name)] = col.key
    found: dict[str, int] = {}
    for i, v in enumerate(cells):
        key = wanted.get(norm(v))
        if key and key not in found:
            found[key] = i
    return found


def _missing(found: dict[str, int], columns: list[Column]) -> list[Column]:
    return [c for c in columns if c.required and c.key not in found]


def _find_header(rows: list[list[Any]], columns: list[Column]) -> tuple[int, dict[str, int]] | None:
    best = None
    for i, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        found = _header_map(cells, columns)
        if not _missing(found, columns):
            return i, found
        if found and (best is None or len(found) > len(best[1])):
            best = (i, found)
    return best


def _header_problem(file: str, sheet: str | None, best, columns: list[Column]) -> ValidationFailed:
    found = best[1] if best else {}
    missing = _missing(found, columns)
    row = best[0] + 1 if best else 1
    names = ", ".join(repr(c.header) for c in missing)
    return ValidationFailed(
        f"Filen {file} har inte de kolumner som mallen har; ingenting har lästs in.",
        [Problem(f"{'kolumnen' if len(missing) == 1 else 'kolumnerna'} {names} saknas"
                 + ("" if best else " (ingen rubrikrad hittades)"), file=file, sheet=sheet, row=row,
                 expected="rubrikerna: " + ", ".join(x.header for x in columns if x.required))],
    )


def _range_rows(ref: str) -> tuple[int, int]:
    a, b = ref.split(":")
    return int(re.sub(r"[A-Z]", "", a)), int(re.sub(r"[A-Z]", "", b))


# damage inside the zip: broken XML, deflate data, CRCs, truncated members, bad numbers, a compression
# method zipfile cannot read (NotImplementedError: Deflate64, or AES from an encrypting zip tool)
_BROKEN = (ExpatError, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError, IndexError,
           UnicodeDecodeError, NotImplementedError)


def _damage(exc: BaseException) -> str:
    """What is wrong with a workbook's inside, in words a clerk can pass on to IT, never a Python name."""
    if isinstance(exc, NotImplementedError):
        return "den är packad med en komprimering som Excel inte använder"
    if isinstance(exc, zlib.error) or (isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc)):
        return "de packade data är förstörda"
    if isinstance(exc, (EOFError, zipfile.BadZipFile)):
        return "filen är avkortad eller zip-strukturen är trasig"
    if isinstance(exc, ExpatError):
        return "XML-innehållet är trasigt"
    if isinstance(exc, UnicodeDecodeError):
        return "texten har en teckenkodning som inte går att läsa"
    if isinstance(exc, KeyError):
        return "en del som arbetsboken hänvisar till saknas"
    if isinstance(exc, OSError):
        return "filen kunde inte läsas färdigt"
    return "innehållet har värden som inte följer Excels format"


def _sheet(book: Book, sheet: SheetInfo, file: str, max_rows: int | None = None) -> Sheet:
    from ikcheck.workbooks.cells import TooManyRows

    try:
        return book.read(sheet, max_rows, limit=MAX_ROWS + HEADER_SCAN_ROWS + 1)
    except TooManyRows as exc:
        raise _too_many_rows(file, sheet.title, exc.args[0]) from None
    except _BROKEN as exc:
        raise ValidationFailed(f"Bladet {sheet.title!r} i {file} är skadat och kan inte läsas.",
                               [Problem(f"bladet är skadat: {_damage(exc)}", file=file, sheet=sheet.title,
                                        expected="en arbetsbok sparad av Excel")]) from None


def _has_header(book: Book, sheet: SheetInfo, file: str, columns: list[Column]) -> bool:
    head = [list(r) for r in _sheet(book, sheet, file, HEADER_SCAN_ROWS).rows]
    best = _find_header(head, columns)
    return best is not None and not _missing(best[1], columns)


def _read_xlsx(path: Path, columns: list[Column], sheet: str | None, info_sheet: str | None,
               also: tuple[str, list[Column]] | None = None) -> Table:
    from ikcheck.workbooks.cells import Book  # openpyxl is loaded when a workbook is read, not for every command

    name = path.name
    try:
        book = Book(path)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ValidationFailed(f"Filen {name} kan inte läsas som Excel-arbetsbok.",
                               [Problem(f"filen är skadad eller inte en riktig xlsx: {_damage(exc)}", file=name)]) from None
    with book:
        if not book.sheets:
            raise ValidationFailed(f"Filen {name} har inga kalkylblad.", [Problem("arbetsboken har inga kalkylblad", file=name)])
        hidden = [w.title for w in book.sheets if w.state != "visible" and w.title not in HIDDEN_SHEETS]
        if hidden:
            raise ValidationFailed(f"Filen {name} har dolda blad: {', '.join(hidden)}.", [
                Problem(f"bladet {h!r} är dolt; det som inte syns läses inte in", file=name, sheet=h,
                        expected="visa bladet (Format > Blad > Ta fram) eller ta bort det") for h in hidden])
        # The named sheet if there is one; otherwise the first visible sheet with the right headers.
        if sheet and sheet in book.sheetnames:
            ws = book[sheet]
        else:
            ws = next((w for w in book.sheets if w.state == "visible" and _has_header(book, w, name, columns)),
                      book.sheets[0])
        extra = {}
        if info_sheet and info_sheet in book.sheetnames:
            extra = _info(_sheet(book, book[info_sheet], name, 100).rows, name, info_sheet)
        data = _sheet(book, ws, name)
        second = _sheet(book, book[also[0]], name) if also and also[0] in book.sheetnames and also[0] != ws.title else None
    table = _table_of(data, ws.title, name, columns, extra)
    if second is not None:
        blank = not any(any(v not in (None, "") for v in r) for r in second.rows[:HEADER_SCAN_ROWS])
        table.extra["also"] = Table(name, also[0], [], "xlsx", {}) if blank else _table_of(second, also[0], name, also[1], {})
    return table


def _table_of(data: Sheet, title: str, name: str, columns: list[Column], extra: dict[str, Any]) -> Table:
    """A sheet's rows under its header row, every cell checked (no formulas, control characters,
    merged or hidden rows), or a ValidationFailed naming file, sheet, row and column."""

    head = [list(cells) for cells in data.rows[:HEADER_SCAN_ROWS]]
    if not any(any(v not in (None, "") for v in r) for r in head):
        raise ValidationFailed(f"Bladet {title!r} i {name} är tomt.",
                               [Problem("bladet är tomt: det innehåller inga rader", file=name, sheet=title)])
    best = _find_header(head, columns)
    if best is None or _missing(best[1], columns):
        raise _header_problem(name, title, best, columns)
    header_row, found = best
    extra["_preamble"] = head[:header_row]
    merged = [r for r in data.merged if _range_rows(r)[1] > header_row + 1]
    if merged:
        raise ValidationFailed(f"Bladet {title!r} i {name} har sammanfogade celler.", [
            Problem(f"cellerna {ref} är sammanfogade; dela upp dem så att varje rad har egna värden",
                    file=name, sheet=title, row=_range_rows(ref)[0]) for ref in merged[:20]])
    _refuse_hidden(data, header_row, found, columns, name, title)
    unread = _unread(enumerate(data.rows[header_row + 1:], start=header_row + 2), head[header_row], found, columns,
                     name, title)
    if unread:
        raise ValidationFailed(f"Bladet {title!r} i {name} har innehåll i kolumner som inte läses in; ingenting har "
                               "lästs in.", unread)
    letters = {k: _letter(i) for k, i in found.items()}
    by_key = {c.key: c for c in columns}
    rows: list[Row] = []
    problems: list[Problem] = []
    items = [(k, i) for k, i in found.items() if not by_key[k].computed]
    for number, cells in enumerate(data.rows[header_row + 1:], start=header_row + 2):
        n = len(cells)
        values = {}
        for key, i in items:
            v = cells[i] if i < n else None
            if isinstance(v, str):
                if isinstance(v, Formula):
                    problems.append(Problem(f"cellen innehåller formeln {shown(v)}", file=name, sheet=title,
                                            row=number, column=letters[key], expected="ett inskrivet värde, inte en formel"))
                elif _CONTROL.search(v):
                    problems.append(_control_problem(v, name, title, number, letters[key]))
                v = v.strip()
            values[key] = v
        rows.append(Row(name, title, number, values, letters))
        if len(problems) > MAX_PROBLEMS:
            break
    if problems:
        raise ValidationFailed(f"Bladet {title!r} i {name} har celler som inte går att läsa in; ingenting har "
                               "lästs in.", _cap(problems, name))
    return Table(name, title, rows, "xlsx", extra)


def _info(rows, file: str, sheet: str) -> dict[str, Any]:
    """The template's hidden Info sheet (key, value per row); numbers it must hold are checked here."""
    extra: dict[str, Any] = {}
    for number, r in enumerate(rows, start=1):
        if not r or r[0] is None:
            continue
        key, value = str(r[0]), r[1] if len(r) > 1 else None
        if key in ("year", "version") and value not in (None, ""):
            try:
                value = as_int(value, minimum=1)
            except Invalid as exc:
                raise ValidationFailed(f"Filen {file} har ett skadat Info-blad.", [Problem(
                    f"mallens {'år' if key == 'year' else 'planversion'} är {exc.message.split(' är ')[0]}, "
                    "inget heltal", file=file, sheet=sheet, row=number, column="B",
                    expected="mallens Info-blad som ikcheck skrev det (ta en ny mall)")]) from None
        extra[key] = value
    return extra


def _refuse_hidden(data: Sheet, header_row: int, found: dict[str, int], columns: list[Column], file: str,
                   sheet: str) -> None:
    """Hidden rows with data, and hidden columns with data (other than those the template hides)."""
    first = header_row + 2  # the first data row, 1-based
    rows = [r for r in data.hidden_rows if r >= first and r - 1 < len(data.rows)
            and any(v not in (None, "") for v in data.rows[r - 1])]
    allowed = {found[c.key] + 1 for c in columns if c.hidden and c.key in found}
    cols = []
    for lo, hi in data.hidden_cols:
        for c in range(lo, min(hi, 16384) + 1):
            if c not in allowed and any(len(r) >= c and r[c - 1] not in (None, "") for r in data.rows[first - 1:]):
                cols.append(c)
    problems = []
    if rows:
        shown_rows = ", ".join(map(str, rows[:20])) + (f" med flera ({len(rows)} rader)" if len(rows) > 20 else "")
        if data.filtered:  # rows a filter hides: the filter is what to take away
            problems.append(Problem(f"rad {shown_rows} döljs av bladets filter men har innehåll", file=file,
                                    sheet=sheet, row=rows[0],
                                    expected="alla rader synliga: Data > Filter > Rensa (eller stäng av filtret)"))
        else:
            problems.append(Problem(f"rad {shown_rows} är dold men har innehåll", file=file, sheet=sheet, row=rows[0],
                                    expected="visa raderna (markera bladet, högerklicka > Ta fram) eller ta bort dem"))
    if cols:
        problems.append(Problem(f"kolumn {', '.join(_letter(c - 1) for c in cols[:20])} är dold men har innehåll",
                                file=file, sheet=sheet, column=_letter(cols[0] - 1),
                                expected="visa kolumnerna eller ta bort dem"))
    if problems:
        raise ValidationFailed(f"Bladet {sheet!r} i {file} har dolda rader eller kolumner med innehåll; det som inte "
                               "syns läses inte in.", problems)


def _unread(rows, header: list[Any], found: dict[str, int], columns: list[Column], file: str,
            sheet: str | None) -> list[Problem]:
    """Columns that hold something but are not read: one added to the template, a second column under a
    header already read, a note beside the table. What is written there would not be stored, so it is
    named rather than dropped without a word. `rows`: (row number, cells) under the header."""
    rows = list(rows)
    known = set(found.values())
    others = [i for i in range(max((len(c) for _n, c in rows), default=0)) if i not in known]
    if not others:  # the template's own columns and no more: nothing to look at
        return []
    filled: dict[int, list[int]] = {}
    for number, cells in rows:
        n = len(cells)
        for i in others:
            if i < n and (v := cells[i]) is not None and (not isinstance(v, str) or v.strip()):
                filled.setdefault(i, []).append(number)
    read_at = {norm(h): found[c.key] for c in columns if c.key in found for h in (c.header, *c.aliases)}
    comment = next((c.header for c in columns if c.key == "comment" and c.key in found), None)
    move = f"texten flyttad till kolumnen {comment}, eller kolumnen borttagen" if comment else "kolumnen borttagen"
    problems = []
    for i, numbers in sorted(filled.items())[:20]:
        title = str(header[i]).strip() if i < len(header) and header[i] not in (None, "") else ""
        rader = f"{len(numbers)} rad{'er' if len(numbers) > 1 else ''}"
        if norm(title) in read_at:
            first = _letter(read_at[norm(title)])
            what = (f"kolumnen ”{title}” finns två gånger och bara kolumn {first} läses in, men den här har "
                    f"innehåll på {rader}")
        elif title:
            what = f"kolumnen ”{title}” finns inte i mallen och läses inte in, men har innehåll på {rader}"
        else:
            what = f"kolumnen har ingen rubrik och läses inte in, men har innehåll på {rader}"
        problems.append(Problem(what, file=file, sheet=sheet, row=numbers[0], column=_letter(i), expected=move))
    return problems


def _control_problem(v: str, file: str, sheet: str | None, row: int, column: str | None) -> Problem:
    ch = _CONTROL.search(v).group()
    return Problem(f"cellen innehåller ett osynligt styrtecken (U+{ord(ch):04X})", file=file, sheet=sheet, row=row,
                   column=column, expected="vanlig text; skriv in värdet på nytt")


ENCODINGS = ("utf-8-sig", "cp1252")
FIELD_LIMIT = 100_000  # characters in one CSV field (csv's own limit is 131,072, with an English error)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _count_lines(path: Path) -> None:
    """Refuse a text file with more lines than a file may have rows, before it is read into memory
    (a 1M-row CSV took 750 MB to refuse after parsing)."""
    n, limit = 0, MAX_ROWS + HEADER_SCAN_ROWS + 1
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
            if n > limit:
                raise _too_many_rows(path.name, None, n)


def _decode(path: Path) -> str:
    """The text of a CSV: UTF-8 (with or without BOM), Windows-1252, or UTF-16 as Excel's "Unicode-text"
    writes it. A file that is UTF-8 but for a stray byte is named as such, with its row."""
    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationFailed(f"Filen {name} är ingen textfil (CSV) och ingen Excel-arbetsbok.",
                               [Problem("filen är varken en Excel-arbetsbok eller en textfil (CSV)", file=name, expected="xlsx eller CSV")])
    _count_lines(path)
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"Filen {name} är skadad UTF-16-text.", [Problem(
                "filen är sparad som Unicode-text (UTF-16) men är skadad", file=name,
                row=_line_of(raw, exc.start) // 2 or 1, expected="filen sparad på nytt från Excel")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    # real UTF-8 before the bad byte: one file, two encodings (checked first: UTF-8 such as ” holds
    # bytes Windows-1252 does not define, so the whole file never decodes as that either)
    if re.search(rb"[\xc2-\xf4][\x80-\xbf]+", raw[:bad]):
        raise ValidationFailed(f"Filen {name} har blandad teckenkodning.", [Problem(
            f"blandad teckenkodning: raden har ett tecken (byte 0x{raw[bad]:02X}) som inte är UTF-8, fast resten av "
            "filen är UTF-8",
            file=name, row=_line_of(raw, bad),
            expected="hela filen i samma teckenkodning: spara den på nytt som CSV UTF-8 i Excel")])
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise ValidationFailed(f"Filen {name} har en okänd teckenkodning.",
                               [Problem("filens teckenkodning är okänd", file=name, row=_line_of(raw, bad),
                                        expected="UTF-8 eller Windows-1252")]) from None


def _lines(text: str):
    """The lines of a text, one at a time (splitlines would copy the whole file)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield text[start:end]
        start = end + 1


def _read_csv(path: Path, columns: list[Column]) -> Table:
    name = path.name
    text = _decode(path).replace("\ufeff", "")  # a BOM anywhere (files put together) is no character
    first = next((line for line in _lines(text) if line.strip()), None)
    if first is None:
        raise ValidationFailed(f"Filen {name} är tom.", [Problem("filen är tom: den innehåller inga rader", file=name)])
    delimiter = max((";", ",", "\t"), key=lambda d: (first.count(d), d == ";"))
    shown_delim = "tab" if delimiter == "\t" else repr(delimiter)
    problems: list[Problem] = []
    parsed: list[tuple[int, list[str]]] = []  # (row as Excel numbers it, fields)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last = 0
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT + 1))
    try:
        for fields in reader:
            start = last + 1
            last = reader.line_num
            parsed.append((start, fields))
            if len(parsed) > MAX_ROWS + HEADER_SCAN_ROWS:
                raise _too_many_rows(name, None, start)
    except csv.Error as exc:
        detail = str(exc)
        if "field larger" in detail:
            what = f"ett fält är längre än {FIELD_LIMIT:,} tecken".replace(",", " ")
        elif "end of data" in detail or "EOF" in detail or "unexpected end" in detail:
            what = "ett citattecken (\") öppnas på raden men stängs aldrig"
        else:
            what = "citattecknen på raden stämmer inte"
        raise ValidationFailed(f"Filen {name} är inte en giltig CSV-fil.", [Problem(
            what, file=name, row=last + 1, expected=f"fält avgränsade med {shown_delim}, citattecken i par")]) from None
    best = _find_header([f for _n, f in parsed], columns)
    if best is None or _missing(best[1], columns):
        raise _header_problem(name, None, best, columns)
    header_row, found = best
    width = len(parsed[header_row][1])
    letters = {k: parsed[header_row][1][i] for k, i in found.items()}
    by_key = {c.key: c for c in columns}
    rows = []
    # the per-cell checks only where the whole text has something to find (a 100k-row file has not)
    controls, long_fields = _CONTROL.search(text) is not None, len(text) > FIELD_LIMIT
    for number, cells in parsed[header_row + 1:]:
        if len(problems) > MAX_PROBLEMS:
            break
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            problems.append(Problem(f"raden har {len(cells)} fält men rubrikraden har {width}", file=name, row=number,
                                    expected=f"lika många fält på varje rad, avgränsade med {shown_delim}"))
            continue
        if controls or long_fields:
            for k, i in found.items():
                v = cells[i]
                if len(v) > FIELD_LIMIT:
                    problems.append(Problem(f"fältet är {len(v)} tecken långt", file=name, row=number,
                                            column=letters[k], expected=f"högst {FIELD_LIMIT} tecken"))
                elif _CONTROL.search(v):
                    problems.append(_control_problem(v, name, None, number, letters[k]))
        values = {k: None if by_key[k].computed else (cells[i].strip() or None) for k, i in found.items()}
        rows.append(Row(name, None, number, values, letters))
    if not problems:
        problems += _unread(((n, c) for n, c in parsed[header_row + 1:] if any(x.strip() for x in c)),
                            parsed[header_row][1], found, columns, name, None)
    # control characters outside the columns read are refused too: nothing invisible is stored or skipped
    if not problems and (m := _CONTROL.search(text)):
        problems.append(Problem(f"filen innehåller ett osynligt styrtecken (U+{ord(m.group()):04X})", file=name,
                                row=text.count("\n", 0, m.start()) + 1, expected="vanlig text"))
    if problems:
        raise ValidationFailed(f"Filen {name} har rader som inte går att läsa; ingenting har lästs in.",
                               _cap(problems, name))
    return Table(name, None, rows, "csv")


# --- typed values -------------------------------------------------------------------------------

class Invalid(Exception):
    def __init__(self, message: str, expected: str):
        self.message, self.expected = message, expected


def _formula(v: Any) -> None:
    if isinstance(v, Formula):
        raise Invalid(f"cellen innehåller formeln {shown(v)}", "ett inskrivet värde, inte en formel")


_INT_TEXT = re.compile(r"[+-]?\d+([,.]0+)?")


def as_int(v: Any, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    if v is None or v == "":
        return None
    if type(v) is str and v.isdigit() and v.isascii():  # the common case, a plain number from a CSV
        v = int(v)
    _formula(v)
    if isinstance(v, bool):
        raise Invalid(f"{shown(v)} är inget heltal", "ett heltal")
    if isinstance(v, float):
        if not v.is_integer():
            raise Invalid(f"{str(v).replace('.', ',')} är inget heltal", "ett heltal")
        v = int(v)
    if isinstance(v, str):
        t = v.replace("\u00a0", "").replace(" ", "")
        if _INT_TEXT.fullmatch(t):
            v = int(re.split(r"[,.]", t)[0])
        else:
            raise Invalid(f"{shown(v)} är inget heltal", "ett heltal")
    if not isinstance(v, int):
        raise Invalid(f"{shown(v)} är inget heltal", "ett heltal")
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        rng = _range_text(minimum, maximum)
        raise Invalid(f"{v} ligger utanför {rng}", rng)
    return v


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"ett heltal {minimum}–{maximum}"
    if minimum is not None:
        return f"ett heltal ≥ {minimum}"
    return "ett heltal"


def as_date(v: Any) -> dt.date | None:
    if v is None or v == "":
        return None
    _formula(v)
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
        try:  # "2025-06-12 00:00:00", as a program writing datetimes saves a date
            stamp = dt.datetime.fromisoformat(v.strip())
        except ValueError:
            pass
        else:
            if stamp.time() == dt.time():
                return stamp.date()
    raise Invalid(f"{shown(v)} är inget datum", "ett datum ÅÅÅÅ-MM-DD")


def as_choice(v: Any, choices: dict[str, Any], expected: str | None = None) -> Any:
    """Match a text against choices (keys are normalised), e.g. 'Ja'/'nej'. `expected`: the choices as
    a message names them, when the keys hold spellings no one needs to be told about."""
    if v is None or v == "":
        return None
    if type(v) is str and (key := v.lower()) in choices:  # the common case: "ja", "Halvår"
        return choices[key]
    _formula(v)
    key = norm(v)
    if key in choices:
        return choices[key]
    raise Invalid(f"{shown(v)} är inget giltigt val", expected or " / ".join(sorted({str(k) for k in choices})))


def as_text(v: Any, max_len: int = 2000) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    t = str(v).strip()
    if len(t) > max_len:
        raise Invalid(f"texten är {len(t)} tecken lång", f"högst {max_len} tecken")
    return t or None
