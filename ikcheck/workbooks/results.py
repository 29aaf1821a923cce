"""The results workbook: the template a kontrollansvarig fills in, and the reader of what comes back
(the same columns from xlsx or from CSV saved by Excel). No database here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikcheck.calendar import today
from ikcheck.errors import Problem
from ikcheck.workbooks.reader import MAX_PROBLEMS, Column, Invalid, Row, as_choice, as_date, as_int, as_text
from ikcheck.workbooks.safe import set_text
from ikcheck.workbooks.save import save_reproducibly

SHEET = "Resultat"
INFO = "Info"
ASSESSMENTS = ["inga avvikelser", "mindre avvikelser", "väsentliga brister"]
# what "Utförd" takes: ja/nej and their short forms, and Excel's SANT/FALSKT (a cell Excel turned into one)
YES_NO = {"ja": True, "j": True, "yes": True, "x": True, "sant": True, "true": True,
          "nej": False, "n": False, "no": False, "falskt": False, "false": False}
PERIODS = {"halvar": "halvår", "helar": "helår", "T1": "tertial 1", "T2": "tertial 2", "T3": "tertial 3"}

COLUMNS = [
    Column("code", "Kontrollpunkt", aliases=("Kontrollpunkt-id", "Id")),
    Column("period", "Period"),
    Column("version", "Planversion", required=False),
    Column("title", "Kontrollmoment", required=False),
    Column("risk", "Risk", required=False),
    Column("method", "Metod", required=False),
    Column("sample", "Omfattning", required=False),
    Column("owner", "Kontrollansvarig", required=False),
    Column("performed", "Utförd (ja/nej)", aliases=("Utförd",)),
    Column("date", "Datum"),
    Column("examined", "Antal granskade"),
    Column("deviations", "Antal avvikelser"),
    Column("assessment", "Bedömning"),
    Column("comment", "Kommentar", required=False),
    Column("performed_by", "Utförd av"),
    Column("approved_by", "Godkänd av"),
    Column("action", "Åtgärd", required=False),
    Column("action_owner", "Åtgärd ansvarig", required=False),
    Column("action_due", "Åtgärd klart senast", required=False),
    # a CSV names its unit here (or `results import --unit`); the template's Info sheet says it for xlsx
    Column("unit", "Enhet", required=False),
]
TEMPLATE_COLUMNS = [c for c in COLUMNS if c.key != "unit"]
GIVEN = 8  # the template's first columns come from the plan and are locked; the rest is filled in
# more åtgärder than the one on a result's row: a sheet of their own, keyed by kontrollpunkt and period
ACTION_SHEET = "Åtgärder"
ACTION_COLUMNS = [
    Column("code", "Kontrollpunkt", aliases=("Kontrollpunkt-id", "Id")),
    Column("period", "Period"),
    Column("action", "Åtgärd"),
    Column("action_owner", "Ansvarig", aliases=("Åtgärd ansvarig",)),
    Column("action_due", "Klart senast", aliases=("Åtgärd klart senast",)),
]
ACTION_ROWS = 40  # empty rows the template offers on the Åtgärder sheet
FILLED = ["performed", "date", "examined", "deviations", "assessment", "comment", "performed_by",
          "approved_by", "action", "action_owner", "action_due"]


@dataclass(slots=True)
class ResultRow:
    row: Row
    code: str
    period: str
    version: int | None
    performed: bool | None
    date: dt.date | None
    examined: int | None
    deviations: int | None
    assessment: str | None
    comment: str | None
    performed_by: str | None
    approved_by: str | None
    action: str | None
    action_owner: str | None
    action_due: dt.date | None
    more: list[tuple[str, str | None, dt.date | None]] = field(default_factory=list)  # from the Åtgärder sheet

    def actions(self) -> list[tuple[str, str | None, dt.date | None]]:
        return ([(self.action, self.action_owner, self.action_due)] if self.action else []) + self.more


def _typed(row: Row, errs: list[Problem]):
    """get(key, reader, ...): the row's cell read by a typed reader; an empty cell is None, a wrong one
    a problem added to `errs` (naming the row and column) and None."""
    def get(key: str, fn, *args, **kw) -> Any:
        value = row.values.get(key)
        if value is None:  # an empty cell: every typed reader gives None
            return None
        try:
            return fn(value, *args, **kw)
        except Invalid as exc:
            errs.append(row.problem(key, exc.message, exc.expected))
            return None
    return get


def parse_actions(rows: list[Row], results: list[ResultRow], periods: list[str]) -> list[Problem]:
    """The Åtgärder sheet's rows, each added to the result of its kontrollpunkt and period in the same
    file; every row complete (åtgärd, ansvarig, klart senast) and for a result that the file reports."""
    problems: list[Problem] = []
    period_choices = {**{k.lower(): k for k in periods}, **{PERIODS[k].lower(): k for k in periods if k in PERIODS}}
    by_key = {(r.code, r.period): r for r in results}
    for row in rows:
        if row.is_empty(["code", "action", "action_owner", "action_due"]):
            continue
        errs: list[Problem] = []
        get = _typed(row, errs)
        code = get("code", as_text, 32)
        period = get("period", as_choice, period_choices, " / ".join(PERIODS.get(p, p) for p in periods))
        if row.values.get("period") is None and len({r.period for r in results}) == 1:
            period = results[0].period  # a file of one period: the period may be left out
        text, owner, due = get("action", as_text), get("action_owner", as_text, 200), get("action_due", as_date)
        if not errs:
            if not code:
                errs.append(row.problem("code", "kontrollpunkten saknas", "kontrollpunktens id, t.ex. SN-2025-K01"))
            elif not text:
                errs.append(row.problem("action", "åtgärden saknas", "en beskrivning av åtgärden"))
            elif not owner or not due:
                errs.append(row.problem("action_owner" if not owner else "action_due",
                                        "en åtgärd behöver ansvarig och klart-datum", "namn och datum ÅÅÅÅ-MM-DD"))
            elif (code, period) not in by_key:
                errs.append(row.problem("code", f"{code} har inget resultat ifyllt på bladet {SHEET!r} för perioden",
                                        "en kontrollpunkt som rapporteras i samma fil"))
            else:
                by_key[code, period].more.append((text, owner, due))
        problems += errs
    return problems


def _fields(periods: list[str]) -> list[tuple[str, Any, tuple, dict]]:
    """A results row's typed cells, in ResultRow's order after the code: (key, reader, args, kwargs)."""
    period_choices = {**{k.lower(): k for k in periods}, **{PERIODS[k].lower(): k for k in periods if k in PERIODS}}
    named = " / ".join(PERIODS.get(p, p) for p in periods)
    return [("period", as_choice, (period_choices, named), {}), ("version", as_int, (), {"minimum": 1}),
            ("performed", as_choice, (YES_NO, "ja eller nej"), {}), ("date", as_date, (), {}),
            ("examined", as_int, (), {"minimum": 0}), ("deviations", as_int, (), {"minimum": 0}),
            ("assessment", as_choice, ({a: a for a in ASSESSMENTS},), {}), ("comment", as_text, (), {}),
            ("performed_by", as_text, (200,), {}), ("approved_by", as_text, (200,), {}),
            ("action", as_text, (), {}), ("action_owner", as_text, (200,), {}), ("action_due", as_date, (), {})]


def parse_rows(rows: list[Row], periods: list[str]) -> tuple[list[ResultRow], int, list[Problem]]:
    """Typed rows, the number of rows left empty (not reported), and every problem found."""
    out: list[ResultRow] = []
    problems: list[Problem] = []
    empty = 0
    fields = [("code", as_text, (32,), {}), *_fields(periods)]
    for row in rows:
        if len(problems) > MAX_PROBLEMS:
            problems.append(Problem(f"läsningen avbröts efter {MAX_PROBLEMS} fel; resten av filen lästes inte",
                                    file=row.file, sheet=row.sheet, row=row.number))
            break
        v = row.values
        if row.is_empty(FILLED):
            if v.get("code"):
                empty += 1  # nothing reported for this kontrollpunkt: "not reported", never "no deviations"
            continue
        errs: list[Problem] = []
        typed: list[Any] = []
        for key, fn, args, kw in fields:  # as _typed's get, without a call per cell (1.4M at 100k rows)
            value = v.get(key)
            if value is None:  # an empty cell: every typed reader gives None
                typed.append(None)
                continue
            try:
                typed.append(fn(value, *args, **kw))
            except Invalid as exc:
                errs.append(row.problem(key, exc.message, exc.expected))
                typed.append(None)
        code, period = typed[0], typed[1]
        if not code:
            errs.append(row.problem("code", "kontrollpunktens id saknas", "id från mallen, t.ex. SN-2025-K01"))
        if period is None and not any(p.column == row.letters.get("period") for p in errs):
            errs.append(row.problem("period", "perioden saknas", ", ".join(PERIODS.get(p, p) for p in periods)))
        r = ResultRow(row, code or "", period or "", *typed[2:])
        if not errs:
            errs += _consistency(r)
        problems += errs
        if not errs:
            out.append(r)
    return out, empty, problems


def _consistency(r: ResultRow) -> list[Problem]:
    p = []
    row = r.row
    if r.performed is None:
        p.append(row.problem("performed", "ange om kontrollen är utförd", "ja eller nej"))
    elif r.performed:
        if r.examined is None:
            p.append(row.problem("examined", "antal granskade saknas för en utförd kontroll", "ett heltal ≥ 0"))
        if r.deviations is None:
            p.append(row.problem("deviations", "antal avvikelser saknas för en utförd kontroll", "ett heltal ≥ 0 (0 om inga)"))
        if r.date is None:
            p.append(row.problem("date", "datum saknas för en utförd kontroll", "ett datum ÅÅÅÅ-MM-DD"))
        if r.examined is not None and r.deviations is not None and r.deviations > r.examined:
            p.append(row.problem("deviations", f"{r.deviations} avvikelser men bara {r.examined} granskade",
                                 f"högst {r.examined}"))
        if not r.performed_by:
            p.append(row.problem("performed_by", "det saknas vem som utfört kontrollen", "ett namn"))
    else:
        if r.examined or r.deviations or r.assessment:
            p.append(row.problem("performed", "kontrollen är markerad som ej utförd men har resultat",
                                 "ja om kontrollen är utförd"))
    if r.action and (not r.action_owner or not r.action_due):
        p.append(row.problem("action_owner" if not r.action_owner else "action_due",
                             "en åtgärd behöver ansvarig och klart-datum", "namn och datum ÅÅÅÅ-MM-DD"))
    return p


def write_template(path: Path, meta: dict[str, Any], points: list[dict[str, Any]]) -> Path:
    """meta: org, unit, unit_name, year, period, version. points: code, title, risk, method, sample, owner.
    The plan's columns are locked (the sheet is protected without a password, as the workshop
    template); the columns to fill in are open, with lists and checks; it prints on A4 landscape, one
    page wide, the header on every page."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    from ikcheck.workbooks.layout import font, header, print_setup

    wb = Workbook()
    guide = wb.active
    guide.title = "Instruktioner"
    lines = [
        f"Kontrollresultat {PERIODS.get(meta['period'], meta['period'])} {meta['year']} – {meta['unit_name']}",
        "",
        "Så fyller du i:",
        "1. Bladet Resultat har en rad per kontrollpunkt i den beslutade planen som ska rapporteras nu.",
        "2. Fyll i Utförd (ja/nej), Datum, Antal granskade, Antal avvikelser, Bedömning, Utförd av och Godkänd av.",
        "3. Bedömningen kan lämnas tom: då räknas den fram ur avvikelseandelen enligt kommunens regler.",
        "4. Har kontrollen inte gjorts: skriv nej i Utförd och förklara i Kommentar. En rad som lämnas helt tom"
        " räknas som ej rapporterad – aldrig som inga avvikelser.",
        "5. Vid brister: beskriv åtgärden, vem som ansvarar och när den ska vara klar. Behövs fler åtgärder för"
        " samma kontrollpunkt skriver du dem på bladet Åtgärder, en per rad med kontrollpunktens id.",
        "6. Den som utför kontrollen ska inte själv godkänna den.",
        "7. Kolumnerna från planen (Kontrollpunkt till Kontrollansvarig) är låsta. Datum skrivs ÅÅÅÅ-MM-DD.",
        "8. Skriv bara i mallens kolumner. Text i en egen kolumn eller bredvid tabellen kan inte sparas, och då går"
        " filen inte att läsa in; skriv det i Kommentar i stället.",
        "",
        "Lämna filen till controllern, eller läs in den själv i webbappen under Mina kontroller.",
    ]
    for i, text in enumerate(lines, start=1):
        set_text(guide.cell(i, 1), text).alignment = Alignment(wrap_text=True, vertical="top")
    guide["A1"].font = font(bold=True, size=14)
    guide.column_dimensions["A"].width = 110
    print_setup(guide, 1)
    ws = wb.create_sheet(SHEET)
    widths = {"Kontrollmoment": 48, "Risk": 30, "Kommentar": 36, "Åtgärd": 36, "Kontrollansvarig": 20,
              "Utförd (ja/nej)": 10, "Planversion": 10, "Period": 9, "Datum": 12, "Bedömning": 20}
    header(ws, 1, [c.header for c in TEMPLATE_COLUMNS], [widths.get(c.header, 14) for c in TEMPLATE_COLUMNS])
    ws.freeze_panes = "B2"
    fill = PatternFill("solid", fgColor="FFF8DC")
    open_cell = Protection(locked=False)
    top = Alignment(wrap_text=True, vertical="top")
    for i, p in enumerate(points, start=2):
        values = [p["code"], PERIODS.get(meta["period"], meta["period"]), meta["version"], p["title"], p.get("risk"),
                  p.get("method"), p.get("sample"), p.get("owner")]
        for j, value in enumerate(values, start=1):
            set_text(ws.cell(i, j), value).alignment = top
        for j in range(GIVEN + 1, len(TEMPLATE_COLUMNS) + 1):
            cell = ws.cell(i, j)
            cell.fill, cell.protection, cell.alignment = fill, open_cell, top
    last = max(len(points) + 1, 2)
    col = {c.key: j for j, c in enumerate(TEMPLATE_COLUMNS, start=1)}
    letter = lambda k: ws.cell(1, col[k]).column_letter  # noqa: E731
    yes_no = DataValidation(type="list", formula1='"ja,nej"', allow_blank=True)
    yes_no.error, yes_no.errorTitle = "Skriv ja eller nej.", "Utförd"
    grade = DataValidation(type="list", formula1='"' + ",".join(ASSESSMENTS) + '"', allow_blank=True)
    grade.error, grade.errorTitle = "Välj en bedömning i listan.", "Bedömning"
    counts = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
    counts.error = "Ett heltal, 0 eller större."
    dates = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
    dates.error = "Ett datum, ÅÅÅÅ-MM-DD."
    for dv, keys in ((yes_no, ["performed"]), (grade, ["assessment"]), (counts, ["examined", "deviations"]),
                     (dates, ["date", "action_due"])):
        ws.add_data_validation(dv)
        for k in keys:
            dv.add(f"{letter(k)}2:{letter(k)}{last}")
    ws.auto_filter.ref = f"A1:{ws.cell(1, len(TEMPLATE_COLUMNS)).column_letter}{last}"
    print_setup(ws, len(TEMPLATE_COLUMNS), 1)
    _protect(ws)
    # more åtgärder per kontrollpunkt, one per row
    more = wb.create_sheet(ACTION_SHEET)
    header(more, 1, [c.header for c in ACTION_COLUMNS], [18, 10, 60, 24, 14])
    more.freeze_panes = "A2"
    codes = DataValidation(type="list", formula1=f"={SHEET}!$A$2:$A${last}", allow_blank=True)
    codes.error, codes.errorTitle = "Välj en kontrollpunkt från bladet Resultat.", "Kontrollpunkt"
    due = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
    due.error = "Ett datum, ÅÅÅÅ-MM-DD."
    more.add_data_validation(codes)
    more.add_data_validation(due)
    codes.add(f"A2:A{ACTION_ROWS + 1}")
    due.add(f"E2:E{ACTION_ROWS + 1}")
    for i in range(2, ACTION_ROWS + 2):
        set_text(more.cell(i, 2), PERIODS.get(meta["period"], meta["period"]))
        for j in range(1, len(ACTION_COLUMNS) + 1):
            cell = more.cell(i, j)
            cell.protection, cell.alignment = open_cell, top
            if j != 2:
                cell.fill = fill
    print_setup(more, len(ACTION_COLUMNS), 1)
    _protect(more)
    info = wb.create_sheet(INFO)
    for i, (k, value) in enumerate([("org", meta["org"]), ("unit", meta["unit"]), ("year", meta["year"]),
                                    ("period", meta["period"]), ("version", meta["version"]),
                                    ("generated", today().isoformat())], start=1):
        set_text(info.cell(i, 1), k)
        set_text(info.cell(i, 2), value)
    info.sheet_state = "hidden"
    wb.active = 1
    return save_reproducibly(wb, path, dt.datetime.combine(today(), dt.time()))  # same template, same bytes


def _protect(ws) -> None:
    """Locked cells stay as the plan says; no password (protection against mistakes, not people)."""
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.autoFilter = False
    ws.protection.sort = False
