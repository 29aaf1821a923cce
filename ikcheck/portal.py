"""What the web app shows, as plain data: one function per page, each asking `access.can` first.

The web routes (web/routes.py) only parse the request, call one of these and render the result; the
same dicts answer as JSON. Everything is scoped to the person's kommun (their Actor): a code or id of
another kommun is "not found", never "forbidden".
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from sqlalchemy import func, select

from ikcheck import (access, actions as actions_svc, auditlog, evidence, planning, query, register, trace as trace_svc,
                     words)
from ikcheck.accounts import Actor, list_users
from ikcheck.access import Resource
from ikcheck.app import App
from ikcheck.calendar import STOCKHOLM, deadline, period_end, today
from ikcheck.errors import Forbidden, NotFound, UserError
from ikcheck.reporting import datasets, plan as plan_out, reports as reports_out
from ikcheck.store.coverage import ENTITY_SV
from ikcheck.store.models import (Action, ControlPlan, ControlPoint, ControlResult, Organisation, ReportRecord,
                                  ReportText, Risk, Unit)

PERIOD_SV = {"halvar": "halvår", "helar": "helår"}
DOWNLOAD_PREFIX = "ikcheck-web-"  # a download is written into a directory of its own, removed once sent
KIND_SV = {"halvar": "Halvårsrapport", "ar": "Årsrapport"}
UNIT_KIND_SV = {"ks": "kommunstyrelse", "namnd": "nämnd", "bolag": "bolag"}


def _download_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX))


def require(actor: Actor | None, action: str, resource: Resource) -> None:
    """Allowed, or: not found (another kommun, or nobody), or forbidden (own kommun, other role)."""
    if access.can(actor, action, resource):
        return
    if not access.visible(actor, resource):
        raise NotFound("Sidan finns inte.")
    raise Forbidden("Din roll ger inte tillgång till det här.")


def _org(app: App, s, actor: Actor) -> Organisation:
    return app.org(s, actor.org_code)


def _unit(app: App, s, actor: Actor, code: str, kind: str = "unit") -> Unit:
    try:
        unit = app.unit(s, _org(app, s, actor), code)
    except NotFound:
        raise NotFound("Enheten finns inte.") from None
    require(actor, "view", Resource(kind, unit.org_id, unit.id))
    return unit


def visible_units(app: App, actor: Actor, kind: str = "unit") -> list[Unit]:
    with app.session() as s:
        org = _org(app, s, actor)
        allowed = set(access.unit_ids(actor, [u.id for u in org.units], kind))
        return [u for u in org.units if u.id in allowed]


def _units_in_scope(app: App, actor: Actor, kind: str, unit: str | None) -> tuple[list[Unit], list[str]]:
    """The units a list page covers for the person, and their codes; a unit filter outside them is
    "not found" (another unit of the kommun, or none such)."""
    units = visible_units(app, actor, kind)
    codes = [u.code for u in units]
    if unit and unit not in codes:
        raise NotFound("Enheten finns inte.")
    return units, codes


def default_year(app: App, actor: Actor, on: dt.date | None = None) -> int:
    """The plan year the pages open on: the newest year with a plan (made by `on`), else the coming year."""
    on = on or today()
    with app.session() as s:
        year = s.scalar(select(func.max(ControlPlan.year)).where(
            ControlPlan.org_id == actor.org_id,
            ControlPlan.created_at < dt.datetime.combine(on + dt.timedelta(days=1), dt.time())))
    return year or on.year + 1


def report_year(app: App, actor: Actor, on: dt.date | None = None) -> int:
    """The year whose controls are being reported: this year if a plan for it is decided, else the
    newest year with a decided plan."""
    on = on or today()
    units = visible_units(app, actor, "plan")
    with app.session() as s:
        years = sorted({p.year for p in s.scalars(select(ControlPlan).where(
            ControlPlan.unit_id.in_([u.id for u in units]), ControlPlan.status != "draft",
            ControlPlan.decision_date <= on))}, reverse=True)
    current = on.year
    return current if current in years else next((y for y in years if y < current), years[0] if years else current)


def years(app: App, actor: Actor, shown: int | None = None) -> list[int]:
    """The years to choose between: every year with a plan, the next one after them and the coming
    calendar year (to plan it), and the year the page shows (Att göra links to a year with no plan yet;
    a choice without it showed another year under that year's heading)."""
    with app.session() as s:
        found = set(s.scalars(select(ControlPlan.year).where(ControlPlan.org_id == actor.org_id).distinct()))
    extra = {default_year(app, actor), max(found, default=today().year) + 1, today().year + 1}
    return sorted(found | extra | ({shown} if shown else set()), reverse=True)


# --- Att göra ----------------------------------------------------------------------------------

def todo(app: App, actor: Actor, on: dt.date | None = None) -> dict[str, Any]:
    """The start page: the årshjul deadlines that concern the person, what is late, and their own
    kontrollpunkter and åtgärder that are due. The reminders read the same (`reminders.notices`), as
    the data stood on `on`: plans decided, reports submitted, results reported and åtgärder written by
    then, so that a day replayed later reminds of what it would have reminded of."""
    on = on or today()
    year = default_year(app, actor, on)
    reporting = report_year(app, actor, on)
    units = visible_units(app, actor, "plan")
    by_then = dt.datetime.combine(on + dt.timedelta(days=1), dt.time())
    deadlines, late = [], []
    with app.session() as s:
        org = _org(app, s, actor)
        periods = org.settings.get("periods", ["halvar", "helar"])
        if actor.role in ("ks", "controller", "sekreterare", "revisor"):
            this = on.year
            for unit in units:
                # next year's plan (decided this autumn), and this year's while it is still not decided;
                # the reports that follow up a decided plan: last year's årsrapport, this year's halvårsrapport
                items = [("plan_beslut", this, this + 1, f"Plan för intern kontroll {this + 1} beslutad",
                          _decided(s, unit, this + 1, on) is not None)] if unit.active_in(this + 1) else []
                if _decided(s, unit, this, on) is None and unit.active_in(this):
                    items.append(("plan_beslut", this - 1, this, f"Plan för intern kontroll {this} beslutad", False))
                for key, kind, of_year in (("ar_rapport", "ar", this - 1), ("halvar_rapport", "halvar", this)):
                    if _decided(s, unit, of_year, on) is not None:
                        label = ("Årsrapport" if kind == "ar" else "Halvårsrapport") + f" {of_year} inlämnad"
                        items.append((key, this, of_year, label, _submitted(s, unit, of_year, kind, on)))
                for key, due_year, of_year, what, done in items:
                    due = deadline(org, key, due_year)
                    row = {"enhet": unit.code, "namn": unit.name, "vad": what, "senast": due, "klart": done,
                           "dagar": (due - on).days, "slag": "plan" if key == "plan_beslut" else "rapport",
                           "år": of_year, "nyckel": key}
                    if not done and due < on:
                        late.append({**row, "sen": (on - due).days, "key": (what, due, (on - due).days)})
                    elif not done:
                        deadlines.append({**row, "key": (what, due, (due - on).days)})
        points, own_actions = [], []
        if actor.role in ("controller", "sekreterare", "kontrollansvarig"):
            for unit in units:
                plan = _decided(s, unit, reporting, on)
                if plan is None:
                    continue
                lineages = {cp.lineage_id or cp.id for cp in plan.points}
                reported = set(s.execute(select(ControlResult.lineage_id, ControlResult.period).where(
                    ControlResult.lineage_id.in_(lineages), ControlResult.reported_at < by_then)).all())
                for cp in plan.points:
                    if cp.status == "rejected" or not access.can(
                            actor, "view", Resource("point", unit.org_id, unit.id, cp.owner)):
                        continue
                    for p in cp.reporting or []:
                        if (cp.lineage_id or cp.id, p) in reported:
                            continue
                        due = period_end(reporting, p, periods)
                        points.append({"enhet": unit.code, "kod": cp.code, "kontrollmoment": cp.title,
                                       "period": PERIOD_SV.get(p, p), "period_code": p, "periodens slut": due,
                                       "ansvarig": cp.owner or "", "passerad": due < on,
                                       "may_report": access.can(actor, "report", Resource("point", unit.org_id, unit.id,
                                                                                          cp.owner))})
            for a in s.scalars(select(Action).where(Action.org_id == actor.org_id,
                                                    Action.unit_id.in_([u.id for u in units]),
                                                    Action.created_at < by_then)
                               .order_by(Action.due_date, Action.code)):
                status = actions_svc.action_status(a, on)
                if status == "klar" or not access.can(actor, "view", Resource("action", a.org_id, a.unit_id, a.owner)):
                    continue
                own_actions.append({"kod": a.code, "åtgärd": a.description, "ansvarig": a.owner or "",
                                    "klart senast": a.due_date, "status": status, "result_id": a.result_id,
                                    "risk_id": a.risk_id})
            # what each concerns, since several åtgärder often read alike ("Rutinen förtydligas …")
            sources = _result_points(s, actor.org_id, [a["result_id"] for a in own_actions if a["result_id"]])
            risks = dict(s.execute(select(Risk.id, Risk.code).where(
                Risk.id.in_([a["risk_id"] for a in own_actions if a["risk_id"] and not a["result_id"]]))).all())
            for a in own_actions:
                a["gäller"] = (sources.get(a.pop("result_id")) or
                               (f"direktåtgärd för {risks[a['risk_id']]}" if a["risk_id"] in risks else None))
                del a["risk_id"]
    deadlines.sort(key=lambda r: r["senast"])
    late.sort(key=lambda r: -r["sen"])
    return {"on": on, "year": year, "reporting": reporting, "deadlines": deadlines, "late": late, "points": points,
            "actions": own_actions}


def _submitted(s, unit: Unit, year: int, kind: str, on: dt.date | None = None) -> bool:
    return s.scalar(select(ReportRecord.id).where(ReportRecord.unit_id == unit.id, ReportRecord.year == year,
                                                  ReportRecord.kind == kind, ReportRecord.submitted_at.is_not(None),
                                                  ReportRecord.submitted_at <= (on or today()))
                    .limit(1)) is not None


def _decided(s, unit: Unit, year: int, on: dt.date) -> ControlPlan | None:
    """The plan in force on `on`, if one was decided by then."""
    plan = planning.plan_in_force(s, unit, year, on)
    return plan if plan is not None and plan.decision_date <= on else None


# --- KS översikt and a unit ----------------------------------------------------------------------

SORTS = {"enhet": lambda r: r["unit"], "status": lambda r: ("röd", "gul", "grön").index(r["judgement"]["colour"])
         if r["judgement"]["colour"] in ("röd", "gul", "grön") else 3,
         "brister": lambda r: -r["summary"]["significant"], "forsenade": lambda r: -r["summary"]["overdue_actions"]}


def ks_overview(app: App, actor: Actor, year: int, kind: str | None = None, sort: str = "enhet") -> dict:
    require(actor, "overview", access.org(actor.org_id))
    if kind not in (None, "halvar", "ar"):
        raise UserError("Välj halvår eller helår.")
    with app.session() as s:
        org = _org(app, s, actor)
        data = datasets.ks_summary(app, s, org, year, kind)
        plans = {p["enhet"]: p for p in planning_rows(app, s, org, year)}
    for row in data["units"]:
        row["plan_row"] = plans.get(row["code"])
    key = SORTS.get(sort, SORTS["enhet"])
    data["units"].sort(key=key)
    data["sort"] = sort if sort in SORTS else "enhet"
    return data


def planning_rows(app: App, s, org: Organisation, year: int) -> list[dict]:
    due = deadline(org, "plan_beslut", year - 1)
    out = []
    units = [u for u in org.units if u.active_in(year)]
    lateness = datasets.late_plans(app, s, org, year, units)  # the årshjul rules decide what is late
    for unit in units:
        decided = planning.decided_plan(s, unit, year)
        late = lateness.get(unit.code, 0)
        out.append({"enhet": unit.code, "beslutad": decided.decision_date if decided else None,
                    "paragraf": decided.decision_paragraph if decided else "", "version": decided.version if decided
                    else None, "sen": late, "sista dag": due})
    return out


def unit_page(app: App, actor: Actor, unit_code: str, year: int) -> dict:
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "unit")
        org = _org(app, s, actor)
        plans = [{"version": p.version, "status": planning.STATUS_SV[p.status], "beslutad": p.decision_date,
                  "paragraf": p.decision_paragraph or "", "dnr": p.decision_dnr or "",
                  "kontrollpunkter": sum(1 for c in p.points if c.status != "rejected")}
                 for p in s.scalars(select(ControlPlan).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)
                                    .order_by(ControlPlan.version))]
        periods = datasets.report_periods(org, "ar")
        block = datasets._results_block(s, org, unit, year, periods, today()) if plans else None
        # the rules' bedömning of the year so far, as the årsrapport would give it (none without a decided plan)
        judgement = (datasets.year_judgement(app, s, org, unit, year, block["summary"])
                     if block and block["plan"] else None)
        n_risks = s.scalar(select(func.count()).select_from(Risk).where(Risk.unit_id == unit.id,
                                                                        Risk.status == "active"))
        return {"unit": {"code": unit.code, "name": unit.name, "kind": UNIT_KIND_SV.get(unit.kind, unit.kind),
                         "forvaltning": unit.forvaltning or ""},
                "year": year, "plans": plans, "summary": block["summary"] if block else None,
                "judgement": judgement,
                "year_over": today() > period_end(year, periods[-1], org.settings.get("periods", ["halvar", "helar"])),
                "risks": n_risks, "reports": _reports(s, unit, year),
                "may": {k: access.can(actor, "view", Resource(k, unit.org_id, unit.id))
                        for k in ("risk", "plan", "result", "action", "report")}}


def _reports(s, unit: Unit, year: int | None = None) -> list[dict]:
    q = select(ReportRecord).where(ReportRecord.unit_id == unit.id, ReportRecord.kind.in_(["halvar", "ar"]))
    if year:
        q = q.where(ReportRecord.year == year)
    return [{"id": r.id, "typ": KIND_SV[r.kind], "kind": r.kind, "år": r.year, "version": r.version,
             "format": r.format, "skapad": r.created_at, "inlämnad": r.submitted_at,
             "inlämnad av": r.submitted_by or "", "kontrollsumma": r.content_hash[:16],
             "beslut": {"datum": r.decision_date, "paragraf": r.decision_paragraph, "dnr": r.decision_dnr}
             if r.decision_date else None}
            for r in s.scalars(q.order_by(ReportRecord.year.desc(), ReportRecord.kind, ReportRecord.version))]


# --- register ----------------------------------------------------------------------------------

def _frame_rows(df: pd.DataFrame, limit: int | None = None) -> list[dict]:
    rows = df.head(limit) if limit else df
    return [{k: query.plain(v) for k, v in r.items()} for r in rows.to_dict(orient="records")]


def risks(app: App, actor: Actor, *, unit: str | None = None, year: int | None = None, process: str | None = None,
          level: str | None = None, category: str | None = None, text: str | None = None) -> dict:
    require(actor, "register", access.org(actor.org_id))
    units, codes = _units_in_scope(app, actor, "risk", unit)
    year = year or default_year(app, actor)
    df = query.risks(app, org=actor.org_code, units=[unit] if unit else codes, year=year, status="active",
                     process=process or None, level=level or None, category=category or None, text=text or None)
    with app.session() as s:
        org = _org(app, s, actor)
        processes = sorted({p.name for u in org.units if u.code in codes for p in u.processes})
        levels = [lv.name for lv in app.matrix_for(org, year).levels]
        categories = register.categories(org)
    return {"rows": _frame_rows(df), "year": year, "units": units, "processes": processes, "levels": levels,
            "categories": categories,
            "filters": {"enhet": unit or "", "process": process or "", "niva": level or "",
                        "kategori": category or "", "text": text or "", "ar": year}}


def risk_page(app: App, actor: Actor, code: str) -> dict:
    with app.session() as s:
        risk = s.scalar(select(Risk).where(Risk.org_id == actor.org_id, Risk.code == code))
        if risk is None:
            raise NotFound("Risken finns inte.")
        require(actor, "view", Resource("risk", risk.org_id, risk.unit_id))
        unit_code = risk.unit.code  # read here: a risk with no kontrollpunkt loads its unit nowhere else
        lines = [{"plan": f"{plan.year} v{plan.version}", "unit": unit_code, "year": plan.year,
                  "version": plan.version, "kod": cp.code, "kontrollmoment": cp.title, "status": planning.POINT_STATUS_SV[cp.status],
                  "results": [{"id": r.id, "period": PERIOD_SV.get(r.period, r.period), "bedömning": r.assessment or "",
                               "avvikelser": r.deviations} for r in s.scalars(
                      select(ControlResult).where(ControlResult.control_point_id == cp.id,
                                                  ControlResult.is_current.is_(True)).order_by(ControlResult.period))]}
                 for cp, plan in s.execute(select(ControlPoint, ControlPlan).join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                                           .where(ControlPoint.risk_id == risk.id)
                                           .order_by(ControlPlan.year, ControlPlan.version))]
    details = register.risk_details(app, code, org_code=actor.org_code)
    current = [h for h in details["historik"] if h["gällande"]]
    # the workshop comments, with or without the participant's own scores (workshop_comment)
    return {**details, "unit_code": unit_code, "comments": details["kommentarer"], "lines": lines,
            "chart": _chart(current)}


def _chart(history: list[dict]) -> dict:
    """A small bar chart of the riskvärde per year, as an SVG's numbers (the table beside it says the same)."""
    top = max([16, *(h["riskvärde"] or 0 for h in history)])
    bars = [{"år": h["år"], "värde": h["riskvärde"] or 0, "nivå": h["nivå"] or "",
             "height": round(100 * (h["riskvärde"] or 0) / top), "x": 10 + 50 * i} for i, h in enumerate(history)]
    return {"bars": bars, "width": 20 + 50 * max(1, len(bars)), "top": top}


def heatmap(app: App, actor: Actor, unit_code: str, year: int) -> dict:
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "heatmap")
        hm = register.heatmap_in(app, s, _org(app, s, actor), unit, year)
        # a code alone says little to a nämnd: each risk is shown with its title
        titles = dict(s.execute(select(Risk.code, Risk.title).where(Risk.unit_id == unit.id)).all())
    m = hm.matrix
    top = max(1, max(lv.rank for lv in m.levels))
    tint = ["green", "yellow", "orange", "red"]  # a class per rank (the page's CSP allows no inline colours)
    rows = []
    for li in sorted(m.likelihood_values(), reverse=True):
        cells = []
        for im in m.impact_values():
            level = m.level(li, im)
            cells.append({"likelihood": li, "impact": im, "level": level.label, "css": tint[level.rank * 3 // top],
                          "risks": [(code, titles.get(code, "")) for code in hm.cells.get((li, im), [])]})
        rows.append({"likelihood": li, "label": m.label("likelihood", li), "cells": cells})
    return {"unit": {"code": unit.code, "name": unit.name}, "year": year, "rows": rows,
            "impacts": [{"value": im, "label": m.label("impact", im)} for im in m.impact_values()],
            "title": m.title}


# --- plans -------------------------------------------------------------------------------------

def plans(app: App, actor: Actor, year: int) -> dict:
    require(actor, "plans", access.org(actor.org_id))
    units = visible_units(app, actor, "plan")
    with app.session() as s:
        org = _org(app, s, actor)
        timing = {r["enhet"]: r for r in planning_rows(app, s, org, year)}
        rows = []
        for unit in units:
            versions = list(s.scalars(select(ControlPlan).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)
                                      .order_by(ControlPlan.version)))
            # a superseded version was decided too: its decision, and the version that replaced it
            rows.append({"unit": unit, "versions": [{"version": p.version, "status": planning.STATUS_SV[p.status],
                                                     "beslutad": p.decision_date, "paragraf": p.decision_paragraph or "",
                                                     "ersatt_av": next((q.version for q in versions
                                                                        if q.version > p.version), None)
                                                     if p.status == "superseded" else None}
                                                    for p in versions], "timing": timing[unit.code],
                         "may_derive": not versions and access.can(actor, "edit", Resource("plan", unit.org_id, unit.id))})
    return {"year": year, "rows": rows}


def plan_page(app: App, actor: Actor, unit_code: str, year: int, version: int | None = None,
              compare: int | None = None) -> dict | None:
    """The plan of a unit and year (a version of it), or None if the unit has no plan that year yet
    (the web then shows the year's plans, where one is derived)."""
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
        if version is None and not s.scalar(select(ControlPlan.id).where(ControlPlan.unit_id == unit.id,
                                                                         ControlPlan.year == year).limit(1)):
            return None
    data = planning.show(app, unit.code, year, version, org_code=actor.org_code)
    versions = planning.history(app, unit.code, year, org_code=actor.org_code)
    diff = None
    if compare and compare != data["version"]:
        other = planning.show(app, unit.code, year, compare, org_code=actor.org_code)
        diff = plan_diff(other, data)
    if actor.role == "kontrollansvarig":  # the whole decided plan is a public document; their lines marked
        for ln in data["lines"]:
            ln["egen"] = access.can(actor, "view", Resource("point", actor.org_id, unit.id, ln["ansvarig"]))
    newest = max(v["version"] for v in versions)
    draft = data["status"] == planning.STATUS_SV["draft"] and data["version"] == newest
    may = {k: access.can(actor, k, Resource("plan", actor.org_id, unit.id)) for k in ("edit", "decide")}
    return {**data, "versions": versions, "diff": diff, "compare": compare, "draft": draft, "newest": newest,
            "may": may, "open": sum(1 for ln in data["lines"] if ln["status"] == "föreslagen")}


DIFF_FIELDS = [("kontrollmoment", "kontrollmoment"), ("metod", "metod"), ("omfattning", "omfattning"),
               ("frekvens", "frekvens"), ("ansvarig", "kontrollansvarig"), ("rapportering", "rapportering"),
               ("status", "status")]


def plan_diff(old: dict, new: dict) -> list[dict]:
    """What changed between two versions of a plan, line by line, in words."""
    a = {ln["kod"]: ln for ln in old["lines"] + old["rejected"]}
    b = {ln["kod"]: ln for ln in new["lines"] + new["rejected"]}
    out = []
    for code in sorted(a.keys() | b.keys()):
        if code not in a:
            out.append({"kod": code, "ändring": "tillagd", "detaljer": b[code]["kontrollmoment"]})
        elif code not in b:
            out.append({"kod": code, "ändring": "borttagen", "detaljer": a[code]["kontrollmoment"]})
        else:
            changed = [f"{label}: {a[code][f] or '–'} → {b[code][f] or '–'}" for f, label in DIFF_FIELDS
                       if a[code][f] != b[code][f]]
            if changed:
                out.append({"kod": code, "ändring": "ändrad", "detaljer": "; ".join(changed)})
    return out


def plan_file(app: App, actor: Actor, unit_code: str, year: int, version: int | None, fmt: str) -> Path:
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
    out = _download_dir()
    suffix = f"-v{version}" if version else ""
    return plan_out.export(app, unit.code, year, fmt, out / f"plan-{unit.code}-{year}{suffix}.{fmt}", version=version,
                           org_code=actor.org_code)


# --- results and åtgärder ----------------------------------------------------------------------

def _own_points(app: App, actor: Actor, codes: list[str], year: int | None) -> list[str] | None:
    """For a kontrollansvarig: the kontrollpunkter that are theirs (by befattning); None for others."""
    if actor.role != "kontrollansvarig":
        return None
    df = query.plans(app, org=actor.org_code, units=codes, year=year, owner=actor.title or "\x00")
    return sorted(set(df["control_point"].dropna()))


def results(app: App, actor: Actor, *, unit: str | None = None, year: int | None = None, period: str | None = None,
            assessment: str | None = None) -> dict:
    require(actor, "results", access.org(actor.org_id))
    units, codes = _units_in_scope(app, actor, "result", unit)
    year = year or default_year(app, actor)
    own = _own_points(app, actor, [unit] if unit else codes, year)
    df = query.results(app, org=actor.org_code, units=[unit] if unit else codes, year=year, period=period or None,
                       assessment=assessment or None, current=True, control_points=own)
    rows = _frame_rows(df)
    with app.session() as s:  # what each kontrollpunkt checks: a code alone says nothing to most readers
        titles = _result_points(s, actor.org_id, [r["result_id"] for r in rows], what="title")
    for r in rows:
        r["title"] = titles.get(r["result_id"])
    return {"rows": rows, "year": year, "units": units,
            "may_report": actor.role in access.WRITES[("point", "report")],
            "assessments": list(datasets.SEVERITY), "periods": PERIOD_SV,
            "filters": {"enhet": unit or "", "period": period or "", "bedomning": assessment or "", "ar": year}}


def result_of(s, actor: Actor, result_id: int) -> tuple[ControlResult, ControlPoint, ControlPlan]:
    """A result of the person's kommun with its kontrollpunkt and plan, if they may see it."""
    row = s.execute(select(ControlResult, ControlPoint, ControlPlan)
                    .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                    .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                    .where(ControlResult.id == result_id, ControlResult.org_id == actor.org_id)).first()
    if row is None:
        raise NotFound("Resultatet finns inte.")
    res, cp, plan = row
    require(actor, "view", Resource("result", res.org_id, plan.unit_id, cp.owner))
    return res, cp, plan


def result_page(app: App, actor: Actor, result_id: int) -> dict:
    with app.session() as s:
        res, cp, plan = result_of(s, actor, result_id)
        unit = s.get(Unit, plan.unit_id)
        lineage = select(ControlResult.id).where(ControlResult.lineage_id == res.lineage_id,
                                                 ControlResult.period == res.period)
        acts = [{"kod": a.code, "åtgärd": a.description, "ansvarig": a.owner or "", "klart senast": a.due_date,
                 "status": actions_svc.action_status(a),  # written from any version of the result
                 "may_open": access.can(actor, "view", Resource("action", a.org_id, a.unit_id, a.owner))}
                for a in s.scalars(select(Action).where(Action.result_id.in_(lineage)).order_by(Action.code))]
        versions = [{"id": r.id, "version": r.version, "gällande": r.is_current, "rättelse": r.correction_reason or "",
                     "rapporterad": r.reported_at, "av": r.reported_by}
                    for r in s.scalars(select(ControlResult).where(ControlResult.lineage_id == res.lineage_id,
                                                                   ControlResult.period == res.period)
                                       .order_by(ControlResult.version))]
        return {"id": res.id, "unit": {"code": unit.code, "name": unit.name,
                                       "may_open": access.can(actor, "view", Resource("unit", unit.org_id, unit.id))},
                "year": plan.year,
                "plan_version": plan.version, "point": {"kod": cp.code, "kontrollmoment": cp.title,
                                                        "metod": cp.method, "omfattning": cp.sample_size,
                                                        "omfattning_text": planning.sample_text(app, s, cp),
                                                        "ansvarig": cp.owner or ""},
                "period": PERIOD_SV.get(res.period, res.period), "performed": res.performed,
                "performed_on": res.performed_on, "examined": res.examined, "deviations": res.deviations,
                "assessment": res.assessment or "", "comment": res.comment or "", "performed_by": res.performed_by or "",
                "reported_by": res.reported_by, "reported_at": res.reported_at, "actions": acts, "versions": versions,
                "approved_by": res.approved_by or "", "current": res.is_current,
                "evidence": evidence.listed(s, res),
                "may_approve": bool(res.is_current and res.performed and not res.approved_by and access.can(
                    actor, "approve", Resource("result", res.org_id, plan.unit_id, cp.owner))),
                "self_approval": (res.performed_by or "").strip().casefold() == actor.name.strip().casefold(),
                "may_correct": bool(res.is_current and plan.status == "decided" and access.can(
                    actor, "report", Resource("point", res.org_id, plan.unit_id, cp.owner))),
                "period_code": res.period, "unit_code": unit.code,
                "traceable": access.can(actor, "trace", access.org(actor.org_id))}


ACTION_ORDER = {"försenad": 0, "pågår": 1, "planerad": 2, "klar": 3}


def _result_points(s, org_id: int, ids: list[int], what: str = "period") -> dict[int, str]:
    """Per result, what it concerns: its kontrollpunkt and period, as an åtgärd names it ("SN-2025-K01
    halvår"), or (`what="title"`) what the kontrollpunkt checks, since a code alone says little."""
    ids = sorted(set(ids))
    return {rid: f"{code} {PERIOD_SV.get(period, period)}" if what == "period" else title
            for i in range(0, len(ids), 500)
            for rid, code, period, title in s.execute(
                select(ControlResult.id, ControlPoint.code, ControlResult.period, ControlPoint.title)
                .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                .where(ControlResult.org_id == org_id, ControlResult.id.in_(ids[i:i + 500])))}


def _openable_results(s, actor: Actor, ids: list[int]) -> set[int]:
    """The results among `ids` whose page the person may open: a kontrollansvarig sees those of their
    own kontrollpunkter only, though an åtgärd of theirs may stem from another's result."""
    ids = sorted(set(ids))
    return {rid for i in range(0, len(ids), 500)
            for rid, unit_id, owner in s.execute(
                select(ControlResult.id, ControlPlan.unit_id, ControlPoint.owner)
                .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                .where(ControlResult.org_id == actor.org_id, ControlResult.id.in_(ids[i:i + 500])))
            if access.can(actor, "view", Resource("result", actor.org_id, unit_id, owner))}


def action_list(app: App, actor: Actor, *, unit: str | None = None, status: str | None = None,
                owner: str | None = None) -> dict:
    """The åtgärder of the person's units (a kontrollansvarig: their own), the försenade first, then the
    open ones by their date, the klara last; by unit, status and ansvarig."""
    require(actor, "results", access.org(actor.org_id))
    units, codes = _units_in_scope(app, actor, "action", unit)
    own = (actor.title or "\x00") if actor.role == "kontrollansvarig" else None
    df = query.actions(app, org=actor.org_code, units=[unit] if unit else codes, status=status or None, owner=own)
    rows = _frame_rows(df)
    owners = sorted({r["owner"] for r in rows if r.get("owner")})
    if owner:
        rows = [r for r in rows if (r.get("owner") or "") == owner]
    rows.sort(key=lambda r: (ACTION_ORDER.get(r["status"], 9), r.get("due_date") or dt.date.max, r["action"]))
    # what each åtgärd concerns: the kontrollpunkt and period of its result, or the risk of a direktåtgärd
    results = [int(r["result_id"]) for r in rows if r.get("result_id")]
    with app.session() as s:
        source = _result_points(s, actor.org_id, results)
        openable = _openable_results(s, actor, results)
    # a link only where the page opens: a kontrollansvarig reads neither the register nor others' results
    risk_units = {u.code for u in units if access.can(actor, "view", Resource("risk", u.org_id, u.id))}
    for r in rows:
        r["concerns"] = source.get(int(r["result_id"])) if r.get("result_id") else None
        r["result_link"] = bool(r.get("result_id")) and int(r["result_id"]) in openable
        r["risk_link"] = r["unit"] in risk_units
    return {"rows": rows, "units": units, "statuses": [*actions_svc.STATUS, "försenad"], "owners": owners,
            "filters": {"enhet": unit or "", "status": status or "", "ansvarig": owner or ""}}


def action_page(app: App, actor: Actor, code: str) -> dict:
    with app.session() as s:
        a = s.scalar(select(Action).where(Action.org_id == actor.org_id, Action.code == code))
        if a is None:
            raise NotFound("Åtgärden finns inte.")
        require(actor, "view", Resource("action", a.org_id, a.unit_id, a.owner))
        unit = s.get(Unit, a.unit_id)
        data = {"kod": a.code, "åtgärd": a.description, "ansvarig": a.owner or "", "klart senast": a.due_date,
                "status": actions_svc.action_status(a), "klar den": a.closed_on, "result_id": a.result_id,
                "unit": {"code": unit.code, "name": unit.name}, "notes": a.notes or [],
                "may_update": a.status != "klar" and access.can(actor, "update",
                                                               Resource("action", a.org_id, a.unit_id, a.owner)),
                "statuses": actions_svc.STATUS, "concerns": None, "risk": None}
        if a.result_id:  # what it concerns, as the lists name it, linked where the person may open it
            data["concerns"] = _result_points(s, a.org_id, [a.result_id]).get(a.result_id)
            data["result_link"] = a.result_id in _openable_results(s, actor, [a.result_id])
        elif a.risk_id and (risk := s.get(Risk, a.risk_id)) is not None:
            data["risk"] = {"code": risk.code, "title": risk.title,
                            "may_open": access.can(actor, "view", Resource("risk", risk.org_id, risk.unit_id))}
    data["history"] = actions_svc.history(app, code, org_code=actor.org_code)
    return data


# --- reports -----------------------------------------------------------------------------------

def reports(app: App, actor: Actor, year: int) -> dict:
    require(actor, "reports", access.org(actor.org_id))
    units = visible_units(app, actor, "report")
    with app.session() as s:
        org = _org(app, s, actor)
        rows = []
        for unit in units:
            recs = _reports(s, unit, year)
            status = {}
            has_plan = planning.decided_plan(s, unit, year) is not None
            may_submit = access.can(actor, "submit", Resource("report", unit.org_id, unit.id))
            may_write = access.can(actor, "write", Resource("report", unit.org_id, unit.id))
            for kind, key, due_year in (("halvar", "halvar_rapport", year), ("ar", "ar_rapport", year + 1)):
                sub = [r for r in recs if r["kind"] == kind and r["inlämnad"]]
                due = deadline(org, key, due_year)
                first = min((r["inlämnad"] for r in sub), default=None)
                late = (first - due).days if first and first > due else (
                    (today() - due).days if not first and today() > due else 0)
                ends = period_end(year, datasets.report_periods(org, kind)[-1], org.settings.get("periods", ["halvar", "helar"]))
                newest = max(sub, key=lambda r: r["version"], default=None)
                # whether a new version is due: the data changed since the newest submission, or the
                # förvaltning's text was written after it. Asked for those who act on it (about 15 ms a
                # report); KS and the revisor read it on the overview
                rec = s.get(ReportRecord, newest["id"]) if newest and has_plan and (may_submit or may_write) else None
                text = _text_written(s, unit, year, kind) if may_write or rec else None
                status[kind] = {"inlämnad": first, "sista dag": due, "sen": late, "perioden slut": today() > ends,
                                "beslut": newest["beslut"] if newest else None,
                                "ändrad": bool(rec and datasets.changed_since(app, s, org, unit, rec)),
                                "ny text": bool(rec and text and text > rec.created_at), "har text": text is not None}
            rows.append({"unit": unit, "records": recs, "status": status, "has_plan": has_plan,
                         "may_submit": may_submit, "may_write": may_write})
    return {"year": year, "rows": rows, "kinds": KIND_SV}


def _text_written(s, unit: Unit, year: int, kind: str) -> dt.datetime | None:
    """When the förvaltning's own text in a report was last written, if it has one."""
    return s.scalar(select(ReportText.updated_at).where(
        ReportText.unit_id == unit.id, ReportText.year == year, ReportText.kind == kind))


def outdated_reports(app: App, actor: Actor, on: dt.date | None = None) -> list[dict]:
    """The reports sent to KS that no longer say what they would say today, for those who write or
    submit them: a result corrected or reported late, or the förvaltning's text rewritten, since the
    newest version was submitted. A new version is due (the reports page says the same per report).
    Last year's and this year's reports, of each year the newest kind sent (a halvårsrapport is
    history once the årsrapport is in); each check builds the report's data once (about 20 ms)."""
    on = on or today()
    rows = []
    units = visible_units(app, actor, "report")
    with app.session() as s:
        org = _org(app, s, actor)
        for unit in units:
            resource = Resource("report", unit.org_id, unit.id)
            if not (access.can(actor, "submit", resource) or access.can(actor, "write", resource)):
                continue
            for year in (on.year - 1, on.year):
                if planning.decided_plan(s, unit, year) is None:
                    continue
                for kind in ("ar", "halvar"):
                    rec = datasets.last_submitted(s, unit, year, kind)
                    if rec is None:
                        continue
                    text = _text_written(s, unit, year, kind)
                    why = [w for w, yes in (("underlaget har ändrats", datasets.changed_since(app, s, org, unit, rec)),
                                            ("förvaltningens bedömning är omskriven", bool(text and text > rec.created_at)))
                           if yes]
                    if why:
                        rows.append({"enhet": unit.code, "namn": unit.name, "år": year, "kind": kind,
                                     "vad": f"{KIND_SV[kind]} {year}", "version": rec.version,
                                     "inlämnad": rec.submitted_at, "varför": " och ".join(why)})
                    break
    return rows


def report_html(app: App, actor: Actor, unit_code: str, year: int, kind: str) -> str:
    return report_file(app, actor, unit_code, year, kind, "html").read_text(encoding="utf-8")


def report_file(app: App, actor: Actor, unit_code: str, year: int, kind: str, fmt: str) -> Path:
    if kind not in KIND_SV:
        raise NotFound("Rapporten finns inte.")
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "report")
        if planning.decided_plan(s, unit, year) is None:
            raise NotFound(f"{unit.name} har ingen beslutad plan för {year}, så ingen rapport.")
    out = _download_dir()
    name = f"{'halvarsrapport' if kind == 'halvar' else 'arsrapport'}-{unit.code}-{year}.{fmt}"
    path, _data = reports_out.unit_report(app, unit.code, year, kind, fmt, out / name, org_code=actor.org_code)
    return path


def ks_file(app: App, actor: Actor, year: int, kind: str | None, fmt: str) -> Path:
    require(actor, "overview", access.org(actor.org_id))
    out = _download_dir()
    path, _data = reports_out.ks_report(app, year, kind, fmt, out, org_code=actor.org_code)
    return path


# --- revisor: queries, trace, verify ------------------------------------------------------------

QUERY_TITLES = {"risks": "Risker", "plans": "Planernas kontrollpunkter", "results": "Kontrollresultat",
                "actions": "Åtgärder", "conclusions": "Regelslutsatser"}
QUERY_FILTERS = {  # the filters each query page offers: (name, Swedish label)
    "risks": [("unit", "Enhet"), ("year", "År"), ("level", "Risknivå"), ("category", "Kategori"), ("text", "Text i rubriken")],
    "plans": [("unit", "Enhet"), ("year", "År"), ("status", "Planens status"), ("rule", "Regel"),
              ("text", "Text i kontrollmomentet")],
    "results": [("unit", "Enhet"), ("year", "År"), ("period", "Period"), ("assessment", "Bedömning"),
                ("text", "Text i kommentaren")],
    "actions": [("unit", "Enhet"), ("status", "Status"), ("text", "Text i åtgärden")],
    "conclusions": [("unit", "Enhet"), ("rule", "Regel"), ("ruleset", "Regelfil"), ("text", "Text i syftet")],
}
PAGE_ROWS = 500
SHOWN = {**PERIOD_SV, **planning.STATUS_SV, **planning.POINT_STATUS_SV, "active": "aktiv", "retired": "avslutad",
         **words.SUBJECT_SV}


def query_page(app: App, actor: Actor, what: str, filters: dict[str, str]) -> dict:
    require(actor, "query", access.org(actor.org_id))
    if what not in QUERY_TITLES:
        raise NotFound("Frågan finns inte.")
    allowed = dict(QUERY_FILTERS[what])
    clean: dict[str, Any] = {}
    for k, v in filters.items():
        if k in allowed and v.strip():
            clean[k] = int(v) if k == "year" and v.strip().isdigit() else v.strip()
    if "year" in clean and not isinstance(clean["year"], int):
        raise UserError(f"År: {clean['year']!r} är inget årtal (förväntat t.ex. 2025).")
    df = query.run(app, what, org=actor.org_code, **clean)
    filters = []  # (name, label, choices or None for free text); a choice is (value, Swedish label)
    for name, label in QUERY_FILTERS[what]:
        if name == "text":
            filters.append((name, label, None))
        else:
            found = query.values(app, what, name, actor.org_code)
            filters.append((name, label, [(v, SHOWN.get(v, v)) for v in found]))
    return {"what": what, "title": QUERY_TITLES[what], "filters": filters, "values": clean,
            "columns": [query.HEADINGS_SV.get(c, c) for c in df.columns], "keys": list(df.columns),
            "rows": _frame_rows(df, PAGE_ROWS), "count": len(df), "shown": min(len(df), PAGE_ROWS)}


def query_file(app: App, actor: Actor, what: str, filters: dict[str, str], fmt: str) -> Path:
    require(actor, "query", access.org(actor.org_id))
    if what not in QUERY_TITLES or fmt not in ("xlsx", "csv"):
        raise NotFound("Frågan finns inte.")
    data = query_page(app, actor, what, filters)  # the same checks and filters as the page
    df = query.for_people(query.run(app, what, org=actor.org_code, **data["values"]))
    out = _download_dir() / f"{what}.{fmt}"
    return query.export(df, fmt, out, semicolon=fmt == "csv")


def trace(app: App, actor: Actor, kind: str, key: str) -> dict:
    require(actor, "trace", access.org(actor.org_id))
    if kind not in ("result", "action", "risk", "point", "report"):
        raise NotFound("Sidan finns inte.")
    try:
        return trace_svc.trace(app, f"{kind}:{key}", org_code=actor.org_code)
    except NotFound:
        raise NotFound("Det finns inget sådant att spåra.") from None


EVENT_LIMITS = (50, 200, 1000)
_LOGGED_AS = {"action": "action", "risk": "risk", "point": "control_point", "report": "report_record"}


def log_link(actor: Actor, kind: str, key: str) -> str | None:
    """The audit log's events of what a trace page is about, for those who may read the log (a result
    has none of its own: its import's events are on the trace)."""
    if kind not in _LOGGED_AS or not access.can(actor, "log", access.org(actor.org_id)):
        return None
    return "/granskning/handelser?" + urlencode({"post": _LOGGED_AS[kind], "id": key, "antal": "200"})


def events_page(app: App, actor: Actor, filters: dict[str, str]) -> dict:
    """The audit log's events for the revisor and the administrator, newest first, filtered as `audit log`
    filters them; a date that is not one is named on the form, not raised."""
    require(actor, "log", access.org(actor.org_id))
    values = {k: str(filters.get(k) or "").strip() for k in ("post", "id", "vem", "fran", "till", "antal", "visa")}
    errors = []
    dates: dict[str, dt.date | None] = {}
    for name, label in (("fran", "Från"), ("till", "Till och med")):
        try:
            dates[name] = dt.date.fromisoformat(values[name]) if values[name] else None
        except ValueError:
            dates[name] = None
            errors.append((name, f"”{values[name]}” är inget datum (förväntat ÅÅÅÅ-MM-DD)", label))
    limit = int(values["antal"]) if values["antal"] in {str(n) for n in EVENT_LIMITS} else EVENT_LIMITS[0]
    values["antal"] = str(limit)
    post = values["post"] if values["post"] in ENTITY_SV else ""
    rows = [] if errors else auditlog.event_rows(
        app, entity=post or None, entity_id=values["id"] or None, actor=values["vem"] or None,
        since=dates["fran"], until=dates["till"], limit=limit, org_code=actor.org_code, seals=values["visa"] == "alla",
        tz=STOCKHOLM)
    for r in rows:
        r["entity_sv"] = ENTITY_SV.get(r["entity"], r["entity"])
    return {"values": values, "errors": errors, "rows": rows, "limit": limit,
            "entities": sorted(ENTITY_SV.items(), key=lambda kv: kv[1]),
            "actors": auditlog.actors(app, actor.org_code), "limits": EVENT_LIMITS}


def events_file(app: App, actor: Actor, filters: dict[str, str], fmt: str) -> Path:
    """The events the page shows, for Excel: Swedish headings, times in Swedish time."""
    if fmt not in ("xlsx", "csv"):
        raise NotFound("Sidan finns inte.")
    data = events_page(app, actor, filters)  # the same permission, checks and filters as the page
    if data["errors"]:
        raise UserError("; ".join(f"{label}: {message}" for _name, message, label in data["errors"]) + ".")
    df = pd.DataFrame([[e["seq"], _swedish_time(e["at"]), e["actor"], e["action"], e["entity_sv"], e["entity_id"],
                        e["changed"]] for e in data["rows"]],
                      columns=["Nr", "När (svensk tid)", "Vem", "Vad", "Gäller", "Id", "Ändrat"])
    return query.export(df, fmt, _download_dir() / f"handelser.{fmt}", semicolon=fmt == "csv", sheet="Händelser")


def _swedish_time(at: dt.datetime) -> dt.datetime:
    """A stored time (naive UTC) as a clock in Sweden read it, naive, for a spreadsheet cell."""
    return at.replace(tzinfo=dt.timezone.utc).astimezone(STOCKHOLM).replace(tzinfo=None)


def receipt_file(app: App, actor: Actor) -> Path:
    """`audit anchor` for the revisor in the browser: a receipt of the log's head as it is now, signed
    with the server's key if it has one, to keep and upload at the next audit."""
    from ikcheck import anchor

    require(actor, "verify", access.org(actor.org_id))
    return anchor.receipt(app, _download_dir())[0]  # named by the head's number, as the command names it


def verify(app: App, actor: Actor, uploads: list[tuple[str, bytes]] | None = None, tokens: list[str] | None = None,
           public_key: tuple[str, bytes] | None = None):
    """audit verify, with anchors uploaded as files (a receipt or a document) or typed as NUMMER:HASH,
    and the head's signature checked with the public key uploaded (the one the revisorer hold), else
    with the server's own. A file is named in every message as it was uploaded."""
    require(actor, "verify", access.org(actor.org_id))
    anchors: list[Any] = [t.strip() for t in tokens or [] if t.strip()]
    with tempfile.TemporaryDirectory(prefix="ikcheck-anchor-") as tmp:
        def kept(i: int, name: str, content: bytes) -> Path:
            folder = Path(tmp) / str(i)  # one folder per file: two uploads of the same name stay apart
            folder.mkdir()
            path = folder / (re.sub(r"[\x00-\x1f/\\]", "_", Path(name).name)[:200] or "fil")
            path.write_bytes(content)
            return path

        for i, (name, content) in enumerate(uploads or []):
            suffix = Path(name).suffix.lower()
            if suffix not in (".json", ".pdf", ".docx", ".html", ".htm", ".xlsx"):
                raise UserError(f"Filen {name} kan inte läsas som förankring (förväntat ett kvitto .json eller ett "
                                "dokument .pdf, .docx, .html eller .xlsx från ikcheck).")
            anchors.append(kept(i, name, content))
        key = kept(len(uploads or []), *public_key) if public_key else None
        return auditlog.verify(app, anchors=anchors, public_key=key)


def account_list(app: App, actor: Actor) -> list[dict]:
    require(actor, "accounts", access.org(actor.org_id))
    return list_users(app, org_code=actor.org_code)


