"""Our rule format (YAML a kommun can read) and its validation.

    ruleset: prioritering
    version: "2026.1"
    description: Svensk förklaring …
    parameters: {hög_gräns: 9}           # thresholds a kommun changes: one edit, one place
    rules:
      - id: PRI-01
        title: Hög risk granskas i planen
        description: …
        reference: KL 6 kap. 6 §          # optional
        priority: 10                      # lower fires first and wins its group
        when:
          - fact: risk
            as: r                         # alias (default: the fact type)
            where:
              score: {">=": {param: hög_gräns}}
              category: {in: [legal, IT]}
              title: {contains: upphandling}
          - fact: control_point
            absent: true                  # no matching fact exists
            where: {risk_id: {ref: r.risk_id}}   # join on a key
        then:
          conclusion: granskning
          subject: r
          group: utfall                   # one conclusion per subject in a group: the first rule wins
          attributes: {reason: "Riskvärde {r.score}"}

Every problem is reported with file, line, rule id and field, in Swedish, before anything runs.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ikcheck import yamlsrc
from ikcheck.engine.schema import (
    BOOL, CONCLUSION, CONCLUSION_FIELDS, FACT_TYPES, INT, NUM, STR, python_type_ok,
)
from ikcheck.errors import Problem, ValidationFailed

T = TypeVar("T")
TOP_KEYS = {"ruleset", "version", "description", "parameters", "rules"}
RULE_KEYS = {"id", "title", "description", "reference", "priority", "when", "then"}
WHEN_KEYS = {"fact", "as", "where", "absent"}
THEN_KEYS = {"conclusion", "subject", "group", "attributes"}
# The conclusions the services act on, per bundled ruleset. A rule concluding anything else there
# would be stored and then silently ignored by planning, so such a file is refused. Rulesets not
# listed here (resultat, årshjul, planvalidering) may name their findings freely: they are shown.
UNDERSTOOD = {
    "prioritering": ("direktåtgärd", "granskning", "bevaka", "acceptera", "diskutera"),
    "kontrolldesign": ("omfattning", "metod"),
    "bedomning": ("bedömning",),
}
OPS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "in": "in",
       "not in": "not_in", "contains": "contains", "exists": "exists"}
ORDERED = {"lt", "le", "gt", "ge"}
_NAME = re.compile(r"^[a-zåäö_][a-zåäö0-9_]*$")
_CONTAINS = re.compile(r"^[\wÅÄÖåäöÉé \-]+$")
_TEMPLATE = re.compile(r"\{([A-Za-zåäöÅÄÖ_][\wåäöÅÄÖ]*)(?:\.([A-Za-z_]\w*))?\}")


@dataclass(frozen=True)
class Cond:
    field: str
    op: str  # eq ne lt le gt ge in not_in contains exists
    value: Any = None  # a literal (or a tuple for in/not_in)
    ref: tuple[str, str] | None = None  # (alias, field) for joins


@dataclass(frozen=True)
class Pattern:
    alias: str
    fact: str
    conds: tuple[Cond, ...]
    absent: bool = False


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    reference: str
    priority: int
    order: int
    patterns: tuple[Pattern, ...]
    conclusion: str
    subject: str
    group: str | None
    attributes: tuple[tuple[str, Any], ...]  # (name, literal | ("ref", alias, field) | ("tpl", text))
    line: int = 0

    @property
    def positives(self) -> list[Pattern]:
        return [p for p in self.patterns if not p.absent]

    def subject_fact(self) -> str:
        return next(p.fact for p in self.patterns if p.alias == self.subject)


@dataclass
class Ruleset:
    name: str
    version: str
    description: str
    parameters: dict[str, Any]
    rules: list[Rule]
    content_hash: str
    path: str
    conclusion_fields: dict[str, str] = field(default_factory=dict)

    def rule_digest(self, rule_id: str) -> str:
        """The identity of one rule as it runs: its text (conditions with their parameter values,
        conclusion, attributes, titles) and the parameters its templates name. A run stores these, so
        an explanation marks a rule changed only when that rule changed, not when a neighbour did."""
        rule = self.rule(rule_id)
        named = sorted({part[0] for _, spec in rule.attributes
                        if isinstance(spec, tuple) and spec and spec[0] == "tpl"
                        for part in spec[2] if isinstance(part, tuple) and len(part) == 1
                        and part[0] in self.parameters})
        body = repr((rule.title, rule.description, rule.reference, rule.priority, rule.patterns, rule.conclusion,
                     rule.subject, rule.group, rule.attributes, [(n, self.parameters[n]) for n in named]))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def rule_digests(self) -> dict[str, str]:
        return {r.id: self.rule_digest(r.id) for r in self.rules}

    def rule(self, rule_id: str) -> Rule:
        by_id = self.__dict__.get("_by_id")
        if by_id is None:
            by_id = self.__dict__["_by_id"] = {r.id: r for r in self.rules}
        return by_id[rule_id]

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version} ({self.content_hash[:12]})"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_parsed: dict[tuple[str, str], Ruleset] = {}
_built: dict[tuple[str, str], Any] = {}
_built_lock = threading.Lock()


def built_once(kind: str, rs: Ruleset, build: Callable[[Ruleset], T]) -> T:
    """What `build` makes of this exact ruleset content (a compiled durable ruleset, the reference
    evaluator, the evaluation plan), made once per process and shared by its threads."""
    key = (kind, rs.content_hash)
    with _built_lock:
        if key not in _built:
            _built[key] = build(rs)
        return _built[key]


def built_count(kind: str) -> int:
    return sum(1 for k, _ in _built if k == kind)


def load(path: Path) -> Ruleset:
    """The ruleset in a file. The text itself is hashed (the ruleset's identity), and a text already
    parsed and validated in this process is not parsed again: every import evaluates rules."""
    text = yamlsrc.read_text(path)
    key = (str(path), content_hash(text))
    if key not in _parsed:
        _parsed[key] = parse(text, str(path))
    return _parsed[key]


def load_dir(directory: Path) -> dict[str, Ruleset]:
    """Every ruleset in a folder; all files are validated and all problems reported together."""
    out: dict[str, Ruleset] = {}
    problems: list[Problem] = []
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        raise ValidationFailed(f"Katalogen {directory} innehåller inga regelfiler (*.yaml).")
    for path in files:
        try:
            rs = load(path)
        except ValidationFailed as exc:
            problems.extend(exc.problems or [Problem(exc.message, file=str(path))])
            continue
        if rs.name in out:
            problems.append(Problem(f"regeluppsättningen {rs.name!r} finns redan i {out[rs.name].path}",
                                    file=str(path), line=1, field="ruleset"))
        out[rs.name] = rs
    if problems:
        raise ValidationFailed(f"Regelfilerna i {directory} har fel; ingenting har körts.", problems)
    return out


def parse(text: str, filename: str) -> Ruleset:
    data = yamlsrc.loads(text, filename)
    v = _Validator(filename)
    rs = v.ruleset(data, content_hash(text))
    if v.problems:
        raise ValidationFailed(f"Regelfilen {filename} har fel; ingenting har körts.", v.problems)
    return rs


class _Validator:
    def __init__(self, filename: str):
        self.file = filename
        self.problems: list[Problem] = []

    def err(self, message: str, node: Any = None, key: Any = None, rule: str | None = None,
            fieldname: str | None = None, expected: str | None = None) -> None:
        line = None
        if isinstance(node, yamlsrc.Node):
            line = node.line_of(key) if key is not None else node.line
        elif isinstance(node, yamlsrc.Seq):
            line = node.line
        if rule:
            message = f"regel {rule}: {message}"
        self.problems.append(Problem(message, file=self.file, line=line, field=fieldname,
                                     expected=expected))

    def ruleset(self, data: Any, digest: str) -> Ruleset:
        if not isinstance(data, dict):
            self.err("filen ska innehålla en regeluppsättning (ruleset, version, description, rules)")
            return Ruleset("", "", "", {}, [], digest, self.file)
        self.problems += yamlsrc.unknown_keys(data, TOP_KEYS, self.file)
        for key in ("ruleset", "version", "description", "rules"):
            if key not in data:
                self.err(f"nyckeln {key!r} saknas", data, fieldname=key)
        params = data.get("parameters") or {}
        if not isinstance(params, dict):
            self.err("parameters ska vara en tabell namn: värde", data, "parameters")
            params = {}
        rules_node = data.get("rules") or []
        if not isinstance(rules_node, list):
            self.err("rules ska vara en lista med regler", data, "rules")
            rules_node = []
        # Pass 1: attributes every conclusion carries, so chained rules can be checked.
        concl_fields = dict(CONCLUSION_FIELDS)
        for item in rules_node:
            then = item.get("then") if isinstance(item, dict) else None
            attrs = then.get("attributes") if isinstance(then, dict) else None
            if isinstance(attrs, dict):
                for k, val in attrs.items():
                    concl_fields.setdefault(str(k), _literal_kind(val) or STR)
        self.params = dict(params)
        self.concl_fields = concl_fields
        self.name = str(data.get("ruleset", ""))
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(rules_node):
            rule = self.rule(item, i, rules_node.line_at(i) if isinstance(rules_node, yamlsrc.Seq) else None)
            if rule is None:
                continue
            if rule.id in seen:
                self.err(f"regel-id {rule.id!r} finns redan på rad {seen[rule.id]}", item, "id",
                         fieldname="id")
            seen.setdefault(rule.id, rule.line)
            rules.append(rule)
        return Ruleset(
            name=str(data.get("ruleset", "")), version=str(data.get("version", "")),
            description=str(data.get("description", "")).strip(), parameters=dict(params),
            rules=rules, content_hash=digest, path=self.file, conclusion_fields=concl_fields,
        )

    def rule(self, item: Any, order: int, line: int | None) -> Rule | None:
        if not isinstance(item, dict):
            self.problems.append(Problem("en regel ska vara en tabell med id, title, when och then",
                                         file=self.file, line=line))
            return None
        rid = str(item.get("id") or f"#{order + 1}")
        self.problems += [
            Problem(f"regel {rid}: {p.message}", file=p.file, line=p.line, expected=p.expected)
            for p in yamlsrc.unknown_keys(item, RULE_KEYS, self.file)
        ]
        for key in ("id", "title", "when", "then"):
            if key not in item:
                self.err(f"nyckeln {key!r} saknas", item, rule=rid, fieldname=key)
        priority = item.get("priority", 100)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
            self.err(f"priority {priority!r} ska vara ett heltal ≥ 0", item, "priority", rid, "priority")
            priority = 100
        aliases: dict[str, str] = {}
        patterns: list[Pattern] = []
        when = item.get("when") or []
        if not isinstance(when, list) or not when:
            if "when" in item:
                self.err("when ska vara en lista med faktamönster", item, "when", rid, "when")
            when = []
        for j, w in enumerate(when):
            pat = self.pattern(w, rid, aliases, when.line_at(j) if isinstance(when, yamlsrc.Seq) else None)
            if pat:
                patterns.append(pat)
                if not pat.absent:
                    aliases[pat.alias] = pat.fact
        if patterns and patterns[0].absent:
            self.err("det första mönstret kan inte vara absent", when[0], "absent", rid, "when")
        then = item.get("then") or {}
        conclusion, subject, group, attributes = "", "", None, ()
        if not isinstance(then, dict):
            self.err("then ska vara en tabell (conclusion, subject, attributes)", item, "then", rid, "then")
        else:
            self.problems += [
                Problem(f"regel {rid}: {p.message}", file=p.file, line=p.line, expected=p.expected)
                for p in yamlsrc.unknown_keys(then, THEN_KEYS, self.file, "then")
            ]
            conclusion = str(then.get("conclusion") or "")
            if "then" in item and not _NAME.match(conclusion):
                self.err(f"conclusion {conclusion!r} ska vara ett namn (små bokstäver, siffror, _)",
                         then, "conclusion", rid, "then.conclusion")
            elif conclusion and conclusion not in UNDERSTOOD.get(self.name, (conclusion,)):
                self.err(f"slutsatsen {conclusion!r} förstås inte av {self.name}; den skulle sparas men "
                         "aldrig användas", then, "conclusion", rid, "then.conclusion",
                         expected=", ".join(UNDERSTOOD[self.name]))
            subject = str(then.get("subject") or (patterns[0].alias if patterns else ""))
            if patterns and subject not in aliases:
                self.err(f"subject {subject!r} är inget alias i when (finns: {', '.join(aliases)})",
                         then, "subject", rid, "then.subject")
            group = then.get("group")
            attrs = then.get("attributes") or {}
            if not isinstance(attrs, dict):
                self.err("attributes ska vara en tabell", then, "attributes", rid, "then.attributes")
                attrs = {}
            attributes = tuple(
                (str(k), self.attribute(val, attrs, k, rid, aliases)) for k, val in attrs.items()
            )
        return Rule(
            id=rid, title=str(item.get("title", "")), description=str(item.get("description", "")).strip(),
            reference=str(item.get("reference", "")), priority=priority, order=order,
            patterns=tuple(patterns), conclusion=conclusion, subject=subject,
            group=str(group) if group else None, attributes=attributes,
            line=item.line if isinstance(item, yamlsrc.Node) else 0,
        )

    def fields_of(self, fact: str) -> dict[str, str]:
        if fact == CONCLUSION:
            return self.concl_fields
        return FACT_TYPES[fact].fields

    def pattern(self, w: Any, rid: str, aliases: dict[str, str], line: int | None) -> Pattern | None:
        if not isinstance(w, dict):
            self.problems.append(Problem(f"regel {rid}: ett mönster i when ska vara en tabell med fact och where",
                                         file=self.file, line=line))
            return None
        self.problems += [
            Problem(f"regel {rid}: {p.message}", file=p.file, line=p.line, expected=p.expected)
            for p in yamlsrc.unknown_keys(w, WHEN_KEYS, self.file, "when")
        ]
        fact = w.get("fact")
        known = sorted([*FACT_TYPES, CONCLUSION])
        if fact not in known:
            self.err(f"okänd faktatyp {fact!r}", w, "fact", rid, "when.fact", ", ".join(known))
            return None
        alias = str(w.get("as") or fact)
        absent = w.get("absent", False)
        if not isinstance(absent, bool):
            self.err("absent ska vara true eller false", w, "absent", rid, "when.absent")
            absent = False
        if not absent and alias in aliases:
            self.err(f"aliaset {alias!r} används redan i regeln", w, "as", rid, "when.as")
        if not _NAME.match(alias):
            self.err(f"aliaset {alias!r} ska vara ett namn (små bokstäver, siffror, _)", w, "as", rid, "when.as")
        where = w.get("where") or {}
        if not isinstance(where, dict):
            self.err("where ska vara en tabell fält: villkor", w, "where", rid, "when.where")
            where = {}
        fields = self.fields_of(fact)
        conds: list[Cond] = []
        for fname, spec in where.items():
            if fname not in fields:
                self.err(f"faktatypen {fact} har inget fält {fname!r}", where, fname, rid,
                         f"when.where.{fname}", ", ".join(sorted(fields)))
                continue
            conds.extend(self.conditions(fname, fields[fname], spec, where, rid, aliases))
        return Pattern(alias, fact, tuple(conds), absent)

    def operand(self, raw: Any, node: Any, key: Any, rid: str, aliases: dict[str, str],
                fieldname: str) -> tuple[Any, tuple[str, str] | None, str | None]:
        """(literal, ref, kind): a literal value, a join reference, or a parameter."""
        if isinstance(raw, dict) and set(raw) == {"param"}:
            name = raw["param"]
            if name not in self.params:
                self.err(f"parametern {name!r} är inte definierad under parameters", node, key, rid,
                         fieldname, ", ".join(self.params) or "inga parametrar")
                return None, None, None
            value = self.params[name]
            return value, None, _literal_kind(value)
        if isinstance(raw, dict) and set(raw) == {"ref"}:
            text = str(raw["ref"])
            alias, _, fname = text.partition(".")
            if alias not in aliases:
                self.err(f"referensen {text!r} pekar på ett alias som inte är definierat före detta mönster",
                         node, key, rid, fieldname, ", ".join(aliases) or "inget alias")
                return None, None, None
            fields = self.fields_of(aliases[alias])
            if fname not in fields:
                self.err(f"referensen {text!r}: {aliases[alias]} har inget fält {fname!r}", node, key, rid,
                         fieldname, ", ".join(sorted(fields)))
                return None, None, None
            return None, (alias, fname), fields[fname]
        if isinstance(raw, (dict, list)):
            self.err(f"ogiltigt värde {raw!r}", node, key, rid, fieldname,
                     "ett värde, {param: namn} eller {ref: alias.fält}")
            return None, None, None
        return raw, None, _literal_kind(raw)

    def conditions(self, fname: str, kind: str, spec: Any, where: Any, rid: str,
                   aliases: dict[str, str]) -> list[Cond]:
        label = f"when.where.{fname}"
        if not isinstance(spec, dict) or set(spec) <= {"param", "ref"}:
            spec = {"=": spec}
            spec_node = where
        else:
            spec_node = spec
        out: list[Cond] = []
        for op_text, raw in spec.items():
            op = OPS.get(str(op_text))
            key = op_text if spec_node is spec else fname
            if op is None:
                self.err(f"okänd jämförelse {op_text!r} för {fname}", spec_node, key, rid, label,
                         ", ".join(OPS))
                continue
            if op == "exists":
                if not isinstance(raw, bool):
                    self.err("exists ska vara true eller false", spec_node, key, rid, label)
                    continue
                out.append(Cond(fname, op, raw))
                continue
            if op in ("in", "not_in"):
                values = raw
                if isinstance(raw, dict) and set(raw) == {"param"}:
                    values, _, _ = self.operand(raw, spec_node, key, rid, aliases, label)
                if not isinstance(values, list) or not values:
                    self.err(f"{op_text} kräver en lista med värden", spec_node, key, rid, label)
                    continue
                bad = [x for x in values if not python_type_ok(kind, x)]
                if bad:
                    self.err(f"värdet {bad[0]!r} passar inte fältet {fname} ({kind})", spec_node, key,
                             rid, label, kind)
                    continue
                out.append(Cond(fname, op, tuple(values)))
                continue
            value, ref, vkind = self.operand(raw, spec_node, key, rid, aliases, label)
            if vkind is None:
                continue
            if op == "contains":
                if kind != STR or ref or not isinstance(value, str) or not _CONTAINS.match(value):
                    self.err("contains kräver ett textfält och en text av bokstäver, siffror, mellanslag och -",
                             spec_node, key, rid, label)
                    continue
            elif not _compatible(kind, vkind):
                self.err(f"värdet {raw!r} ({vkind}) passar inte fältet {fname} ({kind})", spec_node, key,
                         rid, label, kind)
                continue
            if op in ORDERED and kind not in (INT, NUM):
                self.err(f"{op_text} kräver ett numeriskt fält; {fname} är {kind}", spec_node, key, rid, label)
                continue
            out.append(Cond(fname, op, value, ref))
        return out

    def attribute(self, raw: Any, node: Any, key: Any, rid: str, aliases: dict[str, str]) -> Any:
        label = f"then.attributes.{key}"
        if isinstance(raw, dict):
            value, ref, kind = self.operand(raw, node, key, rid, aliases, label)
            return ("ref", *ref) if ref else value
        if isinstance(raw, str) and "{" in raw:
            for m in _TEMPLATE.finditer(raw):
                alias, fname = m.group(1), m.group(2)
                if fname is None:
                    if alias not in self.params:
                        self.err(f"mallen {m.group(0)} nämner varken ett alias.fält eller en parameter",
                                 node, key, rid, label)
                elif alias not in aliases or fname not in self.fields_of(aliases[alias]):
                    self.err(f"mallen {m.group(0)} pekar på ett okänt alias eller fält", node, key, rid, label)
            return ("tpl", raw, _template_parts(raw))
        if isinstance(raw, list):
            self.err("ett attribut kan inte vara en lista", node, key, rid, label)
            return None
        return raw


def _literal_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return NUM
    if isinstance(value, str):
        return STR
    if isinstance(value, tuple) and value and value[0] == "ref":
        return None
    return None


def _compatible(field_kind: str, value_kind: str) -> bool:
    if field_kind == value_kind:
        return True
    return field_kind == NUM and value_kind == INT or field_kind == INT and value_kind == NUM


def _template_parts(text: str) -> tuple:
    """A template split once into literal text and (alias, field) / (param,) slots."""
    parts: list[Any] = []
    pos = 0
    for m in _TEMPLATE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        parts.append((m.group(1),) if m.group(2) is None else (m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def attribute_renderer(rule: Rule, params: dict[str, Any]):
    """render(facts) -> the conclusion's attributes, filled from the matched facts (given in the order
    of the rule's positive patterns). Parameters are filled in once, here: a kommun's thresholds do
    not change mid-run; a template becomes a format string with one slot per fact field."""
    position = {p.alias: i for i, p in enumerate(rule.positives)}
    steps: list[tuple[str, int, Any]] = []
    for name, spec in rule.attributes:
        if isinstance(spec, tuple) and spec and spec[0] == "ref":
            steps.append((name, 1, (position[spec[1]], spec[2])))
        elif isinstance(spec, tuple) and spec and spec[0] == "tpl":
            text, slots = [], []
            for part in spec[2]:
                if isinstance(part, str):
                    text.append(part.replace("{", "{{").replace("}", "}}"))
                elif len(part) == 1:
                    text.append(_text(params.get(part[0])).replace("{", "{{").replace("}", "}}"))
                else:
                    text.append("{}")
                    slots.append((position[part[0]], part[1]))
            steps.append((name, 2, ("".join(text), tuple(slots))))
        else:
            steps.append((name, 0, spec))

    # one generated function per rule: this runs once per conclusion, 100k times in a large run
    names: dict[str, Any] = {"_t": _text}
    entries = []
    for name, kind, data in steps:
        if kind == 0:
            names[f"K{len(names)}"] = data
            entries.append(f"{name!r}: K{len(names) - 1}")
        elif kind == 1:
            entries.append(f"{name!r}: facts[{data[0]}].get({data[1]!r})")
        else:
            args = ", ".join(f"_t(facts[{i}].get({f!r}))" for i, f in data[1])
            entries.append(f"{name!r}: {data[0]!r}.format({args})")
    code = "def render(facts):\n    return {" + ", ".join(entries) + "}\n"
    exec(compile(code, f"<attribut {rule.id}>", "exec"), names)  # noqa: S102 - our own source
    return names["render"]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
