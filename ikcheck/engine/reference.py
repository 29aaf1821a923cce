"""The reference evaluator: the same compiled rules in plain Python over dicts.

Semantics match durable_rules as measured: a condition on a missing field is false (except
`exists: false`); one fact never binds two aliases of the same rule; an absence pattern holds when no
fact of its type satisfies its conditions given the bound aliases. Equality joins use a hash index.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ikcheck.engine.rules import Cond, Pattern, Rule

_CMP = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
        "gt": operator.gt, "ge": operator.ge}
_MISSING = object()


def cond_holds(c: Cond, fact: dict, bound: dict[str, dict]) -> bool:
    value = fact.get(c.field, _MISSING)
    if c.op == "exists":
        return (value is not _MISSING) == c.value
    if value is _MISSING:
        return False
    if c.op == "in":
        return any(_eq(value, v) for v in c.value)
    if c.op == "not_in":
        return all(not _eq(value, v) for v in c.value)
    if c.op == "contains":
        return isinstance(value, str) and c.value in value
    if c.ref:
        other = bound[c.ref[0]].get(c.ref[1], _MISSING)
        if other is _MISSING:
            return False
    else:
        other = c.value
    if c.op == "eq":
        return _eq(value, other)
    if c.op == "ne":
        return not _eq(value, other)
    try:
        return _CMP[c.op](value, other)
    except TypeError:
        return False


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


class _Index:
    """Facts by type, and lazily built hash indexes on (type, field) for equality joins."""

    def __init__(self, facts: list[dict]):
        self.by_type: dict[str, list[int]] = defaultdict(list)
        self.facts = facts
        for i, f in enumerate(facts):
            self.by_type[f.get("type")].append(i)
        self._hash: dict[tuple[str, str], dict[Any, list[int]]] = {}

    def candidates(self, p: Pattern, bound: dict[str, dict]) -> list[int]:
        for c in p.conds:
            if c.op == "eq" and c.ref:
                key = (p.fact, c.field)
                if key not in self._hash:
                    idx: dict[Any, list[int]] = defaultdict(list)
                    for i in self.by_type.get(p.fact, ()):
                        v = self.facts[i].get(c.field, _MISSING)
                        if v is not _MISSING:
                            idx[(type(v) is bool, v)].append(i)
                    self._hash[key] = idx
                other = bound[c.ref[0]].get(c.ref[1], _MISSING)
                if other is _MISSING:
                    return []
                return self._hash[key].get((type(other) is bool, other), [])
        return self.by_type.get(p.fact, [])


def matches(rule: Rule, facts: list[dict], index: _Index | None = None) -> Iterator[dict[str, int]]:
    """Every binding {alias: fact index} of the rule's positive patterns that satisfies it."""
    index = index or _Index(facts)
    patterns = list(rule.patterns)

    def walk(k: int, bound: dict[str, dict], used: dict[str, int]) -> Iterator[dict[str, int]]:
        if k == len(patterns):
            yield dict(used)
            return
        p = patterns[k]
        if p.absent:
            for i in index.candidates(p, bound):
                if all(cond_holds(c, facts[i], bound) for c in p.conds):
                    return
            yield from walk(k + 1, bound, used)
            return
        taken = set(used.values())
        for i in index.candidates(p, bound):
            if i in taken:
                continue
            f = facts[i]
            if all(cond_holds(c, f, bound) for c in p.conds):
                bound[p.alias] = f
                used[p.alias] = i
                yield from walk(k + 1, bound, used)
                del bound[p.alias]
                del used[p.alias]

    yield from walk(0, {}, {})


def _predicate(conds: tuple[Cond, ...]):
    """One function testing all of a pattern's literal conditions (the common, fast case)."""
    if not conds:
        return lambda fact: True
    if len(conds) == 1:
        c = conds[0]
        return lambda fact: cond_holds(c, fact, _NO_BINDING)
    return lambda fact: all(cond_holds(c, fact, _NO_BINDING) for c in conds)


_NO_BINDING: dict[str, dict] = {}


def evaluate(rules: list[Rule], facts: list[dict]) -> set[tuple[str, tuple[int, ...]]]:
    """(rule id, fact indices in alias order) for every firing."""
    index = _Index(facts)
    out: set[tuple[str, tuple[int, ...]]] = set()
    for rule in rules:
        if len(rule.patterns) == 1 and not any(c.ref for c in rule.patterns[0].conds):
            # a single pattern with literal conditions: a plain filter, no join machinery
            test = _predicate(rule.patterns[0].conds)
            rid = rule.id
            out.update((rid, (i,)) for i in index.by_type.get(rule.patterns[0].fact, ()) if test(facts[i]))
            continue
        aliases = [p.alias for p in rule.positives]
        for b in matches(rule, facts, index):
            out.add((rule.id, tuple(b[a] for a in aliases)))
    return out
