"""The heat map of a unit's risks as a self-contained HTML table or an Excel sheet: each cell shows the
count and the risk ids, coloured by the matrix's risk level."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, select_autoescape

from markupsafe import Markup

from ikcheck.matrix import text_colour
from ikcheck.register import Heatmap

if TYPE_CHECKING:
    from openpyxl import Workbook

_env = Environment(autoescape=select_autoescape(default=True))
_env.filters["ink"] = text_colour

HTML = _env.from_string("""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Värmekarta {{ hm.unit }} {{ hm.year }}</title>
<style>{{ css | safe }}</style></head><body><main>
<h1>Värmekarta – {{ hm.unit }} {{ hm.year }}</h1>
{{ table }}
</main></body></html>""")

TABLE = _env.from_string("""<table class="heatmap">
<caption>Antal risker per ruta ({{ hm.matrix.title }}, v{{ hm.matrix.version }})</caption>
<tr><th>Sannolikhet \\ Konsekvens</th>{% for im in hm.matrix.impact %}<th>{{ im.value }} {{ im.label }}</th>{% endfor %}</tr>
{% for li in hm.matrix.likelihood|reverse %}<tr><th>{{ li.value }} {{ li.label }}</th>
{% for im in hm.matrix.impact %}{% set ids = hm.cells.get((li.value, im.value), []) %}
{% set bg = hm.matrix.level(li.value, im.value).colour %}<td style="background:{{ bg }};color:{{ bg|ink }}"><strong>{{ ids|length }}</strong>
{% if ids %}<br><small>{{ ids|join(", ") }}</small>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="legend">{% for lvl in hm.matrix.levels %}<span style="background:{{ lvl.colour }};color:{{ lvl.colour|ink }}">{{ lvl.label }}</span> {{ lvl.implication }}. {% endfor %}</p>""")

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; }
table.heatmap { border-collapse: collapse; }
table.heatmap th, table.heatmap td { border: 1px solid #555; padding: 4px 6px; text-align: center; vertical-align: middle; font-size: 9pt; }
table.heatmap td { min-width: 5em; }
table.heatmap small { font-size: 7pt; }
.legend span { padding: 0 6px; border: 1px solid #555; }
"""


def html_table(hm: Heatmap) -> str:
    """The heat map as an HTML fragment (plan and reports embed it): markup, not text to escape."""
    return Markup(TABLE.render(hm=hm))


def write_html(hm: Heatmap, path: Path) -> Path:
    Path(path).write_text(HTML.render(hm=hm, css=CSS, table=html_table(hm)), encoding="utf-8")
    return Path(path)


def add_sheet(wb: Workbook, hm: Heatmap, title: str = "Värmekarta") -> None:
    from openpyxl.styles import Alignment, Border, PatternFill, Side

    from ikcheck.workbooks.layout import font

    ws = wb.create_sheet(title)
    thin = Side(style="thin", color="555555")
    ws.cell(1, 1, f"Värmekarta – {hm.unit} {hm.year} ({hm.matrix.title})").font = font(bold=True)
    ws.cell(2, 1, "Sannolikhet \\ Konsekvens").font = font(bold=True)
    for j, im in enumerate(hm.matrix.impact, start=2):
        ws.cell(2, j, f"{im.value} {im.label}").font = font(bold=True)
        ws.column_dimensions[ws.cell(2, j).column_letter].width = 22
    ws.column_dimensions["A"].width = 26
    for i, li in enumerate(reversed(hm.matrix.likelihood), start=3):
        ws.cell(i, 1, f"{li.value} {li.label}").font = font(bold=True)
        for j, im in enumerate(hm.matrix.impact, start=2):
            ids = hm.cells.get((li.value, im.value), [])
            cell = ws.cell(i, j, f"{len(ids)}\n{', '.join(ids)}" if ids else "0")
            colour = hm.matrix.level(li.value, im.value).colour.lstrip("#").upper()
            cell.fill = PatternFill("solid", fgColor=colour)
            cell.font = font(color=text_colour(colour).lstrip("#").upper())
            cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        ws.row_dimensions[i].height = 48
    row = 4 + len(hm.matrix.likelihood)
    ws.cell(row, 1, "Nivåer").font = font(bold=True)  # the level in words: colour alone does not print or read
    for k, lvl in enumerate(hm.matrix.levels, start=row + 1):
        cell = ws.cell(k, 1, lvl.label)
        cell.fill = PatternFill("solid", fgColor=lvl.colour.lstrip("#").upper())
        cell.font = font(bold=True, color=text_colour(lvl.colour).lstrip("#").upper())
        ws.cell(k, 2, lvl.implication)
    from ikcheck.workbooks.layout import print_setup

    print_setup(ws, 1 + len(hm.matrix.impact))


def write_xlsx(hm: Heatmap, path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    add_sheet(wb, hm)
    from ikcheck.workbooks.save import save_reproducibly

    return save_reproducibly(wb, Path(path), None)
