"""The reference evaluator: the same compiled rules in plain Python over dicts.

Semantics match durable_rules as measured: a condition on a missing field is false (except
`exists: false`); one fact never binds two aliases of the same rule; an absence pattern holds when no
fact of its type satisfies its conditions given the bound aliases. Equality joins use a hash index.

`cond_holds` is the specification, one condition at a time. Because every durable evaluation is
cross-checked against this evaluator, it must cost little beside durable_rules itself: each pattern's
conditions are therefore turned, once per ruleset, into one generated Python predicate with the same
semantics (a test compares the two on random facts). A comparison between incomparable types falls
back to the specification, which calls it false.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from ikcheck.engine.rules import Cond, Pattern, Rule, built_once

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


# --- generated predicates -------------------------------------------------------------------------

_SYMBOL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


class _Source:
    """Python source for one pattern's conditions; literals that have no safe repr become globals."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"M": _MISSING, "_eq": _eq}
        self.n = 0

    def const(self, value: Any) -> str:
        if type(value) in (str, int, bool) or value is None:
            return repr(value)
        name = f"K{len(self.names)}"
        self.names[name] = value
        return name

    def equal(self, var: str, lit: Any) -> str:
        """`_eq(var, lit)` for a known literal: a bool only equals itself, never 0 or 1."""
        if isinstance(lit, bool):
            return f"{var} is {lit!r}"
        if isinstance(lit, str):
            return f"{var} == {lit!r}"
        return f"({var} == {self.const(lit)} and {var}.__class__ is not bool)"

    def cond(self, c: Cond) -> str:
        self.n += 1
        v = f"v{self.n}"
        get = f"({v} := f.get({c.field!r}, M))"
        if c.op == "exists":
            return f"{get} is {'not ' if c.value else ''}M"
        if c.ref:  # a join: the other value comes from a fact bound earlier in the rule
            o = f"o{self.n}"
            other = f"({o} := b[{c.ref[0]!r}].get({c.ref[1]!r}, M))"
            test = {"eq": f"_eq({v}, {o})", "ne": f"not _eq({v}, {o})"}.get(c.op) or f"{v} {_SYMBOL[c.op]} {o}"
            return f"{get} is not M and {other} is not M and {test}"
        if c.op == "eq":
            return self.equal(get, c.value) if isinstance(c.value, (bool, str)) else \
                f"{get} is not M and {self.equal(v, c.value)}"
        if c.op == "ne":
            return f"{get} is not M and not ({self.equal(v, c.value)})"
        if c.op in ("in", "not_in"):
            alts = " or ".join(self.equal(v, x) for x in c.value) or "False"
            return f"{get} is not M and {'not ' if c.op == 'not_in' else ''}({alts})"
        if c.op == "contains":
            return f"isinstance({get}, str) and {c.value!r} in {v}"
        return f"{get} is not M and {v} {_SYMBOL[c.op]} {self.const(c.value)}"


def _generated(p: Pattern, code: str, name: str) -> Callable:
    """Compile `code` (which uses {expr}, the pattern's conditions as one expression, and _slow,
    the specification) and return the function called `name`."""
    src = _Source()
    expr = " and ".join(f"({src.cond(c)})" for c in p.conds)
    conds = p.conds
    src.names["_slow"] = lambda f, b: all(cond_holds(c, f, b) for c in conds)
    exec(compile(code.format(expr=expr), f"<mönster {p.alias}>", "exec"), src.names)  # noqa: S102 - our own source
    return src.names[name]


def pattern_predicate(p: Pattern) -> Callable[[dict, dict], bool]:
    """pred(fact, bound) ≡ all(cond_holds(c, fact, bound) for c in p.conds), as one function."""
    if not p.conds:
        return lambda f, b: True
    return _generated(p, "def pred(f, b):\n"
                         "    try:\n        return bool({expr})\n"
                         "    except TypeError:\n        return _slow(f, b)\n", "pred")


def _filter(p: Pattern) -> Callable[[list[dict], list[int]], list[int]]:
    """The indices of the facts that satisfy a pattern without joins: a loop, no calls per fact."""
    if not p.conds:
        return lambda facts, idx: list(idx)
    return _generated(p, "def scan(facts, idx):\n    out = []\n    for i in idx:\n        f = facts[i]\n"
                         "        try:\n            if {expr}:\n                out.append(i)\n"
                         "        except TypeError:\n            if _slow(f, {{}}):\n                out.append(i)\n"
                         "    return out\n", "scan")


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


class CompiledRule:
    def __init__(self, rule: Rule):
        self.rule = rule
        self.id = rule.id
        self.patterns = rule.patterns
        self.preds = [pattern_predicate(p) for p in rule.patterns]
        self.aliases = [p.alias for p in rule.positives]
        single = len(rule.patterns) == 1 and not any(c.ref for c in rule.patterns[0].conds)
        self.scan = _filter(rule.patterns[0]) if single else None
        # two positive patterns (a fact and what it joins): a plain double loop, no recursion
        self.pair = len(rule.patterns) == 2 and not any(p.absent for p in rule.patterns)

    def matches(self, facts: list[dict], index: _Index) -> Iterator[dict[str, int]]:
        """Every binding {alias: fact index} of the rule's positive patterns that satisfies it."""
        patterns, preds = self.patterns, self.preds

        def walk(k: int, bound: dict[str, dict], used: dict[str, int]) -> Iterator[dict[str, int]]:
            if k == len(patterns):
                yield dict(used)
                return
            p, pred = patterns[k], preds[k]
            if p.absent:
                for i in index.candidates(p, bound):
                    if pred(facts[i], bound):
                        return
                yield from walk(k + 1, bound, used)
                return
            taken = set(used.values())
            for i in index.candidates(p, bound):
                if i in taken:
                    continue
                f = facts[i]
                if pred(f, bound):
                    bound[p.alias] = f
                    used[p.alias] = i
                    yield from walk(k + 1, bound, used)
                    del bound[p.alias]
                    del used[p.alias]

        yield from walk(0, {}, {})

    def firings(self, facts: list[dict], index: _Index) -> Iterator[tuple[str, tuple[int, ...]]]:
        rid = self.id
        if self.scan is not None:  # a single pattern with literal conditions: a plain filter
            return ((rid, (i,)) for i in self.scan(facts, index.by_type.get(self.patterns[0].fact, ())))
        if self.pair:
            return self._pairs(facts, index)
        aliases = self.aliases
        return ((rid, tuple(b[a] for a in aliases)) for b in self.matches(facts, index))

    def _pairs(self, facts: list[dict], index: _Index) -> list[tuple[str, tuple[int, int]]]:
        (p0, p1), (q0, q1), rid = self.patterns, self.preds, self.id
        out = []
        for i in index.candidates(p0, {}):
            f = facts[i]
            bound = {p0.alias: f}
            if q0(f, bound):
                out.extend((rid, (i, j)) for j in index.candidates(p1, bound) if j != i and q1(facts[j], bound))
        return out


class Reference:
    """A ruleset's rules with their generated predicates, built once and reused."""

    def __init__(self, rules: list[Rule]):
        self.rules = [CompiledRule(r) for r in rules]

    def run(self, facts: list[dict]) -> set[tuple[str, tuple[int, ...]]]:
        """(rule id, fact indices in alias order) for every firing."""
        index = _Index(facts)
        out: set[tuple[str, tuple[int, ...]]] = set()
        for rule in self.rules:
            out.update(rule.firings(facts, index))
        return out


def compiled(rs) -> Reference:
    """The reference evaluator for this exact ruleset content, built once per process."""
    return built_once("reference", rs, lambda r: Reference(r.rules))


def evaluate(rules: list[Rule], facts: list[dict]) -> set[tuple[str, tuple[int, ...]]]:
    """(rule id, fact indices in alias order) for every firing (compiles the rules each call)."""
    return Reference(rules).run(facts)
