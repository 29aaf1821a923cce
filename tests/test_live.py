"""The live risk workshop's service (ikcheck/live.py): what closing stores is what an Excel import of the
same scores stores; codes expire; agreement, merging and the rules for last year's scores."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ikcheck import auditlog, live, workshop
from ikcheck.calendar import clock_at
from ikcheck.errors import UserError
from ikcheck.store.models import LiveItem, Risk, RiskAssessment, Unit


def _items(app, wid) -> dict[str, int]:
    with app.session() as s:
        return {(s.get(Risk, i.risk_id).code if i.risk_id else i.title): i.id
                for i in s.scalars(select(LiveItem).where(LiveItem.workshop_id == wid))}


def _assessments(app, year: int) -> dict[str, RiskAssessment]:
    with app.session() as s:
        rows = s.execute(select(Risk.code, RiskAssessment).join(RiskAssessment, RiskAssessment.risk_id == Risk.id)
                         .join(Unit, Unit.id == Risk.unit_id)
                         .where(Unit.code == "SN", RiskAssessment.year == year, RiskAssessment.is_current.is_(True)))
        return {code: ra for code, ra in rows}


def _excel(app, tmp_path, year: int, scores: dict[str, list[tuple[str, int, int, str | None]]]) -> list:
    """The same scores as Excel files, one per participant, filled in the template's cells."""
    from openpyxl import load_workbook

    from ikcheck.workbooks import workshop as wbw

    names = sorted({n for rows in scores.values() for n, *_ in rows})
    paths = workshop.template(app, "SN", year, tmp_path / f"ws-{year}.xlsx", participants=len(names))
    for path, name in zip(paths, names):
        wb = load_workbook(path)
        ws = wb[wbw.SHEET]
        ws[wbw.NAME_CELL] = name
        col = {ws.cell(wbw.HEADER_ROW, c).value: c for c in range(1, ws.max_column + 1)}
        for r in range(wbw.HEADER_ROW + 1, ws.max_row + 1):
            code = ws.cell(r, col["Id"]).value if "Id" in col else None
            # the template pre-fills last year's scores (issue #21); a participant who does not assess a
            # risk leaves it empty, as in the browser
            ws.cell(r, col["Sannolikhet"]).value = None  # (ws.cell(r, c, None) would leave the value)
            ws.cell(r, col["Konsekvens"]).value = None
            for given in scores.get(code, []):
                if given[0] == name:
                    ws.cell(r, col["Sannolikhet"], given[1])
                    ws.cell(r, col["Konsekvens"], given[2])
                    if given[3]:
                        ws.cell(r, col["Kommentar"], given[3])
        wb.save(path)
    return paths


SCORES = {"SN-R001": [("Pia", 3, 4, "Två fall i våras"), ("Olle", 3, 3, None), ("Sofia", 1, 1, None)],
          "SN-R005": [("Pia", 2, 2, None), ("Olle", 3, 2, "Nya rutiner")]}


def test_closing_stores_what_an_excel_import_of_the_same_scores_stores(app, kommun, tmp_path):
    with clock_at(dt.datetime(2025, 9, 10, 9)):
        wid = live.open_workshop(app, "SN", 2026)
        items = _items(app, wid)
        people = {}
        for code, given in SCORES.items():
            for name, li, im, comment in given:
                if name not in people:
                    code_text, _ = live.new_code(app, wid)
                    _token, _w = live.join(app, code_text, name)
                    with app.session() as s:
                        from ikcheck.store.models import LiveParticipant

                        people[name] = s.scalar(select(LiveParticipant.id).where(LiveParticipant.name == name))
                live.score(app, wid, people[name], items[code], li, im, comment)
        report = live.close(app, wid, "2025-09-10")
    assert report.assessed == 2 and sorted(report.participants) == ["Olle", "Pia", "Sofia"]
    got = _assessments(app, 2026)
    with clock_at(dt.datetime(2025, 9, 10, 9)):
        files = _excel(app, tmp_path, 2027, SCORES)
        workshop.import_files(app, files, held_on="2025-09-10")
    want = _assessments(app, 2027)
    assert set(got) == set(want) == {"SN-R001", "SN-R005"}  # a risk nobody scored is not stored
    for code in got:
        a, b = got[code], want[code]
        assert (a.likelihood, a.impact, a.score, a.level, a.spread, a.flagged) == \
               (b.likelihood, b.impact, b.score, b.level, b.spread, b.flagged), code
        strip = lambda ps: sorted((p["name"], p["likelihood"], p["impact"], p["comment"]) for p in ps)  # noqa: E731
        assert strip(a.participants) == strip(b.participants), code
    assert got["SN-R001"].flagged  # 1-1 against 3-4: two steps or more
    assert auditlog.verify(app).problems == []


def test_a_code_expires_and_a_closed_workshop_takes_nothing_more(app, kommun):
    with clock_at(dt.datetime(2025, 9, 10, 9)):
        wid = live.open_workshop(app, "SN", 2026)
        code, expires = live.new_code(app, wid)
    assert expires == dt.datetime(2025, 9, 10, 13)
    with clock_at(dt.datetime(2025, 9, 10, 13, 1)), pytest.raises(UserError, match="Koden gäller inte"):
        live.join(app, code, "Sen Deltagare")
    with clock_at(dt.datetime(2025, 9, 10, 10)):
        token, _ = live.join(app, code.lower().replace("-", " "), "Pia")  # read aloud, typed as heard
        assert live.joined(app, token)[2] == "Pia"
        old = code
        code, _ = live.new_code(app, wid)  # a new code: the old one stops working
        with pytest.raises(UserError, match="Koden gäller inte"):
            live.join(app, old, "Olle")
        pid = live.joined(app, token)[1]
        item = _items(app, wid)["SN-R001"]
        with pytest.raises(UserError, match="Välj en ruta"):
            live.score(app, wid, pid, item, 9, 9, None)
        with pytest.raises(UserError, match="Ingen har bedömt någon risk"):
            live.close(app, wid)
        live.score(app, wid, pid, item, 2, 3, None)
        live.close(app, wid)
        assert live.joined(app, token) is None  # the session ends with the workshop
        with pytest.raises(UserError, match="avslutad"):
            live.score(app, wid, pid, item, 2, 3, None)
        with pytest.raises(UserError, match="redan hållen och avslutad"):
            live.open_workshop(app, "SN", 2026)


def test_agreement_needs_a_reason_off_the_median_and_a_merged_proposal_keeps_its_scores(app, kommun):
    with clock_at(dt.datetime(2025, 9, 10, 9)):
        wid = live.open_workshop(app, "SN", 2026)
        code, _ = live.new_code(app, wid)
        pids = [live.joined(app, live.join(app, code, n)[0])[1] for n in ("Pia", "Olle")]
        a = live.propose(app, wid, pids[0], "Samtycke dokumenteras inte", "lagkrav")
        b = live.propose(app, wid, pids[1], "Samtycke saknas i akten", "lagkrav")
        live.score(app, wid, pids[0], a, 3, 3, "Vanligt i hemtjänsten")
        live.score(app, wid, pids[1], b, 4, 4, None)
        live.score(app, wid, pids[0], b, 1, 1, None)  # Pia scored both: she keeps her score of the one kept
        with pytest.raises(UserError, match="Bara nya förslag"):
            live.merge(app, wid, _items(app, wid)["SN-R001"], a)
        live.merge(app, wid, b, a)
        state = live.state(app, wid)
        kept = next(i for i in state["items"] if i["id"] == a)
        assert kept["scored"] == 2 and kept["median"] == (4, 4)  # Pia 3-3, Olle 4-4: rounded up
        with pytest.raises(UserError, match="skriv varför"):
            live.agree(app, wid, a, 3, 4, None)
        live.agree(app, wid, a, 3, 4, "Olle överskattar för hemtjänsten")
        live.agree(app, wid, a, 4, 4, None)  # back to the median: no reason kept
        live.agree(app, wid, a, 3, 4, "Gruppen enades efter diskussion")
        live.close(app, wid)
    with app.session() as s:
        new = s.scalars(select(Risk).where(Risk.title.like("Samtycke%"))).all()
        assert [r.title for r in new] == ["Samtycke dokumenteras inte"] and new[0].category == "lagkrav"
        ra = s.scalar(select(RiskAssessment).where(RiskAssessment.risk_id == new[0].id))
        assert (ra.likelihood, ra.impact, ra.agreed_reason) == (3, 4, "Gruppen enades efter diskussion")
        assert sorted(p["name"] for p in ra.participants) == ["Olle", "Pia"]
        assert any(p["comment"] == "Vanligt i hemtjänsten" for p in ra.participants)


def test_an_absent_participants_excel_file_counts_and_is_checked_as_an_import(app, kommun, tmp_path):
    with clock_at(dt.datetime(2025, 9, 10, 9)):
        wid = live.open_workshop(app, "SN", 2026)
        other = workshop.template(app, "SN", 2027, tmp_path / "annat-ar.xlsx")[0]
        with pytest.raises(UserError) as exc:
            live.add_excel(app, wid, other.name, other.read_bytes())
        assert "gäller SN 2027" in str(exc.value)
        files = _excel(app, tmp_path, 2026, {"SN-R001": [("Fredrik", 2, 2, None)]})
        assert live.add_excel(app, wid, files[0].name, files[0].read_bytes()) == "Fredrik"
        with pytest.raises(UserError, match="redan tillagd"):
            live.add_excel(app, wid, files[0].name, files[0].read_bytes())
        live.close(app, wid)
    ra = _assessments(app, 2026)["SN-R001"]
    assert [(p["name"], p["file"]) for p in ra.participants] == [("Fredrik", files[0].name)]


def test_guessing_join_codes_stops_the_address_not_the_workshop(app, kommun):
    """A join code is short enough to read aloud, so wrong codes count against the address as failed
    logins do: after that many, even the right code is refused from there, while the room joins."""
    from ikcheck import accounts

    with clock_at(dt.datetime(2025, 9, 10, 9)):
        wid = live.open_workshop(app, "SN", 2026)
        code, _ = live.new_code(app, wid)
        for i in range(accounts.MAX_FAILURES_ADDRESS):
            with pytest.raises(UserError, match="Koden gäller inte"):
                live.join(app, f"GISS{i:04d}", "Gissare", "10.1.1.1")
        with pytest.raises(UserError, match="För många felaktiga koder"):
            live.join(app, code, "Gissare", "10.1.1.1")
        token, _ = live.join(app, code, "Pia", "10.1.1.2")
        assert live.joined(app, token)[2] == "Pia"
    assert auditlog.verify(app).problems == []
