"""Plans and reports as Word documents (python-docx), for the nämnd's agenda in the ärendesystem.

The Word file is written from the same HTML as the PDF, element by element: h1–h3 become Word's
headings, p paragraphs, ul bulleted lists, table real Word tables (header row repeated on every page,
a group heading row merged across, the PDF's column proportions, no row split over two pages, a
heat map kept on one page with its heading; a bar chart's labels and values as rows), the running
header and footer Word's own, with Word's own page numbers. So a Word document always has the same
contents, in the same order, as its PDF, and the ärendesystem's Word template styles apply to it. A
kommun's own .docx (`mall.docx` in its reports folder) is the base document when present: its
styles, page set-up, header logo. The bytes are reproducible: the zip's and core properties' dates
are the data's own time.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

SKIP = {"head", "style", "title", "script"}
_BG = re.compile(r"background:\s*(#[0-9a-fA-F]{6})")
_FG = re.compile(r"(?:^|;)\s*color:\s*(#[0-9a-fA-F]{6})")
_WIDTH = re.compile(r"width:\s*([0-9.]+)%")


class _Cell:
    def __init__(self, header: bool, colspan: int, style: str):
        self.header, self.colspan, self.style = header, colspan, style
        self.paragraphs: list[list[tuple[str, bool]]] = [[]]


class _Builder(HTMLParser):
    """Walks the document's HTML and writes it into a python-docx Document."""

    def __init__(self, doc):
        super().__init__(convert_charrefs=True)
        self.doc = doc
        self.stack: list[tuple[str, dict]] = []
        self.skip = 0
        self.para = None            # the Word paragraph being written, outside tables
        self.bold = 0
        self.small = 0
        self.table: list[list[_Cell]] | None = None
        self.widths: list[float | None] = []  # the table's column widths in per cent, from its colgroup
        self.keep_table = False
        self.head_rows = 0
        self.in_head = False
        self.cell: _Cell | None = None
        self.header_text = ""
        self.footer_text = ""
        self.capture: str | None = None
        self.page_break = False
        self.list_item = False

    # --- elements -------------------------------------------------------------------------------
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "")
        if tag in ("br",):
            self._newline()
            return
        self.stack.append((tag, a))
        if tag in SKIP or "watermark" in cls or a.get("aria-hidden") == "true":
            self.skip += 1
            return
        if self.skip:
            return
        if "running-footer" in cls or "running-ref" in cls:
            self.capture = "footer" if "running-footer" in cls else "header"
            return
        if tag == "section" and "appendix" in cls:
            self.page_break = True
        if tag in ("h1", "h2", "h3"):
            self.para = self.doc.add_heading("", level=int(tag[1]))
            self._break_before()
        elif tag == "p" or (tag == "div" and self.table is None and "why" in cls):
            self.para = self.doc.add_paragraph()
            self._break_before()
            if "why" in cls or "provenance" in cls or "meta" in cls:
                self.small += 1
        elif tag == "li":
            self.para = self.doc.add_paragraph(style="List Bullet")
        elif tag == "dt":
            self.para = self.doc.add_paragraph()
            self.bold += 1
        elif tag == "dd":
            self.para.add_run("\t")
        elif tag in ("table", "svg") and self.table is None:
            self.table, self.head_rows, self.widths = [], 0, []  # a bar chart's labels and values: rows
            # kept on one page, as the PDF keeps it (the heat map, a .keep block)
            self.keep_table = "heatmap" in cls or any("keep" in x.get("class", "").split() for _, x in self.stack)
        elif tag == "col" and self.table is not None:
            width = _WIDTH.search(a.get("style", ""))
            self.widths.append(float(width.group(1)) if width else None)
        elif tag == "text" and self.table is not None:
            if not self.table or len(self.table[-1]) == 2:
                self.table.append([])
            self.cell = _Cell(False, 1, "")
            self.table[-1].append(self.cell)
        elif tag == "caption":
            self.para = self.doc.add_paragraph()
            self.para.paragraph_format.keep_with_next = True  # above its table, on the same page
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr" and self.table is not None:
            self.table.append([])
            if self.in_head:
                self.head_rows += 1
        elif tag in ("td", "th") and self.table is not None:
            self.cell = _Cell(tag == "th", int(a.get("colspan", 1)), a.get("style", ""))
            self.table[-1].append(self.cell)
            if tag == "th":
                self.bold += 1
        elif tag == "div" and self.cell is not None:
            self.cell.paragraphs.append([])
            if "why" in cls:
                self.small += 1
        elif tag in ("strong", "b"):
            self.bold += 1
        elif tag == "span" and ("badge" in cls or "level" in cls):
            self.bold += 1
        elif tag == "small":
            self.small += 1

    def handle_endtag(self, tag):
        if tag == "br":
            return
        while self.stack:
            open_tag, a = self.stack.pop()
            self._close(open_tag, a)
            if open_tag == tag:
                break

    def _close(self, tag, a):
        cls = a.get("class", "")
        if tag in SKIP or "watermark" in cls or a.get("aria-hidden") == "true":
            self.skip -= 1
            return
        if self.skip:
            return
        if "running-footer" in cls or "running-ref" in cls:
            self.capture = None
            return
        if tag in ("th",) and self.table is not None:
            self.bold -= 1
        if tag in ("strong", "b", "dt") or (tag == "span" and ("badge" in cls or "level" in cls)):
            self.bold -= 1
        if (tag in ("p", "div") and ("why" in cls or "provenance" in cls or "meta" in cls)) or tag == "small":
            self.small -= 1
        if tag in ("td", "th", "text"):
            self.cell = None
        elif tag == "thead":
            self.in_head = False
        elif tag in ("table", "svg") and self.table is not None:
            self._write_table()
            self.table = None
        elif tag in ("p", "li", "h1", "h2", "h3", "dd", "caption") or (tag == "div" and "why" in cls and self.cell is None):
            self.para = None

    def handle_data(self, data):
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data.replace("\u00ad", ""))
        if self.capture:
            setattr(self, f"{self.capture}_text", (getattr(self, f"{self.capture}_text") + text).strip())
            return
        within = self.cell.paragraphs[-1] if self.cell is not None else self.para is not None and self.para.runs
        if not text.strip() and not within:
            return  # space between elements within a paragraph is kept ("4 gröna 3 gula")
        if self.cell is not None:
            self.cell.paragraphs[-1].append((text, self.bold > 0))
            return
        if self.para is None:
            if not text.strip():
                return
            self.para = self.doc.add_paragraph()
        if not self.para.runs:
            text = text.lstrip()
        run = self.para.add_run(text)
        run.bold = self.bold > 0 or None
        if self.small:
            run.font.size = Pt(8.5)

    def _newline(self):
        if self.cell is not None:
            self.cell.paragraphs.append([])
        elif self.para is not None:
            self.para.add_run().add_break()

    def _break_before(self):
        if any("keep" in x.get("class", "").split() for _, x in self.stack):
            self.para.paragraph_format.keep_with_next = True  # a .keep block's heading stays with it
        if self.page_break:
            self.para.paragraph_format.page_break_before = True
            self.page_break = False

    # --- tables ---------------------------------------------------------------------------------
    def _write_table(self):
        rows = [r for r in self.table if r]
        if not rows:
            return
        width = max(sum(c.colspan for c in r) for r in rows)
        table = self.doc.add_table(rows=0, cols=width)
        table.style = "Table Grid"
        section = self.doc.sections[-1]
        text_width = section.page_width - section.left_margin - section.right_margin
        widths = None
        if len(self.widths) == width and all(self.widths):  # the PDF's proportions, not equal columns
            table.autofit = False
            widths = [int(text_width * w / sum(self.widths)) for w in self.widths]
            for column, w in zip(table.columns, widths):
                column.width = w  # the grid (LibreOffice reads it); each cell's own width for Word
        for i, r in enumerate(rows):
            cells = table.add_row().cells
            col = 0
            for c in r:
                target = cells[col]
                if c.colspan > 1:
                    target = target.merge(cells[min(width, col + c.colspan) - 1])
                col += c.colspan
                self._fill(target, c)
            if widths:
                for cell, w in zip(cells, widths):
                    cell.width = w
            if self.keep_table and i < len(rows) - 1:
                for cell in cells:
                    for para in cell.paragraphs:
                        para.paragraph_format.keep_with_next = True
            tr_pr = table.rows[i]._tr.get_or_add_trPr()
            tr_pr.append(OxmlElement("w:cantSplit"))  # a row is not split over two pages, as in the PDF
            if i < self.head_rows:
                header = OxmlElement("w:tblHeader")
                header.set(qn("w:val"), "true")
                tr_pr.append(header)
        self.doc.add_paragraph()

    @staticmethod
    def _fill(target, c: _Cell):
        paragraphs = [p for p in c.paragraphs if "".join(t for t, _ in p).strip()] or [[("", False)]]
        target.text = ""
        first = True
        for p in paragraphs:
            para = target.paragraphs[0] if first else target.add_paragraph()
            first = False
            for i, (text, bold) in enumerate(p):
                run = para.add_run(text.lstrip() if i == 0 else text)
                run.bold = bold or None
                if c.header:  # smaller, as in the PDF: a narrow column's heading then breaks between words
                    run.font.size = Pt(7.5)
        bg, fg = _BG.search(c.style), _FG.search(c.style)
        if bg:
            shading = OxmlElement("w:shd")
            shading.set(qn("w:val"), "clear")
            shading.set(qn("w:color"), "auto")
            shading.set(qn("w:fill"), bg.group(1)[1:])
            target._tc.get_or_add_tcPr().append(shading)
        if fg:
            for para in target.paragraphs:
                for run in para.runs:
                    run.font.color.rgb = RGBColor.from_string(fg.group(1)[1:].upper())


def _base(template: Path | None, title: str, token: str, landscape: bool):
    doc = Document(str(template)) if template and template.is_file() else Document()
    doc.core_properties.title = title
    doc.core_properties.keywords = token  # the Kontrollsumma, read back by `audit verify --anchor`
    doc.core_properties.language = "sv-SE"
    if not (template and template.is_file()):
        section = doc.sections[0]
        if landscape:
            section.orientation = WD_ORIENT.LANDSCAPE
            section.page_width, section.page_height = section.page_height, section.page_width
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(2))
        style = doc.styles["Normal"]
        style.font.name = "Calibri"
        style.font.size = Pt(10)
    return doc


def write(html: str, path: Path, *, title: str, author: str, token: str = "", at: dt.datetime | None = None,
          template: Path | None = None, landscape: bool = True) -> Path:
    """The document's HTML as a Word file with the same headings, paragraphs and tables."""
    doc = _base(template, title, token, landscape)
    doc.core_properties.author = author
    b = _Builder(doc)
    b.feed(html)
    b.close()
    section = doc.sections[0]
    if b.header_text:
        _right_tab(section, section.header.paragraphs[0]).text = f"{title}\t{b.header_text}"
    footer = _right_tab(section, section.footer.paragraphs[0])
    footer.text = f"{b.footer_text}\t"
    _page_numbers(footer)
    if "UTKAST" in html and 'class="watermark"' in html:
        run = section.header.add_paragraph().add_run("UTKAST – EJ BESLUTAD")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
    _save(doc, path, at)
    return path


def _right_tab(section, paragraph):
    """One tab stop, at the right margin, instead of the style's (Word's header and footer styles set
    theirs for a portrait page): what follows a tab ends at the margin, as in the PDF."""
    tabs = paragraph.paragraph_format.tab_stops
    for stop in paragraph.style.paragraph_format.tab_stops:
        tabs.add_tab_stop(stop.position, WD_TAB_ALIGNMENT.CLEAR)
    tabs.add_tab_stop(section.page_width - section.left_margin - section.right_margin, WD_TAB_ALIGNMENT.RIGHT)
    return paragraph


def _page_numbers(paragraph) -> None:
    """"Sida 3 av 12", as in the PDF: Word's own PAGE and NUMPAGES fields, so the numbers follow the
    pages Word lays out (the 1s are only what a reader shows before it counts)."""
    for text, instr in (("Sida ", "PAGE"), (" av ", "NUMPAGES")):
        paragraph.add_run(text).font.size = Pt(8)
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), f" {instr} ")
        run = OxmlElement("w:r")
        props = OxmlElement("w:rPr")
        size = OxmlElement("w:sz")
        size.set(qn("w:val"), "16")  # half-points: 8 pt
        props.append(size)
        shown = OxmlElement("w:t")
        shown.text = "1"
        run.append(props)
        run.append(shown)
        field.append(run)
        paragraph._p.append(field)


def _save(doc, path: Path, at: dt.datetime | None) -> None:
    """Reproducible bytes: the core properties' dates and every zip entry's date are the data's time."""
    when = (at or dt.datetime(2000, 1, 1)).replace(microsecond=0, tzinfo=None)
    doc.core_properties.created = doc.core_properties.modified = when
    doc.core_properties.last_modified_by = doc.core_properties.author
    doc.core_properties.revision = 1
    raw = io.BytesIO()
    doc.save(raw)
    raw.seek(0)
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            out.writestr(entry, src.read(info.filename))

