"""Sheets that read and print: every table ikcheck writes for Excel gets its header row bold on a
fill, frozen and repeated on every printed page, an autofilter, widths on the right columns, wrapped
text, ja/nej for booleans and Swedish dates, and a page set-up of A4 fitted to one page wide
(landscape when wide). One helper, so that every xlsx behaves alike."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ikcheck.workbooks.safe import set_text

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

HEADER_FILL = "E8EEF5"
WIDE = ("Kontrollmoment", "Åtgärd", "Iakttagelse", "Risk", "Rubrik", "Kommentar", "Skäl", "Motivering", "Bedömning",
        "Värde", "Bedömning av intern kontroll", "Årshjul", "Källa", "Beskrivning")


def cell_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "ja" if v else "nej"
    return v


def print_setup(ws: Worksheet, columns: int, header_row: int | None = None) -> None:
    """A4, fitted to one page wide (as many pages long as needed), landscape from six columns, the
    header row repeated on every page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if columns > 5 else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "Sida &P av &N"
    ws.oddHeader.left.text = "&A"
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"


def font(**style):
    """A cell's font, named: Excel shows a font without a name in Calibri, LibreOffice in a serif."""
    from openpyxl.styles import Font

    return Font(**{"name": "Calibri", "size": 11, **style})


def header(ws: Worksheet, row: int, headers: list[str], widths: list[float] | None = None) -> None:
    from openpyxl.styles import Alignment, PatternFill

    fill = PatternFill("solid", fgColor=HEADER_FILL)
    for j, h in enumerate(headers, start=1):
        c = set_text(ws.cell(row, j), h)
        c.font, c.fill = font(bold=True), fill
        c.alignment = Alignment(wrap_text=True, vertical="top")
        width = widths[j - 1] if widths else (44 if h in WIDE or len(h) > 24 else max(12, min(24, len(h) + 4)))
        ws.column_dimensions[c.column_letter].width = width


def table(ws: Worksheet, row: int, headers: list[str], rows: list[list[Any]],
          widths: list[float] | None = None, empty: str | None = None) -> int:
    """A table from `row` down: header, rows, frozen header, autofilter, print set-up. Returns the
    last row written. A table without rows says so in `empty` ("Planen har inga direktåtgärder."),
    in italics under its header, so that a sheet of a header alone does not look like a fault."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    header(ws, row, headers, widths)
    top = Alignment(wrap_text=True, vertical="top")
    last = row
    if not rows and empty:
        set_text(ws.cell(row + 1, 1), empty).font = font(italic=True)
    for i, r in enumerate(rows, start=row + 1):
        for j, v in enumerate(r, start=1):
            v = cell_value(v)
            c = set_text(ws.cell(i, j), v)
            c.alignment = top
            if isinstance(v, (dt.date, dt.datetime)):
                c.number_format = "yyyy-mm-dd"
        last = i
    ws.freeze_panes = ws.cell(row + 1, 1)
    ws.auto_filter.ref = f"A{row}:{get_column_letter(len(headers))}{max(last, row + 1)}"
    print_setup(ws, len(headers), row)
    return last


def sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]],
          widths: list[float] | None = None, empty: str | None = None) -> Worksheet:
    ws = wb.create_sheet(title)
    table(ws, 1, headers, rows, widths, empty)
    return ws
