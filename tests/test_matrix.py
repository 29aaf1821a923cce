"""Risk matrices are data: grids, bands, odd shapes, and precise errors."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ikcheck import matrix, yamlsrc
from ikcheck.config import bundled
from ikcheck.errors import ValidationFailed

MATRICES = bundled("riskregister") / "matriser"


def test_bundled_4x4_follows_the_swedish_default():
    m = matrix.load("kommun-4x4", MATRICES)
    assert [s.label for s in m.likelihood] == ["Osannolik", "Mindre sannolik", "Möjlig", "Sannolik"]
    assert [s.label for s in m.impact] == ["Försumbar", "Lindrig", "Kännbar", "Allvarlig"]
    levels = {(li, im): m.level(li, im).name for li in range(1, 5) for im in range(1, 5)}
    for (li, im), name in levels.items():
        score = li * im
        expected = "låg" if score <= 4 else "medel" if score <= 8 else "hög"
        assert name == expected, (li, im)
    assert m.level(4, 4).colour.startswith("#")


def test_bundled_5x5_has_asymmetric_grid():
    m = matrix.load("kommun-5x5", MATRICES)
    assert m.level(5, 1).name == "medel" and m.level(1, 5).name == "medel"
    assert m.level(4, 5).name == "kritisk"
    assert m.max_score() == 25


def parse(text: str):
    return matrix.parse(yamlsrc.loads(text, "m.yaml"), "m.yaml")


NON_SQUARE = """
name: fem-tre
likelihood: [{value: 1, label: a}, {value: 2, label: b}, {value: 3, label: c}, {value: 4, label: d}, {value: 5, label: e}]
impact: [{value: 1, label: x}, {value: 2, label: y}, {value: 3, label: z}]
levels: [{name: låg}, {name: hög}]
grid:
  5: [låg, hög, hög]
  4: [låg, hög, hög]
  3: [låg, låg, hög]
  2: [låg, låg, hög]
  1: [låg, låg, låg]
"""


def test_non_square_grid_works():
    m = parse(NON_SQUARE)
    assert (len(m.likelihood), len(m.impact)) == (5, 3)
    assert m.level(5, 2).name == "hög" and m.level(2, 2).name == "låg"


def test_six_by_six_from_bands():
    steps = ", ".join(f"{{value: {v}, label: n{v}}}" for v in range(1, 7))
    m = parse(f"""
name: sex
likelihood: [{steps}]
impact: [{steps}]
levels: [{{name: låg}}, {{name: medel}}, {{name: hög}}]
bands: [{{min: 1, max: 6, level: låg}}, {{min: 7, max: 15, level: medel}}, {{min: 16, max: 36, level: hög}}]
""")
    assert m.level(6, 6).name == "hög" and m.level(3, 2).name == "låg" and m.level(3, 3).name == "medel"


@pytest.mark.parametrize("change, words, line", [
    (("  5: [låg, hög, hög]", "  5: [låg, hög]"), "ska ha 3 nivåer", 7),
    (("  4: [låg, hög, hög]", "  4: [låg, hög, röd]"), "okänd risknivå 'röd'", 8),
    (("name: fem-tre", "name: fem-tre\ncolor: red"), "okänd nyckel 'color'", 3),
    (("{value: 2, label: y}", "{value: 0, label: y}"), "inte ett positivt heltal", 4),
])
def test_errors_name_line(change, words, line):
    with pytest.raises(ValidationFailed) as exc:
        parse(NON_SQUARE.replace(*change))
    assert words in str(exc.value)
    assert f"rad {line}" in str(exc.value)


def test_gap_in_bands_is_an_error():
    with pytest.raises(ValidationFailed, match="riskvärdet 5 .* täcks inte"):
        parse("""
name: glapp
likelihood: [{value: 1, label: a}, {value: 5, label: e}]
impact: [{value: 1, label: x}]
levels: [{name: låg}]
bands: [{min: 1, max: 4, level: låg}]
""")


@given(st.integers(1, 4), st.integers(1, 4))
def test_level_never_drops_when_a_score_rises(li, im):
    m = matrix.load("kommun-4x4", MATRICES)
    base = m.level(li, im).rank
    if li < 4:
        assert m.level(li + 1, im).rank >= base
    if im < 4:
        assert m.level(li, im + 1).rank >= base


def test_stored_definition_round_trips():
    m = matrix.load("kommun-5x5", MATRICES)
    again = matrix.from_definition(m.definition)
    assert again.content_hash == m.content_hash
    assert again.grid == m.grid


def test_matrix_cli(cli, tmp_path):
    r = cli("matrix", "show", "kommun-4x4")
    assert r.code == 0 and "Osannolik" in r.out and "Allvarlig" in r.out
    bad = tmp_path / "bad.yaml"
    bad.write_text(NON_SQUARE.replace("  5: [låg, hög, hög]", "  5: [låg]"), encoding="utf-8")
    r = cli("matrix", "check", bad)
    assert r.code == 2 and "rad 7" in r.err
    good = tmp_path / "good.yaml"
    good.write_text(NON_SQUARE, encoding="utf-8")
    assert cli("matrix", "check", good).code == 0


@pytest.mark.parametrize("name", sorted(p.stem for p in MATRICES.glob("*.yaml")))
def test_every_level_of_every_bundled_matrix_has_readable_text(name):
    """Black or white text, whichever reads: WCAG 1.4.3 asks 4.5:1 (5×5 "Kritisk" was black on #8b0000)."""
    m = matrix.load_file(MATRICES / f"{name}.yaml")
    for level in m.levels:
        ink = matrix.text_colour(level.colour)
        assert matrix.contrast(level.colour, ink) >= 4.5, (name, level.name, level.colour, ink)
    assert matrix.text_colour("#8b0000") == "#ffffff" and matrix.text_colour("#ffe699") == "#000000"


def test_the_heat_map_html_is_a_table_not_escaped_text(cli, kommun, tmp_path):
    r = cli("risk", "heatmap", "--unit", "SN", "--year", "2025", "--html", tmp_path / "karta.html")
    assert r.code == 0, r.text
    html = (tmp_path / "karta.html").read_text(encoding="utf-8")
    assert '<table class="heatmap">' in html and "&lt;table" not in html
    # everything in the page's main landmark (axe: landmark-one-main, region), as in the documents
    assert re.search(r"<body><main>.*</main></body>", html, re.S)
