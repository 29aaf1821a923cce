"""Rules as a service: the organisation's rulesets, evaluation with stored conclusions, the rule tests
a kommun writes, explanations and the "what if the rules changed" diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck import engine, register, words, yamlsrc
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
                  run_by=app.user, rule_digests=rs.rule_digests())
    s.add(run)
    s.flush()
    for i in range(0, len(ev.conclusions), 5000):  # a run over 100k facts stores 100k conclusions
        bulk_insert(s, Conclusion, [
            {"org_id": org.id, "run_id": run.id, "rule_id": c.rule_id, "name": c.name,
             "subject_type": c.subject_type, "subject_id": c.subject_id, "attributes": c.attributes,
             "matched": list(c.matched)} for c in ev.conclusions[i:i + 5000]])
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

FACT_SV = {"risk": "risken", "control_point": "kontrollpunkten", "action": "åtgärden", "plan": "planen",
           "ks_requirement": "KS-kravet", "result": "resultatet", "report": "rapporten", "unit": "enheten",
           "conclusion": "slutsatsen"}


# ids, and what the explanation's heading already says
_NOT_SHOWN = {"type", "risk_id", "cp_id", "result_id", "plan_id", "unit_id", "action_id", "req_id", "report_id",
              "batch", "subject_id", "title", "process"}


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
                rule = rs.rule(c.rule_id)
            except (KeyError, UserError):
                rs = rule = None
            # changed: this rule's own text (or the parameters it uses), by the digest stored with the
            # run; a run from before digests were stored only knows its whole file's hash
            if rule is None:
                changed = "regeln finns inte längre i regelfilen"
            elif run.rule_digests:
                changed = ("regeln har ändrats sedan körningen; texten nedan är dagens"
                           if run.rule_digests.get(c.rule_id) != rs.rule_digest(c.rule_id) else "")
            else:
                changed = ("regelfilen har ändrats sedan körningen, och regelns text då är inte sparad; texten "
                           "nedan är dagens" if rs.content_hash != run.ruleset_hash else "")
            out.append({
                "when": run.run_at.strftime("%Y-%m-%d %H:%M"), "purpose": run.purpose,
                "ruleset": f"{run.ruleset} v{run.ruleset_version}",
                "rule_id": c.rule_id, "conclusion": words.value_sv(c.name).replace("_", " "),
                "attributes": {words.field_sv(k): words.value_sv(v) for k, v in c.attributes.items()},
                "title": rule.title if rule else "", "changed": changed,
                "description": rule.description if rule else "",
                "reference": rule.reference if rule else "",
                "matched": [{"alias": m["alias"], "type": FACT_SV.get(m["type"], m["type"]),
                             "fields": [(words.field_sv(k), words.value_sv(v)) for k, v in m["fact"].items()
                                        if k not in _NOT_SHOWN]}
                            for m in c.matched],
            })
        return {"subject": subject[2], "conclusions": out}


# --- what would change if the rules changed ------------------------------------------------------

@dataclass
class RuleDiff:
    """One ruleset's changes: per subject, what it concluded before and after."""
    ruleset: str
    before_version: str
    after_version: str
    changes: list[dict]  # {subject, unit, before, after, before_rule, after_rule, what}
    unchanged: int
    rules_changed: list[str] = field(default_factory=list)  # rules whose own text differs
    note: str = ""


DIFF_ORDER = ("prioritering", "kontrolldesign", "planvalidering", "resultat", "bedomning", "arshjul")
_QUIET = {"reason", "message", "text"}  # reworded texts; the outcome and its attributes are what moves


def diff(app: App, old: Path, new: Path, year: int, unit: str | None = None,
         org_code: str | None = None) -> list[RuleDiff]:
    """Evaluate this year's data with two versions of the rules, a file or a whole folder, over every
    ruleset that differs: the risks that move in or out of the plan, a kontrollpunkt's frekvens,
    stickprov or metod, planvalidering's findings, the results' bedömningar, the units' colours and the
    årshjul's lateness. Per subject: the outcome, the deciding rule and the attributes."""
    olds, news = _rulesets_at(old), _rulesets_at(new)
    names = [n for n in DIFF_ORDER if n in olds and n in news] + \
        sorted(n for n in set(olds) & set(news) if n not in DIFF_ORDER)
    if not names:
        raise UserError("Filerna innehåller ingen regeluppsättning som finns på båda sidor.")
    with app.session() as s:
        org = app.org(s, org_code)
        units = [app.unit(s, org, unit)] if unit else list(org.units)
        out = []
        for name in names:
            same = olds[name].content_hash == news[name].content_hash
            if name == "kontrolldesign" and "prioritering" in olds and "prioritering" in news:
                same = same and olds["prioritering"].content_hash == news["prioritering"].content_hash
            if same:
                continue
            out.append(_diff_one(app, s, org, units, year, name, olds, news))
    return out


def _diff_one(app: App, s: Session, org: Organisation, units, year: int, name: str, olds, news) -> RuleDiff:
    before_rs, after_rs = olds[name], news[name]
    d = RuleDiff(name, before_rs.version, after_rs.version, [], 0)
    d.rules_changed = sorted(
        {r.id for r in after_rs.rules if r.id not in {x.id for x in before_rs.rules}
         or before_rs.rule_digest(r.id) != after_rs.rule_digest(r.id)}
        | {r.id for r in before_rs.rules if r.id not in {x.id for x in after_rs.rules}})
    base = _diff_facts(app, s, org, units, year, name)
    if not base:
        d.note = f"inga underlag för {year} att pröva {name} på"
        return d
    sides = []
    for rs, sets in ((before_rs, olds), (after_rs, news)):
        facts = list(base)
        if name == "kontrolldesign":  # the risks sent to granskning by that side's prioritering
            prio = sets.get("prioritering") or ruleset(app, "prioritering")
            facts += [c.as_fact() for c in engine.evaluate(prio, base, engine=app.settings.engine,
                                                           partition="unit").conclusions if c.name == "granskning"]
        ev = engine.evaluate(rs, facts, engine=app.settings.engine)
        got: dict[tuple, tuple] = {}
        for c in ev.conclusions:
            attrs = tuple(sorted((k, v) for k, v in c.attributes.items() if k not in _QUIET))
            got[(c.subject_type, c.subject_id, c.group or c.name)] = (c.name, c.rule_id, attrs)
        sides.append(got)
    labels = {(f["type"], _key_of(f)): f for f in base}
    if name == "resultat":  # a result is read by its kontrollpunkt's code
        codes = dict(s.execute(select(ControlPoint.id, ControlPoint.code).where(
            ControlPoint.id.in_({f["cp_id"] for f in base}))).all())
        labels = {k: f | {"cp_code": codes.get(f["cp_id"])} for k, f in labels.items()}
    subjects = {k[:2] for side in sides for k in side} | set(labels)
    for subject in sorted(subjects, key=lambda k: (k[0], str(_label(labels.get(k), k)))):
        keys = sorted({k for side in sides for k in side if k[:2] == subject}, key=str)
        changed = [(k, sides[0].get(k), sides[1].get(k)) for k in keys if sides[0].get(k) != sides[1].get(k)]
        if not changed:
            d.unchanged += 1
            continue
        f = labels.get(subject) or {}
        for k, b, a in changed:
            d.changes.append({"subject": _label(f, subject), "unit": f.get("unit") or f.get("code", ""),
                              "what": words.value_sv(k[2]).replace("_", " "),
                              "before": _shown(b, k[2]), "after": _shown(a, k[2]),
                              "before_rule": b[1] if b else "", "after_rule": a[1] if a else ""})
    return d


def _key_of(fact: dict) -> int:
    from ikcheck.engine.schema import FACT_TYPES

    return fact.get(FACT_TYPES[fact["type"]].key) if fact["type"] in FACT_TYPES else fact.get("id")


def _label(fact: dict | None, subject: tuple) -> str:
    if not fact:
        return f"{FACT_SV.get(subject[0], subject[0])} {subject[1]}"
    if fact["type"] == "risk":
        return f"{fact['code']} {fact.get('title') or ''}".strip()
    if fact["type"] == "result":
        return f"{fact.get('cp_code') or 'kontrollpunkt'} {words.value_sv(fact.get('period'))}"
    if fact["type"] in ("plan", "report"):
        period = f" {words.value_sv(fact['period'])}" if fact.get("period") else ""
        return f"{FACT_SV[fact['type']].capitalize()} {fact.get('unit')} {fact.get('year')}{period}"
    return str(fact.get("code") or fact.get("name") or subject[1])


def _shown(c: tuple | None, group: str) -> str:
    """An outcome as read: its name (unless it is its group's), then the attributes that decide
    something (frekvens, stickprov …)."""
    if c is None:
        return "–"
    name, _rule, attrs = c
    extra = ", ".join(words.value_sv(v) if k == "value" else f"{words.field_sv(k)} {words.value_sv(v)}"
                      for k, v in attrs)
    if name == group:
        return extra or words.value_sv(name).replace("_", " ")
    return words.value_sv(name).replace("_", " ") + (f" ({extra})" if extra else "")


def _diff_facts(app: App, s: Session, org: Organisation, units, year: int, name: str) -> list[dict]:
    """The facts each bundled ruleset reads, for the year: the same builders the services use."""
    from ikcheck import planning, results
    from ikcheck.reporting import datasets

    ids = {u.id for u in units}
    if name in ("prioritering", "kontrolldesign"):
        return [f for f in register.risk_facts(s, org, year) if f.get("unit") in {u.code for u in units}] \
            if len(ids) < len(org.units) else register.risk_facts(s, org, year)
    if name == "planvalidering":
        facts: list[dict] = []
        for u in units:
            plans = planning._plans(s, u, year)
            if plans:
                facts += planning.plan_facts(app, s, org, plans[-1])
        return facts
    if name == "resultat":
        return [f for u in units for p in org.settings.get("periods", ["halvar", "helar"])
                for f in results.result_facts(s, org, u, year, p)]
    if name == "bedomning":
        return [f for u in units if (f := datasets.unit_year_fact(app, s, org, u, year))]
    if name == "arshjul":
        return datasets.arshjul_facts(s, org, year, units)
    return []


def _rulesets_at(path: Path) -> dict[str, engine.Ruleset]:
    path = Path(path)
    if path.is_dir():
        return engine.load_dir(path)
    rs = engine.load(path)
    return {rs.name: rs}
