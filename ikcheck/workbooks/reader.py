"""Reading tables from the files people actually send: xlsx from Excel, and CSV as Swedish Excel
writes it (UTF-8, UTF-8 with BOM or cp1252; semicolon or comma; decimal comma).

Nothing here touches the database. A reader finds the header row (it may have moved down), maps
columns by their Swedish header, and yields rows with their location, so every problem can name
file, sheet, row and column. Merged cells and formulas in the data are refused, not guessed at.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from xml.parsers.expat import ExpatError
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ikcheck.errors import Problem, ValidationFailed

if TYPE_CHECKING:
    from ikcheck.workbooks.cells import Book, Sheet, SheetInfo

MAX_BYTES = 200 * 1024 * 1024
# what a workbook may unpack to: a sheet filled to Excel's last row (1,048,576 results) unpacks to 500–750 MB
MAX_UNZIPPED = 1024 * 1024 * 1024
HEADER_SCAN_ROWS = 20


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


@dataclass
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


def sniff(path: Path) -> str:
    """'xlsx' or 'csv' by content, not by name; anything else is refused."""
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValidationFailed(f"Filen {path} finns inte.") from None
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
        except zipfile.BadZipFile:
            raise ValidationFailed(f"Filen {name} är en trasig zip-fil, inte en Excel-fil.",
                                   [Problem("filen är en trasig zip-fil och kan inte öppnas som Excel (xlsx)", file=name)]) from None
        if unzipped > MAX_UNZIPPED:
            mb, most = unzipped // (1024 * 1024), MAX_UNZIPPED // (1024 * 1024)
            raise ValidationFailed(f"Filen {name} packas upp till {mb} MB; högst {most} MB går att läsa in.",
                                   [Problem(f"filen packas upp till {mb} MB (en zip-bomb eller ett orimligt stort blad)",
                                            file=name, expected=f"högst {most} MB uppackat")])
        if "xl/workbook.xml" not in names:
            what = "ett Word-dokument" if "word/document.xml" in names else "en zip-fil med annat innehåll"
            raise ValidationFailed(f"Filen {name} är {what}, inte en Excel-arbetsbok.",
                                   [Problem(f"filen är {what}, inte en Excel-arbetsbok", file=name, expected="en .xlsx-fil från Excel")])
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationFailed(f"Filen {name} är i det gamla Excel-formatet (.xls).",
                               [Problem("filen är i det gamla Excel-formatet (.xls)", file=name, expected="filen sparad som .xlsx i Excel")])
    if head.startswith(b"%PDF"):
        raise ValidationFailed(f"Filen {name} är en PDF, inte en tabell.", [Problem("filen är en PDF, inte en tabell", file=name, expected="xlsx eller CSV")])
    return "csv"


def read(path: Path, columns: list[Column], sheet: str | None = None, info_sheet: str | None = None) -> Table:
    path = Path(path)
    kind = sniff(path)
    if kind == "xlsx":
        return _read_xlsx(path, columns, sheet, info_sheet)
    return _read_csv(path, columns)


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


_BROKEN = (ExpatError, zipfile.BadZipFile, KeyError, ValueError, IndexError)  # damage inside the zip


def _sheet(book: Book, sheet: SheetInfo, file: str, max_rows: int | None = None) -> Sheet:
    try:
        return book.read(sheet, max_rows)
    except _BROKEN as exc:
        raise ValidationFailed(f"Bladet {sheet.title!r} i {file} är skadat och kan inte läsas.",
                               [Problem(f"bladet är skadat ({type(exc).__name__})", file=file, sheet=sheet.title,
                                        expected="en arbetsbok sparad av Excel")]) from None


def _has_header(book: Book, sheet: SheetInfo, file: str, columns: list[Column]) -> bool:
    head = [list(r) for r in _sheet(book, sheet, file, HEADER_SCAN_ROWS).rows]
    best = _find_header(head, columns)
    return best is not None and not _missing(best[1], columns)


def _read_xlsx(path: Path, columns: list[Column], sheet: str | None, info_sheet: str | None) -> Table:
    from ikcheck.workbooks.cells import Book  # openpyxl is loaded when a workbook is read, not for every command

    name = path.name
    try:
        book = Book(path)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ValidationFailed(f"Filen {name} kan inte läsas som Excel-arbetsbok.",
                               [Problem(f"filen är skadad eller inte en riktig xlsx ({type(exc).__name__})", file=name)]) from None
    with book:
        if not book.sheets:
            raise ValidationFailed(f"Filen {name} har inga kalkylblad.", [Problem("arbetsboken har inga kalkylblad", file=name)])
        # The named sheet if there is one; otherwise the first visible sheet with the right headers.
        if sheet and sheet in book.sheetnames:
            ws = book[sheet]
        else:
            ws = next((w for w in book.sheets if w.state == "visible" and _has_header(book, w, name, columns)),
                      book.sheets[0])
        extra = {}
        if info_sheet and info_sheet in book.sheetnames:
            for r in _sheet(book, book[info_sheet], name).rows:
                if r and r[0] is not None:
                    extra[str(r[0])] = r[1] if len(r) > 1 else None
        data = _sheet(book, ws, name)
    head = [list(cells) for cells in data.rows[:HEADER_SCAN_ROWS]]
    if not any(any(v not in (None, "") for v in r) for r in head):
        raise ValidationFailed(f"Bladet {ws.title!r} i {name} är tomt.",
                               [Problem("bladet är tomt: det innehåller inga rader", file=name, sheet=ws.title)])
    best = _find_header(head, columns)
    if best is None or _missing(best[1], columns):
        raise _header_problem(name, ws.title, best, columns)
    header_row, found = best
    extra["_preamble"] = head[:header_row]
    merged = [r for r in data.merged if _range_rows(r)[1] > header_row + 1]
    if merged:
        raise ValidationFailed(f"Bladet {ws.title!r} i {name} har sammanfogade celler.", [
            Problem(f"cellerna {ref} är sammanfogade; dela upp dem så att varje rad har egna värden",
                    file=name, sheet=ws.title, row=_range_rows(ref)[0]) for ref in merged[:20]])
    letters = {k: _letter(i) for k, i in found.items()}
    rows: list[Row] = []
    items = list(found.items())
    # Values, not cell objects: a formula arrives as its text ("=A1"), which typed readers (as_int,
    # as_date, as_choice) refuse with a precise message.
    for number, cells in enumerate(data.rows[header_row + 1:], start=header_row + 2):
        n = len(cells)
        values = {}
        for key, i in items:
            v = cells[i] if i < n else None
            values[key] = v.strip() if isinstance(v, str) else v
        rows.append(Row(name, ws.title, number, values, letters))
    return Table(name, ws.title, rows, "xlsx", extra)


ENCODINGS = ("utf-8-sig", "cp1252")


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ValidationFailed(f"Filen {path.name} är ingen textfil (CSV) och ingen Excel-arbetsbok.",
                               [Problem("filen är varken en Excel-arbetsbok eller en textfil (CSV)", file=path.name, expected="xlsx eller CSV")])
    for enc in ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(f"Filen {path.name} har en okänd teckenkodning.",
                           [Problem("filens teckenkodning är okänd", file=path.name, expected="UTF-8 eller Windows-1252")])


def _read_csv(path: Path, columns: list[Column]) -> Table:
    name = path.name
    text = _decode(path)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ValidationFailed(f"Filen {name} är tom.", [Problem("filen är tom: den innehåller inga rader", file=name)])
    first = next(line for line in lines if line.strip())
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    problems: list[Problem] = []
    try:
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ValidationFailed(f"Filen {name} är inte en giltig CSV-fil.",
                               [Problem(f"citattecknen stämmer inte ({exc})", file=name,
                                        expected=f"fält avgränsade med {delimiter!r} och avslutade citattecken")]) from None
    best = _find_header(parsed, columns)
    if best is None or _missing(best[1], columns):
        raise _header_problem(name, None, best, columns)
    header_row, found = best
    width = len(parsed[header_row])
    letters = {k: parsed[header_row][i] for k, i in found.items()}
    rows = []
    for number, cells in enumerate(parsed[header_row + 1:], start=header_row + 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            problems.append(Problem(f"raden har {len(cells)} fält men rubrikraden har {width}", file=name, row=number,
                                    expected=f"lika många fält på varje rad, avgränsade med {delimiter!r}"))
            continue
        values = {k: (cells[i].strip() or None) for k, i in found.items()}
        rows.append(Row(name, None, number, values, letters))
    if problems:
        raise ValidationFailed(f"Filen {name} har rader som inte går att läsa; ingenting har lästs in.", problems[:200])
    return Table(name, None, rows, "csv")


# --- typed values -------------------------------------------------------------------------------

class Invalid(Exception):
    def __init__(self, message: str, expected: str):
        self.message, self.expected = message, expected


def _formula(v: Any) -> None:
    if isinstance(v, str) and v.startswith("="):
        raise Invalid(f"cellen innehåller formeln {v[:40]!r}", "ett inskrivet värde, inte en formel")


_INT_TEXT = re.compile(r"[+-]?\d+([,.]0+)?")


def as_int(v: Any, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    if v is None or v == "":
        return None
    if type(v) is str and v.isdigit() and v.isascii():  # the common case, a plain number from a CSV
        v = int(v)
    _formula(v)
    if isinstance(v, bool):
        raise Invalid(f"{v!r} är inget heltal", "ett heltal")
    if isinstance(v, float):
        if not v.is_integer():
            raise Invalid(f"{str(v).replace('.', ',')} är inget heltal", "ett heltal")
        v = int(v)
    if isinstance(v, str):
        t = v.replace("\u00a0", "").replace(" ", "")
        if _INT_TEXT.fullmatch(t):
            v = int(re.split(r"[,.]", t)[0])
        else:
            raise Invalid(f"{v!r} är inget heltal", "ett heltal")
    if not isinstance(v, int):
        raise Invalid(f"{v!r} är inget heltal", "ett heltal")
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
    raise Invalid(f"{v!r} är inget datum", "ett datum ÅÅÅÅ-MM-DD")


def as_choice(v: Any, choices: dict[str, Any]) -> Any:
    """Match a text against choices (keys are normalised), e.g. 'Ja'/'nej'."""
    if v is None or v == "":
        return None
    _formula(v)
    key = norm(v)
    if key in choices:
        return choices[key]
    raise Invalid(f"{v!r} är inget giltigt val", " / ".join(sorted({str(k) for k in choices})))


def as_text(v: Any, max_len: int = 2000) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    t = str(v).strip()
    if len(t) > max_len:
        raise Invalid(f"texten är {len(t)} tecken lång", f"högst {max_len} tecken")
    return t or None
