"""Report datasets: everything a halvårsrapport, årsrapport or KS-sammanställning shows, read from the
store. Deterministic for the same database state, so a regenerated report has the same content hash.

Figures come from stored results and stored rule conclusions (traceable with `ikcheck trace`); the
judgement per unit comes from the `bedomning` rules and names its rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ikcheck import __version__, engine, register, rulebook
from ikcheck.app import App
from ikcheck.calendar import deadline
from ikcheck.errors import UserError
from ikcheck.planning import decided_plan
from ikcheck.results import action_status, due_points
from ikcheck.store.audit import plain
from ikcheck.store.models import (
    Action, AuditEvent, Conclusion, ControlPlan, ControlPoint, ControlResult, Organisation, ReportRecord, Risk,
    RuleRun, Unit,
)

REPORT_KINDS = {"halvar": "Halvårsrapport", "ar": "Årsrapport"}
COLOURS = {"grön": "green", "gul": "yellow", "röd": "red"}
PERIOD_LABEL = {"halvar": "halvårsrapporten", "ar": "årsrapporten"}


def report_periods(org: Organisation, kind: str) -> list[str]:
    periods = org.settings.get("periods", ["halvar", "helar"])
    if kind == "halvar":
        return periods[: max(1, len(periods) // 2)]
    if kind == "ar":
        return periods
    raise UserError(f"Okänd rapport {kind!r}; välj halvar eller ar.")


def as_of(s: Session, org: Organisation) -> dict[str, Any]:
    """The newest data event the report reflects (report submissions themselves excluded)."""
    ev = s.execute(select(AuditEvent.seq, AuditEvent.at).where(AuditEvent.entity != "report_record")
                   .order_by(AuditEvent.seq.desc()).limit(1)).first()
    return {"seq": ev[0] if ev else 0, "at": ev[1] if ev else None}


def data_hash(data: Any) -> str:
    body = json.dumps(plain(data), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _latest_run(s: Session, org: Organisation, purpose: str) -> RuleRun | None:
    return s.scalar(select(RuleRun).where(RuleRun.org_id == org.id, RuleRun.purpose == purpose)
                    .order_by(RuleRun.id.desc()))


def _results_block(s: Session, org: Organisation, unit: Unit, year: int, periods: list[str], on: dt.date) -> dict:
    plan = decided_plan(s, unit, year)
    if plan is None:
        return {"plan": None, "rows": [], "summary": _summary([]), "findings": [], "actions": []}
    risks = {r.id: r for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
    scores = {r.id: ra.score for r, ra in register.current_assessments(s, org.id, year, unit.id)}
    rows = []
    for period in periods:
        points = due_points(s, plan, period)
        current = {r.control_point_id: r for r in s.scalars(
            select(ControlResult).where(ControlResult.control_point_id.in_([p.id for p in points]),
                                        ControlResult.period == period, ControlResult.is_current.is_(True)))}
        for cp in points:
            res = current.get(cp.id)
            risk = risks.get(cp.risk_id)
            rows.append({
                "period": period, "code": cp.code, "cp_id": cp.id, "result_id": res.id if res else None,
                "risk": f"{risk.code} {risk.title}" if risk else (f"KS-krav {cp.ks_code}" if cp.ks_code else ""),
                "score": scores.get(cp.risk_id), "title": cp.title, "method": cp.method, "sample": cp.sample_size,
                "reported": res is not None, "performed": res.performed if res else None,
                "examined": res.examined if res else None, "deviations": res.deviations if res else None,
                "assessment": res.assessment if res else None,
                "assessed_by": (res.assessment_rule or "rapportör") if res else None,
                "comment": res.comment if res else None, "version": res.version if res else None,
            })
    findings = []
    for period in periods:
        run = _latest_run(s, org, f"resultat {unit.code} {year} {period}")
        if run is None:
            continue
        for c in s.scalars(select(Conclusion).where(Conclusion.run_id == run.id,
                                                    Conclusion.name != "bedömning").order_by(Conclusion.id)):
            findings.append({"period": period, "rule_id": c.rule_id, "name": c.name, "subject_type": c.subject_type,
                             "subject_id": c.subject_id, "message": c.attributes.get("message", c.name),
                             "conclusion_id": c.id})
    by_result = {r["result_id"]: r["code"] for r in rows if r["result_id"]}
    by_cp = {r["cp_id"]: r["code"] for r in rows}
    for f in findings:
        f["code"] = by_result.get(f["subject_id"]) if f["subject_type"] == "result" else by_cp.get(f["subject_id"])
    actions = []
    for a in s.scalars(select(Action).where(Action.unit_id == unit.id).order_by(Action.code)):
        if a.plan_id is not None and s.get(ControlPlan, a.plan_id).year != year:
            continue
        if a.result_id is not None:
            res = s.get(ControlResult, a.result_id)
            if res is None or s.get(ControlPoint, res.control_point_id).plan_id not in _plan_ids(s, unit, year):
                continue
        actions.append({"code": a.code, "description": a.description, "owner": a.owner, "due": a.due_date,
                        "status": action_status(a, on), "action_id": a.id})
    return {"plan": {"version": plan.version, "decided": plan.decision_date, "paragraph": plan.decision_paragraph,
                     "dnr": plan.decision_dnr},
            "rows": rows, "summary": _summary(rows, findings, actions), "findings": findings, "actions": actions}


def _plan_ids(s: Session, unit: Unit, year: int) -> set[int]:
    return set(s.scalars(select(ControlPlan.id).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)))


def _summary(rows: list[dict], findings: list[dict] | None = None, actions: list[dict] | None = None) -> dict:
    findings, actions = findings or [], actions or []
    names = Counter(f["name"] for f in findings)
    return {
        "points": len(rows),
        "performed": sum(1 for r in rows if r["performed"]),
        "with_deviations": sum(1 for r in rows if (r["deviations"] or 0) > 0),
        "significant": sum(1 for r in rows if r["assessment"] == "väsentliga brister"),
        "minor": sum(1 for r in rows if r["assessment"] == "mindre avvikelser"),
        "not_performed": sum(1 for r in rows if r["performed"] is False),
        "not_reported": sum(1 for r in rows if not r["reported"]),
        "escalations": names.get("eskalera_till_ks", 0),
        "actions": len(actions),
        "overdue_actions": sum(1 for a in actions if a["status"] == "försenad"),
    }


def _judgement(app: App, unit: Unit, year: int, summary: dict, late: int) -> dict:
    rs = rulebook.ruleset(app, "bedomning")
    fact = {"type": "unit", "unit_id": unit.id, "code": unit.code, "name": unit.name, "kind": unit.kind,
            "year": year, "late": late, **{k: summary[k] for k in (
                "points", "significant", "minor", "not_performed", "not_reported", "escalations", "overdue_actions")},
            "performed_share": (summary["performed"] / summary["points"]) if summary["points"] else None}
    ev = engine.evaluate(rs, [fact], engine=app.settings.engine)
    c = next(c for c in ev.conclusions if c.name == "bedömning")
    return {"colour": c.attributes["colour"], "css": COLOURS.get(c.attributes["colour"], "yellow"),
            "text": c.attributes["text"], "rule_id": c.rule_id, "rule_title": rs.rule(c.rule_id).title,
            "ruleset": rs.label}


def unit_report(app: App, s: Session, org: Organisation, unit: Unit, year: int, kind: str,
                own_text: str | None = None) -> dict:
    periods = report_periods(org, kind)
    stamp = as_of(s, org)
    on = stamp["at"].date() if stamp["at"] else dt.date(year, 12, 31)
    block = _results_block(s, org, unit, year, periods, on)
    if block["plan"] is None:
        raise UserError(f"{unit.name} har ingen beslutad plan för {year}; det finns inget att rapportera.")
    if kind == "ar":
        previous_label = f"Årsrapport {year - 1}"
        previous = _results_block(s, org, unit, year - 1, report_periods(org, "ar"), on)["summary"]
        half = _results_block(s, org, unit, year, report_periods(org, "halvar"), on)["summary"]
    else:
        previous_label = f"Halvår {year - 1}"
        previous = _results_block(s, org, unit, year - 1, periods, on)["summary"]
        half = None
    late = _late_count(s, org, unit, year, kind)
    data = {
        "kind": kind, "title": f"{REPORT_KINDS[kind]} intern kontroll {year}", "org": org.name,
        "unit": unit.name, "unit_code": unit.code, "forvaltning": unit.forvaltning or "", "year": year,
        "periods": periods, **block,
        "comparison": {"previous_label": previous_label, "previous": previous, "half": half},
        "not_performed": [r for r in block["rows"] if r["performed"] is False or not r["reported"]],
        "judgement": _judgement(app, unit, year, block["summary"], late),
        "own_text": own_text or "",
        "heatmap": register.heatmap_in(app, s, org, unit, year),
        "rules_version": rulebook.rules_version(app),
    }
    return _with_provenance(data, stamp)


def _with_provenance(data: dict, stamp: dict) -> dict:
    # the hash covers the data from the database, not the förvaltning's own text merged into the report
    hashed = {k: v for k, v in data.items() if k not in ("heatmap", "own_text")}
    hashed["heatmap_cells"] = sorted((f"{k[0]},{k[1]}", v) for k, v in data["heatmap"].cells.items())
    data["provenance"] = {"as_of_seq": stamp["seq"], "as_of": stamp["at"], "data_hash": data_hash(hashed),
                          "ikcheck": __version__}
    return data


def _late_count(s: Session, org: Organisation, unit: Unit, year: int, kind: str) -> int:
    """Late steps before this report: the plan, and for the årsrapport the halvårsrapport (a report
    is never judged late by itself)."""
    facts = arshjul_facts(s, org, year, [unit])
    earlier = {"plan"} | ({PERIOD_LABEL["halvar"]} if kind == "ar" else set())
    return sum(1 for f in facts if f.get("days_late", 0) > 0 and (f["type"] if f["type"] == "plan" else f["period"]) in earlier)


def arshjul_facts(s: Session, org: Organisation, year: int, units: list[Unit], on: dt.date | None = None) -> list[dict]:
    """Plan and report facts for the årshjul rules: decided/submitted and how many days late."""
    stamp = as_of(s, org)
    on = on or (stamp["at"].date() if stamp["at"] else dt.date(year + 1, 12, 31))
    plan_due = deadline(org, "plan_beslut", year - 1)
    facts = []
    for unit in units:
        plans = list(s.scalars(select(ControlPlan).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)))
        first = min((p.decision_date for p in plans if p.decision_date), default=None)
        decided_late = (first - plan_due).days if first else (on - plan_due).days
        facts.append({"type": "plan", "plan_id": plans[0].id if plans else -unit.id, "unit": unit.code,
                      "unit_kind": unit.kind, "year": year, "decided": first is not None,
                      "days_late": max(0, decided_late), "points": 0})
        for kind, key, due_year in (("halvar", "halvar_rapport", year), ("ar", "ar_rapport", year + 1)):
            label = PERIOD_LABEL[kind]
            due = deadline(org, key, due_year)
            sub = s.scalar(select(func.min(ReportRecord.submitted_at)).where(
                ReportRecord.unit_id == unit.id, ReportRecord.year == year, ReportRecord.kind == kind,
                ReportRecord.submitted_at.is_not(None)))
            days = (sub - due).days if sub else (on - due).days
            facts.append({"type": "report", "report_id": unit.id * 10 + (1 if kind == "halvar" else 2),
                          "unit": unit.code, "unit_kind": unit.kind, "year": year, "period": label,
                          "submitted": sub is not None, "days_late": max(0, days), "due_passed": on > due})
    return facts


def ks_summary(app: App, s: Session, org: Organisation, year: int, kind: str,
               units: list[Unit] | None = None) -> dict:
    """KS-sammanställning for uppsiktsplikt: every unit side by side (or the units given)."""
    periods = report_periods(org, kind)
    stamp = as_of(s, org)
    on = stamp["at"].date() if stamp["at"] else dt.date(year, 12, 31)
    units = list(units if units is not None else org.units)
    ars = rulebook.ruleset(app, "arshjul")
    facts = arshjul_facts(s, org, year, units, on)
    ev = engine.evaluate(ars, facts, engine=app.settings.engine)
    timing: dict[str, list[dict]] = {u.code: [] for u in units}
    by_key = {(f["type"], f.get("plan_id") or f.get("report_id")): f for f in facts}
    for c in ev.conclusions:
        f = by_key[(c.subject_type, c.subject_id)]
        if c.subject_type == "plan" or f["period"] == PERIOD_LABEL[kind]:
            timing[f["unit"]].append({"rule_id": c.rule_id, "message": c.attributes["message"],
                                      "severity": c.attributes.get("severity")})
    rows, brister, overdue = [], [], []
    for unit in units:
        block = _results_block(s, org, unit, year, periods, on)
        last = _results_block(s, org, unit, year - 1, periods, on)["summary"]
        sub = s.scalar(select(ReportRecord).where(ReportRecord.unit_id == unit.id, ReportRecord.year == year,
                                                  ReportRecord.kind == kind, ReportRecord.submitted_at.is_not(None))
                       .order_by(ReportRecord.version.desc()))
        live_hash = None
        if sub is not None and block["plan"] is not None:
            live_hash = unit_report(app, s, org, unit, year, kind)["provenance"]["data_hash"]
        judgement = _judgement(app, unit, year, block["summary"], len(timing[unit.code])) if block["plan"] else {
            "colour": "röd", "css": "red", "text": "Ingen beslutad plan för intern kontroll.", "rule_id": "ARS-01",
            "rule_title": "Planen är inte beslutad", "ruleset": ars.label}
        rows.append({
            "unit": unit.name, "code": unit.code, "kind": unit.kind, "plan": block["plan"],
            "summary": block["summary"], "last_year": last, "timing": timing[unit.code], "judgement": judgement,
            "submitted": {"version": sub.version, "date": sub.submitted_at, "by": sub.submitted_by,
                          "hash": sub.content_hash, "changed_since": live_hash is not None and live_hash != sub.data_hash}
            if sub else None,
        })
        for r in block["rows"]:
            if r["assessment"] == "väsentliga brister":
                brister.append({"unit": unit.code, **r})
        for f in block["findings"]:
            if f["name"] == "eskalera_till_ks":
                brister.append({"unit": unit.code, "code": f["code"], "escalated": True, "message": f["message"],
                                "period": f["period"], "rule_id": f["rule_id"]})
        overdue += [{"unit": unit.code, **a} for a in block["actions"] if a["status"] == "försenad"]
    data = {
        "kind": kind, "title": f"KS-sammanställning intern kontroll {year}"
                               + (" (halvår)" if kind == "halvar" else ""),
        "org": org.name, "year": year, "periods": periods, "units": rows, "brister": brister,
        "overdue": overdue, "rules_version": rulebook.rules_version(app),
        "totals": {k: sum(r["summary"][k] for r in rows) for k in ("points", "performed", "significant",
                                                                    "not_performed", "not_reported", "escalations",
                                                                    "overdue_actions")},
        "colours": Counter(r["judgement"]["colour"] for r in rows),
    }
    stamp_data = {k: v for k, v in data.items()}
    data["provenance"] = {"as_of_seq": stamp["seq"], "as_of": stamp["at"], "data_hash": data_hash(stamp_data),
                          "ikcheck": __version__}
    return data
