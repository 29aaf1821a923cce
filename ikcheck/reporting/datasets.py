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
from sqlalchemy.orm import Session, selectinload

from ikcheck import __version__, anchor, engine, positions, register, rulebook, texts, words
from ikcheck.app import App
from ikcheck.calendar import deadline, period_end, today
from ikcheck.errors import UserError
from ikcheck.planning import plan_in_force
from ikcheck.actions import action_status
from ikcheck.results import plan_results
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
    """The kommun's newest data event the report reflects (report submissions themselves excluded),
    numbered within the kommun: another kommun's events in the same database never move it."""
    ev = s.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id, AuditEvent.entity != "report_record")
                  .order_by(AuditEvent.seq.desc()).limit(1))
    return {"seq": ev.org_seq if ev else 0, "at": ev.at if ev else None, "anchor": anchor.stamp(ev)}


def data_hash(data: Any) -> str:
    """SHA-256 of a report's data, without database row ids (they depend on what else the database
    holds, not on what the report says)."""
    body = json.dumps(plain(_without_ids(data)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if not (k.endswith("_id") or k.endswith("_ids"))}
    if isinstance(value, (list, tuple)):
        return [_without_ids(v) for v in value]
    return value


def _latest_run(s: Session, org: Organisation, purpose: str) -> RuleRun | None:
    return s.scalar(select(RuleRun).where(RuleRun.org_id == org.id, RuleRun.purpose == purpose)
                    .order_by(RuleRun.id.desc()))


SEVERITY = ("väsentliga brister", "mindre avvikelser", "inga avvikelser")


def _cell(period: str, due: bool, res) -> dict:
    """One kontrollpunkt's result for one period."""
    return {"period": period, "due": due, "result_id": res.id if res else None, "reported": res is not None,
            "performed": res.performed if res else None, "examined": res.examined if res else None,
            "deviations": res.deviations if res else None, "assessment": res.assessment if res else None,
            "assessed_by": (res.assessment_rule or "rapportör") if res else None,
            "comment": res.comment if res else None, "version": res.version if res else None,
            "performed_by": res.performed_by if res else None, "performed_on": res.performed_on if res else None}


def _point_row(cp, risk: Risk | None, score: int | None, cells: list[dict]) -> dict:
    """A kontrollpunkt once, with its results of the report's periods side by side and what they add
    up to: its status is the worst of its due periods (ej rapporterad, ej utförd, utförd), its
    assessment the most serious reported, and `persistent` when a brist stood in every period."""
    due = [c for c in cells if c["due"]]
    if not due:
        status = "ej aktuell"
    elif any(not c["reported"] for c in due):
        status = "ej rapporterad"
    elif any(c["performed"] is False for c in due):
        status = "ej utförd"
    else:
        status = "utförd"
    found = {c["assessment"] for c in cells if c["reported"]}
    worst = next((a for a in SEVERITY if a in found), None)
    reported = [c for c in cells if c["reported"]]
    latest = reported[-1] if reported else None
    return {
        "code": cp.code, "cp_id": cp.id,
        "risk": f"{risk.code} {risk.title}" if risk else (f"KS-krav {cp.ks_code}" if cp.ks_code else ""),
        "risk_text": f"{risk.code} {risk.title}" if risk else ("Kommunövergripande krav från kommunstyrelsen"
                                                               if cp.ks_code else ""),
        "score": score, "title": cp.title, "owner": cp.owner, "method": cp.method, "sample": cp.sample_size,
        "cells": cells,
        "status": status, "reported": status != "ej rapporterad", "performed": status == "utförd" if due else None,
        "not_due": not due,
        "deviations": sum(c["deviations"] or 0 for c in reported) if reported else None,
        "examined": sum(c["examined"] or 0 for c in reported) if reported else None,
        "with_deviations": any((c["deviations"] or 0) > 0 for c in reported),
        "assessment": worst, "assessed_by": latest["assessed_by"] if latest else None,
        "comment": latest["comment"] if latest else None,
        "persistent": len(cells) > 1 and all(c["assessment"] == "väsentliga brister" for c in cells),
        "result_ids": [c["result_id"] for c in reported],
    }


def _results_block(s: Session, org: Organisation, unit: Unit, year: int, periods: list[str], on: dt.date) -> dict:
    """The plan in force at the end of the report's last period, each of its kontrollpunkter due in
    the periods once, the rules' findings, and the åtgärder of those periods as they stood on `on`."""
    all_periods = org.settings.get("periods", ["halvar", "helar"])
    plan = plan_in_force(s, unit, year, period_end(year, periods[-1], all_periods))
    if plan is None:
        return {"plan": None, "rows": [], "summary": _summary([]), "findings": [], "actions": []}
    risks = {r.id: r for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
    scores = {r.id: ra.score for r, ra in register.current_assessments(s, org.id, year, unit.id)}
    current = plan_results(s, plan)
    due = {p: period_end(year, p, all_periods) < on for p in periods}
    rows = []
    for cp in plan.points:
        mine = [p for p in periods if p in (cp.reporting or [])]
        if cp.status == "rejected" or not mine:
            continue
        cells = [_cell(p, due[p], current.get((cp.id, p))) for p in mine]
        rows.append(_point_row(cp, risks.get(cp.risk_id), scores.get(cp.risk_id), cells))
    # every version's kontrollpunkter of the year, for the codes of findings and åtgärder
    plan_ids = _plan_ids(s, unit, year)
    points = {cid: (code, lid or cid) for cid, code, lid in s.execute(
        select(ControlPoint.id, ControlPoint.code, ControlPoint.lineage_id).where(ControlPoint.plan_id.in_(plan_ids)))}
    by_lineage = {lineage: code for code, lineage in points.values()}
    by_result = {c["result_id"]: r["code"] for r in rows for c in r["cells"] if c["result_id"]}
    titles = {r["code"]: r["title"] for r in rows}
    findings = []
    for period in periods:
        run = _latest_run(s, org, f"resultat {unit.code} {year} {period}")
        if run is None:
            continue
        for c in s.scalars(select(Conclusion).where(Conclusion.run_id == run.id,
                                                    Conclusion.name != "bedömning").order_by(Conclusion.id)):
            code = (by_result.get(c.subject_id) if c.subject_type == "result"
                    else points.get(c.subject_id, (None,))[0])
            text = words.sentence(c.attributes.get("message", c.name.replace("_", " ")))
            if c.name == "eskalera_till_ks":  # what follows, as the KS summary says it (not the rule's id)
                text += " Bristen eskaleras till kommunstyrelsen."
            findings.append({"period": period, "rule_id": c.rule_id, "name": c.name, "subject_type": c.subject_type,
                             "subject_id": c.subject_id, "message": c.attributes.get("message", c.name),
                             "text": text, "conclusion_id": c.id, "code": code})
    actions = []
    q = (select(Action, ControlResult.period, ControlResult.lineage_id)
         .outerjoin(ControlResult, ControlResult.id == Action.result_id)
         .where(Action.unit_id == unit.id).order_by(Action.code).options(selectinload(Action.changes)))
    for a, period, lineage in s.execute(q):
        if a.result_id is not None:
            if period not in periods or lineage not in by_lineage:
                continue
            point = by_lineage[lineage]
        elif a.plan_id in plan_ids:
            point = None  # a direktåtgärd of the year's plan
        else:
            continue
        written = min((c.on for c in a.changes), default=None)
        if written and written > on:
            continue  # written after the report's date
        actions.append({"code": a.code, "description": a.description, "owner": a.owner, "due": a.due_date,
                        "status": action_status(a, on), "point": point, "period": period, "action_id": a.id,
                        "group": f"{point} – {titles[point]}" if point in titles else (point or "Direktåtgärder")})
    return {"plan": {"version": plan.version, "decided": plan.decision_date, "paragraph": plan.decision_paragraph,
                     "dnr": plan.decision_dnr},
            "rows": rows, "summary": _summary(rows, findings, actions), "findings": findings, "actions": actions}


def _plan_ids(s: Session, unit: Unit, year: int) -> list[int]:
    return list(s.scalars(select(ControlPlan.id).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)))


def _summary(rows: list[dict], findings: list[dict] | None = None, actions: list[dict] | None = None) -> dict:
    """Counts of kontrollpunkter (each once, whatever the number of periods), findings and åtgärder."""
    findings, actions = findings or [], actions or []
    names = Counter(f["name"] for f in findings)
    return {
        "points": len(rows),
        "performed": sum(1 for r in rows if r["status"] == "utförd"),
        "with_deviations": sum(1 for r in rows if r["with_deviations"]),
        "significant": sum(1 for r in rows if r["assessment"] == "väsentliga brister"),
        "persistent": sum(1 for r in rows if r["persistent"]),
        "minor": sum(1 for r in rows if r["assessment"] == "mindre avvikelser"),
        "not_performed": sum(1 for r in rows if r["status"] == "ej utförd"),
        "not_reported": sum(1 for r in rows if r["status"] == "ej rapporterad"),
        "not_due": sum(1 for r in rows if r["status"] == "ej aktuell"),
        "escalations": names.get("eskalera_till_ks", 0),
        "actions": len(actions),
        "overdue_actions": sum(1 for a in actions if a["status"] == "försenad"),
    }


def judgement_fact(unit: Unit, year: int, summary: dict, late: int) -> dict:
    """What the bedömning rules read of a unit's year."""
    return {"type": "unit", "unit_id": unit.id, "code": unit.code, "name": unit.name, "kind": unit.kind,
            "year": year, "late": late, **{k: summary[k] for k in (
                "points", "significant", "minor", "not_performed", "not_reported", "escalations", "overdue_actions")},
            "performed_share": (summary["performed"] / summary["points"]) if summary["points"] else None}


def unit_year_fact(app: App, s: Session, org: Organisation, unit: Unit, year: int) -> dict | None:
    """The bedömning fact of a unit's whole year (the årsrapport's), or None without a decided plan."""
    stamp = as_of(s, org)
    on = stamp["at"].date() if stamp["at"] else dt.date(year, 12, 31)
    block = _results_block(s, org, unit, year, report_periods(org, "ar"), on)
    if block["plan"] is None:
        return None
    return judgement_fact(unit, year, block["summary"], _late_count(app, s, org, unit, year, "ar"))


def _judgement(app: App, unit: Unit, year: int, summary: dict, late: int) -> dict:
    rs = rulebook.ruleset(app, "bedomning")
    fact = judgement_fact(unit, year, summary, late)
    ev = engine.evaluate(rs, [fact], engine=app.settings.engine)
    c = next(c for c in ev.conclusions if c.name == "bedömning")
    return {"colour": c.attributes["colour"], "css": COLOURS.get(c.attributes["colour"], "yellow"),
            "text": c.attributes["text"], "rule_id": c.rule_id, "rule_title": rs.rule(c.rule_id).title,
            "ruleset": rs.label}


def year_judgement(app: App, s: Session, org: Organisation, unit: Unit, year: int, summary: dict) -> dict:
    """The bedömning of a unit's year as its årsrapport would give it now: the rules' colour and reason,
    from the year's summary and the årshjul's late steps."""
    return _judgement(app, unit, year, summary, _late_count(app, s, org, unit, year, "ar"))


def last_submitted(s: Session, unit: Unit, year: int, kind: str) -> ReportRecord | None:
    """The newest version of a unit's report that was sent to KS."""
    return s.scalar(select(ReportRecord).where(ReportRecord.unit_id == unit.id, ReportRecord.year == year,
                                               ReportRecord.kind == kind, ReportRecord.submitted_at.is_not(None))
                    .order_by(ReportRecord.version.desc()))


def changed_since(app: App, s: Session, org: Organisation, unit: Unit, rec: ReportRecord) -> bool:
    """Whether a submitted report's data differ from what it says today about its own day (a result
    corrected or reported late since): then a new version is due."""
    now = unit_report(app, s, org, unit, rec.year, rec.kind, on=rec.submitted_at)["provenance"]["data_hash"]
    return now != rec.data_hash


def unit_report(app: App, s: Session, org: Organisation, unit: Unit, year: int, kind: str,
                own_text: str | None = None, on: dt.date | None = None) -> dict:
    """A halvårs- or årsrapport as of `on` (its submission day; by default the day of the kommun's
    newest event): the statuses of åtgärder are those of that day."""
    periods = report_periods(org, kind)
    stamp = as_of(s, org)
    on = on or (stamp["at"].date() if stamp["at"] else dt.date(year, 12, 31))
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
    late = _late_count(app, s, org, unit, year, kind)
    data = {
        "kind": kind, "title": f"{REPORT_KINDS[kind]} intern kontroll {year}", "org": org.name,
        "unit": unit.name, "unit_code": unit.code, "forvaltning": unit.forvaltning or "", "year": year,
        "periods": periods, **block,
        "comparison": {"previous_label": previous_label, "previous": previous, "half": half},
        "not_performed": [r for r in block["rows"] if r["status"] in ("ej utförd", "ej rapporterad")],
        "judgement": _judgement(app, unit, year, block["summary"], late),
        "own_text": own_text or "",
        "heatmap": register.heatmap_in(app, s, org, unit, year),
        "rules_version": rulebook.rules_version(app),
        "rule_titles": _rule_titles(app, block),
        "body": words.decision_body(unit.kind, unit.name), "organ": words.body_noun(unit.kind),
        "decision": _report_decision(s, unit, year, kind),
        "holders": positions.holders(s, org.id, [r.get("owner") for r in block["rows"]] + [a["owner"] for a in block["actions"]], on),
        "holders_on": on,
        "proposal": texts.render(app, "rapport", _text_values(org, unit, year, kind)).get("förslag_till_beslut", ""),
    }
    return _with_provenance(data, stamp)


def _rule_titles(app: App, block: dict) -> dict[str, str]:
    """The titles of the resultat rules a report names (its findings and the rules that assessed its
    results), for its appendix: "RES-08 Samma brist två perioder i rad eskaleras till KS" instead of
    the rule's id and its conclusion's code. The titles are today's, as the report's rule versions are."""
    rs = rulebook.ruleset(app, "resultat")
    named = {f["rule_id"] for f in block["findings"]} | {
        c["assessed_by"] for r in block["rows"] for c in r["cells"] if c["reported"] and c["assessed_by"] != "rapportör"}
    known = {r.id for r in rs.rules}
    return {rule_id: rs.rule(rule_id).title for rule_id in sorted(named & known)}


def _text_values(org: Organisation, unit: Unit | None, year: int, kind: str) -> dict:
    from ikcheck.calendar import swedish_date

    return {"organ": words.body_noun(unit.kind) if unit else "kommunstyrelsen",
            "enhet": words.decision_body(unit.kind, unit.name) if unit else "Kommunstyrelsen",
            "kommun": org.name, "år": year, "bolag": bool(unit and unit.kind == "bolag"),
            "ks": unit is None or unit.kind == "ks",
            "rapport": PERIOD_LABEL[kind], "matris": org.matrix_name,
            "halvår_senast": swedish_date(deadline(org, "halvar_rapport", year)),
            "år_senast": swedish_date(deadline(org, "ar_rapport", year + 1))}


def _report_decision(s: Session, unit: Unit, year: int, kind: str) -> dict | None:
    """The nämnd's decision on the report, once the sekreterare has registered it (on the newest
    submitted version that has one)."""
    rec = s.scalar(select(ReportRecord).where(ReportRecord.unit_id == unit.id, ReportRecord.year == year,
                                              ReportRecord.kind == kind, ReportRecord.decision_date.is_not(None))
                   .order_by(ReportRecord.version.desc()))
    return {"date": rec.decision_date, "paragraph": rec.decision_paragraph, "dnr": rec.decision_dnr,
            "version": rec.version} if rec else None


def _with_provenance(data: dict, stamp: dict) -> dict:
    # the hash covers the data from the database, not the förvaltning's own text merged into the report
    # nor the wording around it (texts, the decision registered after submission); the cells' Utförd av
    # and Datum were added in 0.2 and are left out, so that an upgrade does not mark every submitted
    # report as changed
    hashed = {k: v for k, v in data.items() if k not in ("heatmap", "own_text", "proposal", "decision", "body", "organ",
                                                        "holders", "holders_on", "rule_titles")}
    for key in ("rows", "not_performed"):
        hashed[key] = [{**{k: v for k, v in r.items() if k not in ("risk_text", "owner")},
                        "cells": [{k: v for k, v in c.items() if k not in ("performed_by", "performed_on")}
                                  for c in r["cells"]]} for r in data[key]]
    hashed["findings"] = [{k: v for k, v in f.items() if k != "text"} for f in data["findings"]]
    hashed["actions"] = [{k: v for k, v in a.items() if k != "group"} for a in data["actions"]]
    hashed["heatmap_cells"] = sorted((f"{k[0]},{k[1]}", v) for k, v in data["heatmap"].cells.items())
    data["provenance"] = {"as_of_seq": stamp["seq"], "as_of": stamp["at"], "data_hash": data_hash(hashed),
                          "anchor": stamp["anchor"], "ikcheck": __version__}
    return data


def _late_count(app: App, s: Session, org: Organisation, unit: Unit, year: int, kind: str) -> int:
    """Late steps before this report, as the årshjul rules judge them: the plan, and for the
    årsrapport the halvårsrapport (a report is never judged late by itself)."""
    facts = arshjul_facts(s, org, year, [unit])
    ev = engine.evaluate(rulebook.ruleset(app, "arshjul"), facts, engine=app.settings.engine)
    late = {(c.subject_type, c.subject_id) for c in ev.conclusions if c.name in ("sen_plan", "sen_rapport")}
    earlier = {"plan"} | ({PERIOD_LABEL["halvar"]} if kind == "ar" else set())
    return sum(1 for f in facts if (f["type"], f.get("plan_id") or f.get("report_id")) in late
               and (f["type"] if f["type"] == "plan" else f["period"]) in earlier)


def late_plans(app: App, s: Session, org: Organisation, year: int, units: list[Unit],
               on: dt.date | None = None) -> dict[str, int]:
    """Days late of each unit's plan for the year, as the årshjul rules judge it (sen_plan): the one
    place lateness is decided, so a kommun's edit of rules/arshjul.yaml reaches plan list, the start
    page and the KS summary alike."""
    facts = arshjul_facts(s, org, year, units, on or today())
    ev = engine.evaluate(rulebook.ruleset(app, "arshjul"), facts, engine=app.settings.engine)
    by_id = {f["plan_id"]: f for f in facts if f["type"] == "plan"}
    return {by_id[c.subject_id]["unit"]: by_id[c.subject_id]["days_late"] for c in ev.conclusions
            if c.name == "sen_plan" and c.subject_id in by_id}


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


def report_kind_on(org: Organisation, year: int, day: dt.date) -> str:
    """The report that is due by `day`: the årsrapport once the year is over, else the halvårsrapport."""
    periods = org.settings.get("periods", ["halvar", "helar"])
    return "ar" if day > period_end(year, periods[-1], periods) else "halvar"


def ks_summary(app: App, s: Session, org: Organisation, year: int, kind: str | None = None,
               units: list[Unit] | None = None) -> dict:
    """KS-sammanställning for uppsiktsplikt: every unit side by side (or the units given), for the
    report that is due by today unless `kind` is given."""
    kind = kind or report_kind_on(org, year, today())
    periods = report_periods(org, kind)
    stamp = as_of(s, org)
    on = stamp["at"].date() if stamp["at"] else dt.date(year, 12, 31)
    units = list(units if units is not None else [u for u in org.units if u.active_in(year)])
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
    rows, brister, overdue, missing = [], [], [], []
    late = {(f["unit"], f["type"] if f["type"] == "plan" else f["period"]): f["days_late"] for f in facts}
    for unit in units:
        block = _results_block(s, org, unit, year, periods, on)
        last = _results_block(s, org, unit, year - 1, periods, on)["summary"]
        sub = last_submitted(s, unit, year, kind)
        judgement = _judgement(app, unit, year, block["summary"], len(timing[unit.code])) if block["plan"] else {
            "colour": "röd", "css": "red", "text": "Ingen beslutad plan för intern kontroll.", "rule_id": "ARS-01",
            "rule_title": "Planen är inte beslutad", "ruleset": ars.label}
        rows.append({
            "unit": unit.name, "code": unit.code, "kind": unit.kind, "plan": block["plan"],
            "summary": block["summary"], "last_year": last, "timing": timing[unit.code], "judgement": judgement,
            "late": {"plan": late.get((unit.code, "plan"), 0), "report": late.get((unit.code, PERIOD_LABEL[kind]), 0)},
            "submitted": {"version": sub.version, "date": sub.submitted_at, "by": sub.submitted_by,
                          "hash": sub.content_hash,
                          "changed_since": block["plan"] is not None and changed_since(app, s, org, unit, sub)}
            if sub else None,
        })
        escalated = {f["code"]: f for f in block["findings"] if f["name"] == "eskalera_till_ks"}
        for r in block["rows"]:
            if r["assessment"] == "väsentliga brister" or r["code"] in escalated:
                # one line per kontrollpunkt, whatever the number of periods it stood in
                worst = [c for c in r["cells"] if c["assessment"] == "väsentliga brister"] or r["cells"]
                f = escalated.get(r["code"])
                brister.append({"unit": unit.code, "unit_name": unit.name, **r, "period": [c["period"] for c in worst],
                                "deviations": worst[-1]["deviations"], "examined": worst[-1]["examined"],
                                "comment": worst[-1]["comment"], "escalated": f is not None,
                                "rule_id": f["rule_id"] if f else None})
            if r["status"] in ("ej utförd", "ej rapporterad"):
                missing.append({"unit": unit.code, "unit_name": unit.name, **r})
        overdue += [{"unit": unit.code, "unit_name": unit.name, **a} for a in block["actions"] if a["status"] == "försenad"]
    data = {
        "kind": kind, "title": f"KS-sammanställning intern kontroll {year}"
                               + (" (halvår)" if kind == "halvar" else ""),
        "org": org.name, "year": year, "periods": periods, "units": rows, "brister": brister,
        "overdue": overdue, "missing": missing, "rules_version": rulebook.rules_version(app),
        "proposal": texts.render(app, "ks", _text_values(org, None, year, kind)).get("förslag_till_beslut", ""),
        "totals": {k: sum(r["summary"][k] for r in rows) for k in ("points", "performed", "significant",
                                                                    "not_performed", "not_reported", "escalations",
                                                                    "overdue_actions")},
        "colours": Counter(r["judgement"]["colour"] for r in rows),
    }
    stamp_data = {k: v for k, v in data.items() if k != "proposal"}
    data["provenance"] = {"as_of_seq": stamp["seq"], "as_of": stamp["at"], "data_hash": data_hash(stamp_data),
                          "anchor": stamp["anchor"], "ikcheck": __version__}
    return data
