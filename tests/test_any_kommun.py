"""#21's "done when": a kommun defined from scratch, not Exempelby, through the whole year and a
reorganisation. Codes that YAML 1.1 reads as booleans (ON, NO, Y), the 5×5 matrix with "kritisk", a
category of its own, and the election-year årshjul."""

from __future__ import annotations

import random
import subprocess

from openpyxl import load_workbook
from sqlalchemy import select

from ikcheck import demo
from tests.test_workshop import fill

ORG = """kommun:
  code: nyby
  name: Nyby kommun
  matrix: kommun-5x5
  periods: halvar
  kategorier: [miljö]
arshjul:
  valår: 2026
units:
  - code: KS
    name: Kommunstyrelsen
    kind: Kommunstyrelse
    processes: [{code: Y, name: Ekonomi}]
  - code: ON
    name: Omsorgsnämnden
    kind: nämnd
    processes: [{code: NO, name: Hemtjänst}, {code: Y, name: Äldreboende}]
  - code: NO
    name: Näringslivsnämnden
    kind: nämnd
    processes: [{code: ON, name: Tillstånd}]
"""
# the next mandate period: Omsorgs- and Näringslivsnämnden become one from 2028
MERGED = ORG.replace("""  - code: ON
    name: Omsorgsnämnden
    kind: nämnd
    processes: [{code: NO, name: Hemtjänst}, {code: Y, name: Äldreboende}]
  - code: NO
    name: Näringslivsnämnden
    kind: nämnd
    processes: [{code: ON, name: Tillstånd}]
""", """  - code: VON
    name: Välfärds- och näringslivsnämnden
    kind: nämnd
    merges: [ON, NO]
    from: 2028
""")


def test_a_kommun_of_its_own_through_the_year_and_a_reorganisation(cli, app, tmp_path, monkeypatch):
    (tmp_path / "nyby.yaml").write_text(ORG, encoding="utf-8")
    day = lambda d: monkeypatch.setenv("IKCHECK_TODAY", d)  # noqa: E731
    day("2026-08-20")
    assert cli("init", "--org", tmp_path / "nyby.yaml").code == 0
    shown = cli("org", "show").out
    assert "\nON\tOmsorgsnämnden" in shown and "\nNO\tNäringslivsnämnden" in shown and "True" not in shown
    assert "Riskkategorier: lagkrav, ekonomi, verksamhet, rapportering, IT, omvärld, miljö" in shown
    for title, category, proc in (("Brister i läkemedelshantering", "lagkrav", "NO"),
                                  ("Utsläpp från egna fordon", "miljö", "Y"),
                                  ("Fakturor betalas utan attest", "ekonomi", "Y")):
        assert cli("risk", "add", "--unit", "ON", "--title", title, "--category", category,
                   "--process", proc, "--owner", "Verksamhetschef").code == 0
    for code, (li, im) in (("ON-R001", (4, 5)), ("ON-R002", (2, 3)), ("ON-R003", (3, 3))):
        assert cli("risk", "assess", code, "--year", "2026", "--likelihood", li, "--impact", im).code == 0

    # the workshop for 2027: three participants; one untouched file is refused, then confirmed
    day("2026-09-15")
    a, b, c = (tmp_path / f"ws-{n}.xlsx" for n in "abc")
    for path in (a, b, c):
        assert cli("workshop", "template", "--unit", "ON", "--year", "2027", "--out", path).code == 0
    fill(a, "Anna Ek", {"ON-R001": (5, 5), "ON-R002": (2, 3), "ON-R003": (3, 4)},
         new=[("NO", "Hemtjänstens nyckelhantering brister", "lagkrav", 3, 4)],
         comments={"ON-R002": "Ny elbilspool från våren"})
    fill(b, "Bo Ström", {"ON-R001": (4, 5), "ON-R003": (2, 4)},
         new=[("NO", "Brister i hemtjänstens nyckelhantering", "lagkrav", 4, 4)])
    fill(c, "Cia Lund", {})
    r = cli("workshop", "import", a, b, c)
    assert r.code == 2 and "ingen bedömning är ändrad" in r.err and "ws-c.xlsx" in r.err
    fill(c, "Cia Lund", {}, agree=True)
    r = cli("workshop", "import", a, b, c)
    assert r.code == 0, r.err
    assert "3 filer (Anna Ek, Bo Ström, Cia Lund)" in r.out and "Möjlig dubblett: ON-R005" in r.out and "liknar ON-R004" in r.out
    assert cli("risk", "merge", "ON-R005", "ON-R004").code == 0
    assert cli("risk", "edit", "ON-R004", "--owner", "Hemtjänstchef").code == 0
    assert "miljö" in cli("risk", "show", "ON-R002").out and "Ny elbilspool från våren" in cli("risk", "show", "ON-R002").out

    # the plan: a "kritisk" risk is in it, and planvalidering passes on the 5×5
    day("2026-11-02")
    assert cli("plan", "derive", "--unit", "ON", "--year", "2027").code == 0
    shown = cli("plan", "show", "--unit", "ON", "--year", "2027").out
    assert "ON-R001" in shown and "ON-R004" in shown and "ON-R005" not in shown
    assert cli("plan", "accept", "--unit", "ON", "--year", "2027").code == 0
    # decided 10 December of the election year 2026: on time
    day("2026-12-10")
    assert cli("plan", "decide", "--unit", "ON", "--year", "2027", "--date", "2026-12-10",
               "--paragraph", "§ 88", "--dnr", "ON 2026/12").code == 0, "decide"
    from ikcheck import planning

    rows = {r["enhet"]: r for r in planning.list_plans(app, 2027, org_code="nyby")}
    assert rows["ON"]["sista dag"].isoformat() == "2026-12-31"  # December is allowed in an election year
    assert rows["ON"]["status"] == "beslutad" and rows["ON"]["sen"] == ""
    assert rows["NO"]["sen"] == "" and rows["NO"]["status"] == "saknas"  # not late until 31 December

    # results for both periods, and the reports
    rng = random.Random(7)
    for period, when in (("halvår", "2027-07-05"), ("helår", "2028-01-20")):
        day(when)
        blank = tmp_path / f"res-{period}.xlsx"
        assert cli("results", "template", "--unit", "ON", "--year", "2027", "--period", period, "--out", blank).code == 0
        ws = load_workbook(blank)["Resultat"]
        assert any(cell.value in ("halvår", "helår") for row in ws.iter_rows() for cell in row)
        code = "halvar" if period == "halvår" else "helar"
        filled = demo.fill_results(blank, tmp_path / f"res-{period}-ifylld.xlsx", rng, code, 2027)
        assert cli("results", "import", filled).code == 0
    day("2028-02-20")
    assert cli("report", "submit", "--unit", "ON", "--year", "2027", "--period", "år", "--dir", tmp_path).code == 0
    before = tmp_path / "ar-fore.pdf"
    assert cli("report", "ar", "--unit", "ON", "--year", "2027", "--format", "pdf", "--out", before).code == 0
    text = subprocess.run(["pdftotext", str(before), "-"], capture_output=True, text=True, check=True).stdout
    assert "halvår" in text.lower() and "halvar" not in text and "legal" not in text

    # the reorganisation: ON and NO become VON from 2028; ON's 2027 stays exactly as it was
    (tmp_path / "nyby-2028.yaml").write_text(MERGED, encoding="utf-8")
    preview = cli("org", "apply", tmp_path / "nyby-2028.yaml", "--dry-run")
    assert preview.code == 0 and "ON slås ihop med VON från 2028" in preview.out
    r = cli("org", "apply", tmp_path / "nyby-2028.yaml")
    assert r.code == 0 and "Enheten ON (Omsorgsnämnden) upphör från 2028" in r.out, r.out + r.err
    after = tmp_path / "ar-efter.pdf"
    assert cli("report", "ar", "--unit", "ON", "--year", "2027", "--format", "pdf", "--out", after).code == 0
    # the same report: every word and figure, and its content hash. Only the provenance line moves: a
    # document made today cites today's head of the log (the submitted one keeps its own, checked by
    # audit verify below against the data as it is now)
    read = lambda p: subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True,  # noqa: E731
                                    check=True).stdout.split("Underlaget omfattar granskningsloggen")
    (body_before, tail_before), (body_after, tail_after) = read(before), read(after)
    assert body_after == body_before
    digest = lambda t: t.split("innehållshash ")[1].split(".")[0]  # noqa: E731
    assert digest(tail_after) == digest(tail_before)
    # the risks continue in VON with their history and last year's scores
    risks = cli("risk", "list", "--unit", "VON", "--all").out
    assert "Brister i läkemedelshantering" in risks
    with app.session() as s:
        from ikcheck.store.models import Risk, Unit

        von = s.scalar(select(Unit).where(Unit.code == "VON"))
        moved = {r.title: r for r in s.scalars(select(Risk).where(Risk.unit_id == von.id))}
        first = moved["Brister i läkemedelshantering"]
        assert first.continues_id is not None
    assert "fortsätter" in cli("risk", "show", first.code).out.lower()
    template = tmp_path / "von-2028.xlsx"
    assert cli("workshop", "template", "--unit", "VON", "--year", "2028", "--out", template).code == 0
    rows = {row[3]: row for row in load_workbook(template)["Risker"].iter_rows(min_row=5, values_only=True) if row[3]}
    assert rows["Brister i läkemedelshantering"][6] is not None  # last year's likelihood, from ON
    assert cli("plan", "derive", "--unit", "ON", "--year", "2028").code == 2  # ON no longer exists then
    assert cli("audit", "verify").code == 0
    # applying the same file again changes nothing
    assert "Inga ändringar" in cli("org", "apply", tmp_path / "nyby-2028.yaml").out
