"""Levels with meaning: the bundled rules give the right outcome on any matrix a kommun brings, by what
each level implies (acceptera, bevaka, granska, åtgärda), never by its name or a score threshold."""

from __future__ import annotations

import itertools

import pytest
from openpyxl import load_workbook

from ikcheck import engine, matrix, register, yamlsrc
from ikcheck.config import bundled
from ikcheck.errors import ValidationFailed
from ikcheck.workbooks import workshop as wbw

RULES = bundled("rules")
MATRICES = bundled("riskregister") / "matriser"


def steps(n: int) -> str:
    return "[" + ", ".join(f"{{value: {v}, label: steg {v}}}" for v in range(1, n + 1)) + "]"


OWN = {
    # three levels, declared meanings
    "3x3": f"""name: tre
likelihood: {steps(3)}
impact: {steps(3)}
levels: [{{name: grön, implies: acceptera}}, {{name: gul, implies: bevaka}}, {{name: röd, implies: granska}}]
bands: [{{min: 1, max: 2, level: grön}}, {{min: 3, max: 4, level: gul}}, {{min: 6, max: 9, level: röd}}]
""",
    # four levels, meanings from the ranks (no `implies`: an older kommun file)
    "6x6": f"""name: sex
likelihood: {steps(6)}
impact: {steps(6)}
levels: [{{name: låg}}, {{name: måttlig}}, {{name: betydande}}, {{name: extrem}}]
bands: [{{min: 1, max: 6, level: låg}}, {{min: 7, max: 12, level: måttlig}}, {{min: 13, max: 24, level: betydande}},
        {{min: 25, max: 36, level: extrem}}]
""",
    # non-square: "hög" from score 5, where the old rules only granskade from 9 (PV-01 on 5 and 8)
    "5x3": f"""name: fem-tre
likelihood: {steps(5)}
impact: {steps(3)}
levels: [{{name: låg, implies: acceptera}}, {{name: medel, implies: bevaka}}, {{name: hög, implies: granska}}]
grid:
  5: [medel, hög, hög]
  4: [medel, hög, hög]
  3: [låg, medel, hög]
  2: [låg, medel, hög]
  1: [låg, låg, medel]
""",
}
ORDER = {"acceptera": 0, "bevaka": 1, "granskning": 2, "direktåtgärd": 2}


def all_matrices() -> dict[str, matrix.Matrix]:
    out = {name: matrix.parse(yamlsrc.loads(text, f"{name}.yaml"), f"{name}.yaml") for name, text in OWN.items()}
    out |= {p.stem: matrix.load_file(p) for p in sorted(MATRICES.glob("*.yaml"))}
    return out


def cell_facts(m: matrix.Matrix) -> list[dict]:
    """Every cell of the matrix, with and without a legal requirement and an earlier deficiency."""
    facts = []
    for i, ((li, im), legal, earlier) in enumerate(itertools.product(sorted(m.grid), (False, True), (False, True))):
        facts.append({"type": "risk", "risk_id": i + 1, "code": f"R{i + 1}", "unit": "U", "unit_kind": "namnd",
                      "title": f"risk {i + 1}", "category": "verksamhet", "legal": legal, "earlier_deficiency": earlier,
                      "likelihood": li, "impact": im, "score": li * im, "flagged": False, "spread": 0,
                      **register.level_fields(m, m.grid[(li, im)])})
    return facts


@pytest.mark.parametrize("name", ["3x3", "kommun-4x4", "kommun-5x5", "6x6", "5x3"])
def test_bundled_rules_give_the_right_outcome_on_every_cell_of_any_matrix(name):
    m = all_matrices()[name]
    facts = cell_facts(m)
    prio = engine.evaluate(engine.load(RULES / "prioritering.yaml"), facts)
    outcome = {c.subject_id: c.name for c in prio.conclusions if c.group == "utfall"}
    assert set(outcome) == {f["risk_id"] for f in facts}  # exactly one outcome each
    for f in facts:
        got = outcome[f["risk_id"]]
        if f["in_plan"]:  # every level that must be in the plan is: a kontrollpunkt, or a direktåtgärd
            assert got == ("direktåtgärd" if f["earlier_deficiency"] else "granskning"), f
        elif f["implies"] == "bevaka":
            assert got == ("granskning" if f["legal"] or f["earlier_deficiency"] else "bevaka"), f
        else:
            assert got == "acceptera", f
    # a higher level never gets a lesser outcome
    for legal, earlier in itertools.product((False, True), repeat=2):
        same = sorted((f for f in facts if f["legal"] == legal and f["earlier_deficiency"] == earlier),
                      key=lambda f: f["level_rank"])
        ranks = [ORDER[outcome[f["risk_id"]]] for f in same]
        assert ranks == sorted(ranks)
    # and the plan derived from those outcomes passes planvalidering's coverage rule (PV-01)
    points = [{"type": "control_point", "cp_id": c.subject_id, "code": f"K{c.subject_id}", "plan_id": 1,
               "risk_id": c.subject_id, "unit": "U", "title": "k", "method": "stickprov", "sample_size": 10,
               "frequency": "halvår", "owner": "X", "reporting": "halvar,helar", "municipality_wide": False,
               "status": "accepted"} for c in prio.conclusions if c.name == "granskning"]
    actions = [{"type": "action", "action_id": c.subject_id, "code": f"Å{c.subject_id}", "risk_id": c.subject_id,
                "plan_id": 1, "status": "planerad"} for c in prio.conclusions if c.name == "direktåtgärd"]
    pv = engine.evaluate(engine.load(RULES / "planvalidering.yaml"), facts + points + actions)
    assert [c for c in pv.conclusions if c.rule_id == "PV-01"] == []


def test_a_critical_risk_with_known_deficiencies_is_acted_on_at_once_on_the_5x5():
    """Before, PRI-01 matched the level name "hög": a "kritisk" risk got only granskning."""
    m = all_matrices()["kommun-5x5"]
    [fact] = [f for f in cell_facts(m) if (f["likelihood"], f["impact"]) == (5, 5) and f["earlier_deficiency"]
              and not f["legal"]]
    assert fact["level"] == "kritisk" and fact["implies"] == "åtgärda"
    ev = engine.evaluate(engine.load(RULES / "prioritering.yaml"), [fact])
    assert [(c.rule_id, c.name) for c in ev.conclusions if c.group == "utfall"] == [("PRI-01", "direktåtgärd")]
    design = engine.evaluate(engine.load(RULES / "kontrolldesign.yaml"),
                             [fact | {"earlier_deficiency": False}] + [
                                 {"type": "conclusion", "name": "granskning", "subject_type": "risk",
                                  "subject_id": fact["risk_id"], "rule_id": "PRI-02"}])
    assert {c.attributes.get("frequency") for c in design.conclusions if c.group == "omfattning"} == {"kvartal"}


def test_a_level_meaning_must_be_known_and_rise_with_the_rank():
    with pytest.raises(ValidationFailed) as exc:
        matrix.parse(yamlsrc.loads(OWN["3x3"].replace("implies: bevaka", "implies: kolla"), "m.yaml"), "m.yaml")
    assert "okänd innebörd 'kolla'" in str(exc.value) and "acceptera, bevaka, granska, åtgärda" in str(exc.value)
    with pytest.raises(ValidationFailed) as exc:
        matrix.parse(yamlsrc.loads(OWN["3x3"].replace("implies: acceptera", "implies: granska"), "m.yaml"), "m.yaml")
    assert "innebörden ska stiga med rangen" in str(exc.value)


def test_matrix_show_names_the_level_in_every_cell(cli):
    r = cli("matrix", "show", "kommun-5x5")
    assert r.code == 0
    cells = [line for line in r.out.splitlines() if line.startswith("│ 5 Mycket")]
    assert cells and "5 Medel" in cells[0] and "10 Hög" in cells[0] and "20 Kritisk" in cells[0]
    assert "Kritisk  Direkt åtgärd och granskning (innebär: åtgärda)" in r.out


def test_a_ten_step_scale_is_coloured_by_its_own_step_in_the_workshop_template(tmp_path):
    """Before, the template's colouring read the first character: "10 – …" was step 1."""
    m = matrix.parse(yamlsrc.loads(f"""name: tio
likelihood: {steps(10)}
impact: {steps(2)}
levels: [{{name: låg}}, {{name: hög}}]
bands: [{{min: 1, max: 9, level: låg}}, {{min: 10, max: 20, level: hög}}]
""", "tio.yaml"), "tio.yaml")
    path = wbw.write_template(tmp_path / "t.xlsx", {"org": "o", "unit": "U", "unit_name": "U", "year": 2027}, m,
                              ["P"], [], [], register.CATEGORIES)
    ws = load_workbook(path)["Risker"]
    rules = {r.dxf.fill.fgColor.rgb[-6:]: r.formula[0] for rng in ws.conditional_formatting for r in rng.rules}
    high = rules[m.level_by_name("hög").colour.lstrip("#").upper()]
    assert 'FIND(" "' in high and '="10"' in high and "LEFT($" in high
    assert "LEFT($N5,1)" not in high
