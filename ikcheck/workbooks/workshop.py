"""The risk-workshop workbook: the template a participant fills in, and the reader of what comes back.
No database here: the service hands in the matrix, the unit's processes and risks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ikcheck.calendar import today
from ikcheck.errors import Problem
from ikcheck.matrix import Matrix
from ikcheck.workbooks.reader import Column, Invalid, Row, as_choice, as_text, shown
from ikcheck.workbooks.safe import set_text
from ikcheck.workbooks.save import save_reproducibly

SHEET, INFO, CATALOGUE = "Risker", "Info", "Katalog"
HEADER_ROW = 4
NEW_ROWS = 25
AGREE_LABEL = "Jag instämmer i förra årets bedömningar:"  # the only way an unchanged file counts
# Above the table: the labels in B (column A, the Id, is hidden), what the participant writes in D
NAME_CELL, AGREE_CELL = "D2", "D3"

COLUMNS = [
    Column("id", "Id", hidden=True),
    Column("code", "Risk-id", required=False),
    Column("process", "Process"),
    Column("title", "Risk"),
    Column("category", "Kategori"),
    Column("description", "Beskrivning", required=False),
    Column("prev_l", "Förra årets sannolikhet", required=False),
    Column("prev_i", "Förra årets konsekvens", required=False),
    Column("prev_score", "Förra årets riskvärde", required=False),
    Column("likelihood", "Sannolikhet"),
    Column("impact", "Konsekvens"),
    Column("score", "Riskvärde", required=False, computed=True),
    Column("res_l", "Kvarvarande sannolikhet", required=False),
    Column("res_i", "Kvarvarande konsekvens", required=False),
    Column("comment", "Kommentar", required=False),
]
_SCORE = re.compile(r"^\s*(\d+)\s*(?:[-–—:]\s*.*)?$")


def step_text(value: int, label: str) -> str:
    return f"{value} – {label}"


def parse_step(v: Any, allowed: list[int], what: str) -> int | None:
    """A score as the dropdown writes it ('3 – Möjlig'), or a bare whole number."""
    if v is None or v == "":
        return None
    if isinstance(v, str) and v.startswith("="):
        raise Invalid(f"cellen innehåller formeln {shown(v)}", "ett val i listan, inte en formel")
    if isinstance(v, bool):
        raise Invalid(f"{shown(v)} är ingen {what}", f"ett av värdena {allowed[0]}–{allowed[-1]}")
    if isinstance(v, float):
        if not v.is_integer():
            raise Invalid(f"{str(v).replace('.', ',')} är ingen giltig {what}", f"ett heltal {allowed[0]}–{allowed[-1]}")
        v = int(v)
    if isinstance(v, str):
        m = _SCORE.match(v)
        if not m:
            raise Invalid(f"{shown(v)} är ingen giltig {what}", f"ett av värdena {allowed[0]}–{allowed[-1]} i listan")
        v = int(m.group(1))
    if v not in allowed:
        raise Invalid(f"{what} {v} finns inte i matrisen", f"ett heltal {allowed[0]}–{allowed[-1]}")
    return v


@dataclass
class WorkshopRow:
    row: Row
    id: str | None
    process: str | None
    title: str | None
    category: str | None
    description: str | None
    likelihood: int | None  # None: a comment on a risk the participant did not score
    impact: int | None
    res_l: int | None
    res_i: int | None
    comment: str | None


def title_key(title: str) -> str:
    """A new risk's title as compared: case and spacing do not make two risks."""
    return " ".join(str(title).lower().split())


def parse_rows(rows: list[Row], matrix: Matrix, categories: list[str],
               aliases: dict[str, str] | None = None) -> tuple[list[WorkshopRow], list[Problem]]:
    out, problems, seen, seen_new = [], [], {}, {}
    li, im = matrix.likelihood_values(), matrix.impact_values()
    cats = {c.lower(): c for c in categories} | {k.lower(): v for k, v in (aliases or {}).items()}
    for row in rows:
        v = row.values
        if all(v.get(k) in (None, "") for k in ("id", "title", "likelihood", "impact")):
            continue
        errs: list[Problem] = []

        def get(key: str, fn, *args) -> Any:
            try:
                return fn(v.get(key), *args)
            except Invalid as exc:
                errs.append(row.problem(key, exc.message, exc.expected))
                return None

        rid = get("id", as_text, 40)
        title = get("title", as_text, 300)
        if rid is None and not title:
            errs.append(row.problem("title", "en ny risk behöver en rubrik", "en kort beskrivning av risken"))
        likelihood = get("likelihood", parse_step, li, "sannolikhet")
        impact = get("impact", parse_step, im, "konsekvens")
        res_l = get("res_l", parse_step, li, "sannolikhet")
        res_i = get("res_i", parse_step, im, "konsekvens")
        category = get("category", as_choice, cats)
        if rid is None and title and category is None and not any(p.column == row.letters.get("category") for p in errs):
            errs.append(row.problem("category", "en ny risk behöver en kategori", ", ".join(categories)))
        if not errs and (likelihood is None) != (impact is None):
            missing = "impact" if impact is None else "likelihood"
            errs.append(row.problem(missing, "ange både sannolikhet och konsekvens", "ett värde i listan"))
        if not errs and (res_l is None) != (res_i is None):
            errs.append(row.problem("res_i" if res_i is None else "res_l",
                                    "ange både kvarvarande sannolikhet och konsekvens, eller ingen", "ett värde i listan"))
        if not errs and rid is None and likelihood is None:
            errs.append(row.problem("likelihood", "en ny risk behöver en bedömning", "sannolikhet och konsekvens"))
        if rid is not None:
            if rid in seen:
                errs.append(row.problem("id", f"risken {rid} förekommer redan på rad {seen[rid]}", "en rad per risk"))
            seen.setdefault(rid, row.number)
        elif title:
            key = title_key(title)
            if key in seen_new:
                errs.append(row.problem("title", f"den nya risken ”{title}” står redan på rad {seen_new[key]}",
                                        "varje ny risk en gång; skriv flera synpunkter i Kommentar"))
            seen_new.setdefault(key, row.number)
        comment = get("comment", as_text)
        problems += errs
        if not errs and (likelihood is not None or (rid is not None and comment)):
            out.append(WorkshopRow(row, rid, get("process", as_text, 200), title, category,
                                   get("description", as_text), likelihood, impact, res_l, res_i, comment))
    return out, problems


def write_template(path: Path, meta: dict[str, Any], matrix: Matrix, processes: list[str],
                   risks: list[dict[str, Any]], catalogue: list[dict[str, Any]], categories: list[str]) -> Path:
    """meta: org, unit, unit_name, year, participant. risks: id, code, process, title, category,
    description, prev (l, i, score) or None."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    from ikcheck.workbooks.layout import font

    wb = Workbook()
    guide = wb.active
    guide.title = "Instruktioner"
    lines = [
        f"Riskworkshop {meta['unit_name']} inför {meta['year']}", "",
        f"1. Skriv ditt namn i cell {NAME_CELL} på bladet Risker. Filen läses inte in utan namn.",
        "2. Bedöm varje risk: välj sannolikhet och konsekvens i listorna. Förra årets bedömning är ifylld som start.",
        f"   En fil där ingen bedömning är ändrad läses in bara om du väljer ”ja” i cell {AGREE_CELL}: att du har gått",
        "   igenom riskerna och instämmer i förra årets bedömningar.",
        "   En kommentar sparas även om du inte bedömer risken.",
        "3. Riskvärdet räknas ut och färgas enligt kommunens riskmatris.",
        "4. Kvarvarande sannolikhet och konsekvens: risken med de kontroller som redan finns (frivilligt).",
        "5. Nya risker skrivs in på de tomma raderna längst ner: process, rubrik, kategori och bedömning.",
        "   Bladet Katalog har vanliga risker att utgå från.",
        "6. Ändra inte kolumnen Id eller rubrikraden; de gör att svaren kan läsas in igen.",
        "7. Skriv synpunkter i Kommentar. Text i en egen kolumn eller bredvid tabellen kan inte sparas, och då går"
        " filen inte att läsa in.",
        "", f"Riskmatris: {matrix.title} (version {matrix.version})", "",
        "Sannolikhet:", *[f"  {s.value} – {s.label}: {s.definition}" for s in matrix.likelihood], "",
        "Konsekvens:", *[f"  {s.value} – {s.label}: {s.definition}" for s in matrix.impact], "",
        "Risknivåer:", *[f"  {lvl.label}: {lvl.implication}" for lvl in matrix.levels],
    ]
    for i, text in enumerate(lines, start=1):
        set_text(guide.cell(i, 1), text)
    guide["A1"].font = font(bold=True, size=14)
    guide.column_dimensions["A"].width = 120

    ws = wb.create_sheet(SHEET)
    set_text(ws.cell(1, 2), f"Riskbedömning {meta['unit_name']} inför {meta['year']}").font = font(bold=True, size=13)
    set_text(ws.cell(2, 2), "Deltagare:").font = font(bold=True)
    set_text(ws[NAME_CELL], meta.get("participant") or "")
    ws[NAME_CELL].protection = Protection(locked=False)
    ws[NAME_CELL].fill = PatternFill("solid", fgColor="FFF8DC")
    if any(r.get("prev") for r in risks):
        set_text(ws.cell(3, 2), AGREE_LABEL).font = font(bold=True)
        ws[AGREE_CELL].protection = Protection(locked=False)
        ws[AGREE_CELL].fill = PatternFill("solid", fgColor="FFF8DC")
        agree = DataValidation(type="list", formula1='"ja,nej"', allow_blank=True)
        agree.error, agree.errorTitle = "Välj ja eller nej.", "Instämmer"
        ws.add_data_validation(agree)
        agree.add(AGREE_CELL)
    widths = {"Id": 8, "Risk-id": 11, "Process": 26, "Risk": 46, "Kategori": 13, "Beskrivning": 30, "Kommentar": 30}
    # a chosen step is read whole: "2 – Mindre sannolikhet" was cut to "2 – Mindre sanno" beside its neighbour
    chosen_l = max(len(step_text(s.value, s.label)) for s in matrix.likelihood) + 2
    chosen_i = max(len(step_text(s.value, s.label)) for s in matrix.impact) + 2
    widths |= {"Sannolikhet": max(14, chosen_l), "Kvarvarande sannolikhet": max(14, chosen_l),
               "Konsekvens": max(14, chosen_i), "Kvarvarande konsekvens": max(14, chosen_i)}
    for j, col in enumerate(COLUMNS, start=1):
        c = set_text(ws.cell(HEADER_ROW, j), col.header)
        c.font = font(bold=True)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[c.column_letter].width = widths.get(col.header, 14)
    ws.column_dimensions["A"].hidden = True
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 4)
    col = {c.key: j for j, c in enumerate(COLUMNS, start=1)}
    letter = lambda k: ws.cell(1, col[k]).column_letter  # noqa: E731
    labels_l = {s.value: step_text(s.value, s.label) for s in matrix.likelihood}
    labels_i = {s.value: step_text(s.value, s.label) for s in matrix.impact}
    fill = PatternFill("solid", fgColor="FFF8DC")
    r = HEADER_ROW
    for risk in risks:
        r += 1
        prev = risk.get("prev")
        values = {"id": risk["id"], "code": risk["code"], "process": risk["process"], "title": risk["title"],
                  "category": risk["category"], "description": risk.get("description")}
        if prev:
            values.update(prev_l=prev[0], prev_i=prev[1], prev_score=prev[0] * prev[1],
                          likelihood=labels_l.get(prev[0]), impact=labels_i.get(prev[1]))
        for key, value in values.items():
            set_text(ws.cell(r, col[key]), value)
    first_new = r + 1
    last = r + NEW_ROWS
    for row in range(HEADER_ROW + 1, last + 1):
        li, ii = f"{letter('likelihood')}{row}", f"{letter('impact')}{row}"
        ws.cell(row, col["score"]).value = (f'=IF(AND({li}<>"",{ii}<>""),VALUE(LEFT({li},FIND(" ",{li}&" ")-1))'
                                            f'*VALUE(LEFT({ii},FIND(" ",{ii}&" ")-1)),"")')
        editable = ["likelihood", "impact", "res_l", "res_i", "comment"]
        if row >= first_new:
            editable += ["process", "title", "category", "description"]
        for key in editable:
            cell = ws.cell(row, col[key])
            cell.protection = Protection(locked=False)
            cell.fill = fill
    rng = lambda key, start=HEADER_ROW + 1: f"{letter(key)}{start}:{letter(key)}{last}"  # noqa: E731
    info = wb.create_sheet(INFO)
    lists = wb.create_sheet("Listor")
    for i, text in enumerate(labels_l.values(), start=1):
        set_text(lists.cell(i, 1), text)
    for i, text in enumerate(labels_i.values(), start=1):
        set_text(lists.cell(i, 2), text)
    for i, text in enumerate(processes, start=1):
        set_text(lists.cell(i, 3), text)
    for i, text in enumerate(categories, start=1):
        set_text(lists.cell(i, 4), text)
    lists.sheet_state = "hidden"
    for key, formula, title in (
        ("likelihood", f"Listor!$A$1:$A${len(labels_l)}", "Sannolikhet"),
        ("impact", f"Listor!$B$1:$B${len(labels_i)}", "Konsekvens"),
        ("res_l", f"Listor!$A$1:$A${len(labels_l)}", "Kvarvarande sannolikhet"),
        ("res_i", f"Listor!$B$1:$B${len(labels_i)}", "Kvarvarande konsekvens"),
    ):
        dv = DataValidation(type="list", formula1=formula, allow_blank=True)
        dv.error, dv.errorTitle = "Välj ett värde i listan.", title
        ws.add_data_validation(dv)
        dv.add(rng(key))
    for key, formula in (("process", f"Listor!$C$1:$C${max(1, len(processes))}"), ("category", f"Listor!$D$1:$D${len(categories)}")):
        dv = DataValidation(type="list", formula1=formula, allow_blank=True)
        ws.add_data_validation(dv)
        dv.add(rng(key, first_new))
    # colour the risk value by the matrix's own grid (any shape, not only bands)
    li_col, im_col = letter("likelihood"), letter("impact")
    first = HEADER_ROW + 1
    for lvl in matrix.levels:
        cells = [k for k, v in matrix.grid.items() if v == lvl.name]
        if not cells:
            continue
        # the step's number is the text before its first space: "10 – …" is step 10, not 1
        step = lambda c: f'LEFT(${c}{first},FIND(" ",${c}{first}&" ")-1)'  # noqa: E731
        cond = ",".join(f'AND({step(li_col)}="{a}",{step(im_col)}="{b}")' for a, b in cells)
        ws.conditional_formatting.add(
            rng("score"), FormulaRule(formula=[f"OR({cond})"],
                                      fill=PatternFill("solid", fgColor=lvl.colour.lstrip("#").upper())))
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    for i, (k, value) in enumerate([("org", meta["org"]), ("unit", meta["unit"]), ("year", meta["year"]),
                                    ("matrix", matrix.name), ("matrix_hash", matrix.content_hash),
                                    ("generated", today().isoformat())], start=1):
        set_text(info.cell(i, 1), k)
        set_text(info.cell(i, 2), value)
    info.sheet_state = "hidden"
    cat = wb.create_sheet(CATALOGUE)
    for j, h in enumerate(["Område", "Kategori", "Risk", "Beskrivning"], start=1):
        set_text(cat.cell(1, j), h).font = font(bold=True)
        cat.column_dimensions[cat.cell(1, j).column_letter].width = [18, 13, 50, 70][j - 1]
    for i, item in enumerate(catalogue, start=2):
        for j, key in enumerate(["area", "category", "title", "description"], start=1):
            set_text(cat.cell(i, j), item.get(key))
    from ikcheck.workbooks.layout import print_setup

    print_setup(guide, 1)
    print_setup(ws, len(COLUMNS), HEADER_ROW)
    print_setup(cat, 4, 1)
    cat.freeze_panes = "A2"
    wb.active = 1
    # the same template, whenever written: two participants' untouched copies are the same file to the byte
    return save_reproducibly(wb, path, dt.datetime.combine(today(), dt.time()))


def _after_label(table, label: str) -> str | None:
    """What is written after a label above the table, in the first filled cell to its right."""
    for cells in table.extra.get("_preamble") or []:
        for i, v in enumerate(cells):
            if isinstance(v, str) and v.strip().lower().startswith(label):
                value = next((c for c in cells[i + 1:] if c not in (None, "")), None)
                return str(value).strip() or None if value is not None else None
    return None


def agrees_with_last_year(table) -> bool:
    """The participant ticked that they agree with last year's scores ("ja" after AGREE_LABEL)."""
    return (_after_label(table, "jag instämmer") or "").lower() in ("ja", "x", "✓", "true", "1")


def participant(table) -> str | None:
    """The name written after "Deltagare:" above the table (NAME_CELL in the template; B2 in older ones)."""
    return _after_label(table, "deltagare")
