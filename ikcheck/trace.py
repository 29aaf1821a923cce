"""`ikcheck trace`: from any result, action, plan line, risk or report figure back to its sources —
kontrollpunkt, plan version and decision, risk, assessment (who, when, which workshop file), the rule
firings involved, the imported file — and forward to the submitted reports that used it."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ikcheck import evidence
from ikcheck.app import App
from ikcheck.calendar import today
from ikcheck.errors import NotFound, UserError
from ikcheck.planning import STATUS_SV
from ikcheck.register import STATUSES, category_sv
from ikcheck.store.models import (
    Action, Conclusion, ControlPlan, ControlPoint, ControlResult, ImportBatch, Organisation, ReportRecord, Risk,
    RiskAssessment, RuleRun, Unit, Workshop, WorkshopComment,
)
from ikcheck.words import PERIOD_SV

Step = dict[str, Any]


def trace(app: App, ident: str, org_code: str | None = None) -> dict[str, Any]:
    kind, _, key = ident.partition(":") if ":" in ident else ("", "", ident)
    with app.session() as s:
        org = app.org(s, org_code)
        kind = kind or _guess(s, org, key)
        if kind == "result":
            return _result(s, org, _get(s, ControlResult, key, org, "resultat"))
        if kind == "action":
            a = s.scalar(select(Action).where(Action.org_id == org.id, Action.code == key))
            if a is None:
                raise NotFound(f"Åtgärden {key!r} finns inte.")
            return _action(s, org, a)
        if kind == "risk":
            r = s.scalar(select(Risk).where(Risk.org_id == org.id, Risk.code == key))
            if r is None:
                raise NotFound(f"Risken {key!r} finns inte.")
            return _risk(s, org, r)
        if kind == "point":
            cp = s.scalar(select(ControlPoint).join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                          .where(ControlPoint.org_id == org.id, ControlPoint.code == key)
                          .order_by(ControlPlan.version.desc()))
            if cp is None:
                raise NotFound(f"Kontrollpunkten {key!r} finns inte.")
            return _point_trace(s, org, cp)
        if kind == "report":
            return _report(app, s, org, _get(s, ReportRecord, key, org, "rapport"))
        raise UserError(f"Okänd typ {kind!r}; använd result:ID, action:KOD, risk:KOD, point:KOD eller report:ID.")


def _get(s: Session, model, key: str, org: Organisation, what: str):
    if not key.isdigit():
        raise UserError(f"Ett {what}-id är ett heltal, inte {key!r}.")
    row = s.get(model, int(key))
    if row is None or row.org_id != org.id:
        raise NotFound(f"Det finns inget {what} med id {key}.")
    return row


def _guess(s: Session, org: Organisation, key: str) -> str:
    if key.isdigit():
        return "result"
    if key.startswith("Å") or re.search(r"-Å\d+$", key):
        return "action"
    if s.scalar(select(Risk.id).where(Risk.org_id == org.id, Risk.code == key)):
        return "risk"
    if s.scalar(select(ControlPoint.id).where(ControlPoint.org_id == org.id, ControlPoint.code == key).limit(1)):
        return "point"
    raise NotFound(f"Hittar ingen risk, kontrollpunkt, åtgärd eller resultat med id {key!r}.")


def _firings(s: Session, subjects: list[tuple[str, int]]) -> list[Step]:
    if not subjects:
        return []
    cond = or_(*[(Conclusion.subject_type == t) & (Conclusion.subject_id == i) for t, i in subjects])
    out = []
    for c, run in s.execute(select(Conclusion, RuleRun).join(RuleRun, RuleRun.id == Conclusion.run_id)
                            .where(cond).order_by(Conclusion.id)):
        out.append({"kind": "regelslutsats", "id": f"conclusion:{c.id}",
                    "text": f"{c.rule_id} → {c.name}: {c.attributes.get('reason') or c.attributes.get('message') or c.attributes.get('value', '')}",
                    "details": f"{run.ruleset} v{run.ruleset_version} ({run.ruleset_hash[:12]}), {run.purpose}, "
                               f"{run.run_at:%Y-%m-%d %H:%M} av {run.run_by}"})
    return out


def _plan_step(plan: ControlPlan) -> Step:
    decision = (f"beslutad {plan.decision_date} {plan.decision_paragraph}, dnr {plan.decision_dnr}, av {plan.decided_by}"
                if plan.decision_date else f"ej beslutad ({STATUS_SV[plan.status]})")
    return {"kind": "plan", "id": f"plan:{plan.id}", "text": f"Plan {plan.year} version {plan.version}: {decision}",
            "details": f"regelversion {plan.rules_hash or ''}" + (f"; revidering: {plan.revision_reason}" if plan.revision_reason else "")}


def _risk_steps(s: Session, risk: Risk, year: int | None) -> list[Step]:
    steps = [{"kind": "risk", "id": f"risk:{risk.code}", "text": f"{risk.code} {risk.title}",
              "details": f"kategori {category_sv(risk.category)}, källa {risk.source}, status {STATUSES[risk.status]}"
                         + (f", sammanslagen med {s.get(Risk, risk.merged_into_id).code}" if risk.merged_into_id else "")}]
    q = select(RiskAssessment).where(RiskAssessment.risk_id == risk.id).order_by(RiskAssessment.year, RiskAssessment.id)
    for ra in s.scalars(q):
        if year is not None and ra.year != year:
            continue
        files = sorted({p.get("file", "") for p in ra.participants if p.get("file")})
        names = ", ".join(p.get("name", "") for p in ra.participants)
        batch = s.get(ImportBatch, ra.import_batch_id) if ra.import_batch_id else None
        workshop = s.get(Workshop, ra.workshop_id) if ra.workshop_id else None
        when = (f", hölls {workshop.held_on}, inläst {ra.assessed_at:%Y-%m-%d}" if workshop and workshop.held_on
                else f" {ra.assessed_at:%Y-%m-%d}")
        steps.append({"kind": "bedömning", "id": f"assessment:{ra.id}",
                      "text": f"{ra.year}: {ra.likelihood}×{ra.impact} = {ra.score} ({ra.level})"
                              + ("" if ra.is_current else " – ersatt"),
                      "details": f"av {ra.assessed_by}{when}; deltagare: {names or '–'}; "
                                 f"matris {ra.matrix.name} v{ra.matrix.version}"
                                 + (f"; filer: {', '.join(files)}" if files else "")
                                 + (f"; fil-hash {batch.content_hash[:16]}" if batch else "")})
        for c in s.scalars(select(WorkshopComment).where(WorkshopComment.risk_id == risk.id,
                                                         WorkshopComment.workshop_id == ra.workshop_id)
                           .order_by(WorkshopComment.id)) if ra.is_current and ra.workshop_id else []:
            steps.append({"kind": "kommentar", "id": f"comment:{c.id}", "text": f"{c.participant}: {c.comment}",
                          "details": f"{ra.year}, workshop" + ("" if c.scored else ", utan egen bedömning")})
    return steps


def _reports_using(s: Session, unit_id: int, year: int, period: str | None) -> list[Step]:
    kinds = ["halvar", "ar"] if period in (None, "halvar", "T1") else ["ar"]
    return [{"kind": "rapport", "id": f"report:{r.id}",
             "text": f"{'Halvårsrapport' if r.kind == 'halvar' else 'Årsrapport'} {r.year} version {r.version}, "
                     f"inlämnad {r.submitted_at} av {r.submitted_by}",
             "details": f"{PurePath(r.path).name} (sha256 {r.content_hash[:16]}…)"}  # the file, not the server's folder
            for r in s.scalars(select(ReportRecord).where(ReportRecord.unit_id == unit_id, ReportRecord.year == year,
                                                          ReportRecord.kind.in_(kinds)).order_by(ReportRecord.id))]


def _result(s: Session, org: Organisation, res: ControlResult) -> dict:
    cp = s.get(ControlPoint, res.control_point_id)
    plan = s.get(ControlPlan, cp.plan_id)
    unit = s.get(Unit, plan.unit_id)
    batch = s.get(ImportBatch, res.import_batch_id) if res.import_batch_id else None
    back: list[Step] = [{"kind": "resultat", "id": f"result:{res.id}",
                         "text": f"{cp.code} {PERIOD_SV.get(res.period, res.period)} version {res.version}: "
                                 f"{res.examined} granskade, "
                                 f"{res.deviations} avvikelser, {res.assessment or '–'}"
                                 + (f" (enligt {res.assessment_rule})" if res.assessment_rule else ""),
                         "details": f"rapporterat av {res.reported_by} {res.reported_at:%Y-%m-%d %H:%M}; utförd av "
                                    f"{res.performed_by}, godkänd av {res.approved_by}"
                                    + ("" if res.is_current else "; ersatt av en senare version")
                                    + (f"; rättelse: {res.correction_reason}" if res.correction_reason else "")}]
    if batch:
        back.append({"kind": "fil", "id": f"batch:{batch.id}", "text": f"{batch.filename}",
                     "details": f"sha256 {batch.content_hash}, inläst {batch.imported_at:%Y-%m-%d %H:%M} av {batch.imported_by}"})
    for e in evidence.listed(s, res):
        back.append({"kind": "underlag", "id": f"evidence:{e['id']}", "text": f"{e['filnamn']} ({e['typ']})",
                     "details": f"sha256 {e['kontrollsumma']}, {e['storlek']} byte, bifogat "
                                f"{e['bifogad']:%Y-%m-%d %H:%M} av {e['av']}"})
    prev = res.supersedes_id
    while prev:
        old = s.get(ControlResult, prev)
        back.append({"kind": "tidigare version", "id": f"result:{old.id}",
                     "text": f"version {old.version}: {old.examined} granskade, {old.deviations} avvikelser, {old.assessment or '–'}",
                     "details": f"rapporterat av {old.reported_by} {old.reported_at:%Y-%m-%d %H:%M}"})
        prev = old.supersedes_id
    back += _point_steps(s, cp, plan)
    subjects = [("result", res.id), ("control_point", cp.id)] + ([("risk", cp.risk_id)] if cp.risk_id else [])
    back += _firings(s, subjects)
    forward = [_action_step(a) for a in s.scalars(select(Action).where(Action.result_id == res.id).order_by(Action.code))]
    return {"subject": f"Resultat {res.id} ({cp.code}, {unit.name})", "backward": back,
            "forward": forward + _reports_using(s, unit.id, plan.year, res.period)}


def _action_step(a: Action) -> Step:
    changes = "; ".join(f"{c.on} {c.status_from or 'ny'} → {c.status_to} ({c.by})"
                        for c in sorted(a.changes, key=lambda c: (c.on, c.id)))
    return {"kind": "åtgärd", "id": f"action:{a.code}", "text": f"{a.code}: {a.description}",
            "details": f"ansvarig {a.owner}, klart senast {a.due_date}, status {a.status_on(today())}"
                       + (f"; historik: {changes}" if changes else "")}


def _proposed_by(cp: ControlPoint) -> str:
    """Who proposed a kontrollpunkt and why: the rules (their ids lead the stored motivation, "PRI-02:
    …; KD-01: …"), KS (with its requirement), or the förvaltning by hand."""
    if cp.rule_id == "KS":
        return f"kommunövergripande, beslutad av kommunstyrelsen (KS-krav {cp.ks_code})"
    if cp.rule_id == "manuell":
        return (cp.why or "tillagd manuellt").replace("Tillagd", "tillagd", 1)
    return f"föreslagen av reglerna: {cp.why}" if cp.why else f"föreslagen av {cp.rule_id}"


def _point_steps(s: Session, cp: ControlPoint, plan: ControlPlan) -> list[Step]:
    steps = [{"kind": "kontrollpunkt", "id": f"point:{cp.code}", "text": f"{cp.code}: {cp.title}",
              "details": f"{cp.method}, omfattning {cp.sample_size}, {cp.frequency}, ansvarig {cp.owner}; "
                         + _proposed_by(cp)}, _plan_step(plan)]
    if cp.risk_id:
        steps += _risk_steps(s, s.get(Risk, cp.risk_id), plan.year)
    return steps


def _point_trace(s: Session, org: Organisation, cp: ControlPoint) -> dict:
    plan = s.get(ControlPlan, cp.plan_id)
    back = _point_steps(s, cp, plan) + _firings(s, [("control_point", cp.id)] + ([("risk", cp.risk_id)] if cp.risk_id else []))
    forward = [{"kind": "resultat", "id": f"result:{r.id}",
                "text": f"{PERIOD_SV.get(r.period, r.period)} version {r.version}: {r.assessment or '–'}"
                        + ("" if r.is_current else " (ersatt)"),
                "details": f"rapporterat av {r.reported_by}"}
               for r in s.scalars(select(ControlResult).where(ControlResult.lineage_id == cp.lineage).order_by(ControlResult.id))]
    forward += _reports_using(s, plan.unit_id, plan.year, None)
    return {"subject": f"Kontrollpunkt {cp.code}", "backward": back, "forward": forward}


def _action(s: Session, org: Organisation, a: Action) -> dict:
    head = _action_step(a)
    head["details"] += "; " + "; ".join(f"{n.get('at')} {n.get('by')}: {n.get('text')}" for n in a.notes or [])
    if a.result_id:
        t = _result(s, org, s.get(ControlResult, a.result_id))
        return {"subject": f"Åtgärd {a.code}", "backward": [head] + t["backward"], "forward": t["forward"]}
    back = [head]
    if a.plan_id:
        back.append(_plan_step(s.get(ControlPlan, a.plan_id)))
    if a.risk_id:
        back += _risk_steps(s, s.get(Risk, a.risk_id), None) + _firings(s, [("risk", a.risk_id)])
    return {"subject": f"Åtgärd {a.code}", "backward": back, "forward": []}


def _risk(s: Session, org: Organisation, r: Risk) -> dict:
    back = _risk_steps(s, r, None) + _firings(s, [("risk", r.id)])
    forward = [{"kind": "kontrollpunkt", "id": f"point:{cp.code}", "text": f"{cp.code} i plan {plan.year} v{plan.version} ({STATUS_SV[plan.status]})",
                "details": cp.title}
               for cp, plan in s.execute(select(ControlPoint, ControlPlan).join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                                         .where(ControlPoint.risk_id == r.id).order_by(ControlPlan.year, ControlPlan.version))]
    return {"subject": f"Risk {r.code}", "backward": back, "forward": forward}


FIGURES = {"performed": "Utförda", "with_deviations": "Med avvikelser", "significant": "Väsentliga brister",
           "not_performed": "Ej utförda", "not_reported": "Ej rapporterade"}


def _report(app: App, s: Session, org: Organisation, rec: ReportRecord) -> dict:
    """Each figure of a submitted report, with the results behind it; and whether today's data still
    gives the same figures as the submitted file."""
    from ikcheck.reporting import datasets

    unit = s.get(Unit, rec.unit_id)
    data = datasets.unit_report(app, s, org, unit, rec.year, rec.kind, on=rec.submitted_at)
    rows = data["rows"]  # one per kontrollpunkt, as the report counts them
    members = {
        "performed": [r for r in rows if r["status"] == "utförd"],
        "with_deviations": [r for r in rows if r["with_deviations"]],
        "significant": [r for r in rows if r["assessment"] == "väsentliga brister"],
        "not_performed": [r for r in rows if r["status"] == "ej utförd"],
        "not_reported": [r for r in rows if r["status"] == "ej rapporterad"],
    }
    back = [{"kind": "rapport", "id": f"report:{rec.id}",
             "text": f"{'Halvårsrapport' if rec.kind == 'halvar' else 'Årsrapport'} {rec.year} {unit.name} version {rec.version}",
             "details": f"inlämnad {rec.submitted_at} av {rec.submitted_by}; sha256 {rec.content_hash[:16]}…; "
                        + ("underlaget är oförändrat sedan inlämningen" if data["provenance"]["data_hash"] == rec.data_hash
                           else "OBS: underlaget har ändrats sedan inlämningen")}]
    for key, label in FIGURES.items():
        ids = [", ".join(f"result:{i}" for i in r["result_ids"]) or f"point:{r['code']}" for r in members[key]]
        back.append({"kind": "siffra", "id": key, "text": f"{label}: {len(members[key])}",
                     "details": ", ".join(ids) or "–"})
    j = data["judgement"]
    back.append({"kind": "bedömning", "id": j["rule_id"], "text": f"{j['colour']}: {j['text']}", "details": j["ruleset"]})
    return {"subject": f"Rapport {rec.id}", "backward": back, "forward": []}
