"""Plans and reports as Word documents (python-docx), for the nämnd's agenda in the ärendesystem.

The Word file is written from the same HTML as the PDF, element by element: h1–h3 become Word's
headings, p paragraphs, ul bulleted lists, table real Word tables (header row repeated on every page,
a group heading row merged across, the PDF's column proportions, no row split over two pages, a
heat map kept on one page with its heading; a bar chart's labels and values as rows), the running
header and footer Word's own, with Word's own page numbers. So a Word document always has the same
contents, in the same order, as its PDF, and the ärendesystem's Word template styles apply to it. As
in the PDF: the colour badges and levels in their colours (from the document's own CSS, which a
kommun may replace), numbers right-aligned, words in table cells hyphenated by Swedish rules, the
headings' soft hyphens kept. The text is marked Swedish, so Word checks its spelling in Swedish and a
screen reader reads it with a Swedish voice (python-docx's default template says en-US). A
kommun's own .docx (`mall.docx` in its reports folder) is the base document when present: its
styles, paper and margins (turned landscape, as the PDF), its header's logo and lines, with the
running header below them. Without one the paper is A4. The bytes are reproducible: the zip's and
core properties' dates are the data's own time.
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
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

SKIP = {"head", "style", "title", "script"}
_WIDTH = re.compile(r"width:\s*([0-9.]+)%")
_RULE = re.compile(r"\.([\w-]+)\s*\{([^}]*)\}")  # a one-class rule of the CSS: .red { background: …; color: … }
_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
SOFT_HYPHEN = "\u00ad"
# where each element goes among its siblings (the schema's order, which Word holds to)
_AFTER_HYPHENATION = (
    "w:consecutiveHyphenLimit", "w:hyphenationZone", "w:doNotHyphenateCaps", "w:showEnvelope", "w:summaryLength",
    "w:clickAndTypeStyle", "w:defaultTableStyle", "w:evenAndOddHeaders", "w:bookFoldRevPrinting",
    "w:bookFoldPrinting", "w:bookFoldPrintingSheets", "w:drawingGridHorizontalSpacing",
    "w:drawingGridVerticalSpacing", "w:displayHorizontalDrawingGridEvery", "w:displayVerticalDrawingGridEvery",
    "w:doNotUseMarginsForDrawingGridOrigin", "w:drawingGridHorizontalOrigin", "w:drawingGridVerticalOrigin",
    "w:doNotShadeFormData", "w:noPunctuationKerning", "w:characterSpacingControl", "w:printTwoOnOne",
    "w:strictFirstAndLastChars", "w:noLineBreaksAfter", "w:noLineBreaksBefore", "w:savePreviewPicture",
    "w:doNotValidateAgainstSchema", "w:saveInvalidXml", "w:ignoreMixedContent", "w:alwaysShowPlaceholderText",
    "w:doNotDemarcateInvalidXml", "w:saveXmlDataOnly", "w:useXSLTWhenSaving", "w:saveThroughXslt",
    "w:showXMLTags", "w:alwaysMergeEmptyNamespace", "w:updateFields", "w:hdrShapeDefaults", "w:footnotePr",
    "w:endnotePr", "w:compat", "w:docVars", "w:rsids", "m:mathPr", "w:attachedSchema", "w:themeFontLang",
    "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures", "w:forceUpgrade",
    "w:captions", "w:readModeInkLockDown", "w:smartTagType", "sl:schemaLibrary", "w:shapeDefaults",
    "w:doNotEmbedSmartTags", "w:decimalSymbol", "w:listSeparator")
_AFTER_SUPPRESS_HYPHENS = (
    "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
    "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
    "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_RUN_SHADING = ("w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout",
                      "w:specVanish", "w:oMath")
_AFTER_LANG = ("w:eastAsianLayout", "w:specVanish", "w:oMath")


class _Cell:
    def __init__(self, header: bool, colspan: int, style: str, right: bool = False):
        self.header, self.colspan, self.style, self.right = header, colspan, style, right
        self.hyphenate = True  # not where a hash is: a hyphen in it would be read as part of it
        self.paragraphs: list[list[tuple[str, bool, tuple | None]]] = [[]]  # (text, bold, shade) runs


def _coloured(tag: str, attrs: dict) -> bool:
    """A span in colour: a badge, a level, or one with its own background (the heat map's legend)."""
    cls = attrs.get("class") or ""
    return tag == "span" and ("badge" in cls or "level" in cls or "background" in (attrs.get("style") or ""))


def _hex(value: str) -> str:
    """A CSS colour as Word writes it: six hex digits, no #."""
    value = value.lstrip("#")
    return (value if len(value) == 6 else "".join(c * 2 for c in value)).upper()


def _colours(declarations: str) -> tuple[str | None, str | None]:
    """(background, text colour) of a CSS declaration block or style attribute, as six hex digits."""
    found: dict[str, str] = {}
    for part in declarations.split(";"):
        name, _, value = part.partition(":")
        colour = _HEX.search(value)
        if colour and name.strip() in ("background", "background-color", "color"):
            found["color" if name.strip() == "color" else "background"] = _hex(colour.group(0))
    return found.get("background"), found.get("color")


def _shading(fill: str):
    """A cell's or a run's background colour."""
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    return shading


def _text_run(para, text: str, *, bold: bool = False, size: float | None = None, shade: tuple | None = None):
    """A run of text; a soft hyphen becomes Word's own (w:softHyphen), a place Word may break the word."""
    run = para.add_run()
    for i, part in enumerate(text.split(SOFT_HYPHEN)):
        if i:
            run._r.append(OxmlElement("w:softHyphen"))
        if part:
            run._r.add_t(part)
    run.bold = bold or None
    if size:
        run.font.size = Pt(size)
    if shade:
        background, colour = shade
        if background:
            run._r.get_or_add_rPr().insert_element_before(_shading(background), *_AFTER_RUN_SHADING)
        if colour:
            run.font.color.rgb = RGBColor.from_string(colour)
    return run


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
        self.css = ""                # the document's own style sheet: the badges' colours
        self.shades: list[tuple | None] = []  # the colour of the badge or level being written
        self.spacers: set = set()    # the empty paragraphs written after tables

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
        if _coloured(tag, a):
            self.shades.append(self._shade(cls, a.get("style", "")))
        if tag == "span" and "hash" in cls.split() and self.cell is not None:
            self.cell.hyphenate = False
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
            self.para.paragraph_format.tab_stops.add_tab_stop(Cm(3.5))  # the values in a column, as in the PDF
            self.para.paragraph_format.space_after = Pt(2)
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
            self.cell = _Cell(False, 1, "", right=len(self.table[-1]) == 1)  # label, then its figure
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
            self.cell = _Cell(tag == "th", int(a.get("colspan", 1)), a.get("style", ""), "num" in cls.split())
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
        if _coloured(tag, a):
            self.shades.pop()
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
        if self.stack and self.stack[-1][0] == "style":
            self.css += data
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data)
        if self.capture:
            text = text.replace(SOFT_HYPHEN, "")
            setattr(self, f"{self.capture}_text", (getattr(self, f"{self.capture}_text") + text).strip())
            return
        within = self.cell.paragraphs[-1] if self.cell is not None else self.para is not None and self.para.runs
        if not text.strip() and not within:
            return  # space between elements within a paragraph is kept ("4 gröna 3 gula")
        shade = self.shades[-1] if self.shades else None
        if self.cell is not None:
            self.cell.paragraphs[-1].append((text, self.bold > 0, shade))
            return
        if self.para is None:
            if not text.strip():
                return
            self.para = self.doc.add_paragraph()
        if not self.para.runs:
            text = text.lstrip()
        _text_run(self.para, text, bold=self.bold > 0, size=8.5 if self.small else None, shade=shade)

    def _shade(self, cls: str, style: str) -> tuple | None:
        """A badge's or level's colours: its own style attribute, else its classes' rules in the CSS."""
        background, colour = _colours(style)
        for name, declarations in _RULE.findall(self.css):
            if name in cls.split():
                bg, fg = _colours(declarations)
                background, colour = background or bg, colour or fg
        return (background, colour) if background or colour else None

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
            before = self.para._p.getprevious()
            if before is not None and before in self.spacers:  # a page break is space enough: the
                before.getparent().remove(before)             # empty line made an empty page in LibreOffice

    # --- tables ---------------------------------------------------------------------------------
    def _write_table(self):
        rows = [r for r in self.table if r]
        if not rows:
            return
        width = max(sum(c.colspan for c in r) for r in rows)
        before = self.doc.element.body[-2] if len(self.doc.element.body) > 1 else None  # [-1] is sectPr
        if before is not None and before.tag == qn("w:p") and "".join(before.itertext()).strip():
            before.get_or_add_pPr().keepNext_val = True  # what introduces a table stays on its page
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
            group = i >= self.head_rows and len(r) == 1 and r[0].colspan == width > 1
            if (self.keep_table or group) and i < len(rows) - 1:  # a group's heading row stays with its rows
                for cell in cells:
                    for para in cell.paragraphs:
                        para.paragraph_format.keep_with_next = True
            tr_pr = table.rows[i]._tr.get_or_add_trPr()
            tr_pr.append(OxmlElement("w:cantSplit"))  # a row is not split over two pages, as in the PDF
            if i < self.head_rows:
                header = OxmlElement("w:tblHeader")
                header.set(qn("w:val"), "true")
                tr_pr.append(header)
        self.spacers.add(self.doc.add_paragraph()._p)  # space below, and two tables kept apart

    @staticmethod
    def _fill(target, c: _Cell):
        paragraphs = [p for p in c.paragraphs if "".join(t for t, _, _ in p).strip()] or [[("", False, None)]]
        target.text = ""
        first = True
        for p in paragraphs:
            para = target.paragraphs[0] if first else target.add_paragraph()
            first = False
            if c.right:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if not c.hyphenate:
                para._p.get_or_add_pPr().insert_element_before(OxmlElement("w:suppressAutoHyphens"),
                                                               *_AFTER_SUPPRESS_HYPHENS)
            for i, (text, bold, shade) in enumerate(p):
                # smaller, as in the PDF: a narrow column's heading then breaks between words
                _text_run(para, text.lstrip() if i == 0 else text, bold=bold, size=7.5 if c.header else None,
                          shade=shade)
        background, colour = _colours(c.style)
        if background:
            target._tc.get_or_add_tcPr().append(_shading(background))
        if colour:
            for para in target.paragraphs:
                for run in para.runs:
                    if run.font.color.rgb is None:  # a badge in the cell keeps its own
                        run.font.color.rgb = RGBColor.from_string(colour)


def _base(template: Path | None, title: str, token: str, landscape: bool):
    doc = Document(str(template)) if template and template.is_file() else Document()
    doc.core_properties.title = title
    doc.core_properties.keywords = token  # the Kontrollsumma, read back by `audit verify --anchor`
    doc.core_properties.language = "sv-SE"
    section = doc.sections[0]
    if not (template and template.is_file()):
        section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4: python-docx's own is US Letter
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(2))
        style = doc.styles["Normal"]
        style.font.name = "Calibri"
        style.font.size = Pt(10)
    if landscape and section.page_width < section.page_height:  # a kommun's template is mostly portrait:
        section.orientation = WD_ORIENT.LANDSCAPE                # its paper and margins, the PDF's orientation
        section.page_width, section.page_height = section.page_height, section.page_width
    return doc


def write(html: str, path: Path, *, title: str, author: str, token: str = "", at: dt.datetime | None = None,
          template: Path | None = None, landscape: bool = True) -> Path:
    """The document's HTML as a Word file with the same headings, paragraphs and tables."""
    doc = _base(template, title, token, landscape)
    doc.core_properties.author = author
    b = _Builder(doc)
    b.feed(html)
    b.close()
    _swedish(doc)
    section = doc.sections[0]
    if b.header_text:
        _right_tab(section, _free(section.header)).text = f"{title}\t{b.header_text}"
    footer = _right_tab(section, _free(section.footer))
    footer.text = f"{b.footer_text}\t"
    _page_numbers(footer)
    if "UTKAST" in html and 'class="watermark"' in html:
        run = section.header.add_paragraph().add_run("UTKAST – EJ BESLUTAD")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
    _hyphenate_tables(doc)
    _save(doc, path, at)
    return path


def _swedish(doc) -> None:
    """The text's language is Swedish (the document default, w:docDefaults): Word checks spelling
    and hyphenates by Swedish rules, and a screen reader reads it with a Swedish voice."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        styles.insert(0, defaults)
    run_default = defaults.find(qn("w:rPrDefault"))
    if run_default is None:
        run_default = OxmlElement("w:rPrDefault")
        defaults.insert(0, run_default)
    props = run_default.find(qn("w:rPr"))
    if props is None:
        props = OxmlElement("w:rPr")
        run_default.append(props)
    lang = props.find(qn("w:lang"))
    if lang is None:
        lang = props.insert_element_before(OxmlElement("w:lang"), *_AFTER_LANG)
    lang.set(qn("w:val"), "sv-SE")


def _hyphenate_tables(doc) -> None:
    """Words in table cells are hyphenated, as in the PDF ("Myndighetsut-/övning"), and nowhere else:
    Word hyphenates a whole document or nothing (w:autoHyphenation), so every paragraph outside a
    table says no. Without it a narrow column broke words anywhere: "Myndighetsutö/vning"."""
    settings = doc.settings.element
    if settings.find(qn("w:autoHyphenation")) is None:
        settings.insert_element_before(OxmlElement("w:autoHyphenation"), *_AFTER_HYPHENATION)
    parts = [doc.element.body]
    for section in doc.sections:
        parts += [section.header._element, section.footer._element]
    for part in parts:
        for paragraph in part.findall(qn("w:p")):  # the paragraphs directly in it, not in its tables
            props = paragraph.get_or_add_pPr()
            if props.find(qn("w:suppressAutoHyphens")) is None:
                props.insert_element_before(OxmlElement("w:suppressAutoHyphens"), *_AFTER_SUPPRESS_HYPHENS)


def _free(part):
    """The header's or footer's first paragraph if it is empty, else a new one below: a kommun's
    template keeps its logo and its own lines."""
    first = part.paragraphs[0] if part.paragraphs else None
    if first is not None and not first.text.strip() and first._p.find(".//" + qn("w:drawing")) is None \
            and first._p.find(".//" + qn("w:pict")) is None:
        return first
    return part.add_paragraph()


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

