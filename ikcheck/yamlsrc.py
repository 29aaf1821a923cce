"""YAML that remembers line numbers, so every file a kommun edits gets errors naming the line.

`load(path)` returns plain dict/list/scalars where each dict is a `Node` (a dict subclass) with
`.line` (its first line) and `.line_of(key)`; lists are `Seq` with `.line` and `.lines`.
Duplicate keys are errors, not silently overwritten.

Booleans are YAML 1.2's, `true` and `false` only: Omsorgsnämnden's code ON, and NO, Y, yes and off,
stay the words they are (YAML 1.1 read them as booleans). A code (`code:`, `id:`) is the text as
written, whatever it looks like: `code: 010` is "010", not 8, and `code: 2026-01` not a date.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ikcheck.errors import Problem, ValidationFailed


class Node(dict):
    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list):
    line: int = 0
    lines: list[int]

    def line_at(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


CODE_KEYS = {"code", "id"}
# SafeLoader's implicit types without YAML 1.1's yes/no/on/off/y/n booleans, and YAML 1.2's instead
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Node:
    out = Node()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise _Duplicate(str(key), key_node.start_mark.line + 1)
        if key in CODE_KEYS and isinstance(value_node, yaml.ScalarNode) and value_node.tag != "tag:yaml.org,2002:null":
            out[key] = value_node.value  # a code is text, as written
        else:
            out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> Seq:
    out = Seq(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [n.start_mark.line + 1 for n in node.value]
    return out


class _Duplicate(Exception):
    def __init__(self, key: str, line: int):
        self.key, self.line = key, line


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def loads(text: str, filename: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except _Duplicate as dup:
        raise ValidationFailed(
            f"Filen {filename} kunde inte läsas.",
            [Problem(f"nyckeln {dup.key!r} förekommer två gånger", file=filename, line=dup.line)],
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if re.search(r"quoted scalar|flow sequence|flow mapping|simple key", str(getattr(exc, "context", ""))):
            # a quote, [ ], { } or key left open: point at where it opened, not where the parser gave up
            mark = getattr(exc, "context_mark", None) or mark
        line = mark.line + 1 if mark else None
        raise ValidationFailed(
            f"Filen {filename} är inte giltig YAML.",
            [Problem(_yaml_problem(exc), file=filename, line=line, column=str(mark.column + 1) if mark else None)],
        ) from None


# what PyYAML says (a pattern of its problem, and of its context) and what the person editing the file
# should look at; anything else is named as the parser said it
_YAML_PROBLEMS = [
    (r"found character '\\t'", "", "ett tabbtecken används för indrag; dra in med mellanslag"),
    (r"mapping values are not allowed", "", "ett kolon där det inte får stå: sätt citattecken runt en text "
                                           "som innehåller ': ', eller rätta indraget"),
    (r"could not find expected ':'", "", "kolon och mellanslag saknas efter nyckeln (skriv 'nyckel: värde')"),
    (r"end of stream|<stream end>", r"quoted scalar", "ett citattecken öppnas men stängs aldrig"),
    (r"<stream end>|end of stream|expected ',' or '\]'", r"flow sequence", "en lista med [ stängs aldrig med ]"),
    (r"<stream end>|end of stream|expected ',' or '\}'", r"flow mapping", "en { stängs aldrig med }"),
    (r"<stream end>", r"flow node", "filen tar slut inne i en [ ] eller { }: en av dem stängs aldrig"),
    (r"expected <block end>|did not find expected key|expected '<document start>'", "",
     "indraget stämmer inte med raderna ovanför (eller ett '-' står där en nyckel väntas)"),
    (r"undefined alias", "", "ett *-tecken först i ett värde: sätt citattecken runt värdet"),
    (r"found character '[@`]' that cannot start", "", "ett värde som börjar med @ eller `: sätt citattecken runt värdet"),
    (r"expected alphabetic or numeric character", "", "ett &- eller *-tecken först i ett värde: sätt citattecken runt värdet"),
]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = str(getattr(exc, "problem", None) or exc)
    context = str(getattr(exc, "context", None) or "")
    for pattern, around, swedish in _YAML_PROBLEMS:
        if re.search(pattern, problem) and re.search(around, context):
            return swedish
    return f"YAML-tolken kan inte läsa raden ({problem})"


def read_text(path: Path) -> str:
    """A file a kommun edits, as text; a missing or non-UTF-8 file is a Swedish user error."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(f"Filen {path} finns inte.") from None
    except UnicodeDecodeError:
        raise ValidationFailed(f"Filen {path} är inte en textfil i UTF-8.") from None


def load(path: Path) -> Any:
    return loads(read_text(path), str(path))


def unknown_keys(node: Any, allowed: set[str], file: str, where: str = "") -> list[Problem]:
    """Problems for keys not in `allowed` (typos are errors, not ignored)."""
    if not isinstance(node, dict):
        return []
    out = []
    for key in node:
        if key not in allowed:
            out.append(
                Problem(
                    f"okänd nyckel {key!r}{' i ' + where if where else ''}",
                    file=file,
                    line=node.line_of(key) if isinstance(node, Node) else None,
                    expected=", ".join(sorted(allowed)),
                )
            )
    return out
