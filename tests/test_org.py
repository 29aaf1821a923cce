"""Organisations from YAML files: created whole, or not at all, with errors naming file and line."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ikcheck import organisation
from ikcheck.errors import ValidationFailed
from ikcheck.store.models import AuditEvent, Organisation, Process, Unit

GOOD = """\
kommun:
  code: testby
  name: Testby kommun
  matrix: kommun-4x4
units:
  - code: KS
    name: Kommunstyrelsen
    kind: ks
    processes:
      - {code: INK, name: Inköp}
  - code: SN
    name: Socialnämnden
    kind: namnd
    forvaltning: Socialförvaltningen
"""


def write(tmp_path: Path, text: str, name: str = "org.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def count(app, model) -> int:
    with app.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_init_creates_org_units_processes_and_audit_events(app, tmp_path):
    org = organisation.init_org(app, write(tmp_path, GOOD))
    d = organisation.describe(app, "testby")
    assert org.code == "testby"
    assert [u["code"] for u in d["units"]] == ["KS", "SN"]
    assert d["units"][0]["processes"] == ["Inköp"]
    assert d["arshjul"]["plan_beslut"] == "11-30"  # default årshjul
    assert d["periods"] == ["halvar", "helar"]
    # one event per organisation, unit, process, plus the matrix version it uses, and one that puts
    # all of those rows under the log
    with app.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert len(actions) == 1 + 2 + 1 + 1 + 1 and actions[-1] == "spara rader"
    with app.session() as s:
        sealed = s.scalar(select(AuditEvent.after).where(AuditEvent.action == "spara rader"))
    assert sealed["rader"] == {"organisation": 1, "unit": 2, "process": 1, "risk_matrix": 1}


@pytest.mark.parametrize(
    "broken, line, words",
    [
        (GOOD.replace("  matrix: kommun-4x4", "  matrix: kommun-4x4\n  färg: blå"), 5, "okänd nyckel 'färg'"),
        (GOOD.replace("code: SN", "code: KS"), 11, "enhetskoden 'KS' finns redan"),
        (GOOD.replace("    name: Socialnämnden\n", ""), 11, "saknar 'name'"),
        (GOOD.replace("kind: namnd", "kind: förvaltning"), 13, "okänd enhetstyp"),
        (GOOD.replace("  name: Testby kommun\n", ""), 2, "kommun saknar 'name'"),
        (GOOD.replace("matrix: kommun-4x4", "matrix: finns-inte"), 4, "Riskmatrisen 'finns-inte' finns inte"),
        (GOOD.replace("kind: ks", "kind: namnd"), 5, "exakt en enhet av typen ks"),
        (GOOD + "units: []\n", 15, "förekommer två gånger"),
    ],
)
def test_bad_org_file_names_file_and_line_and_creates_nothing(app, tmp_path, broken, line, words):
    path = write(tmp_path, broken)
    with pytest.raises(ValidationFailed) as exc:
        organisation.init_org(app, path)
    message = str(exc.value)
    assert words in message
    assert f"fil {path}, rad {line}" in message
    assert count(app, Organisation) == 0
    assert count(app, Unit) == 0
    assert count(app, AuditEvent) == 0


def test_bad_org_file_through_cli_exits_2_in_swedish_without_traceback(cli, tmp_path):
    path = write(tmp_path, GOOD.replace("code: SN", "code: KS"))
    r = cli("init", "--org", path)
    assert r.code == 2
    assert "Organisationsfilen" in r.err and "ingenting har skapats" in r.err
    assert "Traceback" not in r.text
    assert cli("org", "show").code == 2  # still nothing there


def test_same_org_twice_is_refused(app, tmp_path):
    path = write(tmp_path, GOOD)
    organisation.init_org(app, path)
    with pytest.raises(Exception, match="finns redan"):
        organisation.init_org(app, path)
    assert count(app, Organisation) == 1
    assert count(app, Process) == 1


def test_org_show_through_cli(cli, demo_org_file):
    assert cli("init", "--org", demo_org_file).code == 0
    r = cli("org", "show")
    assert r.code == 0
    assert "Exempelby kommun" in r.out
    assert "Socialnämnden" in r.out and "Exempelbyhem AB" in r.out
    assert "kommun-4x4" in r.out


@pytest.mark.parametrize("text, where, words", [
    ("kommun: [oavslutad\n", "rad 1, kolumn 9", "en lista med [ stängs aldrig med ]"),
    ("kommun: [\n", "rad 2, kolumn 1", "filen tar slut inne i en [ ] eller { }"),
    ("kommun:\n\tcode: testby\n", "rad 2, kolumn 1", "ett tabbtecken används för indrag; dra in med mellanslag"),
])
def test_not_yaml_is_reported_with_line(app, tmp_path, text, where, words):
    path = write(tmp_path, text)
    with pytest.raises(ValidationFailed, match="inte giltig YAML") as exc:
        organisation.init_org(app, path)
    assert f"fil {path}, {where}: {words}" in str(exc.value), str(exc.value)


CODES_THAT_LOOK_LIKE_OTHER_THINGS = """\
kommun:
  code: testby
  name: Testby kommun
  matrix: kommun-4x4
units:
  - {code: KS, name: Kommunstyrelsen, kind: Kommunstyrelse}
  - code: ON
    name: Omsorgsnämnden
    kind: nämnd
    processes:
      - {code: NO, name: Nattomsorg}
      - {code: 010, name: Hemtjänst}
  - {code: Y, name: Ytnämnden, kind: namnd}
  - {code: off, name: Offentliga rummet, kind: bolag}
"""


def test_codes_are_text_as_written_not_yaml_booleans_or_numbers(cli, tmp_path):
    """ON, NO, Y and off were YAML 1.1 booleans (a unit listed as "True"), 010 the number 8; a unit's kind
    may be written in Swedish (nämnd, Kommunstyrelse)."""
    assert cli("init", "--org", write(tmp_path, CODES_THAT_LOOK_LIKE_OTHER_THINGS)).code == 0
    shown = cli("org", "show")
    assert shown.code == 0
    for code in ("ON", "Y", "off"):
        assert f"\n{code}\t" in shown.out
    assert "True" not in shown.out and "False" not in shown.out
    for process in ("010", "NO"):  # processes are found by these codes
        r = cli("risk", "add", "--unit", "ON", "--title", f"Larmrutin saknas ({process})", "--process", process)
        assert r.code == 0, r.text
    listing = cli("risk", "list", "--unit", "ON", "--year", "2025").out
    assert "Hemtjänst" in listing and "Nattomsorg" in listing


def test_org_apply_adds_and_renames_and_never_removes_what_has_data(cli, tmp_path, app):
    """The next mandate period: a nämnd renamed, a new nämnd with a process, the årshjul changed; shown
    first with --dry-run (nothing saved), then applied; a unit with risks cannot be left out."""
    assert cli("init", "--org", write(tmp_path, GOOD)).code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Beslut saknar stöd", "--category", "legal").code == 0
    events = count(app, AuditEvent)
    new = GOOD.replace("name: Socialnämnden", "name: Social- och omsorgsnämnden").replace(
        "units:\n", "arshjul:\n  plan_beslut: \"11-15\"\nunits:\n") + """\
  - code: VAN
    name: Valnämnden
    kind: nämnd
    processes:
      - {code: VAL, name: Valgenomförande}
"""
    r = cli("org", "apply", write(tmp_path, new, "ny.yaml"), "--dry-run")
    assert r.code == 0, r.text
    for said in ("SN, namn: Socialnämnden → Social- och omsorgsnämnden", "Ny enhet VAN: Valnämnden (nämnd)",
                 "VAN: ny process VAL Valgenomförande", "Årshjulet, plan_beslut: 11-30 → 11-15",
                 "Ingenting är sparat"):
        assert said in r.text, said
    assert count(app, AuditEvent) == events and count(app, Unit) == 2
    r = cli("org", "apply", write(tmp_path, new, "ny.yaml"))
    assert r.code == 0 and "4 ändringar" in r.text, r.text
    show = cli("org", "show").text
    assert "Social- och omsorgsnämnden" in show and "Valnämnden" in show
    assert cli("org", "apply", write(tmp_path, new, "ny.yaml")).text.count("Inga ändringar") >= 1
    # SN has a risk: leaving it out is refused, with nothing changed
    without_sn = new.replace("""  - code: SN
    name: Social- och omsorgsnämnden
    kind: namnd
    forvaltning: Socialförvaltningen
""", "")
    units = count(app, Unit)
    r = cli("org", "apply", write(tmp_path, without_sn, "utan-sn.yaml"))
    assert r.code == 2 and "enheten SN (Social- och omsorgsnämnden) saknas i filen men har risker" in r.text
    assert count(app, Unit) == units
    # VAN has nothing yet: it may go again
    assert cli("org", "apply", write(tmp_path, GOOD.replace("name: Socialnämnden", "name: Social- och omsorgsnämnden"),
                                     "utan-van.yaml")).code == 0
    assert "Valnämnden" not in cli("org", "show").text
    assert cli("audit", "verify").code == 0


def test_a_merge_that_cannot_be_done_is_refused_in_swedish_and_changes_nothing(cli, tmp_path, app):
    """merges naming a unit that does not exist, a process it lacks, or leaving risks without a new home."""
    from ikcheck.store.models import Risk

    base = GOOD + "    processes:\n      - {code: BIST, name: Bistånd}\n"
    assert cli("init", "--org", write(tmp_path, base)).code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Beslut saknar stöd", "--process", "BIST").code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Felaktig utbetalning").code == 0  # no process
    before = (count(app, Unit), count(app, Risk), count(app, AuditEvent))
    sn = base[base.index("  - code: SN"):]
    for merges, words in (("[XX]", "enheten XX finns inte"),
                          ("[SN/ZZ]", "SN har ingen process ZZ"),
                          ("[SN/BIST]", "SN delas upp, men 1 av dess risker hör till processer som ingen enhet tar över")):
        text = base.replace(sn, f"""  - code: OMS
    name: Omsorgsnämnden
    kind: nämnd
    merges: {merges}
    from: 2028
""")
        r = cli("org", "apply", write(tmp_path, text, "ny.yaml"))
        assert r.code == 2 and words in r.err, (merges, r.err)
        assert "ingenting har ändrats" in r.err
        assert (count(app, Unit), count(app, Risk), count(app, AuditEvent)) == before
    r = cli("org", "apply", write(tmp_path, base.replace(sn, """  - code: OMS
    name: Omsorgsnämnden
    kind: nämnd
    merges: [SN]
"""), "utan-ar.yaml"))
    assert r.code == 2 and "merges behöver ett år" in r.err and "rad" in r.err


def test_the_matrix_changes_from_a_year_and_earlier_years_keep_theirs(cli, tmp_path, app):
    """Before, a matrix could not change at all once anything was assessed on it."""
    from openpyxl import load_workbook

    assert cli("init", "--org", write(tmp_path, GOOD)).code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Beslut saknar stöd", "--owner", "Chef").code == 0
    assert cli("risk", "assess", "SN-R001", "--year", "2026", "-s", "4", "-k", "4").code == 0
    five = GOOD.replace("matrix: kommun-4x4", "matrix: kommun-5x5")
    r = cli("org", "apply", write(tmp_path, five, "fem.yaml"))
    assert r.code == 2 and "matrix_from" in r.err
    r = cli("org", "apply", write(tmp_path, five.replace("matrix: kommun-5x5", "matrix: kommun-5x5\n  matrix_from: 2026"),
                                  "fem.yaml"))
    assert r.code == 2 and "en ny matris kan gälla först från 2027" in r.err
    from2027 = five.replace("matrix: kommun-5x5", "matrix: kommun-5x5\n  matrix_from: 2027")
    r = cli("org", "apply", write(tmp_path, from2027, "fem.yaml"))
    assert r.code == 0 and "Riskmatris från 2027: kommun-4x4 → kommun-5x5" in r.out, r.err
    assert "Organisationen är uppdaterad (1 ändring)." in r.out
    assert "Riskmatris: kommun-4x4, från 2027: kommun-5x5" in cli("org", "show").out
    # 2027 is assessed on the 5×5 (step 5, "kritisk"); 2026 stays on the 4×4
    assert "kritisk" in cli("risk", "assess", "SN-R001", "--year", "2027", "-s", "5", "-k", "5").out
    assert cli("risk", "assess", "SN-R001", "--year", "2026", "-s", "5", "-k", "5").code == 2
    assert cli("workshop", "template", "--unit", "SN", "--year", "2027", "--out", tmp_path / "t.xlsx").code == 0
    steps = [c.value for c in load_workbook(tmp_path / "t.xlsx")["Listor"]["A"] if c.value]
    assert len(steps) == 5
    heat = cli("risk", "heatmap", "--unit", "SN", "--year", "2026").out
    assert "4 Allvarlig" in heat and "5 Mycket allvarlig" not in heat
    assert "Inga ändringar" in cli("org", "apply", write(tmp_path, from2027, "fem.yaml")).out
    assert cli("audit", "verify").code == 0


def test_a_unit_retired_from_a_year_keeps_its_past_and_drops_out_of_later_years(cli, tmp_path, app):
    from ikcheck import planning
    from ikcheck.store.models import AuditEvent as Event

    assert cli("init", "--org", write(tmp_path, GOOD)).code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Beslut saknar stöd", "--owner", "Chef").code == 0
    retired = GOOD.replace("    forvaltning: Socialförvaltningen\n", "    forvaltning: Socialförvaltningen\n    retired_from: 2028\n")
    r = cli("org", "apply", write(tmp_path, retired, "ny.yaml"))
    assert r.code == 0 and "SN, upphör från: – → 2028" in r.out, r.out + r.err
    with app.session() as s:
        event = s.scalars(select(Event).where(Event.action == "tillämpa organisationsfil")).one()
        assert "SN, upphör från: – → 2028" in event.after["changes"]
    assert "nämnd, upphör från 2028" in cli("org", "show").out
    assert {r["enhet"] for r in planning.list_plans(app, 2028)} == {"KS"}
    assert {r["enhet"] for r in planning.list_plans(app, 2027)} == {"KS", "SN"}
    r = cli("plan", "derive", "--unit", "SN", "--year", "2028")
    assert r.code == 2 and "Socialnämnden finns inte från 2028" in r.err
    assert "Beslut saknar stöd" in cli("risk", "list", "--unit", "SN", "--all").out  # its register stays readable
    assert cli("audit", "verify").code == 0
