"""Rules as a service: the organisation's rulesets, evaluation with stored conclusions, the rule tests
a kommun writes, explanations and the "what if the rules changed" diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck import engine, register, yamlsrc
from ikcheck.app import App
from ikcheck.engine.evaluate import Evaluation
from ikcheck.errors import NotFound, Problem, UserError, ValidationFailed
from ikcheck.store.db import bulk_insert
from ikcheck.store.models import Conclusion, ControlPoint, ControlResult, Organisation, Risk, RuleRun

TESTS_DIR = "tester"


def rulesets(app: App, directory: Path | None = None) -> dict[str, engine.Ruleset]:
    return engine.load_dir(Path(directory or app.settings.rules_dir))


def ruleset(app: App, name: str, directory: Path | None = None) -> engine.Ruleset:
    sets = rulesets(app, directory)
    if name not in sets:
        raise NotFound(f"Regeluppsättningen {name!r} finns inte i {directory or app.settings.rules_dir}.")
    return sets[name]


def rules_version(app: App) -> str:
    """One line naming every ruleset version and hash (for report footers)."""
    return ", ".join(rs.label for rs in rulesets(app).values())


def evaluate_and_store(app: App, s: Session, org: Organisation, rs: engine.Ruleset,
                       facts: list[dict], purpose: str, partition: str | None = None) -> tuple[Evaluation, RuleRun]:
    """Evaluate, then store the run and every conclusion (rule id, ruleset hash, matched facts)."""
    ev = engine.evaluate(rs, facts, engine=app.settings.engine, partition=partition)
    run = RuleRun(org_id=org.id, ruleset=rs.name, ruleset_version=rs.version, ruleset_hash=rs.content_hash,
                  engine=ev.engine, purpose=purpose, facts=ev.facts, conclusions=len(ev.conclusions),
                  run_by=app.user)
    s.add(run)
    s.flush()
    rows = [{"org_id": org.id, "run_id": run.id, "rule_id": c.rule_id, "name": c.name,
             "subject_type": c.subject_type, "subject_id": c.subject_id, "attributes": c.attributes,
             "matched": list(c.matched)}
            for c in ev.conclusions]
    bulk_insert(s, Conclusion, rows)  # a run over 100k facts stores 100k conclusions
    app.audit(s, "regelkörning", "rule_run", run.id, after={
        "ruleset": rs.name, "version": rs.version, "hash": rs.content_hash, "purpose": purpose,
        "facts": ev.facts, "conclusions": len(ev.conclusions)}, org_id=org.id)
    return ev, run


# --- rule tests written by the kommun ----------------------------------------------------------

@dataclass
class CaseResult:
    file: str
    name: str
    ok: bool
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def run_tests(app: App, directory: Path | None = None) -> list[CaseResult]:
    """Run every `tester/*.yaml` next to the rules: example facts and the conclusions they must give.

        ruleset: prioritering
        cases:
          - name: Hög risk granskas
            facts: [{type: risk, risk_id: 1, score: 12, level: hög}]
            expect: [{rule: PRI-02, subject: 1}]
            only: true        # no other conclusions (default true)
    """
    directory = Path(directory or app.settings.rules_dir)
    sets = rulesets(app, directory)
    files = sorted((directory / TESTS_DIR).glob("*.yaml"))
    if not files:
        raise UserError(f"Det finns inga regeltester i {directory / TESTS_DIR}.")
    results: list[CaseResult] = []
    for path in files:
        data = yamlsrc.load(path)
        name = data.get("ruleset") if isinstance(data, dict) else None
        if name not in sets:
            raise ValidationFailed(f"Regeltestet {path} är ogiltigt.", [
                Problem(f"okänd regeluppsättning {name!r}", file=str(path), line=1, field="ruleset",
                        expected=", ".join(sets))])
        for case in data.get("cases") or []:
            ev = engine.evaluate(sets[name], list(case.get("facts") or []), engine=app.settings.engine)
            got = {f"{c.rule_id} → {c.subject_type} {c.subject_id}" for c in ev.conclusions}
            want = set()
            for e in case.get("expect") or []:
                subject_type = e.get("subject_type") or next(
                    (c.subject_type for c in ev.conclusions if c.subject_id == e.get("subject")), "risk")
                want.add(f"{e['rule']} → {subject_type} {e['subject']}")
            only = case.get("only", True)
            missing = sorted(want - got)
            unexpected = sorted(got - want) if only else []
            results.append(CaseResult(str(path), str(case.get("name", "?")), not missing and not unexpected,
                                      missing, unexpected))
    return results


# --- explanations ---------------------------------------------------------------------------------

def explain(app: App, ident: str, org_code: str | None = None) -> dict[str, Any]:
    """Every stored conclusion about one risk, control point or result, with the rule's own text."""
    with app.session() as s:
        org = app.org(s, org_code)
        subject = None
        risk = s.scalar(select(Risk).where(Risk.org_id == org.id, Risk.code == ident))
        if risk:
            subject = ("risk", risk.id, f"{risk.code} {risk.title}")
        else:
            cp = s.scalar(select(ControlPoint).where(ControlPoint.org_id == org.id, ControlPoint.code == ident)
                          .order_by(ControlPoint.id.desc()))
            if cp:
                subject = ("control_point", cp.id, f"{cp.code} {cp.title}")
            elif ident.isdigit() and (res := s.get(ControlResult, int(ident))) and res.org_id == org.id:
                subject = ("result", res.id, f"resultat {res.id}")
        if subject is None:
            raise NotFound(f"Hittar ingen risk, kontrollpunkt eller resultat med id {ident!r}.")
        rows = s.execute(
            select(Conclusion, RuleRun).join(RuleRun, RuleRun.id == Conclusion.run_id)
            .where(Conclusion.org_id == org.id, Conclusion.subject_type == subject[0],
                   Conclusion.subject_id == subject[1])
            .order_by(Conclusion.id)
        ).all()
        sets = {}
        out = []
        for c, run in rows:
            try:
                rs = sets.get(run.ruleset) or sets.setdefault(run.ruleset, ruleset(app, run.ruleset))
                rule = rs.rule(c.rule_id) if rs.content_hash == run.ruleset_hash else None
            except (KeyError, UserError):
                rule = None
            out.append({
                "when": run.run_at.strftime("%Y-%m-%d %H:%M"), "purpose": run.purpose,
                "ruleset": f"{run.ruleset} v{run.ruleset_version} ({run.ruleset_hash[:12]})",
                "rule_id": c.rule_id, "conclusion": c.name, "attributes": c.attributes,
                "title": rule.title if rule else "(regeltexten har ändrats sedan körningen)",
                "description": rule.description if rule else "",
                "reference": rule.reference if rule else "",
                "matched": c.matched,
            })
        return {"subject": subject[2], "conclusions": out}


# --- what would change if the rules changed ------------------------------------------------------

@dataclass
class RuleDiff:
    year: int
    moved: list[dict]  # {risk, unit, title, before, after, before_rule, after_rule}
    unchanged: int


def diff(app: App, old: Path, new: Path, year: int, unit: str | None = None,
         org_code: str | None = None, name: str = "prioritering") -> RuleDiff:
    """Evaluate this year's register with two versions of the prioritering rules; list the risks
    whose outcome differs (which move in or out of the plan)."""
    old_rs, new_rs = _ruleset_at(old, name), _ruleset_at(new, name)
    with app.session() as s:
        org = app.org(s, org_code)
        unit_row = app.unit(s, org, unit) if unit else None
        facts = register.risk_facts(s, org, year, unit_row.id if unit_row else None)
    if not facts:
        raise UserError(f"Det finns inga riskbedömningar för {year}{' i ' + unit if unit else ''}.")
    before = _outcomes(engine.evaluate(old_rs, facts, engine=app.settings.engine, partition="unit"))
    after = _outcomes(engine.evaluate(new_rs, facts, engine=app.settings.engine, partition="unit"))
    by_id = {f["risk_id"]: f for f in facts}
    moved = []
    for rid in sorted(by_id, key=lambda r: by_id[r]["code"]):
        b, a = before.get(rid, ("–", "")), after.get(rid, ("–", ""))
        if b[0] != a[0]:
            f = by_id[rid]
            moved.append({"risk": f["code"], "unit": f["unit"], "title": f["title"], "score": f["score"],
                          "before": b[0], "before_rule": b[1], "after": a[0], "after_rule": a[1]})
    return RuleDiff(year, moved, len(by_id) - len(moved))


def _ruleset_at(path: Path, name: str) -> engine.Ruleset:
    path = Path(path)
    return engine.load(path / f"{name}.yaml") if path.is_dir() else engine.load(path)


def _outcomes(ev: Evaluation) -> dict[int, tuple[str, str]]:
    return {c.subject_id: (c.name, c.rule_id) for c in ev.conclusions
            if c.group == "utfall" and c.subject_type == "risk"}
