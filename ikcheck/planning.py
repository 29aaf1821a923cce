"""Plan för intern kontroll: derive a draft from the register and the rules, adjust it, decide it,
revise it, list who is late. A decided plan is never edited: a change is a new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck import anchor, engine, register, rulebook, words, yamlsrc
from ikcheck import positions
from ikcheck import workshop as ws_svc
from ikcheck.app import App
from ikcheck.calendar import deadline, not_in_future, parse_date, swedish_date, today
from ikcheck.errors import NotFound, Problem, UserError, ValidationFailed
from ikcheck.store.audit import snapshot
from ikcheck.store.models import (
    Action, ActionChange, AuditEvent, Conclusion, ControlPlan, ControlPoint, KsRequirement, Organisation, Process,
    Risk, RiskAssessment, RuleRun, Unit,
)

METHODS = ["stickprov", "registerkontroll", "genomgång", "intervju", "avstämning", "observation"]
FREQUENCIES = ["månad", "kvartal", "tertial", "halvår", "årligen"]
EDITABLE = {"title", "method", "sample_size", "frequency", "owner", "reporting"}
_MANUAL = re.compile(r"-M(\d+)$")
STATUS_SV = {"draft": "utkast", "decided": "beslutad", "superseded": "ersatt"}
POINT_STATUS_SV = {"proposed": "föreslagen", "accepted": "accepterad", "rejected": "avvisad"}


@dataclass
class Finding:
    rule_id: str
    subject_type: str
    subject_id: int
    blocking: bool
    message: str
    overridden: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule_id}:{self.subject_type}:{self.subject_id}"


@dataclass
class DeriveResult:
    plan_id: int
    unit: str
    year: int
    version: int
    points: int
    ks_points: int
    actions: int
    watched: int
    accepted_risks: int
    findings: list[Finding] = field(default_factory=list)


def default_reporting(frequency: str | None, periods: list[str]) -> list[str]:
    """When a kontrollpunkt is reported, from how often it is done: a yearly control once, after the
    year (the last period); every other frequency in every period."""
    return [periods[-1]] if frequency == "årligen" else list(periods)


# --- lookups ------------------------------------------------------------------------------------

def _plans(s: Session, unit: Unit, year: int) -> list[ControlPlan]:
    return list(s.scalars(select(ControlPlan).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)
                          .order_by(ControlPlan.version)))


def latest(s: Session, unit: Unit, year: int) -> ControlPlan:
    plans = _plans(s, unit, year)
    if not plans:
        raise NotFound(f"{unit.name} har ingen plan för {year}; ta fram ett utkast först.",
                       cli=f"Kör `ikcheck plan derive --unit {unit.code} --year {year}`.")
    return plans[-1]


def decided_plan(s: Session, unit: Unit, year: int) -> ControlPlan | None:
    """The plan in force: the newest decided version."""
    return s.scalar(select(ControlPlan).where(ControlPlan.unit_id == unit.id, ControlPlan.year == year,
                                              ControlPlan.status == "decided")
                    .order_by(ControlPlan.version.desc()))


def plan_in_force(s: Session, unit: Unit, year: int, day: dt.date) -> ControlPlan | None:
    """The version that was in force on `day`: the newest decided on or before it (a version decided
    later replaced it only from then on). If none was decided by then, the first decided version."""
    decided = [p for p in _plans(s, unit, year) if p.decision_date and p.status in ("decided", "superseded")]
    by_then = [p for p in decided if p.decision_date <= day]
    if by_then:
        return max(by_then, key=lambda p: p.version)
    return min(decided, key=lambda p: p.version) if decided else None


def _draft(s: Session, unit: Unit, year: int) -> ControlPlan:
    plan = latest(s, unit, year)
    if plan.status != "draft":
        raise UserError(
            f"Planen för {unit.name} {year} (version {plan.version}) är beslutad "
            f"{plan.decision_date} {plan.decision_paragraph}: en beslutad plan ändras aldrig. Ändringar görs i "
            "en ny version (en revidering).",
            cli=f"Starta den med `ikcheck plan revise --unit {unit.code} --year {year} --reason …`.")
    return plan


def _point(s: Session, plan: ControlPlan, code: str) -> ControlPoint:
    cp = s.scalar(select(ControlPoint).where(ControlPoint.plan_id == plan.id, ControlPoint.code == code))
    if cp is None:
        known = ", ".join(p.code for p in plan.points) or "inga"
        raise NotFound(f"Kontrollpunkten {code!r} finns inte i planen (finns: {known}).")
    return cp


# --- KS requirements ----------------------------------------------------------------------------

def _file_requirements(app: App) -> list[dict]:
    """The kommunövergripande kontrollpunkter of the riskregister file, as KsRequirement fields."""
    path = app.settings.riskregister_dir / "kommunovergripande.yaml"
    if not path.is_file():
        return []
    data = yamlsrc.load(path)
    out, problems = [], []
    for i, item in enumerate(data.get("points") or []):
        if not isinstance(item, dict) or not item.get("code") or not item.get("title"):
            problems.append(Problem("en kommunövergripande kontrollpunkt behöver code och title",
                                    file=str(path), line=data["points"].line_at(i)))
            continue
        out.append({"code": str(item["code"]), "title": str(item["title"]), "method": item.get("method"),
                    "frequency": item.get("frequency"), "sample_size": item.get("sample_size"),
                    "owner": item.get("owner"), "source": str(path.name)})
    if problems:
        raise ValidationFailed(f"Filen {path} har fel.", problems)
    return out


def ks_requirements(app: App, s: Session, org: Organisation, year: int) -> list[KsRequirement]:
    """The year's kommunövergripande kontrollpunkter; taken from the riskregister file the first
    time a year is planned (recorded, so later edits of the file do not change a planned year)."""
    rows = list(s.scalars(select(KsRequirement).where(KsRequirement.org_id == org.id, KsRequirement.year == year)
                          .order_by(KsRequirement.code)))
    if rows:
        return rows
    for item in _file_requirements(app):
        req = KsRequirement(org_id=org.id, year=year, created_by=app.user, **item)
        s.add(req)
        rows.append(req)
    s.flush()
    for req in rows:
        app.audit(s, "skapa", "ks_requirement", req.id, after=snapshot(req), org_id=org.id)
    return rows


def add_ks_requirement(app: App, year: int, code: str, title: str, *, method: str | None = None,
                       frequency: str | None = None, sample_size: int | None = None,
                       owner: str | None = None, org_code: str | None = None, source: str = "cli") -> None:
    """A kommunövergripande kontrollpunkt KS decided for the year (`source`: cli or webb)."""
    if not (code or "").strip() or not (title or "").strip():
        raise UserError("Ange både en kod och vad som ska kontrolleras.")
    if method is not None and method not in METHODS:
        raise UserError(f"Okänd metod {method!r}; välj en av: {', '.join(METHODS)}.")
    if frequency is not None and frequency not in FREQUENCIES:
        raise UserError(f"Okänd frekvens {frequency!r}; välj en av: {', '.join(FREQUENCIES)}.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        existing = ks_requirements(app, s, org, year)
        if any(r.code == code for r in existing):
            raise UserError(f"Den kommunövergripande kontrollpunkten {code} finns redan för {year}.")
        req = KsRequirement(org_id=org.id, year=year, code=code, title=title, method=method,
                            frequency=frequency, sample_size=sample_size, owner=owner, source=source,
                            created_by=app.user)
        s.add(req)
        s.flush()
        app.audit(s, "skapa", "ks_requirement", req.id, after=snapshot(req), org_id=org.id)


def list_ks_requirements(app: App, year: int, org_code: str | None = None) -> list[dict]:
    """The year's KS-krav: those recorded for it, else the file's (recorded when the year is first
    planned or one is added; reading never writes)."""
    with app.session() as s:
        org = app.org(s, org_code)
        rows = [{"code": r.code, "title": r.title, "method": r.method, "frequency": r.frequency, "owner": r.owner,
                 "sample_size": r.sample_size, "source": r.source} for r in s.scalars(select(KsRequirement).where(
                     KsRequirement.org_id == org.id, KsRequirement.year == year).order_by(KsRequirement.code))]
    return [{"kod": r["code"], "kontrollpunkt": r["title"], "metod": r["method"], "omfattning": r["sample_size"],
             "frekvens": r["frequency"], "ansvarig": r["owner"], "källa": r["source"]}
            for r in rows or _file_requirements(app)]


# --- derive -------------------------------------------------------------------------------------

def derive(app: App, unit_code: str, year: int, *, replace: bool = False,
           org_code: str | None = None) -> DeriveResult:
    """A draft plan from the unit's assessments for the year, the prioritering and kontrolldesign
    rules, and KS's kommunövergripande kontrollpunkter."""
    sets = rulebook.rulesets(app)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        if not unit.active_in(year):
            successor = s.get(Unit, unit.merged_into_id) if unit.merged_into_id else None
            raise UserError(f"{unit.name} finns inte från {unit.retired_from}"
                            + (f"; dess risker fortsätter i {successor.name} ({successor.code})." if successor else "."))
        existing = _plans(s, unit, year)
        if existing:
            last = existing[-1]
            if last.status != "draft":
                raise UserError(f"{unit.name} har redan en beslutad plan för {year} (version {last.version}). "
                                "Ändringar görs i en ny version (en revidering).",
                                cli=f"Starta den med `ikcheck plan revise --unit {unit.code} --year {year} "
                                    "--reason …`.")
            if not replace:
                raise UserError(f"Det finns redan ett utkast för {unit.name} {year}. Att ta fram det på nytt "
                                "ersätter utkastet (händelsen loggas).", cli="Ange --replace för att göra det.")
            _discard_draft(app, s, org, last)
        facts = register.risk_facts(s, org, year, unit.id)
        if not facts:
            raise UserError(f"{unit.name} har inga riskbedömningar för {year}. Håll riskworkshoppen först.",
                            cli=f"Mallarna: `ikcheck workshop template --unit {unit.code} --year {year}`.")
        prio, _ = rulebook.evaluate_and_store(app, s, org, sets["prioritering"], facts,
                                              f"plan derive {unit.code} {year}")
        outcome = {c.subject_id: c for c in prio.conclusions if c.group == "utfall"}
        review = [c for c in prio.conclusions if c.name == "granskning"]
        design, _ = rulebook.evaluate_and_store(
            app, s, org, sets["kontrolldesign"], facts + [c.as_fact() for c in review],
            f"plan derive {unit.code} {year}")
        by_risk: dict[int, dict[str, Any]] = {}
        for c in design.conclusions:
            by_risk.setdefault(c.subject_id, {})[c.name] = c
        plan = ControlPlan(org_id=org.id, unit_id=unit.id, year=year, version=1, status="draft",
                           created_by=app.user,
                           rules_hash=",".join(sets[n].content_hash[:12] for n in
                                               ("prioritering", "kontrolldesign", "planvalidering")))
        s.add(plan)
        s.flush()
        app.audit(s, "skapa", "control_plan", plan.id, after=snapshot(plan), org_id=org.id)
        periods = org.settings.get("periods", ["halvar", "helar"])
        risks = {r.id: r for r in s.scalars(select(Risk).where(Risk.id.in_([f["risk_id"] for f in facts])))}
        facts_by_id = {f["risk_id"]: f for f in facts}
        phrasing = ws_svc.phrasing(app)
        order = sorted(review, key=lambda c: (-facts_by_id[c.subject_id]["score"], facts_by_id[c.subject_id]["code"]))
        n = 0
        for n, c in enumerate(order, start=1):
            risk = risks[c.subject_id]
            d = by_risk.get(risk.id, {})
            size, method = d.get("omfattning"), d.get("metod")
            why = [f"{c.rule_id}: {c.attributes.get('reason', '')}"]
            why += [f"{x.rule_id}: {x.attributes.get('reason', '')}" for x in (size, method) if x]
            cp = ControlPoint(
                org_id=org.id, plan_id=plan.id, code=f"{unit.code}-{year}-K{n:02d}", position=n,
                risk_id=risk.id, process_id=risk.process_id,
                title=ws_svc.control_step(phrasing, risk.title, risk.category,
                                          method.attributes.get("method") if method else None),
                method=method.attributes.get("method") if method else None,
                sample_size=size.attributes.get("sample_size") if size else None,
                frequency=size.attributes.get("frequency") if size else None,
                owner=risk.owner, reporting=default_reporting(size.attributes.get("frequency") if size else None, periods),
                status="proposed", rule_id=c.rule_id,
                why="; ".join(why),
            )
            s.add(cp)
        reqs = ks_requirements(app, s, org, year)
        for k, req in enumerate(reqs, start=n + 1):
            s.add(ControlPoint(
                org_id=org.id, plan_id=plan.id, code=f"{unit.code}-{year}-{req.code}", position=k,
                title=words.for_unit(req.title, unit.kind), method=req.method, sample_size=req.sample_size,
                frequency=req.frequency, owner=words.for_unit(req.owner, unit.kind), reporting=default_reporting(req.frequency, periods), municipality_wide=True,
                ks_code=req.code,
                status="proposed", rule_id="KS", why=f"Kommunövergripande kontrollpunkt beslutad av KS ({req.source})",
            ))
        s.flush()
        for cp in plan.points:
            app.audit(s, "föreslå", "control_point", cp.code, after=snapshot(cp), org_id=org.id)
        actions = 0
        for c in prio.named("direktåtgärd"):
            risk = risks[c.subject_id]
            actions += 1
            act = Action(org_id=org.id, unit_id=unit.id, code=f"{unit.code}-{year}-Å{actions:02d}",
                         risk_id=risk.id, plan_id=plan.id, description=f"Åtgärda: {risk.title}",
                         owner=risk.owner, due_date=dt.date(year, 6, 30), status="planerad",
                         notes=[{"at": today().isoformat(), "by": app.user,
                                 "text": f"Direktåtgärd enligt {c.rule_id}: {c.attributes.get('reason', '')}"}])
            s.add(act)
            s.flush()
            s.add(ActionChange(org_id=org.id, action_id=act.id, on=today(), status_to="planerad", by=app.user))
            app.audit(s, "skapa", "action", act.code, after=snapshot(act), org_id=org.id)
        findings = _validate(app, s, org, plan, store_as=f"plan derive {unit.code} {year}")
        return DeriveResult(
            plan.id, unit.code, year, plan.version, n, len(reqs), actions,
            watched=sum(1 for c in outcome.values() if c.name == "bevaka"),
            accepted_risks=sum(1 for c in outcome.values() if c.name == "acceptera"),
            findings=findings,
        )


def _discard_draft(app: App, s: Session, org: Organisation, plan: ControlPlan) -> None:
    for act in s.scalars(select(Action).where(Action.plan_id == plan.id)):
        app.audit(s, "ta bort utkast", "action", act.code, before=snapshot(act), org_id=org.id)
        for change in act.changes:
            s.delete(change)
        s.delete(act)
    for cp in plan.points:
        app.audit(s, "ta bort utkast", "control_point", cp.code, before=snapshot(cp), org_id=org.id)
        s.delete(cp)
    app.audit(s, "ta bort utkast", "control_plan", plan.id, before=snapshot(plan), org_id=org.id)
    s.delete(plan)
    s.flush()


# --- validation -------------------------------------------------------------------------------

def point_fact(cp: ControlPoint, unit_code: str, risk_level: str | None) -> dict:
    return {
        "type": "control_point", "cp_id": cp.id, "code": cp.code, "plan_id": cp.plan_id,
        "risk_id": cp.risk_id, "unit": unit_code, "title": cp.title, "method": cp.method or None,
        "sample_size": cp.sample_size, "frequency": cp.frequency or None, "owner": cp.owner or None,
        "reporting": ",".join(cp.reporting) if cp.reporting else None,
        "municipality_wide": cp.municipality_wide, "ks_code": cp.ks_code, "status": cp.status,
        "risk_level": risk_level,
    }


def plan_facts(app: App, s: Session, org: Organisation, plan: ControlPlan) -> list[dict]:
    """What planvalidering reads of a plan: the year's risks, the plan's points and direktåtgärder,
    and KS's requirements."""
    unit = s.get(Unit, plan.unit_id)
    risks = register.risk_facts(s, org, plan.year, unit.id)
    levels = {f["risk_id"]: f["level"] for f in risks}
    facts = risks + [point_fact(cp, unit.code, levels.get(cp.risk_id)) for cp in plan.points]
    facts += [{"type": "action", "action_id": a.id, "code": a.code, "risk_id": a.risk_id, "plan_id": a.plan_id,
               "status": a.status}
              for a in s.scalars(select(Action).where(Action.plan_id.in_(_version_ids(s, plan)),
                                                      Action.risk_id.is_not(None)))]
    facts += [{"type": "ks_requirement", "req_id": r.id, "code": r.code, "title": r.title, "year": r.year}
              for r in ks_requirements(app, s, org, plan.year)]
    return facts


def _validate(app: App, s: Session, org: Organisation, plan: ControlPlan,
              store_as: str | None = None) -> list[Finding]:
    rs = rulebook.ruleset(app, "planvalidering")
    facts = plan_facts(app, s, org, plan)
    if store_as:
        ev, _ = rulebook.evaluate_and_store(app, s, org, rs, facts, store_as)
    else:
        ev = engine.evaluate(rs, facts, engine=app.settings.engine)
    overrides = {o["key"]: o["reason"] for o in plan.overrides or []}
    out = []
    for c in ev.conclusions:
        f = Finding(c.rule_id, c.subject_type, c.subject_id, bool(c.attributes.get("blocking")),
                    str(c.attributes.get("message", c.name)))
        f.overridden = overrides.get(f.key)
        out.append(f)
    return out


def findings(app: App, unit_code: str, year: int, org_code: str | None = None) -> list[Finding]:
    with app.session() as s:
        org = app.org(s, org_code)
        plan = latest(s, app.unit(s, org, unit_code), year)
        return _validate(app, s, org, plan)


# --- adjusting a draft --------------------------------------------------------------------------

def _adjust(app: App, unit_code: str, year: int, org_code: str | None, change) -> list[Finding]:
    """Apply one change to the draft in a transaction, then return planvalidering's findings."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        plan = _draft(s, unit, year)
        change(s, org, unit, plan)
        s.flush()
        s.refresh(plan)
        return _validate(app, s, org, plan)


def accept(app: App, unit_code: str, year: int, codes: list[str] | None = None,
           org_code: str | None = None) -> list[Finding]:
    def change(s, org, unit, plan):
        targets = [_point(s, plan, c) for c in codes] if codes else [p for p in plan.points if p.status == "proposed"]
        for cp in targets:
            before = snapshot(cp)
            cp.status = "accepted"
            cp.reject_reason = None
            app.audit(s, "acceptera", "control_point", cp.code, before=before, after=snapshot(cp), org_id=org.id)
    return _adjust(app, unit_code, year, org_code, change)


def reject(app: App, unit_code: str, year: int, code: str, reason: str,
           org_code: str | None = None) -> list[Finding]:
    if not reason or not reason.strip():
        raise UserError("Ange ett skäl när en kontrollpunkt avvisas.", cli="Skälet anges med --reason.")

    def change(s, org, unit, plan):
        cp = _point(s, plan, code)
        before = snapshot(cp)
        cp.status, cp.reject_reason = "rejected", reason.strip()
        app.audit(s, "avvisa", "control_point", cp.code, before=before, after=snapshot(cp), org_id=org.id)
    return _adjust(app, unit_code, year, org_code, change)


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - EDITABLE
    if unknown:
        raise UserError(f"Fälten {', '.join(sorted(unknown))} kan inte ändras (kan: {', '.join(sorted(EDITABLE))}).")
    out = dict(fields)
    if out.get("method") is not None and out["method"] not in METHODS:
        raise UserError(f"Okänd metod {out['method']!r}; välj en av: {', '.join(METHODS)}.")
    if out.get("frequency") is not None and out["frequency"] not in FREQUENCIES:
        raise UserError(f"Okänd frekvens {out['frequency']!r}; välj en av: {', '.join(FREQUENCIES)}.")
    if out.get("sample_size") is not None and int(out["sample_size"]) < 1:
        raise UserError("Omfattningen (stickprovets storlek) ska vara minst 1.")
    if "reporting" in out and out["reporting"] is not None:  # "halvår, helår" as well as halvar,helar
        out["reporting"] = words.periods(out["reporting"])
    return out


def edit(app: App, unit_code: str, year: int, code: str, fields: dict[str, Any],
         org_code: str | None = None) -> list[Finding]:
    fields = _clean_fields(fields)

    def change(s, org, unit, plan):
        periods = org.settings.get("periods", ["halvar", "helar"])
        bad = [p for p in fields.get("reporting") or [] if p not in periods]
        if bad:
            raise UserError(f"Okänd rapportering {bad[0]!r}; kommunen rapporterar: {', '.join(periods)}.")
        cp = _point(s, plan, code)
        before = snapshot(cp)
        for k, v in fields.items():
            setattr(cp, k, v)
        if "frequency" in fields and "reporting" not in fields:
            cp.reporting = default_reporting(cp.frequency, periods)
        app.audit(s, "ändra", "control_point", cp.code, before=before, after=snapshot(cp), org_id=org.id)
    return _adjust(app, unit_code, year, org_code, change)


def add_point(app: App, unit_code: str, year: int, title: str, *, risk_code: str | None = None,
              ks_code: str | None = None, fields: dict[str, Any] | None = None,
              org_code: str | None = None) -> tuple[str, list[Finding]]:
    """A manual kontrollpunkt, linked to a risk or marked as a KS requirement."""
    if not risk_code and not ks_code:
        raise UserError("En manuell kontrollpunkt ska kopplas till en risk eller vara ett KS-krav.",
                        cli="Ange --risk KOD eller --ks KOD.")
    fields = _clean_fields(fields or {})
    created: list[str] = []

    def change(s, org, unit, plan):
        risk = register.find_risk(s, org, risk_code) if risk_code else None
        if risk and risk.unit_id != unit.id:
            raise UserError(f"Risken {risk_code} hör till en annan enhet än {unit.name}.")
        if ks_code and not any(r.code == ks_code for r in ks_requirements(app, s, org, year)):
            raise UserError(f"KS har ingen kommunövergripande kontrollpunkt {ks_code!r} för {year}.")
        n = 1 + max((int(m.group(1)) for p in plan.points if (m := _MANUAL.search(p.code))), default=0)
        cp = ControlPoint(
            org_id=org.id, plan_id=plan.id, code=f"{unit.code}-{year}-M{n:02d}",
            position=1 + max((p.position for p in plan.points), default=0),
            risk_id=risk.id if risk else None, process_id=risk.process_id if risk else None,
            title=title, municipality_wide=bool(ks_code), ks_code=ks_code, status="accepted",
            reporting=fields.pop("reporting", None) or default_reporting(
                fields.get("frequency"), org.settings.get("periods", ["halvar", "helar"])),
            rule_id="manuell", why=f"Tillagd manuellt av {app.user}", **fields,
        )
        s.add(cp)
        s.flush()
        created.append(cp.code)
        app.audit(s, "lägg till", "control_point", cp.code, after=snapshot(cp), org_id=org.id)
    found = _adjust(app, unit_code, year, org_code, change)
    return created[0], found


def set_texts(app: App, unit_code: str, year: int, intro: str | None, proposal: str | None,
              org_code: str | None = None) -> list[Finding]:
    """The draft's inledning and förslag till beslut (paragraphs, '- ' lists); frozen by the decision."""
    def clean(text: str | None) -> str | None:
        text = "\n".join(x.rstrip() for x in (text or "").replace("\r\n", "\n").split("\n")).strip()
        if len(text) > 20_000:
            raise UserError(f"Texten är {len(text)} tecken; högst 20 000 ryms i planen.")
        return text or None

    intro, proposal = clean(intro), clean(proposal)

    def change(s, org, unit, plan):
        before = snapshot(plan)
        plan.intro_text, plan.proposal_text = intro, proposal
        app.audit(s, "skriv planens texter", "control_plan", plan.id, before=before, after=snapshot(plan),
                  org_id=org.id)
    return _adjust(app, unit_code, year, org_code, change)


def override(app: App, unit_code: str, year: int, finding_key: str, reason: str,
             org_code: str | None = None) -> list[Finding]:
    """Explicitly accept a blocking finding, with a reason recorded in the plan."""
    if not reason or not reason.strip():
        raise UserError("Ange ett skäl för att åsidosätta ett fynd.", cli="Skälet anges med --reason.")

    def change(s, org, unit, plan):
        keys = {f.key for f in _validate(app, s, org, plan)}
        if finding_key not in keys:
            raise NotFound(f"Fyndet {finding_key!r} finns inte i planens validering (finns: {', '.join(sorted(keys)) or 'inga'}).")
        before = snapshot(plan)
        plan.overrides = [o for o in plan.overrides or [] if o["key"] != finding_key] + [
            {"key": finding_key, "reason": reason.strip(), "by": app.user, "at": today().isoformat()}]
        app.audit(s, "åsidosätt fynd", "control_plan", plan.id, before=before, after=snapshot(plan), org_id=org.id)
    return _adjust(app, unit_code, year, org_code, change)


# --- decide, revise -----------------------------------------------------------------------------

def decide(app: App, unit_code: str, year: int, date: str, paragraph: str, dnr: str,
           org_code: str | None = None) -> ControlPlan:
    decided_on = not_in_future(parse_date(date, "Beslutsdatum"), "Beslutsdatumet")
    if not paragraph or not paragraph.strip():
        raise UserError("Ange paragrafen i protokollet (t.ex. ”§ 123”).", cli="Den anges med --paragraph.")
    if not dnr or not dnr.strip():
        raise UserError("Ange diarienumret (t.ex. ”KS 2026/197”).", cli="Det anges med --dnr.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        plan = _draft(s, unit, year)
        _check_decision_date(s, unit, plan, decided_on)
        open_points = [p.code for p in plan.points if p.status == "proposed"]
        if open_points:
            raise UserError(f"{len(open_points)} kontrollpunkter är inte genomgångna ({', '.join(open_points[:5])}"
                            f"{' …' if len(open_points) > 5 else ''}): acceptera eller avvisa dem först.",
                            cli=f"`ikcheck plan accept --unit {unit.code} --year {year}` accepterar alla.")
        found = _validate(app, s, org, plan, store_as=f"plan decide {unit.code} {year} v{plan.version}")
        blocking = [f for f in found if f.blocking and not f.overridden]
        if blocking:
            raise ValidationFailed(
                f"Planen för {unit.name} {year} kan inte beslutas: {len(blocking)} blockerande fynd. "
                "Åtgärda dem, eller åsidosätt dem med skäl.",
                [Problem(f"{f.message} [{f.key}]") for f in blocking],
                cli="Åsidosätt med `ikcheck plan override --finding NYCKEL --reason …`.")
        before = snapshot(plan)
        plan.status = "decided"
        plan.decision_date, plan.decision_dnr = decided_on, dnr.strip()
        plan.decision_paragraph = words.paragraph(paragraph)
        plan.decided_by = app.user
        for old in _plans(s, unit, year):
            if old.id != plan.id and old.status == "decided":
                ob = snapshot(old)
                old.status = "superseded"
                app.audit(s, "ersätt", "control_plan", old.id, before=ob, after=snapshot(old), org_id=org.id)
        s.flush()
        plan.content_hash = plan_content_hash(s, plan.id)
        app.audit(s, "beslut", "control_plan", plan.id, before=before, after=snapshot(plan), org_id=org.id)
        return plan


# what a decision decides: the plan's own fields and every line of it, by code rather than database id
# (the same plan in another database has the same hash), named columns, so that the upgrade that first
# computed it keeps working when later migrations add columns
_PLAN_DECIDED = ("year", "version", "revision_reason", "decision_date", "decision_paragraph", "decision_dnr",
                 "overrides")
_POINT_DECIDED = ("code", "position", "title", "method", "sample_size", "frequency", "owner", "reporting",
                  "municipality_wide", "ks_code", "status", "reject_reason", "rule_id", "why")


def plan_content_hash(s: Session, plan_id: int) -> str:
    """SHA-256 of a plan as decided: its unit, its decision and all its kontrollpunkter with their
    risks and processes, in order."""
    p, c = ControlPlan.__table__.c, ControlPoint.__table__.c
    head = s.execute(select(Unit.__table__.c.code.label("unit"), *(p[k] for k in _PLAN_DECIDED))
                     .join(Unit.__table__, Unit.__table__.c.id == p.unit_id).where(p.id == plan_id)).one()
    risk, proc = Risk.__table__.c, Process.__table__.c
    lines = s.execute(select(*(c[k] for k in _POINT_DECIDED), risk.code.label("risk"), proc.code.label("process"))
                      .outerjoin(Risk.__table__, risk.id == c.risk_id)
                      .outerjoin(Process.__table__, proc.id == c.process_id)
                      .where(c.plan_id == plan_id).order_by(c.position, c.id)).all()
    decided = dict(head._mapping)
    texts = s.execute(select(p.intro_text, p.proposal_text).where(p.id == plan_id)).one()
    if texts.intro_text or texts.proposal_text:  # the plan's own words are decided too (a plan without any
        decided["texts"] = [texts.intro_text, texts.proposal_text]  # hashes as it always has)
    body = json.dumps([decided, [dict(r._mapping) for r in lines]], sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_decided_plans(s: Session, problems: list[str]) -> int:
    """Every decided (or superseded) plan's content against the hash its decision recorded."""
    n = 0
    for plan in s.scalars(select(ControlPlan).where(ControlPlan.status != "draft").order_by(ControlPlan.id)):
        n += 1
        label = f"Planen för {plan.unit.code} {plan.year} version {plan.version}"
        if not plan.content_hash:
            problems.append(f"{label} är beslutad men saknar innehållshash (beslutet har skrivits utanför ikcheck).")
        elif plan_content_hash(s, plan.id) != plan.content_hash:
            problems.append(f"{label}: innehållet stämmer inte med det som beslutades ({plan.decision_paragraph}, "
                            f"{plan.decision_date}); planen eller dess kontrollpunkter har ändrats efter beslutet.")
    return n


def _check_decision_date(s: Session, unit: Unit, plan: ControlPlan, day: dt.date) -> None:
    """A plan is decided from the autumn before its year (1 August) to the year's end, and a revision
    never before the version it replaces."""
    earliest = dt.date(plan.year - 1, 8, 1)
    if day < earliest:
        raise UserError(f"Beslutsdatumet {day} ligger före hösten innan planåret {plan.year}; en plan för "
                        f"{plan.year} beslutas tidigast {earliest} (oftast i november {plan.year - 1}).")
    if day > dt.date(plan.year, 12, 31):
        raise UserError(f"Beslutsdatumet {day} ligger efter planåret {plan.year}; en plan beslutas före eller under sitt år.")
    previous = [p.decision_date for p in _plans(s, unit, plan.year) if p.id != plan.id and p.decision_date]
    if previous and day < max(previous):
        raise UserError(f"Beslutsdatumet {day} ligger före beslutet om den version som revideras ({max(previous)}).")


def revise(app: App, unit_code: str, year: int, reason: str, org_code: str | None = None) -> int:
    """Start a new version of a decided plan; it is decided in turn. Returns the new version."""
    if not reason or not reason.strip():
        raise UserError("Ange ett skäl för revideringen.", cli="Skälet anges med --reason.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        current = latest(s, unit, year)
        if current.status == "draft":
            raise UserError(f"Version {current.version} av planen är ännu inte beslutad; ändra utkastet direkt.")
        new = ControlPlan(org_id=org.id, unit_id=unit.id, year=year, version=current.version + 1,
                          status="draft", supersedes_id=current.id, revision_reason=reason.strip(),
                          rules_hash=current.rules_hash, created_by=app.user, overrides=list(current.overrides or []),
                          intro_text=current.intro_text, proposal_text=current.proposal_text)
        s.add(new)
        s.flush()
        for cp in current.points:
            s.add(ControlPoint(
                org_id=org.id, plan_id=new.id, lineage_id=cp.lineage, code=cp.code, position=cp.position,
                risk_id=cp.risk_id,
                process_id=cp.process_id, title=cp.title, method=cp.method, sample_size=cp.sample_size,
                frequency=cp.frequency, owner=cp.owner, reporting=list(cp.reporting or []),
                municipality_wide=cp.municipality_wide, ks_code=cp.ks_code, status=cp.status,
                reject_reason=cp.reject_reason, rule_id=cp.rule_id, why=cp.why,
            ))
        s.flush()
        app.audit(s, "revidera", "control_plan", new.id, after=snapshot(new), org_id=org.id)
        return new.version


# --- reading ------------------------------------------------------------------------------------

def sample_text(app: App, s: Session, cp: ControlPoint) -> str | None:
    """A kontrollpunkt's sample as its plan words it ("25 ärenden"), for a page showing one point."""
    risk = s.get(Risk, cp.risk_id) if cp.risk_id else None
    return ws_svc.sample_text(ws_svc.phrasing(app), cp.sample_size, risk.category if risk else None)


def _point_row(cp: ControlPoint, risk: Risk | None, ra: RiskAssessment | None, m=None, nouns: dict | None = None) -> dict:
    level = m.level(ra.likelihood, ra.impact) if (m is not None and ra is not None) else None
    said, rules = words.reasons(cp.why)
    if cp.rule_id == "KS":
        said, rules = ["Kommunövergripande kontrollpunkt som kommunstyrelsen har beslutat för alla nämnder och bolag."], []
        source = f"Kommunstyrelsens krav {cp.ks_code}"
    elif cp.rule_id == "manuell":
        said, rules = ["Förvaltningens egen kontrollpunkt, utöver reglernas förslag."], []
        source = words.person((cp.why or "").replace("Tillagd manuellt av", "Tillagd av förvaltningen, registrerad av"))
    else:
        source = "Reglerna för prioritering och kontrolldesign"
    return {
        "kod": cp.code, "process": cp.process.name if cp.process else ("Kommunövergripande" if cp.municipality_wide else ""),
        "risk": f"{risk.code} {risk.title}" if risk else ("Kommunövergripande krav från kommunstyrelsen" if cp.ks_code else ""),
        "riskvärde": ra.score if ra else None, "sannolikhet": ra.likelihood if ra else None,
        "konsekvens": ra.impact if ra else None, "nivå": level.label if level else None,
        "färg": level.colour if level else None,
        "kontrollmoment": cp.title, "metod": cp.method, "omfattning": cp.sample_size,
        "omfattning_text": (ws_svc.sample_text(nouns, cp.sample_size, risk.category if risk else None)
                            if nouns else cp.sample_size),
        "frekvens": cp.frequency, "ansvarig": cp.owner, "rapportering": ", ".join(_period_sv(p) for p in cp.reporting or []),
        "status": POINT_STATUS_SV[cp.status], "regel": cp.rule_id, "varför": cp.why, "ks_krav": cp.ks_code,
        "motivering": " ".join(said), "regler": rules, "källa": source,
        "skäl avvisad": cp.reject_reason,
    }


def _period_sv(p: str) -> str:
    return {"halvar": "halvår", "helar": "helår"}.get(p, p)


def show(app: App, unit_code: str, year: int, version: int | None = None, org_code: str | None = None) -> dict:
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        plan = latest(s, unit, year) if version is None else next(
            (p for p in _plans(s, unit, year) if p.version == version), None)
        if plan is None:
            raise NotFound(f"Planen för {unit.name} {year} har ingen version {version}.")
        return plan_dataset(app, s, org, plan)


def plan_dataset(app: App, s: Session, org: Organisation, plan: ControlPlan) -> dict:
    """Everything a plan export shows: lines, excluded risks, direct actions, decision, heat map."""
    unit = s.get(Unit, plan.unit_id)
    hm = register.heatmap_in(app, s, org, unit, plan.year)
    assessed = {r.id: ra for r, ra in register.current_assessments(s, org.id, plan.year, unit.id)}
    scores = {rid: ra.score for rid, ra in assessed.items()}
    risks = {r.id: r for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
    nouns = ws_svc.phrasing(app)
    lines = [_point_row(cp, risks.get(cp.risk_id), assessed.get(cp.risk_id), hm.matrix, nouns) for cp in plan.points]
    # bevaka / acceptera: the newest prioritering run for this unit and year
    run = s.scalar(select(RuleRun).where(RuleRun.org_id == org.id, RuleRun.ruleset == "prioritering",
                                         RuleRun.purpose == f"plan derive {unit.code} {plan.year}")
                   .order_by(RuleRun.id.desc()))
    others = []
    if run:
        for c in s.scalars(select(Conclusion).where(Conclusion.run_id == run.id,
                                                   Conclusion.name.in_(["bevaka", "acceptera"]))
                           .order_by(Conclusion.id)):
            r = risks.get(c.subject_id)
            if r:
                others.append({"risk": r.code, "rubrik": r.title, "riskvärde": scores.get(r.id),
                               "utfall": c.name, "utfall_sv": OUTCOME_SV.get(c.name, c.name), "regel": c.rule_id,
                               "skäl": words.sentence(c.attributes.get("reason", ""))})
    # a decided plan shows what was decided: each direktåtgärd as it stood on the decision day
    on = plan.decision_date or today()
    actions = [{"kod": a.code, "åtgärd": a.description, "ansvarig": a.owner, "klart senast": a.due_date,
                "status": a.status_on(on)}
               for a in s.scalars(select(Action).where(Action.plan_id.in_(_version_ids(s, plan))).order_by(Action.code))]
    return {
        "org": org.name, "unit": unit.name, "unit_code": unit.code, "forvaltning": unit.forvaltning or "",
        "year": plan.year, "version": plan.version, "status": STATUS_SV[plan.status], "plan_id": plan.id,
        "kind": unit.kind, "body": words.decision_body(unit.kind, unit.name), "organ": words.body_noun(unit.kind),
        "sections": plan_sections(app, org, unit, plan, hm.matrix),
        "holders": positions.holders(s, org.id, [cp.owner for cp in plan.points], plan.decision_date or today()),
        "holders_on": plan.decision_date or today(),
        "decision": {"date": plan.decision_date, "paragraph": plan.decision_paragraph, "dnr": plan.decision_dnr,
                     "by": plan.decided_by, "content_hash": plan.content_hash,
                     "anchor": anchor.stamp(_decision_event(s, plan))} if plan.decision_date else None,
        "revision_reason": plan.revision_reason, "overrides": plan.overrides or [],
        "intro_text": plan.intro_text or "", "proposal_text": plan.proposal_text or "",
        "lines": [ln for ln in lines if ln["status"] != "avvisad"],
        "rejected": [ln for ln in lines if ln["status"] == "avvisad"],
        "others": others, "actions": actions, "heatmap": hm, "rules_version": rulebook.rules_version(app),
    }


# what a revision may change in a kontrollpunkt, in the words of the plan's own columns
_CHANGED_SV = {"title": "kontrollmoment", "method": "metod", "sample_size": "omfattning", "frequency": "frekvens",
               "owner": "kontrollansvarig", "reporting": "rapportering", "status": "status"}
OUTCOME_SV = {"bevaka": "Bevakas", "acceptera": "Accepteras", "granskning": "Granskas", "direktåtgärd": "Åtgärdas direkt"}
SECTIONS = (("förslag_till_beslut", "Förslag till beslut"), ("inledning", "Inledning"),
            ("syfte_och_ansvar", "Syfte och ansvar"), ("metod_för_riskanalys", "Metod för riskanalys"),
            ("rapportering", "Uppföljning och rapportering"))


def plan_sections(app: App, org: Organisation, unit: Unit, plan: ControlPlan, m) -> list[tuple[str, str]]:
    """The plan's texts, in order: its own inledning and förslag till beslut where written, else the
    kommun's text template (ikcheck.texts)."""
    from ikcheck import texts
    from ikcheck.calendar import swedish_date

    values = {"organ": words.body_noun(unit.kind), "enhet": words.decision_body(unit.kind, unit.name),
              "kommun": org.name, "år": plan.year, "matris": m.title, "bolag": unit.kind == "bolag",
              "ks": unit.kind == "ks",
              "halvår_senast": swedish_date(deadline(org, "halvar_rapport", plan.year)),
              "år_senast": swedish_date(deadline(org, "ar_rapport", plan.year + 1)), "rapport": ""}
    template = texts.render(app, "plan", values)
    own = {"förslag_till_beslut": plan.proposal_text, "inledning": plan.intro_text}
    return [(heading, own.get(key) or template.get(key, "")) for key, heading in SECTIONS
            if own.get(key) or template.get(key)]


def _decision_event(s: Session, plan: ControlPlan) -> AuditEvent | None:
    """The audit event of the plan's decision: the head a decided plan's document anchors."""
    return s.scalar(select(AuditEvent).where(AuditEvent.entity == "control_plan", AuditEvent.entity_id == str(plan.id),
                                             AuditEvent.action == "beslut").order_by(AuditEvent.seq.desc()).limit(1))


def _version_ids(s: Session, plan: ControlPlan) -> list[int]:
    return list(s.scalars(select(ControlPlan.id).where(ControlPlan.unit_id == plan.unit_id,
                                                       ControlPlan.year == plan.year)))


def history(app: App, unit_code: str, year: int, org_code: str | None = None) -> list[dict]:
    """Every version with its decision and what changed from the version before."""
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        out = []
        previous: dict[str, ControlPoint] = {}
        for plan in _plans(s, unit, year):
            points = {p.code: p for p in plan.points}
            changes = [f"+ {c}" for c in points if c not in previous]
            changes += [f"− {c}" for c in previous if c not in points]
            for code in points.keys() & previous.keys():
                a, b = previous[code], points[code]
                diffs = [sv for f, sv in _CHANGED_SV.items() if getattr(a, f) != getattr(b, f)]
                if diffs:
                    changes.append(f"~ {code}: {', '.join(diffs)}")
            out.append({
                "version": plan.version, "status": STATUS_SV[plan.status],
                "beslut": f"{swedish_date(plan.decision_date)} {plan.decision_paragraph}, dnr {plan.decision_dnr}"
                if plan.decision_date else "",
                "skäl": plan.revision_reason or ("första versionen" if plan.version == 1 else ""),
                "kontrollpunkter": sum(1 for p in plan.points if p.status != "rejected"),
                "ändringar": "; ".join(sorted(changes)) if plan.version > 1 else "",
            })
            previous = points
        return out


def list_plans(app: App, year: int, org_code: str | None = None, on: dt.date | None = None) -> list[dict]:
    """Every unit's plan for the year: decided or not, by when; late ones are marked (KS's view)."""
    on = on or today()
    with app.session() as s:
        org = app.org(s, org_code)
        from ikcheck.reporting import datasets

        due = deadline(org, "plan_beslut", year - 1)
        units = [u for u in org.units if u.active_in(year) or _plans(s, u, year)]
        lateness = datasets.late_plans(app, s, org, year, units, on)
        out = []
        for unit in units:
            plans = _plans(s, unit, year)
            last = plans[-1] if plans else None
            decided = decided_plan(s, unit, year)
            late = lateness.get(unit.code, 0)
            out.append({
                "enhet": unit.code, "namn": unit.name,
                "status": STATUS_SV[last.status] if last else "saknas",
                "version": last.version if last else None,
                "beslutad": f"{decided.decision_date} {decided.decision_paragraph}" if decided else "",
                "sista dag": due, "sen": f"{late} dagar" if late else "",
                "kontrollpunkter": sum(1 for p in decided.points if p.status != "rejected") if decided else None,
            })
        return out
