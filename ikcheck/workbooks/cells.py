"""Reading an xlsx workbook's sheets as rows of values, for the imports.

openpyxl reads the workbook's parts (which sheets there are and where, the shared strings, which cell
styles are dates); the sheets themselves are parsed here with expat, each row getting the values
openpyxl's `iter_rows(values_only=True)` gives (tests/test_results.py compares the two on every kind
of cell; only an array formula differs: its text here, an object there), about four times as fast:
openpyxl builds a dictionary and parses a coordinate per cell, which made reading the file most of a
results import (benchmarks/bench_results.py). openpyxl's own read-only workbook is not used: opening
it reads every sheet without a <dimension> element (files from programs other than Excel) to the end
just to size it. The same pass collects merged ranges, which read-only openpyxl does not expose.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl.formula.translate import Translator
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.constants import SHEET_MAIN_NS

from ikcheck.workbooks.reader import Formula

_NS = SHEET_MAIN_NS + " "
_C, _V, _F, _ROW, _IS, _T, _RPH, _MERGE, _COL, _FILTER = (
    _NS + tag for tag in ("c", "v", "f", "row", "is", "t", "rPh", "mergeCell", "col", "filterColumn"))


class TooManyRows(Exception):
    """The sheet goes on past the rows a reader accepts (`limit`)."""


@dataclass
class Sheet:
    rows: list[tuple[Any, ...]]  # rows[i] is row i + 1; a row without cells is ()
    merged: list[str]  # "A2:C2"
    hidden_rows: list[int] = field(default_factory=list)  # 1-based
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)  # 1-based, inclusive spans
    filtered: bool = False  # a filter on the sheet chooses rows (Data > Filter): what hides rows in most files


@dataclass(frozen=True)
class SheetInfo:
    title: str
    state: str  # visible, hidden, veryHidden
    path: str  # inside the zip


class Book:
    """An open workbook: its worksheets (not chartsheets) in order, each read on demand."""

    def __init__(self, path: Path):
        # An open file, not its name: openpyxl refuses names not ending in .xlsx, and a workbook saved
        # under another name (sniff() has seen it is one) is read all the same.
        self._file = open(path, "rb")
        try:
            reader = ExcelReader(self._file, read_only=True, keep_vba=False, data_only=False, keep_links=False)
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.parser.wb)
        except BaseException:
            self._file.close()
            raise
        wb = reader.parser.wb
        self._archive = reader.archive
        self._strings = reader.shared_strings
        self._dates, self._deltas, self._epoch = wb._date_formats, wb._timedelta_formats, wb.epoch
        self.sheets = [SheetInfo(sheet.name, sheet.state or "visible", rel.target)
                       for sheet, rel in reader.parser.find_sheets()
                       if rel.target in reader.valid_files and "chartsheet" not in rel.Type]

    @property
    def sheetnames(self) -> list[str]:
        return [s.title for s in self.sheets]

    def __getitem__(self, title: str) -> SheetInfo:
        return next(s for s in self.sheets if s.title == title)

    def read(self, sheet: SheetInfo, max_rows: int | None = None, limit: int | None = None) -> Sheet:
        """The sheet's rows (the first max_rows only, if given), merged ranges, hidden rows and columns.
        `limit`: raise TooManyRows rather than read a sheet with more rows (bounded memory)."""
        return _read(self._archive, sheet.path, self._strings, self._dates, self._deltas, self._epoch, max_rows,
                     limit)

    def close(self) -> None:
        self._archive.close()
        self._file.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Enough(Exception):
    """Stops the parser once the rows asked for are read."""


def _column(ref: str) -> int:
    """1-based column of a cell reference such as 'AB12'."""
    n = 0
    for ch in ref:
        o = ord(ch)
        if o > 64:
            n = n * 26 + o - 64
        else:
            break
    return n


def _read(archive, path: str, strings: list[str], dates: set[int], deltas: set[int], epoch,
          max_rows: int | None, limit: int | None = None) -> Sheet:
    """Numbers, dates by their cell style, booleans, shared and inline strings, error codes as text,
    and formulas as their text beginning with '=' (array formulas included)."""
    rows: list[tuple[Any, ...]] = []
    merged: list[str] = []
    hidden_rows: list[int] = []
    hidden_cols: list[tuple[int, int]] = []
    filtered = False
    shared_formulas: dict[str, Translator] = {}
    cells: list[tuple[int, Any]] = []
    text: list[str] = []
    row = col = style = 0
    kind = ref = formula = None
    value: Any = None
    capture = inline = phonetic = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row, col, style, kind, ref, formula, value, capture, inline, phonetic, filtered
        if name == _C:
            ref = attrs.get("r")
            col = _column(ref) if ref else col + 1
            kind = attrs.get("t", "n")
            s = attrs.get("s")
            style = int(s) if s else 0
            value = formula = None
        elif name == _V:
            text.clear()
            capture = True
        elif name == _F:
            text.clear()
            capture = True
            formula = attrs
        elif name == _ROW:
            r = attrs.get("r")
            row = int(r) if r else row + 1
            if limit is not None and row > limit:
                raise TooManyRows(row)
            col = 0
            cells.clear()
            if attrs.get("hidden") in ("1", "true"):
                hidden_rows.append(row)
        elif name == _IS:
            text.clear()
            inline = True
        elif name == _T:
            capture = inline and not phonetic
        elif name == _RPH:
            phonetic = True
        elif name == _MERGE:
            merged.append(attrs.get("ref", ""))
        elif name == _COL and attrs.get("hidden") in ("1", "true"):
            hidden_cols.append((int(attrs.get("min", 0)), int(attrs.get("max", 0))))
        elif name == _FILTER:
            filtered = True

    def data(chunk: str) -> None:
        if capture:
            text.append(chunk)

    def end(name: str) -> None:
        nonlocal value, capture, inline, phonetic, formula
        if name == _C:
            cells.append((col, _value(kind, style, value, formula)))
        elif name == _V:
            value = "".join(text) or None
            capture = False
        elif name == _F:
            formula = (formula, "".join(text))
            capture = False
        elif name == _T:
            capture = False
        elif name == _RPH:
            phonetic = False
        elif name == _IS:
            inline = False
            value = "".join(text)
        elif name == _ROW:
            if row <= len(rows):  # Excel writes rows in order; a file that does not is refused, not guessed at
                raise ValueError(f"row {row} comes after row {len(rows)}")
            rows.extend([()] * (row - 1 - len(rows)))  # rows missing from the file are empty
            if cells:
                width = cells[-1][0]  # as openpyxl: the row is as wide as its last cell
                out = [None] * width
                for c, v in cells:
                    if 0 < c <= width:
                        out[c - 1] = v
                rows.append(tuple(out))
            else:
                rows.append(())
            if max_rows is not None and len(rows) >= max_rows:
                raise _Enough

    def _value(kind: str, style: int, value: Any, formula: Any) -> Any:
        if formula is not None:
            attrs, body = formula
            return Formula(_formula(attrs, "=" + body, ref, shared_formulas))
        if kind == "inlineStr":  # value is the text of <is>, or None without one
            return value
        if value is None:
            return None
        if kind == "n":
            number = float(value) if "." in value or "E" in value or "e" in value else int(value)
            if style in dates:
                try:
                    return from_excel(number, epoch, timedelta=style in deltas)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if kind == "s":
            return strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            return from_ISO8601(value)
        return value  # "str" (a formula's text result) and "e" (an error such as #N/A)

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    parser.buffer_text = True
    with archive.open(path) as fh:
        try:
            parser.ParseFile(fh)
        except _Enough:
            del rows[max_rows:]
    return Sheet(rows, merged, hidden_rows, hidden_cols, filtered)


def _formula(attrs: dict[str, str], text: str, ref: str | None, shared: dict[str, Translator]) -> str:
    """A formula's text, translated for a shared formula's other cells as openpyxl does. Array and
    data-table formulas are text too (openpyxl gives objects), so an import names every formula as one."""
    kind = attrs.get("t")
    if kind == "shared":
        index = attrs.get("si")
        if index in shared:
            return shared[index].translate_formula(ref)
        if text != "=":
            shared[index] = Translator(text, ref)
    elif kind == "dataTable":
        return f"=TABLE({attrs.get('r1', '')},{attrs.get('r2', '')})"
    return text
