"""Risk workshops in Excel: template, several participants, medians and flags, and broken files."""

from __future__ import annotations

import datetime as dt
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from ikcheck import register, workshop
from ikcheck.errors import ValidationFailed
from ikcheck.store.models import Workshop
from tests.test_results import dump

YEAR = 2026


def fill(path: Path, name: str | None, scores: dict[str, tuple], new: list[tuple] = (), out: Path | None = None,
         agree: bool = False, comments: dict[str, str] | None = None) -> Path:
    """Write a participant's name and scores {risk code: (L, I[, rL, rI])}, plus new risk rows;
    `agree` ticks "instämmer i förra årets bedömningar"; `comments` {risk code: text}."""
    wb = load_workbook(path)
    ws = wb["Risker"]
    ws["D2"] = name
    if agree:
        ws["D3"] = "ja"
    col = {c.value: c.column for c in ws[4]}
    free = None
    for r in range(5, ws.max_row + 1):
        code = ws.cell(r, col["Risk-id"]).value
        if code in (comments or {}):
            ws.cell(r, col["Kommentar"], comments[code])
        if code in scores:
            s = scores[code]
            if s is None:  # the participant clears the pre-filled scores
                ws.cell(r, col["Sannolikhet"], None)
                ws.cell(r, col["Konsekvens"], None)
                continue
            ws.cell(r, col["Sannolikhet"], f"{s[0]} – x")
            ws.cell(r, col["Konsekvens"], s[1])
            if len(s) > 2:
                ws.cell(r, col["Kvarvarande sannolikhet"], s[2])
                ws.cell(r, col["Kvarvarande konsekvens"], s[3])
        if free is None and not ws.cell(r, col["Id"]).value:
            free = r
    for k, (process, title, category, li, im) in enumerate(new):
        r = free + k
        for header, value in (("Process", process), ("Risk", title), ("Kategori", category),
                              ("Sannolikhet", li), ("Konsekvens", im)):
            ws.cell(r, col[header], value)
    target = out or path
    wb.save(target)
    return target


def test_template_is_what_a_person_opens_in_excel(app, kommun, tmp_path):
    [path] = workshop.template(app, "SN", YEAR, tmp_path / "sn.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Instruktioner", "Risker", "Info", "Listor", "Katalog"]
    assert wb["Info"].sheet_state == "hidden" and wb["Listor"].sheet_state == "hidden"
    ws = wb["Risker"]
    assert ws.column_dimensions["A"].hidden and ws.protection.sheet
    header = [c.value for c in ws[4]]
    assert header[:5] == ["Id", "Risk-id", "Process", "Risk", "Kategori"]
    col = {h: i + 1 for i, h in enumerate(header)}
    rows = {ws.cell(r, col["Risk-id"]).value: r for r in range(5, ws.max_row + 1) if ws.cell(r, col["Risk-id"]).value}
    assert len(rows) == 10  # Socialnämnden's risks
    r = rows["SN-R002"]  # scored 3 × 4 for 2025 in the demo register
    assert ws.cell(r, col["Förra årets riskvärde"]).value == 12
    assert ws.cell(r, col["Sannolikhet"]).value == "3 – Möjlig" and ws.cell(r, col["Konsekvens"]).value == "4 – Allvarlig"
    assert str(ws.cell(r, col["Riskvärde"]).value).startswith("=IF(")
    assert ws.cell(r, col["Sannolikhet"]).protection.locked is False and ws.cell(r, col["Risk"]).protection.locked
    # each chosen step is shown whole, not cut off by the column beside it
    lists = wb["Listor"]
    for header, list_col in (("Sannolikhet", "A"), ("Kvarvarande sannolikhet", "A"), ("Konsekvens", "B"),
                             ("Kvarvarande konsekvens", "B")):
        longest = max(len(str(c.value)) for c in lists[list_col] if c.value)
        letter = ws.cell(4, col[header]).column_letter
        assert ws.column_dimensions[letter].width >= longest + 1, (header, longest)
    formulas = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert "Listor!$A$1:$A$4" in formulas and "Listor!$B$1:$B$4" in formulas
    assert len(ws.conditional_formatting) >= 1
    assert "Osannolik" in " ".join(str(c.value) for c in wb["Instruktioner"]["A"] if c.value)
    assert wb["Katalog"].max_row > 20
    two = workshop.template(app, "SN", YEAR, tmp_path / "x.xlsx", participants=2)
    assert [p.name for p in two] == ["x-deltagare-1.xlsx", "x-deltagare-2.xlsx"]


def test_two_participants_give_medians_spreads_flags_and_provenance(app, kommun, tmp_path, cli):
    a, b = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx", participants=2)
    fill(a, "Anna Lind", {"SN-R001": (2, 4, 1, 4), "SN-R002": (1, 2)},
         new=[("Ekonomiskt bistånd", "Hot och våld mot handläggare", "verksamhet", "3 – Möjlig", 4)])
    fill(b, "Erik Holm", {"SN-R001": (3, 4, 2, 4), "SN-R002": (4, 3)},
         new=[("Ekonomiskt bistånd", "hot och våld mot  handläggare", "verksamhet", 2, 4)])
    r = workshop.import_files(app, [a, b])
    assert (r.unit, r.year, r.new_risks) == ("SN", YEAR, 1)
    assert r.participants == ["Anna Lind", "Erik Holm"]
    d1 = register.risk_details(app, "SN-R001")["historik"][-1]
    assert (d1["sannolikhet"], d1["konsekvens"], d1["riskvärde"]) == (3, 4, 12)  # median of 2 and 3 rounds up
    assert d1["kvarvarande"] == "8 (medel)" and d1["spridning"] == 1 and not d1["diskutera"]
    assert d1["deltagare"] == "Anna Lind, Erik Holm"
    d2 = register.risk_details(app, "SN-R002")["historik"][-1]
    assert (d2["sannolikhet"], d2["konsekvens"], d2["spridning"], d2["diskutera"]) == (3, 3, 3, True)
    new = [x for x in register.list_risks(app, unit="SN", year=YEAR) if x["rubrik"] == "Hot och våld mot handläggare"]
    assert len(new) == 1 and (new[0]["riskvärde"], new[0]["kategori"]) == (12, "verksamhet")
    assert r.flagged == 1
    hm = register.heatmap(app, "SN", YEAR)
    assert "SN-R002" in hm.cells[(3, 3)] and "SN-R001" in hm.cells[(3, 4)]
    # the same file again changes nothing and says so
    before = dump(app)
    res = cli("workshop", "import", a)
    assert res.code == 0 and "Redan inläst, ingenting ändrat" in res.out
    assert dump(app) == before


def test_a_participant_sending_later_joins_the_same_workshop(app, kommun, tmp_path):
    a, b, c = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx", participants=3)
    fill(a, "A", {"SN-R001": (1, 1)})
    fill(b, "B", {"SN-R001": (2, 1)})
    workshop.import_files(app, [a, b])
    fill(c, "C", {"SN-R001": (4, 1)})
    workshop.import_files(app, [c])
    last = register.risk_details(app, "SN-R001")["historik"][-1]
    assert (last["sannolikhet"], last["spridning"], last["deltagare"]) == (2, 3, "A, B, C")


def test_two_untouched_templates_are_refused_rather_than_counted_once(app, kommun, tmp_path, monkeypatch):
    """Untouched templates are the same file to the byte (last year's scores, no name). Counting one
    of them would change the median, counting both would break the one-import-per-content rule."""
    a, b, c = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx", participants=3)
    fill(c, "C", {"SN-R001": (4, 1)})
    before = dump(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [a, b, c])
    assert f"fil {b.name}: filen har samma innehåll som {a.name}" in str(exc.value)
    assert "deltagarens namn vid Deltagare:" in str(exc.value)
    assert dump(app) == before
    fill(a, "A", {}, agree=True)
    fill(b, "B", {}, agree=True)
    monkeypatch.setenv("IKCHECK_TODAY", "2025-09-18")  # the workshop's date is ikcheck's today
    assert workshop.import_files(app, [a, b, c]).participants == ["A", "B", "C"]
    with app.session() as s:
        assert [w.held_on for w in s.scalars(select(Workshop))] == [dt.date(2025, 9, 18)]


def test_a_template_is_the_same_file_whenever_it_is_written(app, kommun, tmp_path):
    """The check above needs untouched copies to be the same to the byte. openpyxl stamped each file with
    the second it was saved, so copies written across a second's boundary differed, and both would have
    been counted (found by this file's test failing now and then)."""
    [a] = workshop.template(app, "SN", YEAR, tmp_path / "a.xlsx")
    time.sleep(1.1)
    [b] = workshop.template(app, "SN", YEAR, tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()


@given(st.lists(st.integers(1, 4), min_size=1, max_size=9))
def test_median_step_is_a_middle_value_rounded_up(values):
    m = workshop.median_step(values)
    ordered = sorted(values)
    assert ordered[(len(values) - 1) // 2] <= m <= ordered[len(values) // 2]
    assert sum(v < m for v in values) <= len(values) / 2


def _broken(app, tmp_path: Path) -> list[tuple[str, Path, list[str]]]:
    [base] = workshop.template(app, "SN", YEAR, tmp_path / "base.xlsx")
    good = fill(base, "Anna", {"SN-R001": (2, 3)}, out=tmp_path / "good.xlsx")
    cases = []

    def edit(name: str, change, words: list[str]):
        wb = load_workbook(good)
        change(wb["Risker"], wb)
        path = tmp_path / f"{name}.xlsx"
        wb.save(path)
        cases.append((name, path, words))

    def col(ws, header):
        return next(c.column for c in ws[4] if c.value == header)

    edit("wrong-header", lambda ws, wb: ws.cell(4, col(ws, "Sannolikhet"), "Sannolikhet (1-4)"), ["kolumnen 'Sannolikhet' saknas"])
    edit("deleted-id", lambda ws, wb: ws.delete_cols(1), ["kolumnen 'Id' saknas"])
    for name, value, words in (("zero", 0, "sannolikhet 0 finns inte"), ("five", 5, "sannolikhet 5 finns inte"),
                               ("hog", "hög", "”hög” är ingen giltig sannolikhet"), ("half", 3.5, "3,5 är ingen giltig")):
        edit(f"score-{name}", lambda ws, wb, v=value: ws.cell(5, col(ws, "Sannolikhet"), v), [words, "rad 5"])
    edit("formula", lambda ws, wb: ws.cell(5, col(ws, "Konsekvens"), "=1+2"), ["formeln ”=1+2”"])
    edit("merged", lambda ws, wb: ws.merge_cells("J6:K7"), ["J6:K7 är sammanfogade"])
    edit("empty", lambda ws, wb: ws.delete_rows(1, 400), ["bladet är tomt"])
    edit("duplicate", lambda ws, wb: ws.cell(6, 1, ws.cell(5, 1).value), ["förekommer redan på rad 5"])
    edit("other-year", lambda ws, wb: wb["Info"].cell(3, 2, YEAR + 1), [f"filen gäller SN {YEAR + 1}, inte SN {YEAR}"])
    edit("other-unit-risk", lambda ws, wb: ws.cell(5, 1, "R1"), ["hör inte till Socialnämnden"])
    csv = tmp_path / "renamed.xlsx"
    csv.write_text("Id;Risk\nR1;x\n", encoding="utf-8")
    cases.append(("renamed-csv", csv, ["textfil", "inte workshopmallen"]))
    docx = tmp_path / "renamed-docx.xlsx"
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    cases.append(("renamed-docx", docx, ["Word-dokument"]))
    [ks] = workshop.template(app, "KS", YEAR, tmp_path / "ks.xlsx")
    cases.append(("other-unit", fill(ks, "Anna", {"KS-R001": (2, 2)}), ["filen gäller KS 2026, inte SN 2026"]))
    moved = tmp_path / "moved.xlsx"
    wb = load_workbook(good)
    wb["Risker"].insert_rows(1, 2)  # the header now starts on row 6: still found
    wb.save(moved)
    return cases, good, moved


def test_broken_files_are_refused_in_swedish_and_change_nothing(app, kommun, tmp_path):
    cases, good, moved = _broken(app, tmp_path)
    before = dump(app)
    for name, path, words in cases:
        with pytest.raises(ValidationFailed) as exc:
            workshop.import_files(app, [path], unit_code="SN", year=YEAR)
        text = str(exc.value)
        for w in words:
            assert w in text, (name, text)
        assert dump(app) == before, name
    with pytest.raises(ValidationFailed):  # one bad file spoils the batch
        workshop.import_files(app, [good, tmp_path / "score-five.xlsx"])
    assert dump(app) == before
    r = workshop.import_files(app, [moved])  # a moved header is found
    assert r.assessed == 10 and r.participants == ["Anna"]  # last year's scores were pre-filled


def test_workshop_cli(cli, app, kommun, tmp_path):
    r = cli("workshop", "template", "--unit", "MBN", "--year", YEAR, "--out", tmp_path / "mbn.xlsx")
    assert r.code == 0
    fill(tmp_path / "mbn.xlsx", "Lena", {"MBN-R001": (4, 4)})
    r = cli("workshop", "import", tmp_path / "mbn.xlsx", "--unit", "MBN", "--year", YEAR)
    assert r.code == 0 and "7 risker bedömda" in r.out.replace("\n", " ")  # MBN has 7 risks, all pre-filled
    r = cli("workshop", "import", tmp_path / "nope.xlsx")
    assert r.code == 2 and "finns inte" in r.err
    assert "Direktupphandling" in cli("risk", "catalogue").out


def test_a_workshop_read_in_later_keeps_the_day_it_was_held(cli, app, kommun, tmp_path, monkeypatch):
    """The secretary often reads the files in days after the workshop: --date records the day it was
    held (trace shows it beside the day the files were read in); a day in the future is a mistake."""
    monkeypatch.setenv("IKCHECK_TODAY", f"{YEAR - 1}-09-30")
    cli("workshop", "template", "--unit", "MBN", "--year", YEAR, "--out", tmp_path / "mbn.xlsx")
    fill(tmp_path / "mbn.xlsx", "Lena", {"MBN-R001": (4, 4)})
    before = dump(app)
    r = cli("workshop", "import", tmp_path / "mbn.xlsx", "--date", f"{YEAR - 1}-10-01")
    assert r.code == 2 and "ligger i framtiden" in r.err and dump(app) == before
    r = cli("workshop", "import", tmp_path / "mbn.xlsx", "--date", f"{YEAR - 1}-09-15")
    assert r.code == 0, r.text
    with app.session() as s:
        assert s.scalar(select(Workshop.held_on).where(Workshop.year == YEAR)) == dt.date(YEAR - 1, 9, 15)
    r = cli("trace", "risk:MBN-R001")
    assert f"hölls {YEAR - 1}-09-15, inläst " in " ".join(r.out.split())


# --- workshop evidence (#21): a record that stands as evidence --------------------------------------

def test_a_file_without_the_participants_name_is_refused_naming_the_cell(app, kommun, tmp_path):
    """Before, a missing name silently became the file's name."""
    [a] = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx")
    fill(a, None, {"SN-R001": (4, 1)})
    before = dump(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [a])
    assert f"fil {a.name}, blad 'Risker', rad 2, kolumn D: deltagarens namn saknas" in str(exc.value)
    assert dump(app) == before
    fill(a, "Anna Lind", {"SN-R001": (4, 1)})
    assert workshop.import_files(app, [a]).participants == ["Anna Lind"]


def test_an_untouched_file_is_refused_unless_the_participant_agrees_with_last_year(app, kommun, tmp_path):
    """Before, a pre-filled template nobody touched imported as "N risker bedömda"."""
    [a] = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx")
    fill(a, "Erik Holm", {})
    before = dump(app)
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [a])
    assert (f"fil {a.name}, blad 'Risker', rad 3, kolumn D: ingen bedömning är ändrad från förra årets"
            in str(exc.value)) and "”ja” i cell D3" in str(exc.value)
    assert dump(app) == before
    fill(a, "Erik Holm", {}, agree=True)  # "Jag instämmer i förra årets bedömningar: ja"
    r = workshop.import_files(app, [a])
    assert r.assessed > 0 and r.participants == ["Erik Holm"]


def test_comments_are_kept_without_scores_and_shown_by_show_history_and_trace(app, kommun, tmp_path, cli):
    """Before, a comment was shown by no command, and dropped when the participant left the scores blank."""
    [a] = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx")
    fill(a, "Maria Sund", {"SN-R001": None, "SN-R002": (4, 4)},
         comments={"SN-R001": "Rutinen är ny sedan i våras; svårt att bedöma", "SN-R002": "Fler anmälningar i år"})
    r = workshop.import_files(app, [a])
    assert r.comments == 2
    shown = cli("risk", "show", "SN-R001")
    assert "Rutinen är ny sedan i våras; svårt att bedöma" in shown.out and "Maria Sund" in shown.out
    assert "Fler anmälningar i år" in cli("risk", "history", "SN-R002").out
    traced = cli("trace", "risk:SN-R002")
    assert traced.code == 0 and "Maria Sund: Fler anmälningar i år" in traced.out
    # the one who scored alone: "en bedömare", not a spread of 0
    assert "en bedömare" in cli("risk", "show", "SN-R002").out


def test_the_same_new_risk_twice_in_one_file_is_refused(app, kommun, tmp_path):
    """Before, 25 rows with one title became one risk with 25 scores from one person."""
    [a] = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx")
    fill(a, "Anna Lind", {"SN-R001": (4, 1)}, new=[("BIST", "Samtycke dokumenteras inte", "lagkrav", 3, 3),
                                                   ("BIST", "samtycke  dokumenteras INTE", "lagkrav", 2, 2)])
    with pytest.raises(ValidationFailed) as exc:
        workshop.import_files(app, [a])
    assert "den nya risken ”samtycke  dokumenteras INTE” står redan på rad" in str(exc.value)


def test_similar_new_risks_are_flagged_and_merged_keeping_both_histories(app, kommun, tmp_path, cli):
    a, b = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx", participants=2)
    fill(a, "Anna Lind", {"SN-R001": (4, 1)}, new=[("BIST", "Samtycke till insatser dokumenteras inte", "lagkrav", 3, 4)])
    fill(b, "Erik Holm", {"SN-R001": (3, 1)}, new=[("BIST", "Samtycke till insatserna dokumenteras inte i akten",
                                                     "legal", 2, 4)])
    r = workshop.import_files(app, [a, b])
    assert r.new_risks == 2 and len(r.duplicates) == 1
    dup, _, other, _ = r.duplicates[0]
    summary = workshop.summary(app, "SN", YEAR)
    assert summary["risks"][0]["duplicate_of"]  # flagged risks first
    out = cli("risk", "merge", dup, other)
    assert out.code == 0 and f"{dup} är sammanslagen med {other}" in out.out
    with app.session() as s:
        from ikcheck.store.models import Risk, RiskAssessment

        merged = s.scalar(select(Risk).where(Risk.code == dup))
        kept = s.scalar(select(Risk).where(Risk.code == other))
        assert merged.status == "retired" and merged.merged_into_id == kept.id
        current = s.scalar(select(RiskAssessment).where(RiskAssessment.risk_id == kept.id,
                                                        RiskAssessment.is_current.is_(True)))
        assert sorted(p["name"] for p in current.participants) == ["Anna Lind", "Erik Holm"]
    shown = cli("risk", "show", other).out
    assert f"Sammanslagna: {dup}" in shown and "Anna Lind" in shown and "Erik Holm" in shown
    assert cli("risk", "merge", dup, other).code == 2  # already merged
    assert "lagkrav" in cli("risk", "show", other).out  # "legal" from the file is read as lagkrav
    from ikcheck import auditlog

    assert auditlog.verify(app).ok


def test_a_workshop_for_a_year_with_a_decided_plan_needs_a_reason(app, kommun, tmp_path, cli):
    """Before, a 2025 file re-assessed risks whose 2025 plan was decided and reported, without a word."""
    from ikcheck import demo, planning

    year = demo.DEMO_YEAR
    planning.derive(app, "SN", year)
    planning.accept(app, "SN", year)
    planning.decide(app, "SN", year, "2024-11-21", "§ 134", "SN 2024/201")
    [a] = workshop.template(app, "SN", year, tmp_path / "ws.xlsx")
    fill(a, "Anna Lind", {"SN-R001": (4, 1)})
    before = dump(app)
    r = cli("workshop", "import", a)
    assert r.code == 2 and "planen för Socialnämnden 2025 är redan beslutad" in r.err and "--after-decision" in r.err
    assert dump(app) == before
    r = cli("workshop", "import", a, "--after-decision", "Ny lagstiftning från 1 juli")
    assert r.code == 0 and "Registrerad efter planens beslut: Ny lagstiftning från 1 juli" in r.out
    with app.session() as s:
        assert s.scalar(select(Workshop).where(Workshop.year == year)).after_decision == "Ny lagstiftning från 1 juli"


def test_the_workshop_summary_holds_each_risks_scores_median_spread_and_comments(app, kommun, tmp_path, cli):
    a, b = workshop.template(app, "SN", YEAR, tmp_path / "ws.xlsx", participants=2)
    fill(a, "Anna Lind", {"SN-R001": (4, 4), "SN-R002": (2, 2)}, comments={"SN-R002": "Bättre rutiner nu"})
    fill(b, "Erik Holm", {"SN-R001": (1, 1), "SN-R002": (2, 3)})
    workshop.import_files(app, [a, b])
    r = cli("workshop", "summary", "--unit", "SN", "--year", YEAR, "--out", tmp_path / "sammanstallning.pdf")
    assert r.code == 0
    pdf, xlsx = tmp_path / "sammanstallning.pdf", tmp_path / "sammanstallning.xlsx"
    import subprocess

    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Riskworkshop 2026 – Socialnämnden" in text and "Anna Lind" in text and "Bättre rutiner nu" in text
    assert text.index("SN-R001") < text.index("SN-R002")  # the disagreement (3 steps) first
    assert "Diskutera: spridning 3 steg" in text
    ws = load_workbook(xlsx)["Sammanställning"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["SN-R001"][3] == "ja" and rows["SN-R001"][8] == 3
    assert rows["SN-R002"][11] == "Anna Lind: Bättre rutiner nu"
