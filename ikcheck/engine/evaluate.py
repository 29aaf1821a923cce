"""Evaluation: facts in, ordered conclusions out. Pure: no database.

Each round evaluates the ruleset over the facts plus the conclusions so far (chaining), until the
conclusions stop changing (a fixpoint). Within a `group`, one conclusion per subject stands: the one
from the rule with the lowest priority number (ties: the earlier rule in the file); the others are
kept as `shadowed`, so an explanation can say what else matched. With the durable engine every round
is cross-checked against the reference evaluator; any difference raises and nothing is returned.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ikcheck.engine import durable, reference
from ikcheck.engine.compile import assert_order
from ikcheck.engine.rules import Rule, Ruleset, render_attributes
from ikcheck.engine.schema import CONCLUSION, FACT_TYPES
from ikcheck.errors import UserError
from ikcheck.gcpause import paused_gc

ENGINES = ("durable", "python")


class EngineMismatch(RuntimeError):
    """durable_rules and the reference evaluator disagree: nothing may be stored."""


@dataclass(frozen=True)
class Conclusion:
    rule_id: str
    name: str
    subject_type: str
    subject_id: int
    attributes: dict[str, Any]
    matched: tuple[dict, ...]  # ({alias, type, fact}) for each positive pattern
    group: str | None
    key: tuple

    def as_fact(self) -> dict:
        fact = {"type": CONCLUSION, "name": self.name, "subject_type": self.subject_type,
                "subject_id": self.subject_id, "rule_id": self.rule_id}
        for k, v in self.attributes.items():
            if isinstance(v, (str, int, float, bool)) and k not in fact:
                fact[k] = v
        return fact


@dataclass
class Evaluation:
    ruleset: Ruleset
    engine: str
    facts: int
    rounds: int
    conclusions: list[Conclusion] = field(default_factory=list)
    shadowed: list[Shadowed] = field(default_factory=list)

    def by_subject(self, subject_type: str, subject_id: int) -> list[Conclusion]:
        return [c for c in self.conclusions
                if c.subject_type == subject_type and c.subject_id == subject_id]

    def named(self, name: str) -> list[Conclusion]:
        return [c for c in self.conclusions if c.name == name]


def check_facts(facts: list[dict]) -> list[dict]:
    """Flat, small, known types; None values dropped (a missing field never matches)."""
    out = []
    known = set(FACT_TYPES) | {CONCLUSION}
    scalar = (str, int, float, bool)
    for i, f in enumerate(facts):
        clean = {k: v for k, v in f.items() if v is not None}
        if clean.get("type") not in known:
            raise UserError(f"Fakta nr {i + 1} har okänd typ {clean.get('type')!r}.")
        if "id" in clean or "sid" in clean:
            raise UserError(f"Fakta nr {i + 1}: fälten id och sid är reserverade för regelmotorn.")
        for k, v in clean.items():
            if not isinstance(v, scalar):
                raise UserError(f"Fakta nr {i + 1}: fältet {k!r} måste vara ett enkelt värde.")
        out.append(clean)
    return out


@dataclass(frozen=True)
class Shadowed:
    """A firing that lost its group to a rule with higher priority."""

    rule_id: str
    subject_type: str
    subject_id: int
    winner: str


def evaluate(rs: Ruleset, facts: list[dict], engine: str = "durable",
             partition: str | None = None, cross_check: bool = True) -> Evaluation:
    """Evaluate a ruleset over facts. `partition` splits the batch by a fact field (facts without
    it go to every part); rules must then only join facts within a part."""
    with paused_gc():
        return _evaluate(rs, facts, engine, partition, cross_check)


def _evaluate(rs: Ruleset, facts: list[dict], engine: str, partition: str | None,
              cross_check: bool) -> Evaluation:
    if engine not in ENGINES:
        raise UserError(f"Okänd regelmotor {engine!r}; välj durable eller python.")
    if engine == "durable" and not durable.available():
        raise UserError("Regelmotorn durable_rules är inte installerad; sätt engine = \"python\".")
    base = check_facts(facts)
    order = assert_order(rs)
    rank = {t: i for i, t in enumerate(order)}
    groups: dict[Any, list[int]] = defaultdict(list)
    shared: list[int] = []
    for i, f in enumerate(base):
        if f["type"] not in rank:
            continue  # no rule looks at it
        if partition and partition in f:
            groups[f[partition]].append(i)
        else:
            shared.append(i)
    parts = [sorted(g + shared) for _, g in sorted(groups.items(), key=lambda kv: str(kv[0]))] or [shared]
    chains = any(p.fact == CONCLUSION for r in rs.rules for p in r.patterns)
    subject_pos = {r.id: [p.alias for p in r.positives].index(r.subject) for r in rs.rules}
    needed = _fields_used(rs)

    kept: dict[tuple, Conclusion] = {}
    where: dict[tuple, set[int]] = {}  # conclusion key -> the parts it fired in
    rounds = 0
    while True:
        rounds += 1
        if rounds > len(rs.rules) + 2:
            raise UserError(f"Reglerna i {rs.path} når ingen fast punkt (slutsatser som föder varandra i cirkel).")
        firings: dict[tuple, tuple] = {}  # key -> (rule, facts, part)
        fired_in: dict[tuple, set[int]] = defaultdict(set)
        derived = sorted(kept.values(), key=lambda c: c.key)
        for n, part in enumerate(parts):
            mine = [c for c in derived if n in where.get(c.key, ())]
            ids = [("f", i) for i in part] + [("c", c.key) for c in mine]
            batch = [base[i] for i in part] + [c.as_fact() for c in mine]
            perm = sorted(range(len(batch)), key=lambda k: rank[batch[k]["type"]])
            batch = [batch[k] for k in perm]
            ids = [ids[k] for k in perm]
            # durable_rules gets only the fields the rules read (its cost grows with fact size);
            # conclusions keep the whole facts for the explanation.
            lean = [f if f["type"] == CONCLUSION else {k: f[k] for k in needed[f["type"]] if k in f} for f in batch]
            for rule_id, idxs in _run(rs, lean, engine, cross_check):
                key = (rule_id, tuple(ids[i] for i in idxs))
                firings[key] = (rs.rule(rule_id), tuple(batch[i] for i in idxs))
                fired_in[key].add(n)
        winners, losers = _resolve_groups(rs, firings, subject_pos)
        new_kept = {k: kept.get(k) or _conclusion(rs, k, *firings[k]) for k in winners}
        done = not chains or set(new_kept) == set(kept)
        kept, where = new_kept, fired_in
        if done:
            break
    conclusions = sorted(kept.values(), key=lambda c: _output_order(rs, c))
    return Evaluation(rs, engine, len(base), rounds, conclusions, losers)


def _fields_used(rs: Ruleset) -> dict[str, set[str]]:
    """Per fact type, the fields any rule reads (conditions, joins, keys): all a batch needs."""
    aliases_by_rule = {r.id: {p.alias: p.fact for p in r.patterns} for r in rs.rules}
    needed: dict[str, set[str]] = defaultdict(lambda: {"type"})
    for name, ft in FACT_TYPES.items():
        needed[name].add(ft.key)
    for r in rs.rules:
        for p in r.patterns:
            for c in p.conds:
                needed[p.fact].add(c.field)
                if c.ref:
                    needed[aliases_by_rule[r.id][c.ref[0]]].add(c.ref[1])
    return needed


def _output_order(rs: Ruleset, c: Conclusion) -> tuple:
    """Rule priority and file order, then subject, then the matched facts' own keys: independent
    of the order the facts were given in."""
    r = rs.rule(c.rule_id)
    matched = tuple(
        (m["type"], str(m["fact"].get(FACT_TYPES[m["type"]].key) if m["type"] in FACT_TYPES
                        else (m["fact"]["subject_type"], m["fact"]["subject_id"], m["fact"]["rule_id"])))
        for m in c.matched
    )
    return (r.priority, r.order, c.subject_type, c.subject_id, matched)


def _subject(rule: Rule, facts: tuple, pos: int) -> tuple[str, int]:
    subject = facts[pos]
    if subject["type"] == CONCLUSION:
        return subject["subject_type"], subject["subject_id"]
    return subject["type"], subject[FACT_TYPES[subject["type"]].key]


def _rank(rs: Ruleset, rule_id: str, key: tuple) -> tuple:
    r = rs.rule(rule_id)
    return (r.priority, r.order, key)


def _resolve_groups(rs: Ruleset, firings: dict[tuple, tuple], subject_pos: dict[str, int]):
    """Winners: every firing outside a group, and per (group, subject) the best-ranked one."""
    winners: list[tuple] = []
    best: dict[tuple, tuple] = {}
    best_rank: dict[tuple, tuple] = {}
    members: dict[tuple, list[tuple]] = defaultdict(list)
    ranks = {r.id: (r.priority, r.order) for r in rs.rules}
    for key, (rule, facts) in firings.items():
        if rule.group is None:
            winners.append(key)
            continue
        slot = (rule.group, *_subject(rule, facts, subject_pos[rule.id]))
        members[slot].append(key)
        rank = (ranks[key[0]], key)
        if slot not in best or rank < best_rank[slot]:
            best[slot], best_rank[slot] = key, rank
    winners.extend(best.values())
    losers = [
        Shadowed(k[0], slot[1], slot[2], best[slot][0])
        for slot, keys in sorted(members.items(), key=lambda kv: str(kv[0])) for k in sorted(keys)
        if k != best[slot]
    ]
    return winners, losers


def _conclusion(rs: Ruleset, key: tuple, rule: Rule, facts: tuple) -> Conclusion:
    positives = rule.positives
    bound = {p.alias: f for p, f in zip(positives, facts)}
    subject_type, subject_id = _subject(rule, facts, [p.alias for p in positives].index(rule.subject))
    return Conclusion(
        rule_id=rule.id, name=rule.conclusion, subject_type=subject_type, subject_id=subject_id,
        attributes=render_attributes(rule, rs.parameters, bound),
        matched=tuple({"alias": p.alias, "type": f["type"], "fact": f} for p, f in zip(positives, facts)),
        group=rule.group, key=key,
    )


def _run(rs: Ruleset, batch: list[dict], engine: str, cross_check: bool) -> set:
    if engine == "python":
        return reference.evaluate(rs.rules, batch)
    fired = durable.compiled(rs).run(batch)
    if cross_check:
        expected = reference.evaluate(rs.rules, batch)
        if fired != expected:
            missing = sorted(expected - fired)[:3]
            extra = sorted(fired - expected)[:3]
            raise EngineMismatch(
                f"Regelmotorn och referensutvärderingen är oeniga för {rs.label}: "
                f"{len(expected - fired)} träffar saknas (t.ex. {missing}), "
                f"{len(fired - expected)} oväntade (t.ex. {extra}). Ingenting har sparats."
            )
    return fired
