"""Plan för intern kontroll: derive, adjust, decide, revise, export — through services and the CLI."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from ikcheck import demo, planning, register
from ikcheck.errors import UserError, ValidationFailed
from ikcheck.store.models import ControlPlan, ControlPoint, Conclusion

YEAR = demo.DEMO_YEAR


def test_derive_proposes_points_with_their_rules_and_ks_points(app, kommun):
    r = planning.derive(app, "SN", YEAR)
    d = planning.show(app, "SN", YEAR)
    lines = d["lines"]
    risk_lines = [ln for ln in lines if ln["regel"] != "KS"]
    ks_lines = [ln for ln in lines if ln["regel"] == "KS"]
    assert len(risk_lines) == r.points > 0 and len(ks_lines) == r.ks_points == 5
    # every line's "why" names its rule, and the rule is one that sends risks to granskning
    for ln in risk_lines:
        assert ln["regel"] in {"PRI-02", "PRI-03", "PRI-04"}
        assert ln["varför"].startswith(ln["regel"] + ":")
        assert ln["metod"] and ln["frekvens"] and ln["omfattning"]
    # priority order: highest score first
    scores = [ln["riskvärde"] for ln in risk_lines]
    assert scores == sorted(scores, reverse=True)
    # every risk the rules send to granskning has a point; the others are listed with their reason
    facts = {f["code"]: f for f in _facts(app, "SN")}
    covered = {ln["risk"].split()[0] for ln in risk_lines}
    high = {c for c, f in facts.items() if f["score"] >= 9 or (f["legal"] and f["score"] >= 6)}
    assert covered == high
    assert {o["risk"] for o in d["others"]} == set(facts) - high
    assert all(o["skäl"] for o in d["others"])
    assert d["status"] == "utkast"


def _facts(app, unit):
    with app.session() as s:
        org = app.org(s)
        return register.risk_facts(s, org, YEAR, app.unit(s, org, unit).id)


def test_decide_requires_reviewed_points_and_no_blocking_findings(app, kommun):
    planning.derive(app, "BUN", YEAR)
    with pytest.raises(UserError, match="inte genomgångna"):
        planning.decide(app, "BUN", YEAR, "2024-11-20", "§ 96", "BUN 2024/88")
    planning.accept(app, "BUN", YEAR)
    first = planning.show(app, "BUN", YEAR)["lines"][0]
    found = planning.edit(app, "BUN", YEAR, first["kod"], {"owner": ""})
    blocking = [f for f in found if f.blocking]
    assert [f.rule_id for f in blocking] == ["PV-02"]
    with pytest.raises(ValidationFailed) as exc:
        planning.decide(app, "BUN", YEAR, "2024-11-20", "§ 96", "BUN 2024/88")
    assert "saknar kontrollansvarig" in str(exc.value)
    planning.override(app, "BUN", YEAR, blocking[0].key, "Ansvarig utses i januari")
    plan = planning.decide(app, "BUN", YEAR, "2024-11-20", "§ 96", "BUN 2024/88")
    assert plan.status == "decided" and plan.decision_paragraph == "§ 96"
    d = planning.show(app, "BUN", YEAR)
    assert d["overrides"][0]["reason"] == "Ansvarig utses i januari"


def test_rejecting_a_high_risk_point_blocks_until_overridden(app, kommun):
    planning.derive(app, "MBN", YEAR)
    code = planning.show(app, "MBN", YEAR)["lines"][0]["kod"]
    with pytest.raises(UserError, match="skäl"):
        planning.reject(app, "MBN", YEAR, code, " ")
    found = planning.reject(app, "MBN", YEAR, code, "Kontrolleras av revisionen i år")
    assert any(f.rule_id == "PV-01" and f.blocking for f in found)


def test_decided_plan_is_never_edited_and_revision_keeps_both(app, kommun, cli):
    planning.derive(app, "KFN", YEAR)
    planning.accept(app, "KFN", YEAR)
    planning.decide(app, "KFN", YEAR, "2024-11-26", "§ 58", "KFN 2024/41")
    code = planning.show(app, "KFN", YEAR)["lines"][0]["kod"]
    r = cli("plan", "edit", "--unit", "KFN", "--year", YEAR, "--code", code, "--owner", "Någon")
    assert r.code == 2
    assert "en beslutad plan ändras aldrig" in r.err and "Traceback" not in r.text
    with pytest.raises(UserError, match="revidering"):
        planning.derive(app, "KFN", YEAR, replace=True)

    assert planning.revise(app, "KFN", YEAR, "Ny kontroll efter incident") == 2
    planning.edit(app, "KFN", YEAR, code, {"sample_size": 40})
    new_code, _ = planning.add_point(app, "KFN", YEAR, "Kontroll av kassaavstämning", risk_code="KFN-R004",
                                     fields={"method": "avstämning", "frequency": "kvartal", "owner": "Badchef",
                                             "sample_size": 12})
    assert new_code == f"KFN-{YEAR}-M01"
    planning.decide(app, "KFN", YEAR, "2025-03-12", "§ 12", "KFN 2025/7")
    hist = planning.history(app, "KFN", YEAR)
    assert [h["status"] for h in hist] == ["ersatt", "beslutad"]
    assert f"+ {new_code}" in hist[1]["ändringar"] and f"~ {code}: omfattning" in hist[1]["ändringar"]
    assert hist[0]["beslut"] == "26 november 2024 § 58, dnr KFN 2024/41"  # as the plan's own heading says it
    assert hist[1]["skäl"] == "Ny kontroll efter incident"
    v1 = planning.show(app, "KFN", YEAR, version=1)
    assert v1["decision"]["paragraph"] == "§ 58"
    assert next(ln for ln in v1["lines"] if ln["kod"] == code)["omfattning"] != 40
    with app.session() as s:
        assert s.scalar(select(func.count()).select_from(ControlPlan).where(ControlPlan.year == YEAR)) == 2


def test_manual_point_needs_risk_or_ks_and_validates_fields(app, kommun):
    planning.derive(app, "SBN", YEAR)
    with pytest.raises(UserError, match="kopplas till en risk"):
        planning.add_point(app, "SBN", YEAR, "Något")
    with pytest.raises(UserError, match="Okänd metod"):
        planning.add_point(app, "SBN", YEAR, "Något", risk_code="SBN-R001", fields={"method": "magi"})
    with pytest.raises(UserError, match="annan enhet"):
        planning.add_point(app, "SBN", YEAR, "Något", risk_code="SN-R001")


def test_export_in_three_formats(app, kommun, tmp_path):
    from ikcheck.reporting import plan as plan_out

    planning.derive(app, "SN", YEAR)
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-11-21", "§ 134", "SN 2024/201")
    html = plan_out.export(app, "SN", YEAR, "html", tmp_path / "p.html").read_text(encoding="utf-8")
    assert "Plan för intern kontroll 2025 – Socialnämnden" in html
    assert "21 november 2024" in html and "§ 134" in html and "SN 2024/201" in html
    assert "Process/rutin" in html and "Kontroll&shy;ansvarig" in html and "Rapporteras" in html
    assert "prioritering v2026.3" in html.split("Underlag och spårbarhet</h2>")[1]  # rules version in the appendix
    assert "http" not in html and "<script" not in html  # self-contained
    pdf = plan_out.export(app, "SN", YEAR, "pdf", tmp_path / "p.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    wb = load_workbook(plan_out.export(app, "SN", YEAR, "xlsx", tmp_path / "p.xlsx"))
    assert wb.sheetnames == ["Plan", "Ej granskade", "Direktåtgärder", "Värmekarta", "Underlag och spårbarhet"]
    ws = wb["Plan"]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert any("beslutad av Socialnämnden 21 november 2024 § 134, dnr SN 2024/201" in str(v) for v in values)
    assert ["Kontrollpunkt", "Process/rutin", "Risk", "Sannolikhet", "Konsekvens", "Riskvärde", "Nivå",
            "Kontrollmoment", "Metod", "Omfattning", "Frekvens", "Kontrollansvarig",
            "Rapporteras"] == [c.value for c in ws[4]][:13]
    assert ws.print_title_rows == "$4:$4" and ws.freeze_panes == "A5"
    assert zipfile.is_zipfile(tmp_path / "p.xlsx")
    # a table without rows says so, instead of a header alone that looks like a fault
    assert planning.show(app, "SN", YEAR)["actions"] == []
    empty = wb["Direktåtgärder"]["A2"]
    assert empty.value == "Planen har inga direktåtgärder." and empty.font.i and wb["Direktåtgärder"].max_row == 2


def test_plan_list_shows_who_is_late(app, kommun):
    planning.derive(app, "SN", YEAR)
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-12-10", "§ 140", "SN 2024/201")  # after 30 November
    planning.derive(app, "KS", YEAR)  # never decided
    rows = {r["enhet"]: r for r in planning.list_plans(app, YEAR, on=dt.date(2024, 12, 15))}
    assert rows["SN"]["sen"] == "10 dagar" and rows["SN"]["status"] == "beslutad"
    assert rows["KS"]["sen"] == "15 dagar" and rows["KS"]["status"] == "utkast"
    assert rows["BUN"]["status"] == "saknas"


def test_a_kommuns_edit_of_the_arshjul_rules_reaches_plan_list(app, kommun, tmp_path):
    """Before, plan list computed lateness itself: a tolerance written in rules/arshjul.yaml did not reach it."""
    import dataclasses
    import shutil

    from ikcheck.config import bundled

    rules = tmp_path / "rules"
    shutil.copytree(bundled("rules"), rules)
    path = rules / "arshjul.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("days_late: {\">\": 0}") >= 2
    path.write_text(text.replace("days_late: {\">\": 0}", "days_late: {\">\": 14}", 2), encoding="utf-8")  # ARS-01, ARS-02
    planning.derive(app, "SN", YEAR)
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-12-10", "§ 140", "SN 2024/201")  # 10 days after 30 November
    planning.derive(app, "KS", YEAR)
    app.settings = dataclasses.replace(app.settings, rules_dir=rules)
    rows = {r["enhet"]: r for r in planning.list_plans(app, YEAR, on=dt.date(2024, 12, 20))}
    assert rows["SN"]["sen"] == ""  # within the kommun's 14 days
    assert rows["KS"]["sen"] == "20 dagar"  # undecided and beyond them


def test_conclusions_are_stored_with_rule_and_hash(app, kommun):
    planning.derive(app, "EBO", YEAR)
    with app.session() as s:
        rows = s.execute(select(Conclusion.rule_id, Conclusion.name)).all()
        assert {"granskning", "omfattning", "metod"} <= {n for _r, n in rows}
        cp = s.scalars(select(ControlPoint).where(ControlPoint.rule_id == "PRI-02")).first()
        assert cp is not None and cp.why.startswith("PRI-02")


def test_plan_cli_flow(cli, app, kommun, tmp_path):
    assert cli("plan", "derive", "--unit", "EEN", "--year", YEAR).code == 0
    r = cli("plan", "show", "--unit", "EEN", "--year", YEAR, "--why")
    assert r.code == 0 and "PRI-0" in r.out and "utkast" in r.out
    assert cli("plan", "accept", "--unit", "EEN", "--year", YEAR).code == 0
    r = cli("plan", "decide", "--unit", "EEN", "--year", YEAR, "--date", "2024-13-01", "--paragraph", "§ 1",
            "--dnr", "X")
    assert r.code == 2 and "inget datum" in r.err
    assert cli("plan", "decide", "--unit", "EEN", "--year", YEAR, "--date", "2024-11-28",
               "--paragraph", "§ 11", "--dnr", "EEN 2024/19").code == 0
    r = cli("plan", "list", "--year", YEAR)
    assert "EEN" in r.out and "beslutad" in r.out
    out = tmp_path / "een.xlsx"
    assert cli("plan", "export", "--unit", "EEN", "--year", YEAR, "--format", "xlsx", "--out", out).code == 0
    assert out.is_file()
    assert cli("audit", "verify").code == 0


def test_a_high_risk_with_known_deficiencies_gets_a_direct_action_and_the_plan_is_complete(
        app, kommun, tmp_path, monkeypatch):
    """PRI-01 sends a high risk whose control found väsentliga brister to a direktåtgärd instead of a
    kontrollpunkt; planvalidering's PV-01 used to block that very draft for lacking a kontrollpunkt."""
    import random

    from ikcheck import results
    from ikcheck.reporting import plan as plan_out

    planning.derive(app, "SN", YEAR)
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-11-21", "§ 1", "SN 2024/1")
    blank = results.template(app, "SN", YEAR, "halvar", tmp_path / "m.xlsx")
    first = load_workbook(blank)["Resultat"].cell(2, 1).value
    deficient = next(ln["risk"].split()[0] for ln in planning.show(app, "SN", YEAR)["lines"] if ln["kod"] == first)
    filled = demo.fill_results(blank, tmp_path / "r.xlsx", random.Random(1), "halvar", YEAR, bad={0})
    results.import_files(app, [filled], on=dt.date(YEAR, 8, 1))
    assert results.list_results(app, "SN", YEAR, "halvar")[0]["bedömning"] == "väsentliga brister"
    other = next(r["risk"] for r in register.list_risks(app, unit="SN", year=YEAR) if r["risk"] != deficient)
    for code in (deficient, other):  # both high next year
        register.assess(app, code, YEAR + 1, register.Scores(4, 4))

    r = planning.derive(app, "SN", YEAR + 1)
    assert r.actions == 1 and r.findings == []
    d = planning.show(app, "SN", YEAR + 1)
    assert [a["åtgärd"] for a in d["actions"]] == [f"Åtgärda: {register.risk_details(app, deficient)['rubrik']}"]
    assert {ln["risk"].split()[0] for ln in d["lines"] if ln["regel"] != "KS"} == {other}
    planning.accept(app, "SN", YEAR + 1)
    assert planning.decide(app, "SN", YEAR + 1, "2025-11-20", "§ 2", "SN 2025/2").status == "decided"
    sheet = load_workbook(plan_out.export(app, "SN", YEAR + 1, "xlsx", tmp_path / "p.xlsx"))["Direktåtgärder"]
    assert [c.value for c in sheet[2]][:2] == [d["actions"][0]["kod"], d["actions"][0]["åtgärd"]] and sheet.max_row == 2
    due = d["actions"][0]["klart senast"]
    from ikcheck import actions

    for day, status in [(due, "planerad"), (due + dt.timedelta(days=1), "försenad")]:
        monkeypatch.setenv("IKCHECK_TODAY", day.isoformat())
        assert [a["status"] for a in actions.list_actions(app, "SN") if a["kod"] == d["actions"][0]["kod"]] == [status]
        # the decided plan shows what was decided: the status on the decision day, whatever day it is now
        assert [a["status"] for a in planning.show(app, "SN", YEAR + 1)["actions"]] == ["planerad"]


def test_kontrollmoment_come_from_the_catalogues_wording(app, kommun, tmp_path):
    """Issue #20: a proposed kontrollpunkt quotes its risk in the catalogue's template for its method
    or category, or uses the catalogue risk's own kontrollmoment; a sample is counted in its unit."""
    import dataclasses
    import shutil

    import yaml

    from ikcheck.config import bundled

    folder = tmp_path / "riskregister"
    shutil.copytree(bundled("riskregister"), folder)
    path = folder / "katalog.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for risk in data["risks"]:
        if risk["title"] == "Orosanmälningar förhandsbedöms inte inom 14 dagar":
            risk["kontrollmoment"] = "Kontrollera att varje orosanmälan förhandsbedömts inom 14 dagar."
    data["omfattning_enhet"]["lagkrav"] = "anmälningar"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    app.settings = dataclasses.replace(app.settings, riskregister_dir=folder)
    planning.derive(app, "SN", YEAR)
    planning.derive(app, "KS", YEAR)
    sn = {ln["risk"]: ln for ln in planning.show(app, "SN", YEAR)["lines"]}
    own = sn["SN-R002 Orosanmälningar förhandsbedöms inte inom 14 dagar"]
    assert own["kontrollmoment"] == "Kontrollera att varje orosanmälan förhandsbedömts inom 14 dagar."
    assert own["omfattning_text"] == f"{own['omfattning']} anmälningar"
    other = sn["SN-R003 Ej verkställda beslut rapporteras inte till IVO"]
    assert other["kontrollmoment"] == ("Granska om ”Ej verkställda beslut rapporteras inte till IVO” förekommer, "
                                       "genom kontroll mot verksamhetssystemets register.")
    it = next(ln for ln in planning.show(app, "KS", YEAR)["lines"] if "Nätfiske" in ln["risk"])
    assert it["kontrollmoment"].endswith("genom genomgång av behörigheter, loggar och rutiner i systemet.")
    assert not any("rutinerna förhindrar" in ln["kontrollmoment"] for ln in sn.values())
