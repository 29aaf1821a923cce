"""The fact types rules may match, with their fields and types.

Facts are flat and small (durable_rules segfaults on facts with 253+ properties). Services build them;
rule files are validated against these declarations before anything runs. `id`, `sid` and `type` are
reserved for the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

INT, NUM, STR, BOOL = "heltal", "tal", "text", "ja/nej"


@dataclass(frozen=True)
class FactType:
    name: str
    key: str  # field identifying the subject (a conclusion's subject_id)
    fields: dict[str, str]
    description: str


FACT_TYPES: dict[str, FactType] = {
    f.name: f
    for f in [
        FactType("risk", "risk_id", {
            "risk_id": INT, "code": STR, "unit": STR, "unit_kind": STR, "process": STR,
            "title": STR, "category": STR, "source": STR, "legal": BOOL, "year": INT,
            "likelihood": INT, "impact": INT, "score": INT, "level": STR, "level_rank": INT,
            "implies": STR, "in_plan": BOOL, "residual_score": INT, "residual_level": STR, "spread": INT, "flagged": BOOL,
            "previous_score": INT, "earlier_deficiency": BOOL,
        }, "En risk med årets bedömning"),
        FactType("control_point", "cp_id", {
            "cp_id": INT, "code": STR, "plan_id": INT, "risk_id": INT, "unit": STR, "title": STR,
            "method": STR, "sample_size": INT, "frequency": STR, "owner": STR, "reporting": STR,
            "municipality_wide": BOOL, "ks_code": STR, "status": STR, "risk_level": STR,
        }, "En kontrollpunkt i en plan"),
        FactType("action", "action_id", {
            "action_id": INT, "code": STR, "risk_id": INT, "plan_id": INT, "status": STR,
        }, "En direktåtgärd i en plan"),
        FactType("ks_requirement", "req_id", {
            "req_id": INT, "code": STR, "title": STR, "year": INT,
        }, "En kommunövergripande kontrollpunkt som KS kräver i varje plan"),
        FactType("plan", "plan_id", {
            "plan_id": INT, "unit": STR, "unit_kind": STR, "year": INT, "version": INT,
            "status": STR, "decided": BOOL, "days_late": INT, "points": INT,
        }, "En plan för intern kontroll"),
        FactType("result", "result_id", {
            "result_id": INT, "cp_id": INT, "risk_id": INT, "unit": STR, "period": STR,
            "year": INT, "reported": BOOL, "performed": BOOL, "examined": INT, "deviations": INT,
            "deviation_rate": NUM, "assessment": STR, "performed_by": STR, "approved_by": STR,
            "same_person": BOOL, "previous_assessment": STR, "has_action": BOOL, "batch": INT,
        }, "Ett kontrollresultat för en period"),
        FactType("report", "report_id", {
            "report_id": INT, "unit": STR, "unit_kind": STR, "year": INT, "period": STR,
            "submitted": BOOL, "days_late": INT, "due_passed": BOOL,
        }, "En rapport (halvår eller helår) och om den lämnats in i tid"),
        FactType("unit", "unit_id", {
            "unit_id": INT, "code": STR, "name": STR, "kind": STR, "year": INT,
            "points": INT, "significant": INT, "minor": INT, "not_performed": INT, "not_reported": INT,
            "escalations": INT, "overdue_actions": INT, "late": INT, "performed_share": NUM,
        }, "En enhet med årets sammanfattade resultat"),
    ]
}

# Conclusions become facts for later rules (chaining). Their attributes are declared by the
# `then` blocks of the ruleset itself.
CONCLUSION = "conclusion"
CONCLUSION_FIELDS = {"name": STR, "subject_type": STR, "subject_id": INT, "rule_id": STR}


def python_type_ok(kind: str, value: object) -> bool:
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)
