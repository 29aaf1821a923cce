"""The Swedish of ikcheck's documents and messages: number agreement, §, sentences, the rules' reasons
split from their codes, a bolag's words, people without their account numbers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import ikcheck
from ikcheck import words


@pytest.mark.parametrize(("count", "said"), [(0, "0 risker"), (1, "1 risk"), (2, "2 risker")])
def test_number_agreement(count, said):
    assert words.n(count, "risk", "risker") == said


@pytest.mark.parametrize(("typed", "written"), [("§31", "§ 31"), ("31", "§ 31"), ("§  31", "§ 31"), ("§ 9", "§ 9")])
def test_paragraph_as_minutes_write_it(typed, written):
    assert words.paragraph(typed) == written


def test_a_reason_is_a_sentence_and_its_rule_goes_to_the_appendix():
    said, rules = words.reasons("PRI-02: riskvärdet 12 når gränsen 9 för granskning; KD-10: Ett lagkrav kontrolleras")
    assert said == ["Riskvärdet 12 når gränsen 9 för granskning.", "Ett lagkrav kontrolleras."]
    assert rules == ["PRI-02", "KD-10"]
    assert words.reasons("Tillagd manuellt av Anna Lind") == (["Tillagd manuellt av Anna Lind."], [])
    assert words.reasons(None) == ([], [])
    assert words.sentence("  flera   ord ") == "Flera ord." and words.sentence("Klart!") == "Klart!"


def test_a_bolag_has_a_styrelse_and_a_vd():
    text = "Delegationsbeslut – att beslut fattade på delegation anmäls till nämnden"
    assert words.for_unit(text, "bolag").endswith("anmäls till styrelsen")
    assert words.for_unit(text, "namnd") == text and words.for_unit("Förvaltningschef", "bolag") == "VD"
    assert words.decision_body("bolag", "Exempelbyhem AB") == "Styrelsen för Exempelbyhem AB"
    assert words.decision_body("namnd", "Socialnämnden") == "Socialnämnden"
    assert [words.body_noun(k) for k in ("namnd", "bolag", "ks")] == ["nämnden", "styrelsen", "kommunstyrelsen"]


def test_a_person_is_named_without_the_account_number():
    assert words.person("Anna Lind (konto 3)") == "Anna Lind"
    assert words.person("Anna Lind (controller)") == "Anna Lind (controller)" and words.person(None) == ""


@pytest.mark.parametrize(("name", "shown"), [
    ("Samhällsbyggnadsnämnden", "Samhällsbyggnads\u00adnämnden"),
    ("Barn- och utbildningsnämnden", "Barn- och utbildnings\u00adnämnden"),
    ("Kommunstyrelsen", "Kommun\u00adstyrelsen"),
    ("Socialnämnden", "Socialnämnden"),  # short enough to stay whole
    ("Exempelbyhem AB", "Exempelbyhem AB"),  # no tail to break before
])
def test_a_long_unit_name_may_break_before_its_tail(name, shown):
    assert words.breakable(name) == shown
    assert words.breakable(name).replace("\u00ad", "") == name


MESSAGES = {"UserError", "NotFound", "ValidationFailed", "Forbidden", "Problem", "problem", "Invalid"}


def test_no_service_message_names_a_command_or_an_option():
    """Services answer the browser and the terminal alike, so a message says what to do in words; a
    command or an option (`ikcheck plan derive`, `results list`, --reason) goes in the error's `cli`,
    which only the terminal prints. Every message built outside cli/ is read for one: its text and its `expected`."""
    root = Path(ikcheck.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None) and getattr(node.func, "id", getattr(node.func, "attr", None))
            if not (isinstance(node, ast.Call) and name in MESSAGES):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "expected")]:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str) and \
                            re.search(r"`|(^|[\s(])--[a-z]", part.value):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {part.value}")
    assert not found, "\n".join(found)
