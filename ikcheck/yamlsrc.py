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
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or str(exc)
        raise ValidationFailed(
            f"Filen {filename} är inte giltig YAML.",
            [Problem(f"YAML-fel: {what}", file=filename, line=line)],
        ) from None


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
