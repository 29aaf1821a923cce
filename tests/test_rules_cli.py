"""`ikcheck rules check|test|explain|diff` as a kommun's controller uses them."""

import shutil


from ikcheck import demo, planning, rulebook
from ikcheck.config import bundled

YEAR = demo.DEMO_YEAR


def test_check_bundled_and_broken(cli, tmp_path):
    r = cli("rules", "check")
    assert r.code == 0 and "prioritering v2026.3" in r.out
    shutil.copytree(bundled("rules"), tmp_path / "rules")
    path = tmp_path / "rules" / "resultat.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("deviations: 0", "deviationz: 0"), encoding="utf-8")
    r = cli("rules", "check", tmp_path / "rules")
    assert r.code == 2
    assert "regel RES-01: faktatypen result har inget fält 'deviationz'" in r.err
    assert f"fil {path}, rad" in r.err


def test_a_yaml_slip_is_named_by_line_and_said_in_swedish(cli, tmp_path):
    """The mistakes a controller makes editing a rule file by hand: what to fix, at which line."""
    shutil.copytree(bundled("rules"), tmp_path / "rules")
    path = tmp_path / "rules" / "resultat.yaml"
    good = path.read_text(encoding="utf-8")
    slips = [("    title: Inga avvikelser\n", "    title: Avvikelser: inga\n", 18, "ett kolon där det inte får stå"),
             ("    title: Inga avvikelser\n    priority: 10\n", "    title: Inga avvikelser\n\tpriority: 10\n", 19,
              "dra in med mellanslag"),
             ("    title: Inga avvikelser\n    priority: 10\n", "    title: Inga avvikelser\n    priority:10\n", 19,
              "kolon och mellanslag saknas efter nyckeln"),
             ("  eskalera_vid: [väsentliga brister]\n", "  eskalera_vid: [väsentliga brister\n", 15,
              "[ stängs aldrig med ]")]
    for old, new, line, words in slips:
        assert good.count(old) == 1, old
        path.write_text(good.replace(old, new), encoding="utf-8")
        r = cli("rules", "check", tmp_path / "rules")
        assert r.code == 2 and f"fil {path}, rad {line}," in r.err and words in r.err, (new, r.err)
        assert "found" not in r.err and "expected" not in r.err, r.err


def test_rule_tests_pass_and_a_wrong_expectation_fails(cli, tmp_path):
    r = cli("rules", "test")
    assert r.code == 0 and "0 underkända" in r.out
    shutil.copytree(bundled("rules"), tmp_path / "rules")
    t = tmp_path / "rules" / "tester" / "prioritering.yaml"
    t.write_text(t.read_text(encoding="utf-8").replace("{rule: PRI-05, subject: 2}", "{rule: PRI-02, subject: 2}"),
                 encoding="utf-8")
    r = cli("rules", "test", tmp_path / "rules")
    assert r.code == 1
    assert "saknas: PRI-02 → risk 2" in r.out and "oväntad: PRI-05 → risk 2" in r.out


def test_explain_shows_why_a_risk_is_in_the_plan_in_plain_swedish(cli, app, kommun):
    planning.derive(app, "SN", YEAR)
    r = cli("rules", "explain", "SN-R002")
    assert r.code == 0
    assert "PRI-02 Risker vars nivå ska med i planen granskas → granskning" in r.out
    assert "Skäl: Riskvärdet 12 ger en nivå som ska med i planen" in r.out
    assert "KL 6 kap. 6 §" in r.out
    assert "KD-01" in r.out and "Frekvens: kvartal" in r.out  # the design rule that set frequency and sample size
    # the facts in words, not field names: before, "level_rank=2, unit_kind=namnd"
    assert "risknivå hög" in r.out and "enhetstyp nämnd" in r.out and "lagkrav ja" in r.out
    assert "level_rank" not in r.out and "unit_kind" not in r.out and "=" not in r.out
    assert "Obs:" not in r.out
    assert cli("rules", "explain", "FINNS-INTE").code == 2


def test_explain_marks_a_rule_changed_only_when_that_rule_changed(cli, app, kommun, tmp_path, monkeypatch):
    """Before, every rule of a file was "regeltexten har ändrats" once the file's hash changed."""
    planning.derive(app, "SN", YEAR)
    rules = tmp_path / "rules"
    shutil.copytree(bundled("rules"), rules)
    path = rules / "prioritering.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title: Låga risker accepteras",
                                                             "title: Låga risker godtas"), encoding="utf-8")
    monkeypatch.setenv("IKCHECK_RULES_DIR", str(rules))
    r = cli("rules", "explain", "SN-R002")
    assert r.code == 0 and "PRI-02 Risker vars nivå" in r.out and "Obs:" not in r.out  # PRI-06 changed, not PRI-02
    path.write_text(path.read_text(encoding="utf-8").replace("title: Risker vars nivå ska med i planen granskas",
                                                             "title: Planens risker granskas"), encoding="utf-8")
    r = cli("rules", "explain", "SN-R002")
    assert "PRI-02 Planens risker granskas → granskning" in r.out
    assert r.out.count("Obs: regeln har ändrats sedan körningen") == 1  # PRI-02's conclusion only, not KD-01's


def test_diff_over_kontrolldesign_lists_each_point_whose_frequency_changes(cli, app, kommun, tmp_path):
    """Before, a folder diff compared only prioritering: a kontrolldesign change said "Inga risker byter utfall"."""
    new = tmp_path / "rules"
    shutil.copytree(bundled("rules"), new)
    path = new / "kontrolldesign.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("tät_från: 12 ", "tät_från: 13 "), encoding="utf-8")
    [d] = rulebook.diff(app, bundled("rules"), new, YEAR)
    assert d.ruleset == "kontrolldesign" and d.rules_changed == ["KD-01"]
    with app.session() as s:
        from ikcheck import register

        facts = register.risk_facts(s, app.org(s), YEAR)
    # the risks sent to granskning with score 12 (≥ 12 before, < 13 after) drop to halvår; 16 stays kvartal
    review = {c["subject"].split()[0] for c in d.changes}
    expected = {f["code"] for f in facts if f["score"] == 12 and f["in_plan"] and not f["earlier_deficiency"]}
    assert review == expected and expected
    assert all(c["before"] == "frekvens kvartal, stickprov 25" and c["after"] == "frekvens halvår, stickprov 15"
               and (c["before_rule"], c["after_rule"]) == ("KD-01", "KD-02") for c in d.changes)
    r = cli("rules", "diff", bundled("rules"), new, "--year", YEAR)
    assert r.code == 0
    for code in expected:
        assert code in r.out
    assert f"kontrolldesign v2026.3 → v2026.3: ändrade regler KD-01: {len(expected)} ändringar" in r.err


def test_diff_shows_a_changed_deciding_rule_with_the_same_outcome(app, kommun, tmp_path):
    """A risk kept in granskning by another rule is a change a controller must see."""
    new = tmp_path / "prioritering.yaml"
    text = (bundled("rules") / "prioritering.yaml").read_text(encoding="utf-8")
    # PRI-03 (lagkrav) from bevakning up, and before PRI-02: a legal risk in the plan is now kept there by it
    new.write_text(text.replace("          legal: true\n          implies: bevaka\n",
                                "          legal: true\n          implies: {in: [bevaka, granska, åtgärda]}\n")
                   .replace("priority: 21\n", "priority: 19\n"), encoding="utf-8")
    [d] = rulebook.diff(app, bundled("rules"), new, YEAR)
    with app.session() as s:
        from ikcheck import register

        facts = register.risk_facts(s, app.org(s), YEAR)
    expected = {f["code"] for f in facts if f["legal"] and f["in_plan"] and not f["earlier_deficiency"]}
    assert d.ruleset == "prioritering" and d.rules_changed == ["PRI-03"]
    assert {c["subject"].split()[0] for c in d.changes} == expected and expected
    assert all((c["before"], c["after"], c["before_rule"], c["after_rule"]) == ("granskning", "granskning", "PRI-02", "PRI-03")
               for c in d.changes)


def test_diff_over_resultat_lists_the_results_whose_assessment_changes(app, kommun, tmp_path):
    new = tmp_path / "resultat.yaml"
    text = (bundled("rules") / "resultat.yaml").read_text(encoding="utf-8")
    new.write_text(text.replace("väsentlig_från_andel: 0.20 ", "väsentlig_från_andel: 0.01 "), encoding="utf-8")
    [d] = rulebook.diff(app, bundled("rules"), new, YEAR)
    assert d.ruleset == "resultat"
    assert d.note or all(c["after"] == "väsentliga brister" for c in d.changes if c["what"] == "bedömning")


def test_rules_check_refuses_an_outcome_planning_does_not_understand(cli, tmp_path):
    """Before, a renamed outcome was accepted and then silently vanished from the plan."""
    rules = tmp_path / "rules"
    shutil.copytree(bundled("rules"), rules)
    path = rules / "prioritering.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("conclusion: granskning", "conclusion: granska"),
                    encoding="utf-8")
    r = cli("rules", "check", rules)
    assert r.code == 2
    assert "regel PRI-02: slutsatsen 'granska' förstås inte av prioritering" in r.err
    assert "direktåtgärd, granskning, bevaka, acceptera, diskutera" in r.err
