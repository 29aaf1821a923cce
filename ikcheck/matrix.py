"""Risk matrices as data: scales, risk levels and a grid mapping every (likelihood, impact) cell to a
level. Band thresholds on the product L×I are a shorthand, expanded to the grid. Levels are always
computed from the grid, never trusted from an input file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikcheck import yamlsrc
from ikcheck.errors import Problem, ValidationFailed

TOP_KEYS = {"name", "version", "title", "description", "likelihood", "impact", "levels", "grid", "bands"}
STEP_KEYS = {"value", "label", "definition"}
LEVEL_KEYS = {"name", "label", "colour", "implication", "rank", "implies"}
# What a level implies for the plan, lowest first. The bundled rules and planvalidering use these
# meanings (and "in the plan" = granska or åtgärda), never a level's name or a score threshold, so a
# kommun's own matrix gets the same outcomes for the same meaning.
IMPLIES = ("acceptera", "bevaka", "granska", "åtgärda")
IN_PLAN = ("granska", "åtgärda")
BAND_KEYS = {"min", "max", "level"}


@dataclass(frozen=True)
class Step:
    value: int
    label: str
    definition: str = ""


@dataclass(frozen=True)
class Level:
    name: str
    label: str
    colour: str
    implication: str
    rank: int  # 0 = lowest
    implies: str = ""  # one of IMPLIES; "" in definitions stored before it existed (see Matrix.implies)


@dataclass
class Matrix:
    name: str
    version: str
    title: str
    likelihood: list[Step]
    impact: list[Step]
    levels: list[Level]
    grid: dict[tuple[int, int], str]
    content_hash: str = ""
    definition: dict[str, Any] = field(default_factory=dict)

    def level(self, likelihood: int, impact: int) -> Level:
        return self.level_by_name(self.grid[(likelihood, impact)])

    def implies(self, name: str) -> str:
        """What the level means for the plan. Levels stored without a declared meaning get one from
        their place: the lowest accepts, the next is watched, the highest is acted on at once (from
        four levels) and the rest are controlled in the plan."""
        lvl = self.level_by_name(name)
        if lvl.implies:
            return lvl.implies
        ranks = sorted({x.rank for x in self.levels})
        pos, top = ranks.index(lvl.rank), len(ranks) - 1
        if pos == 0:
            return "acceptera"
        if pos == top:
            return "åtgärda" if top >= 3 else "granska"
        return "bevaka" if pos == 1 and top >= 2 else "granska"

    def in_plan(self, name: str) -> bool:
        return self.implies(name) in IN_PLAN

    def level_by_name(self, name: str) -> Level:
        for lvl in self.levels:
            if lvl.name == name:
                return lvl
        raise KeyError(name)

    @staticmethod
    def score(likelihood: int, impact: int) -> int:
        return likelihood * impact

    def likelihood_values(self) -> list[int]:
        return [s.value for s in self.likelihood]

    def impact_values(self) -> list[int]:
        return [s.value for s in self.impact]

    def label(self, axis: str, value: int) -> str:
        for s in getattr(self, axis):
            if s.value == value:
                return s.label
        return str(value)

    def max_score(self) -> int:
        return max(self.likelihood_values()) * max(self.impact_values())

    def steps_between(self, a: tuple[int, int], b: tuple[int, int]) -> int:
        """Largest difference in scale steps on either axis."""
        li = self.likelihood_values()
        im = self.impact_values()
        return max(abs(li.index(a[0]) - li.index(b[0])), abs(im.index(a[1]) - im.index(b[1])))


def _hash(definition: dict) -> str:
    body = json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def parse(data: Any, filename: str) -> Matrix:
    """Validate a matrix definition; every problem is reported, with its line."""
    problems: list[Problem] = []

    def p(msg: str, node: Any = None, key: str | None = None, expected: str | None = None):
        line = None
        if isinstance(node, yamlsrc.Node):
            line = node.line_of(key) if key else node.line
        elif isinstance(node, yamlsrc.Seq):
            line = node.line
        problems.append(Problem(msg, file=filename, line=line, field=key, expected=expected))

    if not isinstance(data, dict):
        raise ValidationFailed(
            f"Matrisfilen {filename} är ogiltig.",
            [Problem("filen ska innehålla en matris (nycklar name, likelihood, impact, levels, grid/bands)", file=filename)],
        )
    problems += yamlsrc.unknown_keys(data, TOP_KEYS, filename)
    for key in ("name", "likelihood", "impact", "levels"):
        if key not in data:
            p(f"nyckeln {key!r} saknas", data)
    if "grid" not in data and "bands" not in data:
        p("matrisen behöver antingen 'grid' eller 'bands'", data)
    if "grid" in data and "bands" in data:
        p("ange antingen 'grid' eller 'bands', inte båda", data, "bands")

    def steps(key: str) -> list[Step]:
        out: list[Step] = []
        seq = data.get(key)
        if seq is None:
            return out
        if not isinstance(seq, list) or not seq:
            p(f"{key!r} ska vara en lista med nivåer", data, key)
            return out
        for i, item in enumerate(seq):
            if not isinstance(item, dict):
                p(f"{key}[{i + 1}] ska ha value och label", seq)
                continue
            problems.extend(yamlsrc.unknown_keys(item, STEP_KEYS, filename, key))
            v = item.get("value")
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                p(f"{key}: värdet {v!r} är inte ett positivt heltal", item, "value", "heltal ≥ 1")
                continue
            if not item.get("label"):
                p(f"{key}: nivå {v} saknar label", item)
            out.append(Step(v, str(item.get("label", v)), str(item.get("definition", ""))))
        values = [s.value for s in out]
        if values != sorted(set(values)):
            p(f"{key}: värdena ska vara unika och stigande", data, key)
        return out

    likelihood, impact = steps("likelihood"), steps("impact")
    levels: list[Level] = []
    for i, item in enumerate(data.get("levels") or []):
        if not isinstance(item, dict) or not item.get("name"):
            p(f"levels[{i + 1}] saknar name", data, "levels")
            continue
        problems.extend(yamlsrc.unknown_keys(item, LEVEL_KEYS, filename, "levels"))
        levels.append(
            Level(
                name=str(item["name"]),
                label=str(item.get("label", item["name"])),
                colour=str(item.get("colour", "#cccccc")),
                implication=str(item.get("implication", "")),
                rank=int(item.get("rank", i)),
                implies=str(item.get("implies", "")),
            )
        )
        if "implies" in item and item["implies"] not in IMPLIES:
            p(f"levels: nivån {item['name']!r} har en okänd innebörd {item['implies']!r}", item, "implies",
              ", ".join(IMPLIES))
    names = {lvl.name for lvl in levels}
    grid: dict[tuple[int, int], str] = {}
    if likelihood and impact and "grid" in data and isinstance(data["grid"], dict):
        g = data["grid"]
        for lv in (s.value for s in likelihood):
            row = g.get(lv)
            if not isinstance(row, list) or len(row) != len(impact):
                p(
                    f"grid: raden för sannolikhet {lv} ska ha {len(impact)} nivåer (en per konsekvens)",
                    g if lv not in g else g,
                    lv if lv in g else None,
                )
                continue
            for step, name in zip(impact, row):
                if name not in names:
                    p(f"grid: okänd risknivå {name!r} i raden för sannolikhet {lv}", g, lv,
                      ", ".join(sorted(names)))
                grid[(lv, step.value)] = name
        for extra in set(g) - {s.value for s in likelihood}:
            p(f"grid: raden {extra!r} motsvarar ingen sannolikhetsnivå", g, extra)
    elif likelihood and impact and "bands" in data:
        bands = data["bands"] or []
        for b in bands:
            problems.extend(yamlsrc.unknown_keys(b, BAND_KEYS, filename, "bands"))
            if b.get("level") not in names:
                p(f"bands: okänd risknivå {b.get('level')!r}", b, "level", ", ".join(sorted(names)))
        for lv in likelihood:
            for im in impact:
                score = lv.value * im.value
                hits = [b for b in bands if isinstance(b, dict)
                        and b.get("min", 0) <= score <= b.get("max", 0)]
                if len(hits) != 1:
                    p(
                        f"bands: riskvärdet {score} (sannolikhet {lv.value} × konsekvens {im.value}) "
                        + ("täcks inte av något intervall" if not hits else "täcks av flera intervall"),
                        data, "bands",
                    )
                    continue
                grid[(lv.value, im.value)] = hits[0]["level"]
    elif "grid" in data:
        p("grid ska vara en tabell: sannolikhet -> lista med nivåer per konsekvens", data, "grid")
    meanings = [lvl.implies for lvl in sorted(levels, key=lambda x: x.rank) if lvl.implies in IMPLIES]
    if meanings and [IMPLIES.index(x) for x in meanings] != sorted(IMPLIES.index(x) for x in meanings):
        p("levels: innebörden ska stiga med rangen (acceptera, bevaka, granska, åtgärda)", data, "levels")
    if levels and meanings and len([lvl for lvl in levels if lvl.implies]) != len(levels):
        p("levels: ange 'implies' för alla nivåer eller för ingen", data, "levels", ", ".join(IMPLIES))
    if problems:
        raise ValidationFailed(f"Matrisfilen {filename} har fel; ingenting har ändrats.", problems)
    definition = {
        "name": str(data["name"]),
        "version": str(data.get("version", "1")),
        "title": str(data.get("title", data["name"])),
        "likelihood": [s.__dict__ for s in likelihood],
        "impact": [s.__dict__ for s in impact],
        # a level's meaning is part of the definition only when declared, so the hash of a matrix
        # stored before meanings existed does not change
        "levels": [{k: v for k, v in lvl.__dict__.items() if k != "implies" or v} for lvl in levels],
        "grid": {f"{k[0]},{k[1]}": v for k, v in sorted(grid.items())},
    }
    return Matrix(
        name=definition["name"],
        version=definition["version"],
        title=definition["title"],
        likelihood=likelihood,
        impact=impact,
        levels=sorted(levels, key=lambda lvl: lvl.rank),
        grid=grid,
        content_hash=_hash(definition),
        definition=definition,
    )


def from_definition(definition: dict) -> Matrix:
    """Rebuild a stored matrix version (as recorded with old assessments)."""
    return Matrix(
        name=definition["name"],
        version=definition["version"],
        title=definition["title"],
        likelihood=[Step(**s) for s in definition["likelihood"]],
        impact=[Step(**s) for s in definition["impact"]],
        levels=[Level(**lvl) for lvl in definition["levels"]],
        grid={tuple(int(x) for x in k.split(",")): v for k, v in definition["grid"].items()},
        content_hash=_hash(definition),
        definition=definition,
    )


def load_file(path: Path) -> Matrix:
    return parse(yamlsrc.load(path), str(path))


def available(matrices_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(matrices_dir).glob("*.yaml"))


def load(name: str, matrices_dir: Path) -> Matrix:
    path = Path(matrices_dir) / f"{name}.yaml"
    if not path.is_file():
        raise ValidationFailed(
            f"Riskmatrisen {name!r} finns inte. Tillgängliga: {', '.join(available(matrices_dir)) or 'inga'}."
        )
    return load_file(path)


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    h = hex_colour.lstrip("#")
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: str) -> str:
    """Black or white text, whichever reads better on the level's colour (WCAG contrast)."""
    bg = "#" + background.lstrip("#")
    return "#000000" if contrast(bg, "#000000") >= contrast(bg, "#ffffff") else "#ffffff"
