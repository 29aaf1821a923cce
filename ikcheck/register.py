"""The risk register: risks per unit and process, their yearly assessments and full history.

An assessment's `year` is the plan year it informs: the autumn 2024 workshop scores risks "inför
2025" and its assessments have year 2025. Levels are always computed from the matrix grid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ikcheck import matrix as matrix_mod
from ikcheck.app import App
from ikcheck.errors import NotFound, UserError
from ikcheck.store.audit import snapshot
from ikcheck.store.models import (
    ControlPlan, ControlPoint, ControlResult, Organisation, Process, Risk, RiskAssessment, Unit,
)

# Risk categories: these, then any the kommun adds under `kategorier` in its org file. "legal" is the
# code stored before the list was Swedish; it is read, and shown, as lagkrav.
CATEGORIES = ["lagkrav", "ekonomi", "verksamhet", "rapportering", "IT", "omvärld"]
CATEGORY_ALIASES = {"legal": "lagkrav", "regelefterlevnad": "lagkrav", "lag": "lagkrav"}
LEGAL = "lagkrav"
SOURCES = ["workshop", "revision", "incident", "KS"]
STATUSES = {"active": "aktiv", "retired": "avslutad"}
EDITABLE = {"title", "description", "category", "owner", "source", "process", "legal_requirement"}


@dataclass
class Scores:
    likelihood: int
    impact: int
    residual_likelihood: int | None = None
    residual_impact: int | None = None


def categories(org: Organisation | None) -> list[str]:
    extra = list((org.settings or {}).get("categories") or []) if org is not None else []
    return CATEGORIES + [c for c in extra if c not in CATEGORIES]


def category_sv(value: str | None) -> str:
    """A stored category as the user reads it."""
    return CATEGORY_ALIASES.get(value or "", value or "")


def check_category(value: str, org: Organisation | None = None) -> str:
    wanted = CATEGORY_ALIASES.get(str(value).strip().lower(), str(value).strip())
    for c in categories(org):
        if c.lower() == wanted.lower():
            return c
    raise UserError(f"Okänd kategori ”{value}”; välj en av: {', '.join(categories(org))}.")


def check_source(value: str) -> str:
    for c in SOURCES:
        if c.lower() == str(value).strip().lower():
            return c
    raise UserError(f"Okänd källa {value!r}; välj en av: {', '.join(SOURCES)}.")


def check_scores(m: matrix_mod.Matrix, sc: Scores) -> None:
    for name, value, allowed in (
        ("sannolikhet", sc.likelihood, m.likelihood_values()),
        ("konsekvens", sc.impact, m.impact_values()),
        ("kvarvarande sannolikhet", sc.residual_likelihood, m.likelihood_values() + [None]),
        ("kvarvarande konsekvens", sc.residual_impact, m.impact_values() + [None]),
    ):
        if value not in allowed:
            raise UserError(
                f"{name.capitalize()} {value!r} finns inte i matrisen {m.name} "
                f"(tillåtet: {', '.join(str(a) for a in allowed if a is not None)})."
            )
    if (sc.residual_likelihood is None) != (sc.residual_impact is None):
        raise UserError("Ange både kvarvarande sannolikhet och konsekvens, eller ingen av dem.")


def next_risk_code(s: Session, org: Organisation, unit: Unit) -> str:
    prefix = f"{unit.code}-R"
    existing = s.scalars(select(Risk.code).where(Risk.org_id == org.id, Risk.code.like(prefix + "%")))
    numbers = [int(c[len(prefix):]) for c in existing if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def find_process(s: Session, unit: Unit, name_or_code: str | None) -> Process | None:
    if not name_or_code:
        return None
    proc = s.scalar(
        select(Process).where(
            Process.unit_id == unit.id,
            (Process.code == name_or_code) | (Process.name == name_or_code),
        )
    )
    if proc is None:
        known = ", ".join(f"{p.code} ({p.name})" for p in unit.processes) or "inga"
        raise NotFound(f"Processen {name_or_code!r} finns inte i {unit.name} (finns: {known}).")
    return proc


def find_risk(s: Session, org: Organisation, code: str) -> Risk:
    risk = s.scalar(select(Risk).where(Risk.org_id == org.id, Risk.code == code))
    if risk is None:
        raise NotFound(f"Risken {code!r} finns inte i {org.name}.")
    return risk


def create_risk(app: App, s: Session, org: Organisation, unit: Unit, title: str, *,
                process: Process | None = None, category: str = "verksamhet",
                owner: str | None = None, source: str = "workshop", description: str | None = None,
                legal: bool = False, code: str | None = None) -> Risk:
    if not title or not title.strip():
        raise UserError("En risk måste ha en rubrik.")
    risk = Risk(
        org_id=org.id, unit_id=unit.id, process_id=process.id if process else None,
        code=code or next_risk_code(s, org, unit), title=title.strip(), description=description,
        category=check_category(category, org), owner=owner, source=check_source(source),
        legal_requirement=legal, status="active",
    )
    s.add(risk)
    s.flush()
    app.audit(s, "skapa", "risk", risk.code, after=snapshot(risk), org_id=org.id)
    return risk


def record_assessment(app: App, s: Session, org: Organisation, risk: Risk, year: int,
                      m: matrix_mod.Matrix, sc: Scores, *, assessed_by: str,
                      workshop_id: int | None = None, import_batch_id: int | None = None,
                      participants: list[dict] | None = None, spread: int = 0,
                      flagged: bool = False, assessed_at: dt.datetime | None = None) -> RiskAssessment:
    """Store a year's assessment; an earlier one for the same year stays as history."""
    check_scores(m, sc)
    matrix_row = app.matrix_row(s, m)
    previous = s.scalar(
        select(RiskAssessment).where(
            RiskAssessment.risk_id == risk.id, RiskAssessment.year == year,
            RiskAssessment.is_current.is_(True),
        )
    )
    residual = sc.residual_likelihood is not None
    ra = RiskAssessment(
        org_id=org.id, risk_id=risk.id, year=year, matrix_id=matrix_row.id,
        likelihood=sc.likelihood, impact=sc.impact, score=m.score(sc.likelihood, sc.impact),
        level=m.level(sc.likelihood, sc.impact).name,
        residual_likelihood=sc.residual_likelihood, residual_impact=sc.residual_impact,
        residual_score=m.score(sc.residual_likelihood, sc.residual_impact) if residual else None,
        residual_level=m.level(sc.residual_likelihood, sc.residual_impact).name if residual else None,
        spread=spread, flagged=flagged, participants=participants or [],
        assessed_by=assessed_by, workshop_id=workshop_id, import_batch_id=import_batch_id,
        supersedes_id=previous.id if previous else None,
    )
    if assessed_at:
        ra.assessed_at = assessed_at
    if previous:
        previous.is_current = False
    s.add(ra)
    s.flush()
    app.audit(s, "bedöm", "risk_assessment", ra.id, before=snapshot(previous) if previous else None,
              after=snapshot(ra), org_id=org.id)
    return ra


# --- services the CLI calls ---------------------------------------------------------------------

def add_risk(app: App, unit_code: str, title: str, *, org_code: str | None = None,
             process: str | None = None, category: str = "verksamhet", owner: str | None = None,
             source: str = "workshop", description: str | None = None, legal: bool = False,
             assessment: tuple[int, Scores] | None = None) -> str:
    """A new risk; with `assessment` (year, scores), assessed in the same transaction: a risk found
    between workshops (an incident, a revision) enters the plan only with its scores."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        risk = create_risk(app, s, org, unit, title, process=find_process(s, unit, process),
                           category=category, owner=owner, source=source,
                           description=description, legal=legal)
        if assessment is not None:
            year, scores = assessment
            record_assessment(app, s, org, risk, year, app.matrix_for(org, year), scores, assessed_by=app.user)
        return risk.code


def edit_risk(app: App, code: str, changes: dict[str, Any], org_code: str | None = None) -> None:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise UserError(f"Fälten {', '.join(sorted(unknown))} kan inte ändras.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        risk = find_risk(s, org, code)
        before = snapshot(risk)
        for key, value in changes.items():
            if key == "process":
                risk.process_id = find_process(s, risk.unit, value).id if value else None
            elif key == "category":
                risk.category = check_category(value, org)
            elif key == "source":
                risk.source = check_source(value)
            else:
                setattr(risk, key, value)
        s.flush()
        app.audit(s, "ändra", "risk", risk.code, before=before, after=snapshot(risk), org_id=org.id)


def retire_risk(app: App, code: str, reason: str, org_code: str | None = None) -> None:
    if not reason or not reason.strip():
        raise UserError("Ange ett skäl när en risk avslutas.", cli="Skälet anges med --reason.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        risk = find_risk(s, org, code)
        if risk.status == "retired":
            raise UserError(f"Risken {code} är redan avslutad.")
        before = snapshot(risk)
        risk.status = "retired"
        s.flush()
        after = snapshot(risk) | {"reason": reason}
        app.audit(s, "avsluta", "risk", risk.code, before=before, after=after, org_id=org.id)


def assess(app: App, code: str, year: int, scores: Scores, org_code: str | None = None) -> dict:
    """A single assessment entered by hand (outside a workshop)."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        risk = find_risk(s, org, code)
        m = app.matrix_for(org, year)
        ra = record_assessment(app, s, org, risk, year, m, scores, assessed_by=app.user)
        return {"score": ra.score, "level": ra.level}


def current_assessments(s: Session, org_id: int, year: int, unit_id: int | None = None):
    """(risk, assessment) for every active risk with a current assessment for the year."""
    q = (
        select(Risk, RiskAssessment)
        .join(RiskAssessment, RiskAssessment.risk_id == Risk.id)
        .where(Risk.org_id == org_id, RiskAssessment.year == year,
               RiskAssessment.is_current.is_(True), Risk.status == "active")
        .order_by(Risk.code)
    )
    if unit_id is not None:
        q = q.where(Risk.unit_id == unit_id)
    return s.execute(q).all()


def list_risks(app: App, *, org_code: str | None = None, unit: str | None = None,
               year: int | None = None, level: str | None = None, category: str | None = None,
               status: str | None = "active") -> list[dict]:
    with app.session() as s:
        org = app.org(s, org_code)
        if year is None:
            year = s.scalar(select(func.max(RiskAssessment.year)).where(RiskAssessment.org_id == org.id))
        q = (
            select(Risk, RiskAssessment, Unit.code, Process.name)
            .join(Unit, Unit.id == Risk.unit_id)
            .outerjoin(Process, Process.id == Risk.process_id)
            .outerjoin(
                RiskAssessment,
                (RiskAssessment.risk_id == Risk.id) & (RiskAssessment.year == year)
                & RiskAssessment.is_current.is_(True),
            )
            .where(Risk.org_id == org.id)
            .order_by(Risk.code)
        )
        if unit:
            q = q.where(Risk.unit_id == app.unit(s, org, unit).id)
        if status:
            q = q.where(Risk.status == status)
        if category:
            wanted = check_category(category, org)
            q = q.where(Risk.category.in_([wanted] + [k for k, v in CATEGORY_ALIASES.items() if v == wanted]))
        if level:
            q = q.where(RiskAssessment.level == level)
        out = []
        for risk, ra, unit_code, proc in s.execute(q):
            out.append({
                "risk": risk.code, "enhet": unit_code, "process": proc or "", "rubrik": risk.title,
                "kategori": category_sv(risk.category), "status": STATUSES[risk.status], "år": year,
                "sannolikhet": ra.likelihood if ra else None, "konsekvens": ra.impact if ra else None,
                "riskvärde": ra.score if ra else None, "nivå": ra.level if ra else None,
                "spridning": ra.spread if ra else None, "diskutera": bool(ra and ra.flagged),
            })
        return out


def assessors(ra: RiskAssessment) -> str:
    """Who assessed: "en bedömare" when one person did (a spread of 0 then says nothing)."""
    names = {p.get("name") for p in ra.participants or []}
    return "en bedömare" if len(names) == 1 else f"{len(names)} bedömare" if names else ""


def level_fields(m: matrix_mod.Matrix, level: str) -> dict[str, Any]:
    """What the rules know of a risk's level: its name, rank, what it implies and whether it must be in
    the plan (the one concept prioritering and planvalidering share)."""
    return {"level": level, "level_rank": m.level_by_name(level).rank, "implies": m.implies(level),
            "in_plan": m.in_plan(level)}


def risk_details(app: App, code: str, org_code: str | None = None) -> dict:
    """One risk with its full assessment history (every year, every version), the workshop comments,
    and the history of risks merged into it."""
    from ikcheck.store.models import Workshop, WorkshopComment

    with app.session() as s:
        org = app.org(s, org_code)
        risk = find_risk(s, org, code)
        merged = list(s.scalars(select(Risk).where(Risk.merged_into_id == risk.id).order_by(Risk.code)))
        before = s.get(Risk, risk.continues_id) if risk.continues_id else None
        if before is not None:  # continued from another unit: its years there are this risk's history
            merged.append(before)
        history = []
        for r in [risk, *merged]:
            for ra in sorted(r.assessments, key=lambda a: (a.year, a.id)):
                history.append({
                    "år": ra.year, **({"risk": r.code} if merged else {}),
                    "sannolikhet": ra.likelihood, "konsekvens": ra.impact,
                    "riskvärde": ra.score, "nivå": ra.level,
                    "kvarvarande": f"{ra.residual_score} ({ra.residual_level})" if ra.residual_score else "",
                    "spridning": ra.spread if len({p.get("name") for p in ra.participants or []}) > 1
                    else assessors(ra) or "–",
                    "diskutera": ra.flagged, "gällande": ra.is_current,
                    "bedömd av": ra.assessed_by, "när": ra.assessed_at.strftime("%Y-%m-%d %H:%M"),
                    "matris": f"{ra.matrix.name} v{ra.matrix.version}",
                    "deltagare": ", ".join(p.get("name", "") for p in ra.participants),
                })
        history.sort(key=lambda h: (h["år"], h.get("risk", "")))
        comments = [{"år": year, **({"risk": rcode} if merged else {}), "deltagare": c.participant,
                     "kommentar": c.comment, "bedömde risken": c.scored}
                    for c, year, rcode in s.execute(
                        select(WorkshopComment, Workshop.year, Risk.code)
                        .join(Workshop, Workshop.id == WorkshopComment.workshop_id)
                        .join(Risk, Risk.id == WorkshopComment.risk_id)
                        .where(WorkshopComment.risk_id.in_([risk.id, *[m.id for m in merged]]))
                        .order_by(Workshop.year, WorkshopComment.id))]
        into = s.get(Risk, risk.merged_into_id) if risk.merged_into_id else None
        return {
            "risk": risk.code, "rubrik": risk.title, "beskrivning": risk.description or "",
            "enhet": risk.unit.name, "process": risk.process.name if risk.process else "",
            "kategori": category_sv(risk.category), "ägare": risk.owner or "", "status": STATUSES[risk.status],
            "källa": risk.source, "lagkrav": risk.legal_requirement,
            "sammanslagen med": f"{into.code} {into.title}" if into else "",
            "sammanslagna": ", ".join(f"{m.code} {m.title}" for m in merged if m is not before),
            "fortsätter": f"{before.code} i {before.unit.name}" if before else "",
            "historik": history, "kommentarer": comments,
        }


@dataclass
class Heatmap:
    matrix: matrix_mod.Matrix
    cells: dict[tuple[int, int], list[str]]
    unit: str
    year: int
    unit_code: str = ""

    def count(self, likelihood: int, impact: int) -> int:
        return len(self.cells.get((likelihood, impact), []))


def heatmap(app: App, unit_code: str, year: int, org_code: str | None = None,
            residual: bool = False) -> Heatmap:
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        return heatmap_in(app, s, org, unit, year, residual)


def heatmap_in(app: App, s: Session, org: Organisation, unit: Unit, year: int,
               residual: bool = False) -> Heatmap:
    cells: dict[tuple[int, int], list[str]] = {}
    rows = current_assessments(s, org.id, year, unit.id)
    # Draw on the matrix the assessments were scored on, not whatever the file says today (and read
    # the file only when there are none: parsing its YAML was a fifth of a KS översikt)
    m = matrix_mod.from_definition(rows[0][1].matrix.definition) if rows else app.matrix_for(org, year)
    for risk, ra in rows:
        key = (ra.residual_likelihood, ra.residual_impact) if residual else (ra.likelihood, ra.impact)
        if key[0] is not None:
            cells.setdefault(key, []).append(risk.code)
    return Heatmap(m, cells, unit.name, year, unit.code)


DEFICIENT = ("mindre avvikelser", "väsentliga brister")


def risk_facts(s: Session, org: Organisation, year: int, unit_id: int | None = None) -> list[dict]:
    """Facts for the rules: every active risk with its current assessment for the year, the
    previous year's score, and whether an earlier control of it found deficiencies."""
    rows = current_assessments(s, org.id, year, unit_id)
    if not rows:
        return []
    units = {u.id: u for u in org.units}
    processes = {p.id: p.name for u in org.units for p in u.processes}
    prev = {
        ra.risk_id: ra.score
        for ra in s.scalars(select(RiskAssessment).where(
            RiskAssessment.org_id == org.id, RiskAssessment.year == year - 1,
            RiskAssessment.is_current.is_(True)))
    }
    deficient = set(s.scalars(
        select(ControlPoint.risk_id)
        .join(ControlResult, ControlResult.control_point_id == ControlPoint.id)
        .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
        .where(ControlPoint.org_id == org.id, ControlPlan.year < year,
               ControlResult.is_current.is_(True), ControlResult.assessment.in_(DEFICIENT),
               ControlPoint.risk_id.is_not(None))
    ))
    matrices: dict[int, matrix_mod.Matrix] = {}
    facts = []
    for risk, ra in rows:
        if ra.matrix_id not in matrices:
            matrices[ra.matrix_id] = matrix_mod.from_definition(ra.matrix.definition)
        m = matrices[ra.matrix_id]
        unit = units[risk.unit_id]
        facts.append({
            "type": "risk", "risk_id": risk.id, "code": risk.code, "unit": unit.code,
            "unit_kind": unit.kind, "process": processes.get(risk.process_id), "title": risk.title,
            "category": category_sv(risk.category), "source": risk.source, "legal": risk.legal_requirement,
            "year": year, "likelihood": ra.likelihood, "impact": ra.impact, "score": ra.score,
            **level_fields(m, ra.level),
            "residual_score": ra.residual_score, "residual_level": ra.residual_level,
            # a risk continued from another unit at a reorganisation keeps its predecessor's past
            "spread": ra.spread, "flagged": ra.flagged,
            "previous_score": prev.get(risk.id, prev.get(risk.continues_id)),
            "earlier_deficiency": risk.id in deficient or risk.continues_id in deficient,
        })
    return facts
