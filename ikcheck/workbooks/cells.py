"""The cell values of one worksheet, read straight from its XML.

openpyxl opens the workbook (sheet names and states, shared strings, which styles are dates); this
module then reads the one sheet an import needs with expat, giving each row exactly the values
`ws.iter_rows(values_only=True)` gives (tests/test_results.py compares the two on every kind of cell),
about four times as fast: openpyxl builds a dictionary and parses a coordinate per cell, which made
reading the file most of a results import (benchmarks/bench_results.py). The same pass collects the
sheet's merged ranges, which read-only openpyxl does not expose.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass
from typing import Any

from openpyxl.formula.translate import Translator
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.constants import SHEET_MAIN_NS

_NS = SHEET_MAIN_NS + " "
_C, _V, _F, _ROW, _IS, _T, _RPH, _MERGE = (_NS + tag for tag in ("c", "v", "f", "row", "is", "t", "rPh", "mergeCell"))


@dataclass
class Sheet:
    rows: list[tuple[Any, ...]]  # rows[i] is row i + 1; a row without cells is ()
    merged: list[str]  # "A2:C2"


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


def read_sheet(wb, ws) -> Sheet:
    """Every row of a read-only worksheet `ws` of workbook `wb` (openpyxl, read_only=True,
    data_only=False): numbers, dates by their cell style, booleans, shared and inline strings, error
    codes as text, and formulas as their text beginning with '='."""
    strings = ws._shared_strings  # the workbook's table as read (wb.shared_strings is for writing)
    dates, deltas, epoch = wb._date_formats, wb._timedelta_formats, wb.epoch
    rows: list[tuple[Any, ...]] = []
    merged: list[str] = []
    shared_formulas: dict[str, Translator] = {}
    cells: list[tuple[int, Any]] = []
    text: list[str] = []
    row = col = style = 0
    kind = ref = formula = None
    value: Any = None
    capture = inline = phonetic = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row, col, style, kind, ref, formula, value, capture, inline, phonetic
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
            col = 0
            cells.clear()
        elif name == _IS:
            text.clear()
            inline = True
        elif name == _T:
            capture = inline and not phonetic
        elif name == _RPH:
            phonetic = True
        elif name == _MERGE:
            merged.append(attrs.get("ref", ""))

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

    def _value(kind: str, style: int, value: Any, formula: Any) -> Any:
        if formula is not None:
            attrs, body = formula
            return _formula(attrs, "=" + body, ref, shared_formulas)
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
    with wb._archive.open(ws._worksheet_path) as fh:
        parser.ParseFile(fh)
    return Sheet(rows, merged)


def _formula(attrs: dict[str, str], text: str, ref: str | None, shared: dict[str, Translator]) -> Any:
    """A formula as openpyxl gives it: its text, translated for a shared formula's other cells."""
    kind = attrs.get("t")
    if kind == "array":
        return ArrayFormula(ref=attrs.get("ref"), text=text)
    if kind == "shared":
        index = attrs.get("si")
        if index in shared:
            return shared[index].translate_formula(ref)
        if text != "=":
            shared[index] = Translator(text, ref)
    elif kind == "dataTable":
        return DataTableFormula(**attrs)
    return text
