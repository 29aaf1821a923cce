"""`ikcheck rules check|test|explain|diff` as a kommun's controller uses them."""

import shutil


from ikcheck import demo, planning, rulebook
from ikcheck.config import bundled

YEAR = demo.DEMO_YEAR


def test_check_bundled_and_broken(cli, tmp_path):
    r = cli("rules", "check")
    assert r.code == 0 and "prioritering v2026.2" in r.out
    shutil.copytree(bundled("rules"), tmp_path / "rules")
    path = tmp_path / "rules" / "resultat.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("deviations: 0", "deviationz: 0"), encoding="utf-8")
    r = cli("rules", "check", tmp_path / "rules")
    assert r.code == 2
    assert "regel RES-01: faktatypen result har inget fält 'deviationz'" in r.err
    assert f"fil {path}, rad" in r.err


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


def test_explain_shows_why_a_risk_is_in_the_plan(cli, app, kommun):
    planning.derive(app, "SN", YEAR)
    r = cli("rules", "explain", "SN-R002")
    assert r.code == 0
    assert "PRI-02 Risker med högt riskvärde granskas i planen → granskning" in r.out
    assert "Riskvärdet 12 når gränsen 9 för granskning" in r.out
    assert "KL 6 kap. 6 §" in r.out
    assert "KD-01" in r.out  # the design rule that set frequency and sample size
    assert cli("rules", "explain", "FINNS-INTE").code == 2


def test_diff_lists_exactly_the_risks_that_move(cli, app, kommun, tmp_path):
    new = tmp_path / "prioritering.yaml"
    text = (bundled("rules") / "prioritering.yaml").read_text(encoding="utf-8")
    new.write_text(text.replace("granskning_från: 9 ", "granskning_från: 10 "), encoding="utf-8")
    d = rulebook.diff(app, bundled("rules"), new, YEAR)
    # Exactly the risks scored 9 that no other rule keeps in granskning move out, to bevaka.
    with app.session() as s:
        from ikcheck import register

        facts = register.risk_facts(s, app.org(s), YEAR)
    expected = sorted(f["code"] for f in facts if f["score"] == 9 and not f["legal"])
    assert sorted(m["risk"] for m in d.moved) == expected and expected
    assert all(m["before"] == "granskning" and m["after"] == "bevaka" for m in d.moved)
    r = cli("rules", "diff", bundled("rules") / "prioritering.yaml", new, "--year", YEAR)
    assert r.code == 0
    for code in expected:
        assert code in r.out
    assert f"{len(expected)} risker byter utfall" in r.err  # the table's title; stdout holds only the rows
