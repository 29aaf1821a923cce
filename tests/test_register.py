"""The risk register through its services and its CLI."""

import pytest

from ikcheck import organisation, register
from ikcheck.errors import UserError


@pytest.fixture
def org(app, demo_org_file):
    return organisation.init_org(app, demo_org_file)


def test_add_assess_and_history(app, org):
    code = register.add_risk(app, "SN", "Utbetalning utan beslut", process="EKB", category="legal",
                             legal=True)
    assert code == "SN-R001"
    assert register.add_risk(app, "SN", "Ännu en") == "SN-R002"
    register.assess(app, code, 2025, register.Scores(3, 4, 2, 4))
    register.assess(app, code, 2026, register.Scores(2, 2))
    register.assess(app, code, 2026, register.Scores(2, 3))  # corrected the same year
    d = register.risk_details(app, code)
    hist = d["historik"]
    assert [(h["år"], h["riskvärde"], h["nivå"], h["gällande"]) for h in hist] == [
        (2025, 12, "hög", True), (2026, 4, "låg", False), (2026, 6, "medel", True)]
    assert hist[0]["kvarvarande"] == "8 (medel)"
    assert hist[0]["matris"] == "kommun-4x4 v1"


@pytest.mark.parametrize("scores", [register.Scores(0, 2), register.Scores(5, 2), register.Scores(2, 2, 1, None)])
def test_scores_outside_the_matrix_are_refused(app, org, scores):
    code = register.add_risk(app, "SN", "Risk")
    with pytest.raises(UserError):
        register.assess(app, code, 2025, scores)
    assert register.risk_details(app, code)["historik"] == []


def test_unknown_unit_category_process(app, org):
    with pytest.raises(UserError, match="Enheten 'XX' finns inte"):
        register.add_risk(app, "XX", "Risk")
    with pytest.raises(UserError, match="Okänd kategori"):
        register.add_risk(app, "SN", "Risk", category="ekonomisk")
    with pytest.raises(UserError, match="Processen 'ZZ' finns inte"):
        register.add_risk(app, "SN", "Risk", process="ZZ")


def test_retire_keeps_history_and_filters(app, org):
    code = register.add_risk(app, "KS", "Gammal risk")
    register.assess(app, code, 2025, register.Scores(1, 1))
    register.retire_risk(app, code, "Verksamheten är nedlagd")
    assert register.list_risks(app, unit="KS") == []
    rows = register.list_risks(app, unit="KS", status=None)
    assert rows[0]["status"] == "avslutad" and rows[0]["riskvärde"] == 1
    with pytest.raises(UserError, match="redan avslutad"):
        register.retire_risk(app, code, "igen")


def test_risk_cli_round_trip(cli, demo_org_file):
    assert cli("init", "--org", demo_org_file).code == 0
    r = cli("risk", "add", "--unit", "MBN", "--title", "Bygglov utan delegation", "--category", "legal", "--legal")
    assert r.code == 0 and "MBN-R001" in r.out
    assert cli("risk", "assess", "MBN-R001", "--year", "2025", "-s", "3", "-k", "4").code == 0
    r = cli("risk", "list", "--unit", "MBN", "--year", "2025")
    assert "MBN-R001" in r.out and "hög" in r.out
    r = cli("risk", "assess", "MBN-R001", "--year", "2025", "-s", "9", "-k", "4")
    assert r.code == 2 and "Sannolikhet 9 finns inte" in r.err
    r = cli("risk", "heatmap", "--unit", "MBN", "--year", "2025")
    assert r.code == 0 and "antal risker per ruta" in r.out
    assert cli("risk", "retire", "MBN-R001", "--reason", "Dubblett").code == 0
    r = cli("risk", "history", "MBN-R001")
    assert "MBN-R001 Bygglov utan delegation" in r.err  # the title; piped, stdout holds only the rows
    assert r.out.splitlines()[1].startswith("2025\t3\t4\t12\thög\t")


def test_heatmap_files_show_counts_and_ids(app, org, tmp_path):
    from openpyxl import load_workbook

    from ikcheck.reporting import heatmap as out

    a = register.add_risk(app, "SN", "A")
    b = register.add_risk(app, "SN", "B")
    register.assess(app, a, 2025, register.Scores(3, 4))
    register.assess(app, b, 2025, register.Scores(3, 4))
    hm = register.heatmap(app, "SN", 2025)
    assert hm.count(3, 4) == 2 and hm.count(1, 1) == 0
    html = out.write_html(hm, tmp_path / "hm.html").read_text(encoding="utf-8")
    assert "SN-R001, SN-R002" in html and "#d9534f" in html
    ws = load_workbook(out.write_xlsx(hm, tmp_path / "hm.xlsx"))["Värmekarta"]
    cells = [c.value for row in ws.iter_rows() for c in row if c.value]
    assert "2\nSN-R001, SN-R002" in cells
