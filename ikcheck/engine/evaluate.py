"""Evaluation: facts in, ordered conclusions out. Pure: no database.

Each round evaluates the ruleset over the facts plus the conclusions so far (chaining), until the
conclusions stop changing (a fixpoint). Within a `group`, one conclusion per subject stands: the one
from the rule with the lowest priority number (ties: the earlier rule in the file); the others are
kept as `shadowed`, so an explanation can say what else matched. With the durable engine every round
is cross-checked against the reference evaluator; any difference raises and nothing is returned.
Where the rules look at one subject at a time, subjects they cannot tell apart are evaluated once
(`_evaluate_alike`).
"""

from __future__ import annotations

import dataclasses
import functools
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field
from typing import Any

from ikcheck.engine import durable, reference
from ikcheck.engine.compile import assert_order
from ikcheck.engine.rules import Cond, Ruleset, attribute_renderer, built_once
from ikcheck.engine.schema import CONCLUSION, FACT_TYPES
from ikcheck.errors import UserError
from ikcheck.gcpause import paused_gc

ENGINES = ("durable", "python")
# Facts per engine batch when every rule looks at one fact. durable_rules' cost per fact grows with
# the batch: measured on prioritering, batches of 100–2,000 cost about the same per fact, 5,000 half
# as much again and 20,000 nearly twice as much.
CHUNK = 1000


class EngineMismatch(RuntimeError):
    """durable_rules and the reference evaluator disagree: nothing may be stored."""


@dataclass(slots=True)
class Conclusion:
    rule_id: str
    name: str
    subject_type: str
    subject_id: int
    attributes: dict[str, Any]
    facts: tuple[dict, ...]  # the matched facts, one per positive pattern
    aliases: tuple[str, ...]  # the patterns' aliases, in the same order
    group: str | None
    key: tuple

    @property
    def matched(self) -> tuple[dict, ...]:
        """({alias, type, fact}) for each positive pattern: what an explanation shows."""
        return tuple({"alias": a, "type": f["type"], "fact": f} for a, f in zip(self.aliases, self.facts))

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
    # (group, subject type, subject id, rule, winning rule) per firing that lost its group
    losers: list[tuple] = field(default_factory=list, repr=False)

    @functools.cached_property
    def shadowed(self) -> list[Shadowed]:
        """The firings that lost their group, by subject and best rank first. Built when asked for:
        a large run has several per subject and nothing stores them."""
        losers = list(self.losers)  # in rank order; the sort below is stable
        try:
            losers.sort(key=itemgetter(0, 1, 2))
        except TypeError:  # subject ids of mixed types (hand-written test facts)
            losers.sort(key=lambda x: str(x[:3]))
        return [Shadowed(rule, subject_type, sid, won) for _, subject_type, sid, rule, won in losers]

    def by_subject(self, subject_type: str, subject_id: int) -> list[Conclusion]:
        return [c for c in self.conclusions
                if c.subject_type == subject_type and c.subject_id == subject_id]

    def named(self, name: str) -> list[Conclusion]:
        return [c for c in self.conclusions if c.name == name]


_SCALARS = frozenset({str, int, float, bool})
_NONE = type(None)
_MISSING = object()


def check_facts(facts: list[dict]) -> list[dict]:
    """Flat, small, known types; None values dropped (a missing field never matches)."""
    out = []
    known = set(FACT_TYPES) | {CONCLUSION}
    for i, f in enumerate(facts):
        kinds = set(map(type, f.values()))
        if _NONE in kinds:
            f = {k: v for k, v in f.items() if v is not None}
            kinds.discard(_NONE)
        if f.get("type") not in known:
            raise UserError(f"Fakta nr {i + 1} har okänd typ {f.get('type')!r}.")
        if "id" in f or "sid" in f:
            raise UserError(f"Fakta nr {i + 1}: fälten id och sid är reserverade för regelmotorn.")
        if not kinds <= _SCALARS:  # subclasses (numpy's float64) pass; lists and dicts do not
            bad = next((k for k, v in f.items() if not isinstance(v, (str, int, float, bool))), None)
            if bad is not None:
                raise UserError(f"Fakta nr {i + 1}: fältet {bad!r} måste vara ett enkelt värde.")
        out.append(f)
    return out


@dataclass(slots=True)
class Shadowed:
    """A firing that lost its group to a rule with higher priority."""

    rule_id: str
    subject_type: str
    subject_id: int
    winner: str


def evaluate(rs: Ruleset, facts: list[dict], engine: str = "durable",
             partition: str | None = None, cross_check: bool = True) -> Evaluation:
    """Evaluate a ruleset over facts. `partition` splits the batch by a fact field (facts without
    it go to every part); rules must then only join facts within a part. A ruleset whose rules each
    look at one fact is evaluated in chunks of about CHUNK facts instead, each subject's facts in one
    chunk (exact for it: no rule looks at two facts, and a group is decided per subject)."""
    with paused_gc() as settle:
        return _evaluate(rs, facts, engine, partition, cross_check, settle)


class _Prepared:
    """What evaluation needs to know about a ruleset, worked out once per content hash."""

    def __init__(self, rs: Ruleset):
        self.order = assert_order(rs)
        self.rank = {t: i for i, t in enumerate(self.order)}
        self.chains = any(p.fact == CONCLUSION for r in rs.rules for p in r.patterns)
        # Rules that read no conclusion fire the same in every round: after the first round only
        # the rules that read conclusions are evaluated again (`chained`, a ruleset of their own),
        # fed only the conclusions their patterns can match (`feeds`: names; None for any).
        chained = [r for r in rs.rules if any(p.fact == CONCLUSION for p in r.patterns)]
        self.stable = frozenset(r.id for r in rs.rules) - {r.id for r in chained}
        self.chained = dataclasses.replace(rs, rules=chained, content_hash=f"{rs.content_hash}:chained") \
            if chained and self.stable else rs
        self.feeds = _names_read(chained)
        # every rule looks at one fact at a time: any split of the facts gives the same firings
        self.independent = all(len(r.patterns) == 1 for r in rs.rules)
        # per fact type, the fields the rules read and a picker for them (lean facts for the engine)
        used = _fields_used(rs)
        self.alike = _deciding_fields(rs, used)
        self.needed = {}
        for t in self.order:
            fields = tuple(sorted(used[t]))
            self.needed[t] = (fields, itemgetter(*fields) if len(fields) > 1 else lambda f, k=fields[0]: (f[k],))
        # per rule: the rule, the subject's position among the matched facts, the matched facts'
        # aliases, the attribute renderer and the subject's (fact type, key field), None for a conclusion
        self.rules = {
            r.id: (r, [p.alias for p in r.positives].index(r.subject),
                   tuple(p.alias for p in r.positives), attribute_renderer(r, rs.parameters), _subject_of(r))
            for r in rs.rules
        }
        # rules from the best rank to the worst, each with None (no group) or (group, subject
        # position, the subject's (fact type, key field) or None for a conclusion)
        self.ranked = []
        for r in sorted(rs.rules, key=lambda r: (r.priority, r.order)):
            self.ranked.append((r.id, None if r.group is None else (r.group, self.rules[r.id][1], _subject_of(r))))


def _prepare(rs: Ruleset) -> _Prepared:
    return built_once("evaluation", rs, _Prepared)


def _evaluate(rs: Ruleset, facts: list[dict], engine: str, partition: str | None,
              cross_check: bool, settle: Callable[[], None]) -> Evaluation:
    if engine not in ENGINES:
        raise UserError(f"Okänd regelmotor {engine!r}; välj durable eller python.")
    if engine == "durable" and not durable.available():
        raise UserError("Regelmotorn durable_rules är inte installerad; sätt engine = \"python\".")
    base = check_facts(facts)
    prep = _prepare(rs)
    alike = _alike(prep, base) if prep.alike else None
    if alike is not None:
        return _evaluate_alike(rs, prep, base, alike, engine, partition, cross_check, settle)
    return _evaluate_all(rs, prep, base, engine, partition, cross_check, settle)


def _evaluate_all(rs: Ruleset, prep: _Prepared, base: list[dict], engine: str, partition: str | None,
                  cross_check: bool, settle: Callable[[], None]) -> Evaluation:
    rank, needed = prep.rank, prep.needed
    # durable_rules gets only the fields the rules read (its cost grows with fact size); the
    # conclusions keep the whole facts for the explanation. Facts no rule looks at are left out.
    fact_rank = [rank.get(f["type"], -1) for f in base]
    lean: list[dict | None] = [None] * len(base)
    for t, (fields, pick) in needed.items():
        r = rank[t]
        for i, f in enumerate(base):
            if fact_rank[i] == r:
                try:
                    lean[i] = f if t == CONCLUSION else dict(zip(fields, pick(f)))
                except KeyError:  # a missing field never matches, so it is simply left out
                    lean[i] = {k: f[k] for k in fields if k in f}
    if prep.independent:
        # Small batches are cheaper per fact for durable_rules and keep the bookkeeping in the CPU's
        # caches, so such rulesets are evaluated chunk by chunk, each chunk to the end. Every fact
        # about one subject goes in the same chunk, so a group is still decided over all of them.
        parts = [[part] for part in _subject_chunks(base, fact_rank)]
    else:
        groups: dict[Any, list[int]] = defaultdict(list)
        shared: list[int] = []
        for i, f in enumerate(base):
            if fact_rank[i] < 0:
                continue
            if partition and partition in f:
                groups[f[partition]].append(i)
            else:
                shared.append(i)
        parts = [sorted(g + shared) for _, g in sorted(groups.items(), key=lambda kv: str(kv[0]))] or [shared]
        # Parts that share no facts, each subject within one part, are independent: each is
        # evaluated to the end in turn, like the chunks above. Otherwise all go round together.
        parts = [[part] for part in parts] if not shared and _confined(base, parts) else [parts]
    kept: list[Conclusion] = []
    losers: list[tuple] = []
    rounds = 0
    for chunk in parts:
        # blocker types first (compile.assert_order); a stable sort keeps the input order within a type
        chunk = [sorted(part, key=fact_rank.__getitem__) for part in chunk]
        found, lost, n = _fixpoint(rs, prep, base, lean, fact_rank, chunk, engine, cross_check)
        kept.extend(found)
        losers.extend(lost)
        rounds = max(rounds, n)
        if len(parts) > 1:
            settle()  # the chunk's objects, while they are still in the CPU's caches
    return Evaluation(rs, engine, len(base), rounds, _in_output_order(prep, kept), losers)


# --- subjects that look alike to the rules ---------------------------------------------------------
# In a ruleset whose every rule is about one fact of the same type and reads nothing but that fact and
# the conclusions about it, a subject's firings depend only on the values its rules can see. Subjects
# whose facts agree on those values fire the same rules; each such class is evaluated once, through the
# engine and cross-checked as always, and every member gets the class's firings made from its own facts.
# A year's results have a few hundred such classes however many rows there are.

def _deciding_fields(rs: Ruleset, used: dict[str, set[str]]) -> tuple[str, str, tuple[str, ...]] | None:
    """(fact type, its key, the fields that decide a subject's firings) when the ruleset is local:
    every rule's subject is a fact of one type T, every other pattern is a conclusion joined to the
    subject by `subject_id` = the subject's key, and nothing else reads the key or a conclusion's
    subject. The deciding fields are those the conditions read, and those the conclusions' attributes
    are made from where a condition reads that attribute. None when the ruleset is not local."""
    subjects = {r.subject_fact() for r in rs.rules}
    if len(subjects) != 1 or CONCLUSION in subjects:
        return None
    fact = subjects.pop()
    key = FACT_TYPES[fact].key
    read_attributes: set[str] = set()  # the conclusion fields conditions read, beyond what each rule fixes
    for r in rs.rules:
        join = Cond("subject_id", "eq", None, (r.subject, key))
        for p in r.patterns:
            own = p.alias == r.subject
            if own and (p.absent or any(c.field == key for c in p.conds)):
                return None  # the subject's own id decides something
            if not own and (p.fact != CONCLUSION or join not in p.conds):
                return None  # a fact not tied to the subject
            for c in p.conds:
                if c == join:
                    continue
                if c.field == "subject_id" or (c.ref and c.ref[1] in (key, "subject_id")):
                    return None  # an id decides something
                if not own:
                    read_attributes.add(c.field)
                if c.ref and c.ref[0] != r.subject:
                    read_attributes.add(c.ref[1])
    deciding = set(used[fact]) - {key}
    read_attributes -= {"type", "name", "rule_id", "subject_type", "subject_id"}  # the same for every subject
    for r in rs.rules:
        for name, spec in r.attributes:
            if name not in read_attributes or not isinstance(spec, tuple) or not spec:
                continue
            sources = [spec[1:]] if spec[0] == "ref" else [part for part in spec[2] if not isinstance(part, str)
                                                           and len(part) == 2] if spec[0] == "tpl" else []
            for alias, field_name in sources:
                if alias != r.subject or field_name == key:
                    return None  # made from another conclusion, or from the key: evaluate every subject
                deciding.add(field_name)
    return fact, key, tuple(sorted(deciding))


def _alike(prep: _Prepared, base: list[dict]) -> list[list[int]] | None:
    """The facts in classes of subjects that look alike to the rules, each class's first fact first;
    None when classes do not apply (a fact of another type the rules read, such as a conclusion given
    as input; a subject given twice) or would save nothing."""
    fact, key, deciding = prep.alike
    classes: dict[tuple, list[int]] = {}
    subjects: set = set()
    for i, f in enumerate(base):
        t = f["type"]
        if t != fact:
            if t in prep.rank:
                return None
            continue
        subject = f.get(key, _MISSING)
        if subject is _MISSING or subject in subjects:
            return None
        subjects.add(subject)
        # the type is part of the value: durable_rules and the reference tell 1 from True and 1.0
        seen = tuple([(type(v), v) if (v := f.get(k, _MISSING)) is not _MISSING else _MISSING for k in deciding])
        same = classes.get(seen)
        if same is None:
            classes[seen] = [i]
        else:
            same.append(i)
    if len(classes) == len(subjects):
        return None
    return list(classes.values())


def _evaluate_alike(rs: Ruleset, prep: _Prepared, base: list[dict], classes: list[list[int]], engine: str,
                    partition: str | None, cross_check: bool, settle: Callable[[], None]) -> Evaluation:
    """Evaluate the first subject of every class, then give each member the same firings over its own
    facts: its own subject id, its own attributes, its own matched facts."""
    firsts = [base[same[0]] for same in classes]
    ev = _evaluate_all(rs, prep, firsts, engine, partition, cross_check, settle)
    key = prep.alike[1]
    position = {f[key]: n for n, f in enumerate(firsts)}
    found: list[list[Conclusion]] = [[] for _ in classes]
    for c in ev.conclusions:
        found[position[c.subject_id]].append(c)
    lost: list[list[tuple]] = [[] for _ in classes]
    for loser in ev.losers:
        lost[position[loser[2]]].append(loser)
    conclusions: list[Conclusion] = []
    losers: list[tuple] = []
    for same, theirs, lost_here in zip(classes, found, lost):
        for i in same:
            conclusions += _made_for(prep, theirs, base[i], i)
            sid = base[i][key]
            losers.extend([(g, t, sid, r, won) for g, t, _, r, won in lost_here])
    return Evaluation(rs, engine, len(base), ev.rounds, _in_output_order(prep, conclusions), losers)


def _made_for(prep: _Prepared, theirs: list[Conclusion], f: dict, i: int) -> list[Conclusion]:
    """The class's first subject's conclusions (`theirs`) made again for the subject whose fact is
    base[i] (`f`): the same rules and firings, with its own facts, attributes and subject id. A
    conclusion a later rule matched is made first, so the later one matches this subject's own."""
    by_key = {c.key: c for c in theirs}
    made: dict[tuple, Conclusion] = {}  # the first's conclusion key -> this subject's conclusion
    return [_make(prep, c, by_key, made, f, i) for c in theirs]


def _make(prep: _Prepared, c: Conclusion, by_key: dict[tuple, Conclusion], made: dict[tuple, Conclusion],
          f: dict, i: int) -> Conclusion:
    """`c` made again for the subject of base[i] (_made_for). A function, not a closure: a recursive
    closure is a reference cycle, and 100k of them (with every conclusion they reach) were left to the
    cyclic collector, 0.75 s at the end of a 100k-row import."""
    mine = made.get(c.key)
    if mine is None:
        ids, matched = [], []
        for x in c.key[1]:
            if x[0] == "f":
                ids.append(("f", i))
                matched.append(f)
            else:
                read = _make(prep, by_key[x[1]], by_key, made, f, i)
                ids.append(("c", read.key))
                matched.append(read.as_fact())
        rule, pos, aliases, render, subject = prep.rules[c.rule_id]
        matched = tuple(matched)
        mine = made[c.key] = Conclusion(rule.id, rule.conclusion, subject[0], matched[pos][subject[1]],
                                        render(matched), matched, aliases, rule.group, (c.rule_id, tuple(ids)))
    return mine


def _subject_key(f: dict, i: int) -> tuple:
    """What a fact is about: (type, key), a conclusion's subject, or its own position if it has no key."""
    t = f["type"]
    return (f.get("subject_type"), f.get("subject_id")) if t == CONCLUSION else (t, f.get(FACT_TYPES[t].key, i))


def _confined(base: list[dict], parts: list[list[int]]) -> bool:
    """Whether every subject's facts are within one part."""
    home: dict[tuple, int] = {}
    for n, part in enumerate(parts):
        for i in part:
            if home.setdefault(_subject_key(base[i], i), n) != n:
                return False
    return True


def _subject_chunks(base: list[dict], fact_rank: list[int]) -> list[list[int]]:
    """The facts any rule reads, in chunks of about CHUNK, every fact about one subject in one chunk."""
    if len(base) <= CHUNK:  # one chunk: no need to find where each subject's facts are
        return [[i for i, r in enumerate(fact_rank) if r >= 0]]
    by_subject: dict[tuple, list[int]] = {}
    for i, f in enumerate(base):
        if fact_rank[i] < 0:
            continue
        subject = _subject_key(f, i)
        same = by_subject.get(subject)
        if same is None:
            by_subject[subject] = [i]
        else:
            same.append(i)
    chunks: list[list[int]] = [[]]
    for same in by_subject.values():  # in order of each subject's first fact
        if len(chunks[-1]) >= CHUNK:
            chunks.append([])
        chunks[-1].extend(same)
    return chunks


def _fixpoint(rs: Ruleset, prep: _Prepared, base: list[dict], lean: list[dict | None], fact_rank: list[int],
              parts: list[list[int]], engine: str, cross_check: bool) -> tuple[list[Conclusion], list[tuple], int]:
    """Evaluate the parts round by round, feeding each round's conclusions to the parts they came
    from, until the conclusions stop changing: the conclusions, the group losers and the rounds."""
    conclusion_rank = prep.rank.get(CONCLUSION, len(prep.rank))
    kept: dict[tuple, Conclusion] = {}
    where: dict[tuple, set[int]] = {}  # conclusion key -> the parts it fired in
    stable: tuple = ({}, {}, {})  # the stable rules' firings, keys by rule and parts, from round 1
    rounds = 0
    while True:
        rounds += 1
        if rounds > len(rs.rules) + 2:
            raise UserError(f"Reglerna i {rs.path} når ingen fast punkt (slutsatser som föder varandra i cirkel).")
        firings: dict[tuple, tuple] = dict(stable[0])  # key -> matched facts
        by_rule: dict[str, list[tuple]] = defaultdict(list, {r: list(k) for r, k in stable[1].items()})
        fired_in: dict[tuple, set[int]] = defaultdict(set, stable[2])
        derived_in: dict[int, list[Conclusion]] = defaultdict(list)  # part -> the conclusions it fed
        if prep.chains:
            for c in sorted(kept.values(), key=lambda c: c.key):
                if prep.feeds is None or c.name in prep.feeds:
                    for n in sorted(where.get(c.key, ())):
                        derived_in[n].append(c)
        ruleset = rs if rounds == 1 else prep.chained
        for n, part in enumerate(parts):
            ids: list = [("f", i) for i in part]
            batch = [base[i] for i in part]
            sent = [lean[i] for i in part]
            mine = derived_in.get(n)
            if mine:  # derived conclusions go where their type belongs in the assert order
                at = bisect_right([fact_rank[i] for i in part], conclusion_rank)
                as_facts = [c.as_fact() for c in mine]
                ids[at:at] = [("c", c.key) for c in mine]
                batch[at:at] = as_facts
                sent[at:at] = as_facts
            # a fact fires several rules: its one-fact key part and matched tuple are built once
            alone = [((x,), (f,)) for x, f in zip(ids, batch)]
            for rule_id, idxs in _run(ruleset, sent, engine, cross_check):
                if len(idxs) == 1:
                    own, matched = alone[idxs[0]]
                    key = (rule_id, own)
                else:
                    key, matched = (rule_id, tuple([ids[i] for i in idxs])), tuple([batch[i] for i in idxs])
                if key not in firings:  # a rule over shared facts only fires in every part
                    firings[key] = matched
                    by_rule[rule_id].append(key)
                if prep.chains:
                    fired_in[key].add(n)
        if rounds == 1 and prep.chains and prep.chained is not rs:
            stable = ({k: m for k, m in firings.items() if k[0] in prep.stable},
                      {r: k for r, k in by_rule.items() if r in prep.stable},
                      {k: n for k, n in fired_in.items() if k[0] in prep.stable})
        winners, losers = _resolve_groups(prep, firings, by_rule)
        new_kept = {}
        rules = prep.rules
        for k in winners:  # inline: this runs once per conclusion, 100k times in a large run
            c = kept.get(k)
            if c is None:
                matched = firings[k]
                rule, pos, aliases, render, subject = rules[k[0]]
                if subject:
                    subject_type, subject_id = subject[0], matched[pos][subject[1]]
                else:  # a conclusion names its subject
                    subject_type, subject_id = matched[pos]["subject_type"], matched[pos]["subject_id"]
                c = Conclusion(rule.id, rule.conclusion, subject_type, subject_id, render(matched), matched,
                               aliases, rule.group, k)
            new_kept[k] = c
        done = not prep.chains or set(new_kept) == set(kept)
        kept, where = new_kept, fired_in
        if done:
            return list(kept.values()), losers, rounds


def _fields_used(rs: Ruleset) -> dict[str, set[str]]:
    """Per fact type, the fields any rule reads (conditions and joins): all the engine needs. Fact
    identity is the engine's own `id`; the subject is taken from the whole fact afterwards."""
    aliases_by_rule = {r.id: {p.alias: p.fact for p in r.patterns} for r in rs.rules}
    needed: dict[str, set[str]] = defaultdict(lambda: {"type"})
    for r in rs.rules:
        for p in r.patterns:
            for c in p.conds:
                needed[p.fact].add(c.field)
                if c.ref:
                    needed[aliases_by_rule[r.id][c.ref[0]]].add(c.ref[1])
    return needed


def _fact_key(f: dict) -> tuple:
    t = f["type"]
    if t == CONCLUSION:
        return t, str((f["subject_type"], f["subject_id"], f["rule_id"]))
    return t, str(f.get(FACT_TYPES[t].key))


def _in_output_order(prep: _Prepared, conclusions) -> list[Conclusion]:
    """Rule priority and file order, then subject, then the matched facts' own keys: independent
    of the order the facts were given in. The matched facts only decide between conclusions of the
    same rule about the same subject, so only rules that have those are sorted by them."""
    by_rule: dict[str, list[Conclusion]] = defaultdict(list)
    for c in conclusions:
        by_rule[c.rule_id].append(c)
    subject = attrgetter("subject_type", "subject_id")
    out: list[Conclusion] = []
    for rule_id, _ in prep.ranked:
        found = by_rule.get(rule_id)
        if not found:
            continue
        if len(set(map(subject, found))) < len(found):
            found.sort(key=lambda c: (c.subject_type, c.subject_id, tuple(map(_fact_key, c.facts))))
        else:
            found.sort(key=subject)
        out.extend(found)
    return out


def _names_read(rules: list) -> frozenset[str] | None:
    """The conclusion names the rules' conclusion patterns can match, or None if one of them does
    not name them (a literal `name` condition, = or in)."""
    names: set[str] = set()
    for r in rules:
        for p in r.patterns:
            if p.fact != CONCLUSION:
                continue
            cond = next((c for c in p.conds if c.field == "name" and c.ref is None and c.op in ("eq", "in")), None)
            if cond is None:
                return None
            names.update([cond.value] if cond.op == "eq" else cond.value)
    return frozenset(names)


def _subject_of(r) -> tuple[str, str] | None:
    """A rule's subject as (fact type, key field), or None when the subject is a conclusion."""
    fact = r.subject_fact()
    return None if fact == CONCLUSION else (fact, FACT_TYPES[fact].key)


def _resolve_groups(prep: _Prepared, firings: dict[tuple, tuple], by_rule: dict[str, list[tuple]]):
    """Winners: every firing outside a group, and per (group, subject) the best-ranked one: the
    lowest (priority, file order), and between firings of the same rule the lowest key. Rules are
    visited best first, so the first firing to claim a subject wins it. Losers are kept as flat
    tuples of plain values (group, subject type, subject id, rule, winning rule): cheap to keep."""
    winners: list[tuple] = []
    losers: list[tuple] = []
    # (group, subject type) -> subject id -> (winning rule, its firing's place in winners)
    claimed: dict[tuple[str, str], dict[Any, tuple[str, int]]] = defaultdict(dict)

    def claim(claims: dict, group: str, subject_type: str, sid: Any, rule_id: str, key: tuple) -> None:
        won = claims.get(sid)
        if won is None:
            claims[sid] = (rule_id, len(winners))
            winners.append(key)
        elif won[0] == rule_id and key < winners[won[1]]:  # the same rule twice (a subject given
            winners[won[1]] = key  # twice): the lowest key wins, whatever order the engine gave
            losers.append((group, subject_type, sid, rule_id, rule_id))
        else:
            losers.append((group, subject_type, sid, rule_id, won[0]))

    for rule_id, grouped in prep.ranked:
        keys = by_rule.get(rule_id)
        if not keys:
            continue
        if grouped is None:
            winners.extend(keys)
            continue
        group, pos, subject_fact = grouped
        if subject_fact:  # the subject is a fact of one type, identified by its key field
            fact_type, key_field = subject_fact
            claims = claimed[(group, fact_type)]
            for key in keys:
                sid = firings[key][pos][key_field]
                won = claims.get(sid)
                if won is None:  # inline: the common case, once per firing
                    claims[sid] = (rule_id, len(winners))
                    winners.append(key)
                else:
                    claim(claims, group, fact_type, sid, rule_id, key)
            continue
        for key in keys:  # the subject is a conclusion: it names its subject
            subject = firings[key][pos]
            subject_type, sid = subject["subject_type"], subject["subject_id"]
            claim(claimed[(group, subject_type)], group, subject_type, sid, rule_id, key)
    return winners, losers


def _run(rs: Ruleset, batch: list[dict], engine: str, cross_check: bool) -> set:
    if engine == "python":
        return reference.compiled(rs).run(batch)
    fired = durable.compiled(rs).run(batch)
    if cross_check:
        expected = reference.compiled(rs).run(batch)
        if fired != expected:
            missing = sorted(expected - fired)[:3]
            extra = sorted(fired - expected)[:3]
            raise EngineMismatch(
                f"Regelmotorn och referensutvärderingen är oeniga för {rs.label}: "
                f"{len(expected - fired)} träffar saknas (t.ex. {missing}), "
                f"{len(fired - expected)} oväntade (t.ex. {extra}). Ingenting har sparats."
            )
    return fired
