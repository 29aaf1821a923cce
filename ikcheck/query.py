"""Auditor queries over the documented SQL views, as pandas DataFrames, and their exports.

For notebooks:

    from ikcheck.app import App
    from ikcheck.config import load_settings
    from ikcheck import query
    app = App(load_settings("ikcheck.db"), read_only=True)
    df = query.results(app, unit="SN", year=2025, assessment="väsentliga brister")

Every function takes the same filters (those that apply) and returns one row per record, with the
view's column names (English, stable). Filters are SQL parameters, never string-pasted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from ikcheck.app import App
from ikcheck.errors import UserError
from ikcheck.workbooks.safe import csv_text, set_text

VIEWS = {"risks": "v_risks", "plans": "v_plan_lines", "results": "v_results", "actions": "v_actions",
         "conclusions": "v_conclusions"}
# filter name -> (view column, operator) per query
FILTERS: dict[str, dict[str, tuple[str, str]]] = {
    "risks": {"org": ("org", "="), "unit": ("unit", "="), "year": ("year", "="), "level": ("level", "="),
              "category": ("category", "="), "status": ("status", "="), "text": ("title", "like")},
    "plans": {"org": ("org", "="), "unit": ("unit", "="), "year": ("year", "="), "status": ("plan_status", "="),
              "rule": ("rule_id", "="), "text": ("kontrollmoment", "like")},
    "results": {"org": ("org", "="), "unit": ("unit", "="), "year": ("year", "="), "period": ("period", "="),
                "assessment": ("assessment", "="), "text": ("comment", "like"), "current": ("is_current", "=")},
    "actions": {"org": ("org", "="), "unit": ("unit", "="), "status": ("status", "="), "text": ("description", "like")},
    "conclusions": {"org": ("org", "="), "rule": ("rule_id", "="), "text": ("purpose", "like"),
                    "ruleset": ("ruleset", "=")},
}
ORDER = {"risks": "org, risk, year", "plans": "org, unit, year, version, position",
         "results": "org, unit, year, control_point, period, version", "actions": "org, action",
         "conclusions": "conclusion_id"}


def sql_for(what: str, filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SQL and its parameters for a query (also what the benchmark runs bare)."""
    if what not in VIEWS:
        raise UserError(f"Okänd fråga {what!r}; välj {', '.join(VIEWS)}.")
    allowed = FILTERS[what]
    where, params = [], {}
    for name, value in filters.items():
        if value is None:
            continue
        if name not in allowed:
            raise UserError(f"Filtret {name!r} gäller inte {what} (kan: {', '.join(sorted(allowed))}).")
        column, op = allowed[name]
        if op == "like":
            where.append(f"lower({column}) LIKE :{name}")
            params[name] = f"%{str(value).lower()}%"
        else:
            where.append(f"{column} = :{name}")
            params[name] = value
    sql = f"SELECT * FROM {VIEWS[what]}" + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {ORDER[what]}"
    return sql, params


def run(app: App, what: str, **filters: Any) -> pd.DataFrame:
    """The query as a DataFrame. Run on the driver's own cursor: a read needs no transaction, and
    SQLAlchemy's result layer plus pandas.read_sql_query doubled the time of a typical filtered query
    (benchmarks/bench_query.py)."""
    sql, params = sql_for(what, filters)
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
    return pd.DataFrame.from_records(rows, columns=columns)


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

def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def export(df: pd.DataFrame, fmt: str, path: Path, semicolon: bool = False) -> Path:
    """CSV as Excel reads it (UTF-8 with BOM; semicolon option), XLSX and JSON. Text that Excel would
    run as a formula (=, +, -, @) is written as text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        safe = df.apply(lambda col: col.map(csv_text)) if len(df) else df
        safe.to_csv(path, index=False, sep=";" if semicolon else ",", encoding="utf-8-sig",
                    decimal="," if semicolon else ".")
    elif fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        ws.title = "Resultat"
        for j, name in enumerate(df.columns, start=1):
            set_text(ws.cell(1, j), str(name)).font = Font(bold=True)
        for i, row in enumerate(df.itertuples(index=False), start=2):
            for j, v in enumerate(row, start=1):
                set_text(ws.cell(i, j), _cell(v))
        wb.save(path)
    elif fmt == "json":
        path.write_text(json.dumps([{k: _cell(v) for k, v in r.items()} for r in df.to_dict(orient="records")],
                                   ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    else:
        raise UserError(f"Okänt format {fmt!r}; välj table, csv, xlsx eller json.")
    return path
