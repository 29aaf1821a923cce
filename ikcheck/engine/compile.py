"""Validated rules -> durable_rules ruleset JSON, and the assert order that keeps absence rules right.

Rule names in the engine are positional (`r0000`, …) so no id a kommun writes can break the C parser;
`rule_names` maps them back. Every rule gets `cap` so one action receives a list of matches, and a
sentinel rule with the lowest priority ends every batch (see ENGINE-NOTES.md).
"""

from __future__ import annotations

from typing import Any

from ikcheck.engine.rules import Cond, Pattern, Rule, Ruleset
from ikcheck.errors import Problem, ValidationFailed

SENTINEL_TYPE = "$end"
SENTINEL_RULE = "zz_end"
CAP = 1000
_OPS = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


def _operand(c: Cond) -> Any:
    return {c.ref[0]: c.ref[1]} if c.ref else c.value


def cond_json(c: Cond) -> dict:
    if c.op == "eq":
        return {c.field: _operand(c)}
    if c.op in _OPS:
        return {_OPS[c.op]: {c.field: _operand(c)}}
    if c.op == "in":
        alts = [{c.field: v} for v in c.value]
        return alts[0] if len(alts) == 1 else {"$or": alts}
    if c.op == "not_in":
        parts = [{"$neq": {c.field: v}} for v in c.value]
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if c.op == "contains":
        return {"$mt": {c.field: f".*{c.value}.*"}}
    if c.op == "exists":
        return {"$ex" if c.value else "$nex": {c.field: 1}}
    raise ValueError(c.op)


def pattern_json(p: Pattern) -> dict:
    expr = {"$and": [{"type": p.fact}, *(cond_json(c) for c in p.conds)]}
    return {f"{p.alias}$not" if p.absent else p.alias: expr}


def compile_ruleset(rs: Ruleset) -> tuple[dict, dict[str, Rule]]:
    definition: dict[str, dict] = {}
    names: dict[str, Rule] = {}
    for i, rule in enumerate(rs.rules):
        name = f"r{i:04d}"
        names[name] = rule
        definition[name] = {
            "all": [pattern_json(p) for p in rule.patterns],
            "pri": rule.priority,
            "cap": CAP,
        }
    lowest = max((r.priority for r in rs.rules), default=0) + 1_000_000
    definition[SENTINEL_RULE] = {"all": [{"m": {"type": SENTINEL_TYPE}}], "pri": lowest}
    return definition, names


def assert_order(rs: Ruleset) -> list[str]:
    """Fact types ordered so every type used in an absence pattern is asserted before the types it
    blocks (durable_rules does not cancel an activation when the blocker arrives later)."""
    before: dict[str, set[str]] = {}
    types: set[str] = set()
    problems: list[Problem] = []
    for rule in rs.rules:
        positives = {p.fact for p in rule.positives}
        types |= {p.fact for p in rule.patterns}
        for p in rule.patterns:
            if p.absent:
                if p.fact in positives:
                    problems.append(Problem(
                        f"regel {rule.id}: absent-mönstret på {p.fact} har samma faktatyp som ett "
                        "positivt mönster i regeln; det kan inte utvärderas säkert",
                        file=rs.path, line=rule.line, field="when.absent",
                        expected="räkna fram en flagga i faktan i stället"))
                for pos in positives:
                    before.setdefault(pos, set()).add(p.fact)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(t: str, chain: list[str]) -> None:
        if state.get(t) == 2:
            return
        if state.get(t) == 1:
            problems.append(Problem(
                f"absent-mönstren bildar en cirkel mellan faktatyperna {' → '.join(chain + [t])}",
                file=rs.path, field="when.absent"))
            return
        state[t] = 1
        for blocker in sorted(before.get(t, ())):
            visit(blocker, chain + [t])
        state[t] = 2
        order.append(t)

    for t in sorted(types):
        visit(t, [])
    if problems:
        raise ValidationFailed(f"Regelfilen {rs.path} har fel; ingenting har körts.", problems)
    return order
