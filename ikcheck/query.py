"""Auditor queries over the documented SQL views, as pandas DataFrames, and their exports.

For notebooks:

    from ikcheck.app import App
    from ikcheck.config import load_settings
    from ikcheck import query
    app = App(load_settings("ikcheck.db"), read_only=True)
    df = query.results(app, unit="SN", year=2025, assessment="väsentliga brister")

Every function takes the same filters (those that apply) and returns one row per record, with the
view's column names (English, stable) and the types in COLUMNS below, the same on SQLite and PostgreSQL
and whatever the rows hold. Filters are SQL parameters, never string-pasted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ikcheck import words
from ikcheck.app import App
from ikcheck.calendar import today
from ikcheck.errors import UserError
from ikcheck.workbooks.safe import csv_text

VIEWS = {"risks": "v_risks", "plans": "v_plan_lines", "results": "v_results", "actions": "v_actions",
         "conclusions": "v_conclusions"}
# filter name -> (view column, operator) per query
FILTERS: dict[str, dict[str, tuple[str, str]]] = {
    "risks": {"org": ("org", "="), "unit": ("unit", "="), "units": ("unit", "in"), "year": ("year", "="),
              "level": ("level", "="), "category": ("category", "="), "status": ("status", "="),
              "process": ("process", "="), "text": ("title", "like")},
    "plans": {"org": ("org", "="), "unit": ("unit", "="), "units": ("unit", "in"), "year": ("year", "="),
              "status": ("plan_status", "="), "owner": ("owner", "="), "control_points": ("control_point", "in"),
              "rule": ("rule_id", "="), "text": ("kontrollmoment", "like")},
    "results": {"org": ("org", "="), "unit": ("unit", "="), "units": ("unit", "in"), "year": ("year", "="),
                "period": ("period", "="), "assessment": ("assessment", "="), "text": ("comment", "like"),
                "current": ("is_current", "="), "control_points": ("control_point", "in")},
    "actions": {"org": ("org", "="), "unit": ("unit", "="), "units": ("unit", "in"), "status": ("status", "="),
                "text": ("description", "like"), "owner": ("owner", "=")},
    "conclusions": {"org": ("org", "="), "unit": ("unit", "="), "units": ("unit", "in"), "rule": ("rule_id", "="),
                    "text": ("purpose", "like"), "ruleset": ("ruleset", "=")},
}
# Each view's columns, in order, and the pandas type each becomes. Declared rather than inferred from the
# rows: an id column that is empty in one selection is still Int64, a flag is bool on both backends (SQLite
# returns 0/1), a timestamp is datetime64 (SQLite returns text), and building typed columns is what keeps a
# query within 1.5x of the bare SQL (benchmarks/bench_query.py). "Int64"/"boolean": a value may be missing;
# "date": datetime.date objects, as pandas reads a PostgreSQL DATE. tests/test_auditor.py holds this
# against the views and the values the drivers return.
COLUMNS: dict[str, dict[str, str]] = {view: dict(col.split(":") for col in spec.split()) for view, spec in {
    "risks": """org:str unit:str unit_name:str risk_id:int risk:str process:str title:str category:str status:str
        source:str legal_requirement:bool owner:str year:Int64 likelihood:Int64 impact:Int64 score:Int64
        level:str residual_score:Int64 residual_level:str spread:Int64 flagged:boolean assessed_by:str
        assessed_at:datetime workshop_id:Int64 import_batch_id:Int64 matrix:str matrix_version:str""",
    "plans": """org:str unit:str unit_name:str year:int version:int plan_status:str decision_date:date
        decision_paragraph:str decision_dnr:str control_point_id:int control_point:str position:int risk:str
        kontrollmoment:str method:str sample_size:Int64 frequency:str owner:str municipality_wide:bool
        ks_code:str status:str rule_id:str why:str reject_reason:str""",
    "results": """org:str unit:str unit_name:str year:int plan_version:int control_point:str risk:str result_id:int
        period:str version:int is_current:bool performed:boolean performed_on:date examined:Int64
        deviations:Int64 assessment:str assessment_rule:str comment:str performed_by:str approved_by:str
        reported_by:str reported_at:datetime correction_reason:str supersedes_id:Int64 source_file:str
        source_hash:str""",
    "actions": """org:str unit:str unit_name:str action_id:int action:str description:str owner:str due_date:date
        status:str closed_on:date result_id:Int64 risk:str plan_id:Int64 created_at:datetime""",
    "conclusions": """org:str unit:str unit_name:str conclusion_id:int rule_id:str conclusion:str risk:str
        control_point:str result_id:Int64 period:str value:str why:str subject_type:str subject_id:int run_id:int
        ruleset:str ruleset_version:str ruleset_hash:str engine:str purpose:str run_by:str run_at:datetime""",
}.items()}
ORDER = {"risks": "org, risk, year", "plans": "org, unit, year, version, position",
         "results": "org, unit, year, control_point, period, version", "actions": "org, action",
         "conclusions": "conclusion_id"}


# Columns a query derives from its view as of today (calendar.today(), so IKCHECK_TODAY holds): the view
# keeps an åtgärd's status as set, the query shows it as `action list` and the reports do, försenad once
# the deadline has passed and it is not klar. Dates compare as ISO text on SQLite and as dates on PostgreSQL.
DERIVED = {"actions": {"status": "CASE WHEN status <> 'klar' AND due_date < :today THEN 'försenad' ELSE status END"}}


def sql_for(what: str, filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SQL and its parameters for a query (also what the benchmark runs bare)."""
    if what not in VIEWS:
        raise UserError(f"Okänd fråga {what!r}; välj {', '.join(VIEWS)}.")
    allowed = FILTERS[what]
    derived = DERIVED.get(what, {})
    where: list[str] = []
    params: dict[str, Any] = {"today": today().isoformat()} if derived else {}
    for name, value in filters.items():
        if value is None:
            continue
        if name not in allowed:
            raise UserError(f"Filtret {name!r} gäller inte {what} (kan: {', '.join(sorted(allowed))}).")
        column, op = allowed[name]
        column = derived.get(column, column)
        if name == "period":  # halvår as well as halvar
            value = words.period(value)
        if op == "in":  # a list of values (the web's units a person may see)
            values = list(value)
            names = [f"{name}_{i}" for i in range(len(values))]
            where.append(f"{column} IN ({', '.join(':' + n for n in names)})" if values else "1 = 0")
            params.update(zip(names, values))
        elif op == "like":  # the words as written: % and _ in them are not wildcards
            where.append(f"lower({column}) LIKE :{name} ESCAPE '\\'")
            text = str(value).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params[name] = f"%{text}%"
        else:
            where.append(f"{column} = :{name}")
            params[name] = value
    columns = ", ".join(f"{derived[c]} AS {c}" if c in derived else c for c in COLUMNS[what]) if derived else "*"
    sql = (f"SELECT {columns} FROM {VIEWS[what]}" + (f" WHERE {' AND '.join(where)}" if where else "")
           + f" ORDER BY {ORDER[what]}")
    return sql, params


def _scoped(app: App, filters: dict[str, Any]) -> dict[str, Any]:
    """Every query answers for one kommun: the one named, or the only one in the database (with
    several and none named, the same refusal as every other command)."""
    if filters.get("org") is None:
        with app.session() as s:
            filters = {**filters, "org": app.org(s).code}
    return filters


def run(app: App, what: str, **filters: Any) -> pd.DataFrame:
    """The query as a DataFrame, for one kommun. Run on the driver's own cursor: a read needs no
    transaction, and SQLAlchemy's result layer plus pandas.read_sql_query doubled the time of a typical
    filtered query (benchmarks/bench_query.py)."""
    columns, rows = _fetch(app, *sql_for(what, _scoped(app, filters)))
    return frame(what, columns, rows)


def _fetch(app: App, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    engine = app.db.engine
    if engine.dialect.name != "sqlite":  # sqlite3 takes :name itself; psycopg takes %(name)s
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
    con = engine.raw_connection()
    try:
        cur = con.cursor()
        cur.execute(sql, params)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cur.close()
    finally:
        con.close()  # back to the pool (a read-only connection on PostgreSQL, mode=ro on SQLite)
    return columns, rows


def absent_values(app: App, what: str, **filters: Any) -> dict[str, list[Any]]:
    """For a query that found nothing: each exact-match filter whose value no row of the view holds
    (within the organisation, if one is given), with up to 20 of the values that do occur. So that a
    misspelt value ("väsentlig brist") is not taken for "there are none"."""
    sql_for(what, filters)  # the same checks of the query and its filters
    params: dict[str, Any] = {"today": today().isoformat()}
    in_org = ""
    if filters.get("org") is not None:
        params["org"], in_org = filters["org"], " AND org = :org"
    derived, view = DERIVED.get(what, {}), VIEWS[what]
    out = {}
    for name, value in filters.items():
        column, op = FILTERS[what].get(name, (None, None))
        if value is None or op != "=" or name in ("org", "current"):
            continue
        column = f"({derived[column]})" if column in derived else column  # as the query computes it
        _, hit = _fetch(app, f"SELECT 1 FROM {view} WHERE {column} = :v{in_org} LIMIT 1", {**params, "v": value})
        if not hit:
            _, rows = _fetch(app, f"SELECT DISTINCT {column} AS v FROM {view} WHERE {column} IS NOT NULL{in_org} "
                                  "ORDER BY v LIMIT 20", params)
            out[name] = [r[0] for r in rows]
    return out


def values(app: App, what: str, name: str, org: str, limit: int = 200) -> list[Any]:
    """The values an exact-match filter can take in one kommun, as the query compares them (for the
    web's choice lists)."""
    column, op = FILTERS[what][name]
    if op != "=":
        raise UserError(f"Filtret {name!r} är ingen exakt jämförelse.")
    derived = DERIVED.get(what, {})
    column = f"({derived[column]})" if column in derived else column
    _, rows = _fetch(app, f"SELECT DISTINCT {column} AS v FROM {VIEWS[what]} WHERE {column} IS NOT NULL AND org = :org "
                          f"ORDER BY v LIMIT {int(limit)}", {"org": org, "today": today().isoformat()})
    return [r[0] for r in rows]


def frame(what: str, columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    """The DataFrame of a view's rows, each column built straight into its declared type (pandas'
    inference from records took 2-3 times as long and gave types that varied with the rows)."""
    kinds = COLUMNS[what]
    if list(kinds) != columns:
        raise RuntimeError(f"{VIEWS[what]} has columns {columns}, query.COLUMNS declares {list(kinds)}")
    n = len(rows)
    data = zip(*rows) if rows else [()] * len(columns)
    arrays = [_typed(kinds[name], values, n) for name, values in zip(columns, data)]
    # The arrays are already typed and of one length; the public constructors' checks of that took
    # a third of the time of a 200-row query.
    return pd.DataFrame._from_arrays(arrays, columns=_index(what), index=pd.RangeIndex(n), verify_integrity=False)


@functools.cache
def _index(what: str) -> pd.Index:
    return pd.Index(list(COLUMNS[what]))  # immutable, so every frame of the view can share it


STR = pd.StringDtype(na_value=np.nan)  # pandas 3's "str"; an instance spares a registry lookup per column


def _typed(kind: str, values: tuple, n: int) -> Any:
    """One column of driver values as its declared type; None is the missing value (NaN, NaT, <NA>)."""
    if kind in ("date", "datetime"):  # SQLite returns ISO text, PostgreSQL date and datetime objects
        text = isinstance(next((v for v in values if v is not None), None), str)
        if kind == "datetime":
            return np.array(values, "datetime64[us]") if text else pd.to_datetime(values).as_unit("us").array
        return np.array([dt.date.fromisoformat(v) if v else None for v in values] if text else values, object)
    if kind in ("int", "bool") and None not in values:
        return np.fromiter(values, np.int64 if kind == "int" else bool, n)
    objects = np.fromiter(values, object, n)
    missing = objects == None if None in values else np.zeros(n, bool)  # noqa: E711 (elementwise)
    if kind == "str":
        objects[missing] = np.nan
        # Every value is text or missing (the views' text columns; tests/test_auditor.py holds this on
        # both backends), so pandas' check of each value, a quarter of the frame's time, is skipped.
        return pd.arrays.StringArray._simple_new(objects, STR)
    if kind in ("int", "Int64", "bool", "boolean"):  # a missing value is never read as 0
        objects[missing] = 0
        if kind in ("bool", "boolean"):
            return pd.arrays.BooleanArray(objects.astype(bool), missing)
        return pd.arrays.IntegerArray(objects.astype(np.int64), missing)
    raise ValueError(f"unknown column type {kind!r}")


def risks(app: App, **filters: Any) -> pd.DataFrame:
    return run(app, "risks", **filters)


def plans(app: App, **filters: Any) -> pd.DataFrame:
    return run(app, "plans", **filters)


def results(app: App, **filters: Any) -> pd.DataFrame:
    return run(app, "results", **filters)


def actions(app: App, **filters: Any) -> pd.DataFrame:
    return run(app, "actions", **filters)


def conclusions(app: App, **filters: Any) -> pd.DataFrame:
    return run(app, "conclusions", **filters)


# --- exports ------------------------------------------------------------------------------------

def plain(v: Any) -> Any:
    """A DataFrame value as a plain Python value for openpyxl, JSON and the terminal table."""
    if v is None or pd.isna(v):  # NaN, NaT and <NA> are all "missing"
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def export(df: pd.DataFrame, fmt: str, path: Path, semicolon: bool = False, sheet: str = "Resultat") -> Path:
    """CSV as Excel reads it (UTF-8 with BOM; semicolon option), XLSX and JSON. Text that Excel would
    run as a formula (=, +, -, @) is written as text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        safe = df.apply(lambda col: col.map(csv_text)) if len(df) else df
        safe.to_csv(path, index=False, sep=";" if semicolon else ",", encoding="utf-8-sig",
                    decimal="," if semicolon else ".")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        from ikcheck.workbooks import layout

        wb = Workbook()
        ws = wb.active
        ws.title = sheet
        layout.table(ws, 1, [str(c) for c in df.columns],
                     [[plain(v) for v in row] for row in df.itertuples(index=False)])
        wb.save(path)
    elif fmt == "json":
        path.write_text(json.dumps([{k: plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")],
                                   ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    else:
        raise UserError(f"Okänt format {fmt!r}; välj table, csv, xlsx eller json.")
    return path


def for_people(df: pd.DataFrame) -> pd.DataFrame:
    """What a person opens in Excel: Swedish column headings, periods and what a conclusion is about in
    words (halvår, kontrollpunkt), ja/nej for yes and no. The views and `--raw` keep the stable English
    names and codes for scripts and BI."""
    out = df.copy()
    for col, sv in (("period", words.PERIOD_SV), ("subject_type", words.SUBJECT_SV)):
        if col in out.columns:
            out[col] = out[col].map(lambda p, sv=sv: sv.get(p, p) if isinstance(p, str) else p)
    for col in out.columns:
        if str(out[col].dtype) in ("bool", "boolean"):  # the declared kinds (COLUMNS)
            out[col] = out[col].astype(object).map(lambda v: v if v is None or v is pd.NA else ("ja" if v else "nej"))
    return out.rename(columns=HEADINGS_SV)


# Swedish column headings for what a person reads (the web's query pages and their exports); the views
# and DataFrames keep their English names, stable for scripts and BI. A stored time is UTC, and its
# heading says so: an exported file carries no time zone of its own.
HEADINGS_SV = {
    "org": "Kommun", "unit": "Enhet", "unit_name": "Enhetens namn", "risk_id": "Risk-id", "risk": "Risk",
    "process": "Process", "title": "Rubrik", "category": "Kategori", "status": "Status", "source": "Källa",
    "legal_requirement": "Lagkrav", "owner": "Ansvarig", "year": "År", "likelihood": "Sannolikhet",
    "impact": "Konsekvens", "score": "Riskvärde", "level": "Risknivå", "residual_score": "Kvarvarande riskvärde",
    "residual_level": "Kvarvarande risknivå", "spread": "Spridning", "flagged": "Att diskutera",
    "assessed_by": "Bedömd av", "assessed_at": "Bedömd (UTC)", "workshop_id": "Workshop", "import_batch_id": "Inläsning",
    "matrix": "Matris", "matrix_version": "Matrisversion", "version": "Version", "plan_status": "Planens status",
    "decision_date": "Beslutsdatum", "decision_paragraph": "Paragraf", "decision_dnr": "Diarienummer",
    "control_point_id": "Kontrollpunkt-id", "control_point": "Kontrollpunkt", "position": "Ordning",
    "kontrollmoment": "Kontrollmoment", "method": "Metod", "sample_size": "Omfattning", "frequency": "Frekvens",
    "municipality_wide": "Kommunövergripande", "ks_code": "KS-krav", "rule_id": "Regel", "why": "Varför",
    "reject_reason": "Skäl avvisad", "plan_version": "Planversion", "result_id": "Resultat-id", "period": "Period",
    "is_current": "Gällande", "performed": "Utförd", "performed_on": "Utförd den", "examined": "Granskade",
    "deviations": "Avvikelser", "assessment": "Bedömning", "assessment_rule": "Bedömd enligt regel",
    "comment": "Kommentar", "performed_by": "Utförd av", "approved_by": "Godkänd av", "reported_by": "Rapporterad av",
    "reported_at": "Rapporterad (UTC)", "correction_reason": "Skäl till rättelse", "supersedes_id": "Ersätter",
    "source_file": "Fil", "source_hash": "Filens kontrollsumma", "action_id": "Åtgärd-id", "action": "Åtgärd",
    "description": "Beskrivning", "due_date": "Klart senast", "closed_on": "Klar den", "plan_id": "Plan-id",
    "created_at": "Skapad (UTC)", "conclusion_id": "Slutsats-id", "run_id": "Körning", "ruleset": "Regelfil",
    "ruleset_version": "Regelfilens version", "ruleset_hash": "Regelfilens kontrollsumma", "engine": "Motor",
    "purpose": "Syfte", "run_by": "Körd av", "run_at": "Körd (UTC)", "conclusion": "Slutsats",
    "subject_type": "Gäller", "subject_id": "Gäller id", "value": "Värde",
}
