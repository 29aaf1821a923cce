"""The web app's writing side in-process (the ASGI app, no server), on a copy of the demo of its own:
results by form and by Excel file under the import's own rules, underlag refused or kept, approval by
a second person, åtgärder, and that no role writes what access.can does not allow."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from html.parser import HTMLParser

import pikepdf
import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from ikcheck import auditlog, results
from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.calendar import today
from ikcheck.store.models import AuditEvent, ControlResult, Evidence, EvidenceContent, Risk, RiskAssessment
from ikcheck.web import create_app
from tests.web_support import csrf_of, login

FORM = "/resultat/rapportera/SN/2026/halvar/SN-2026-K02"  # the demo kontrollansvarig's own
OTHERS = "/resultat/rapportera/SN/2026/halvar/SN-2026-K01"  # Enhetschef försörjningsstöd's


@pytest.fixture(scope="module")
def web(journey_db):
    url, directory = journey_db
    app = App(load_settings(url, "testare"))
    return app, create_app(app), directory


def client(web, role: str) -> TestClient:
    c = TestClient(web[1])
    assert login(c, role).status_code == 303, role
    return c


def counts(app: App) -> dict[str, int]:
    with app.session() as s:
        return {"results": s.scalar(select(func.count()).select_from(ControlResult)),
                "evidence": s.scalar(select(func.count()).select_from(Evidence)),
                "content": s.scalar(select(func.count()).select_from(EvidenceContent)),
                "events": s.scalar(select(func.count()).select_from(AuditEvent))}


def text_of(r) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text)))


GOOD = {"performed": "ja", "date": "2026-06-12", "examined": "15", "deviations": "0", "performed_by": "Erik Holm"}


def test_the_form_and_a_file_are_held_to_the_same_rules(web, tmp_path):
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    token = csrf_of(k.get(FORM).text)
    before = counts(app)
    bad = {**GOOD, "examined": "15", "deviations": "20"}
    r = k.post(FORM, data={"csrf": token, **bad})
    assert r.status_code == 400
    assert "20 avvikelser men bara 15 granskade" in text_of(r)
    assert 'href="#deviations"' in r.text and 'id="deviations" name="deviations"' in r.text
    assert 'aria-invalid="true" aria-describedby="deviations-fel deviations-tips"' in r.text
    # the same row in a CSV file: the same message, from the same check
    path = tmp_path / "resultat.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Enhet", "Kontrollpunkt", "Period", "Utförd", "Datum", "Antal granskade", "Antal avvikelser",
                    "Bedömning", "Utförd av", "Godkänd av"])
        w.writerow(["SN", "SN-2026-K02", "halvår", "ja", "2026-06-12", "15", "20", "", "Erik Holm", ""])
    with pytest.raises(results.ValidationFailed) as exc:
        results.import_files(app, [path], org_code="exempelby")
    assert any("20 avvikelser men bara 15 granskade" in p.message for p in exc.value.problems)
    assert counts(app) == before  # nothing stored by either


class _Described(HTMLParser):
    """Every element's aria-describedby ids, the ids on the page, and attributes given twice."""

    def __init__(self):
        super().__init__()
        self.ids, self.described, self.twice = set(), {}, []

    def handle_starttag(self, tag, attrs):
        names = [k for k, _ in attrs]
        self.twice += [(tag, k) for k in set(names) if names.count(k) > 1]
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if "aria-describedby" in a:
            self.described[a.get("id", tag)] = a["aria-describedby"].split()


def test_a_field_with_an_error_and_a_hint_is_read_with_both(web):
    """A screen reader reads a field's error and its hint with the field: the error first, every id named
    exists, and no attribute is written twice (a browser keeps the first and drops the error). A wrong
    file and wrong fields are named in one answer, not one after the other."""
    k = client(web, "kontrollansvarig")
    token = csrf_of(k.get(FORM).text)
    bad = {**GOOD, "deviations": "x", "action": "Rutinen ses över", "action_due": "i vår"}
    pages = []
    for data, files in [(bad, None), (bad, [("underlag", ("x.pdf", b"MZ not a pdf", "application/pdf"))])]:
        r = k.post(FORM, data={"csrf": token, **data}, files=files)
        assert r.status_code == 400
        pages.append(_Described())
        pages[-1].feed(r.text)
        assert pages[-1].twice == []
    fields, both = pages
    # the summary, read alone, says which field each problem is in (the field shows its own label)
    summary = re.search(r'<div class="error-summary".*?</div>', r.text, re.S).group(0)
    items = [html.unescape(re.sub(r"<[^>]+>", "", i)) for i in re.findall(r"<li>(.*?)</li>", summary, re.S)]
    assert any(i.startswith("Antal avvikelser: ”x” är inget heltal") for i in items), items
    assert any(i.startswith("Åtgärd klart senast: ”i vår” är inget datum") for i in items), items
    assert any(i.startswith("Filen x.pdf är inte av en typ som tas emot som underlag") for i in items), items  # named
    assert 'id="action_due-fel"><span class="visually-hidden">Fel: </span>”i vår”' in html.unescape(r.text)
    for page in pages:
        assert page.described["action_due"] == ["action_due-fel", "action_due-tips"]  # hint ÅÅÅÅ-MM-DD
        assert page.described["deviations"] == ["deviations-fel", "deviations-tips"]  # "0 om inga"
        assert "performed_by" not in page.described  # no error, no hint
    assert fields.described["underlag"] == ["underlag-tips"]
    assert both.described["underlag"] == ["underlag-fel", "underlag-tips"]  # the file's problem and the fields'
    for page in pages:
        missing = {f: [i for i in ids if i not in page.ids] for f, ids in page.described.items()}
        assert all(not m for m in missing.values()), missing


def test_a_kontrollansvarig_reports_only_their_own(web):
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    token = csrf_of(k.get(FORM).text)
    before = counts(app)
    assert k.get(OTHERS).status_code == 403
    assert k.post(OTHERS, data={"csrf": token, **GOOD}).status_code == 403
    listed = k.get("/resultat/rapportera?ar=2026&period=halvar").text
    assert "SN-2026-K02" in listed and "SN-2026-K01" not in listed
    assert counts(app) == before


def test_an_excel_upload_with_a_row_not_theirs_or_bad_shows_the_rows_and_stores_nothing(web, tmp_path):
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    page = k.get("/resultat/rapportera?ar=2026&period=halvar")
    token = csrf_of(page.text)
    path = results.template(app, "SN", 2026, "halvar", tmp_path / "mall.xlsx", org_code="exempelby")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Resultat"]
    head = {ws.cell(1, c).value: c for c in range(1, ws.max_column + 1)}
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    for code, values in (("SN-2026-K02", ["ja", "2026-06-10", 15, 1, "", "Erik Holm", ""]),
                         ("SN-2026-K01", ["ja", "2026-06-11", 15, 0, "", "Erik Holm", ""])):
        for header, v in zip(["Utförd (ja/nej)", "Datum", "Antal granskade", "Antal avvikelser", "Bedömning",
                              "Utförd av", "Godkänd av"], values):
            ws.cell(rows[code], head[header], v)
    wb.save(path)
    before = counts(app)
    r = k.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token},
               files={"fil": ("mall.xlsx", path.read_bytes(), "application/octet-stream")})
    assert r.status_code == 400
    body = text_of(r)
    assert "1 fel i filen – ingenting har sparats" in body
    assert "kontrollpunkten SN-2026-K01 är inte din att rapportera" in body
    assert re.search(rf"<td>mall.xlsx</td><td>Resultat</td><td class=\"num\">{rows['SN-2026-K01']}</td>", r.text)
    assert counts(app) == before
    # a wrong count in their own row as well: the summary counts the file's problems, not the one field
    ws.cell(rows["SN-2026-K02"], head["Antal avvikelser"], 20)
    wb.save(path)
    r = k.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token},
               files={"fil": ("mall.xlsx", path.read_bytes(), "application/octet-stream")})
    body = text_of(r)
    assert r.status_code == 400 and "Det finns 2 fel att rätta" in body and "2 fel i filen" in body, body
    assert "20 avvikelser men bara 15 granskade" in body, body
    assert counts(app) == before


def _encrypted_pdf(source: bytes, user: str = "hemligt") -> bytes:
    """With a user password it cannot be opened; with only an owner password it opens but is encrypted."""
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(source)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="ägare", user=user))
    return out.getvalue()


def _zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in names:
            z.writestr(n, "x")
    return out.getvalue()


def _a_pdf(app: App, tmp_path) -> bytes:
    from ikcheck.reporting import plan as plan_out

    return plan_out.export(app, "SN", 2026, "pdf", tmp_path / "plan.pdf", org_code="exempelby").read_bytes()


def test_underlag_of_the_wrong_kind_are_refused_and_nothing_is_stored(web, tmp_path):
    app, _, _ = web
    pdf = _a_pdf(app, tmp_path)
    corpus = [  # (file name, content, what the refusal says)
        ("stickprov.pdf", b"MZ\x90\x00\x03\x00\x00\x00 a Windows program renamed", "inte av en typ som tas emot"),
        ("bild.png", b"<html><script>alert(1)</script></html>", "inte av en typ som tas emot"),
        ("arkiv.docx", _zip(["readme.txt"]), "zip-fil men inget Excel- eller Word-dokument"),
        ("gammal.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "äldre Office-format"),
        ("hemlig.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptionInfo".encode("utf-16-le"),
         "lösenordsskyddad"),
        ("skyddad.pdf", _encrypted_pdf(pdf), "lösenordsskyddad PDF"),
        ("begransad.pdf", _encrypted_pdf(pdf, user=""), "krypterad PDF"),
        ("trasig.pdf", pdf[:400], "går inte att läsa"),
        ("tom.csv", b"", "är tom"),
        ("stor.pdf", pdf + b"\x00" * (25 * 1024 * 1024), "högst 25 MB"),
    ]
    k = client(web, "kontrollansvarig")
    token = csrf_of(k.get(FORM).text)
    before = counts(app)
    for name, content, said in corpus:
        r = k.post(FORM, data={"csrf": token, **GOOD}, files=[("underlag", (name, content, "application/pdf"))])
        assert r.status_code == 400, name
        assert said in text_of(r) and name in text_of(r), (name, text_of(r)[:600])
        assert counts(app) == before, name  # neither the result nor the file


def test_a_result_is_not_stored_without_its_underlag(web, tmp_path):
    """The result and its files are one transaction: when storing the file fails (here the database
    itself refuses it, through a trigger), the result is not stored either."""
    app, _, _ = web
    pdf = _a_pdf(app, tmp_path)
    pg = app.db.engine.dialect.name == "postgresql"
    refuse = ([text("CREATE FUNCTION ik_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'lagringen är full'; "
                    "END $$ LANGUAGE plpgsql"),
               text("CREATE TRIGGER ik_full BEFORE INSERT ON evidence FOR EACH ROW EXECUTE FUNCTION ik_refuse()")]
              if pg else [text("CREATE TRIGGER ik_full BEFORE INSERT ON evidence BEGIN "
                               "SELECT RAISE(ABORT, 'lagringen är full'); END")])
    k = TestClient(web[1], raise_server_exceptions=False)
    assert login(k, "kontrollansvarig").status_code == 303
    token = csrf_of(k.get(FORM).text)
    before = counts(app)
    with app.db.engine.begin() as conn:
        for statement in refuse:
            conn.execute(statement)
    try:
        r = k.post(FORM, data={"csrf": token, **GOOD}, files=[("underlag", ("stickprov.pdf", pdf, "application/pdf"))],
                   headers={"referer": f"http://testserver{FORM}"})
    finally:
        with app.db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER ik_full ON evidence" if pg else "DROP TRIGGER ik_full"))
            if pg:
                conn.execute(text("DROP FUNCTION ik_refuse()"))
    assert r.status_code == 500
    assert "Något gick fel" in text_of(r) and "gå tillbaka till sidan och se efter om det finns med" in text_of(r)  # in Swedish
    assert f'<a href="{FORM}">Tillbaka till sidan</a>' in r.text  # back to the form, to look
    assert "default-src" in r.headers["content-security-policy"]  # the error page has the headers too
    assert counts(app) == before  # neither the result nor its file
    assert auditlog.verify(app).problems == []


def test_underlag_kept_once_downloaded_as_attachment_traced_and_verified(web, tmp_path, cli):
    app, _, directory = web
    pdf = _a_pdf(app, tmp_path)
    k = client(web, "kontrollansvarig")
    token = csrf_of(k.get(FORM).text)
    before = counts(app)
    lista = "Ärende;Beslutsdatum;Avvikelse\n2026-014;2026-03-02;nej\n2026-031;2026-04-17;ja\n".encode()
    r = k.post(FORM, data={"csrf": token, **{**GOOD, "deviations": "1"}}, follow_redirects=False,
               files=[("underlag", ("stickprov.png", pdf, "image/png")), ("underlag", ("lista.csv", lista, "text/csv"))])
    assert r.status_code == 303, text_of(r)[:800]
    after = counts(app)
    assert after["results"] == before["results"] + 1 and after["evidence"] == before["evidence"] + 2
    with app.session() as s:
        rid = s.scalar(select(Evidence.result_id).order_by(Evidence.id.desc()))
    page = k.get(f"/resultat/{rid}")
    links = re.findall(r'href="/underlag/(\d+)"', page.text)
    assert len(links) == 2 and "stickprov.png.pdf" in page.text  # named for what it is
    d = k.get(f"/underlag/{links[0]}")
    assert d.content == pdf and d.headers["content-type"] == "application/pdf"
    assert d.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in d.headers["content-security-policy"]
    # the same file on another result: one stored copy
    k.post(FORM.replace("halvar", "helar"), data={"csrf": token, **{**GOOD, "date": "2026-11-20"}},
           files=[("underlag", ("samma.pdf", pdf, "application/pdf"))])
    assert counts(app)["content"] == after["content"]
    assert counts(app)["evidence"] == after["evidence"] + 1
    # a correction bringing a file the result already has, and a field wrong: one answer names both
    # problems, before anything is stored (the result is not stored without its underlag)
    opened = re.search(r'name="ersatter" value="(\d+)"', k.get(FORM).text)[1]
    now = counts(app)
    r = k.post(FORM, data={"csrf": token, **{**GOOD, "examined": "x"}, "ersatter": opened, "reason": "Fel antal"},
               files=[("underlag", ("igen.pdf", pdf, "application/pdf"))])
    assert r.status_code == 400
    assert "Filen igen.pdf är redan bifogad till resultatet" in text_of(r)
    assert 'id="underlag-fel"' in r.text and 'id="examined-fel"' in r.text
    assert counts(app) == now
    r = k.post(FORM, data={"csrf": token, **{**GOOD, "examined": "x"}, "ersatter": opened, "reason": " "})
    assert r.status_code == 400 and 'id="examined-fel"' in r.text and 'id="reason-fel"' in r.text  # both at once
    assert "Skälet till rättelsen saknas" in text_of(r) and counts(app) == now
    # another kommun cannot fetch it; the revisor sees it in the trace
    other = client(web, "andraby-ks")
    assert other.get(f"/underlag/{links[0]}").status_code == 404
    assert "stickprov.png.pdf" in client(web, "revisor").get(f"/spara/result/{rid}").text
    # audit verify finds a file changed behind ikcheck's back
    assert auditlog.verify(app).problems == []
    from sqlalchemy import update

    with app.db.engine.begin() as conn:
        conn.execute(update(EvidenceContent).values(content=b"%PDF-1.4 edited")
                     .where(EvidenceContent.sha256 == select(Evidence.sha256).where(Evidence.id == int(links[1]))
                            .scalar_subquery()))
    res = cli("audit", "verify", db=app.settings.database_url)
    assert res.code != 0 and "lista.csv" not in res.text and "har ändrats i databasen" in res.text


def test_approval_by_a_second_person_never_by_the_one_who_performed_it(web):
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    form = "/resultat/rapportera/SN/2026/helar/SN-2026-K02"
    token = csrf_of(k.get(form).text)
    if "Skäl till rättelsen" in k.get(form).text:  # reported by an earlier test: a correction
        r = k.post(form, data={"csrf": token, **GOOD, "date": "2026-11-21", "reason": "Nytt stickprov"},
                   follow_redirects=False)
    else:
        r = k.post(form, data={"csrf": token, **GOOD, "date": "2026-11-21"}, follow_redirects=False)
    assert r.status_code == 303
    with app.session() as s:
        rid = s.scalar(select(ControlResult.id).where(ControlResult.period == "helar", ControlResult.is_current.is_(True))
                       .order_by(ControlResult.id.desc()))
    before = counts(app)
    r = k.post(f"/resultat/{rid}/godkann", data={"csrf": token})
    assert r.status_code == 400 and "Erik Holm har utfört kontrollen och kan inte också godkänna den" in text_of(r)
    assert counts(app) == before
    c = client(web, "controller")
    r = c.post(f"/resultat/{rid}/godkann", data={"csrf": csrf_of(c.get(f"/resultat/{rid}").text)},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "Godkänd av Anna Lind" in text_of(page) and "Resultatet är godkänt." in page.text
    # the one who performed it may approve only saying why, and the reason is kept with the result
    r2 = k.post(form, data={"csrf": token, **GOOD, "date": "2026-11-22", "reason": "Datumet var fel"},
                follow_redirects=False)
    assert r2.status_code == 303
    with app.session() as s:
        rid2 = s.scalar(select(ControlResult.id).where(ControlResult.period == "helar", ControlResult.is_current.is_(True))
                        .order_by(ControlResult.id.desc()))
        assert s.get(ControlResult, rid2).approved_by is None  # a correction needs approving again
    r3 = k.post(f"/resultat/{rid2}/godkann", data={"csrf": token, "undantag": "Ensam på enheten under semestern"},
                follow_redirects=False)
    assert r3.status_code == 303
    with app.session() as s:
        current = s.scalar(select(ControlResult).where(ControlResult.lineage_id == s.get(ControlResult, rid2).lineage_id,
                                                       ControlResult.period == "helar", ControlResult.is_current.is_(True)))
        assert current.approved_by == "Erik Holm"
        assert "Ensam på enheten under semestern" in current.correction_reason


def test_a_correction_opened_before_someone_elses_is_not_stored_over_it(web):
    """Two people correct one result: the one whose form was opened on the version now replaced is
    told so and nothing is stored; saving again (the form now knows the newest version) replaces it."""
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    form = "/resultat/rapportera/SN/2026/helar/SN-2026-K02"
    page = k.get(form)
    if "Skäl till rättelsen" not in page.text:  # not yet reported: report it first
        r = k.post(form, data={"csrf": csrf_of(page.text), **GOOD, "date": "2026-11-18"}, follow_redirects=False)
        assert r.status_code == 303, text_of(r)
        page = k.get(form)
    opened = re.search(r'name="ersatter" value="(\d+)"', page.text).group(1)
    # meanwhile a colleague corrects the same result through the same service
    results.report_form(app, "SN", 2026, "helar", "SN-2026-K02", {**GOOD, "date": "2026-11-19"},
                        reason="Kollegans rättelse", org_code="exempelby")
    before = counts(app)
    r = k.post(form, data={"csrf": csrf_of(page.text), **GOOD, "date": "2026-11-20", "reason": "Min rättelse",
                           "ersatter": opened})
    assert r.status_code == 400 and "Någon annan har rättat resultatet medan du hade formuläret öppet" in text_of(r)
    assert counts(app) == before
    newer = re.search(r'name="ersatter" value="(\d+)"', r.text).group(1)
    assert newer != opened and 'value="2026-11-20"' in r.text  # their values stay, against the newest version
    r = k.post(form, data={"csrf": csrf_of(r.text), **GOOD, "date": "2026-11-20", "reason": "Min rättelse",
                           "ersatter": newer}, follow_redirects=False)
    assert r.status_code == 303
    with app.session() as s:
        current = s.scalar(select(ControlResult).where(ControlResult.id > int(newer), ControlResult.is_current.is_(True),
                                                       ControlResult.supersedes_id == int(newer)))
        assert current is not None and current.correction_reason == "Min rättelse"


def test_an_atgard_is_updated_by_its_owner_and_closed_only_saying_how(web):
    app, _, _ = web
    k = client(web, "kontrollansvarig")
    page = k.get("/atgarder/SN-2026-Å01")
    token = csrf_of(page.text)
    r = k.post("/atgarder/SN-2026-Å01", data={"csrf": token, "status": "klar", "kommentar": ""})
    assert r.status_code == 400 and "Beskriv hur åtgärden genomförts" in text_of(r)
    r = k.post("/atgarder/SN-2026-Å01", data={"csrf": token, "status": "klar", "kommentar": "Rutinen är omskriven",
                                              "datum": "2099-01-01"})
    assert r.status_code == 400 and "ligger i framtiden" in text_of(r)
    r = k.post("/atgarder/SN-2026-Å01", data={"csrf": token, "status": "klar", "kommentar": "Rutinen är omskriven"},
               follow_redirects=False)
    assert r.status_code == 303
    shown = text_of(k.get(r.headers["location"]))
    assert "Åtgärden är uppdaterad." in shown and "→ klar (Erik Holm (konto" in shown
    assert "Uppdatera åtgärden" not in shown  # klar: nothing more to update
    assert k.post("/atgarder/SN-2026-Å02", data={"csrf": token, "status": "pågår"}).status_code == 403  # Socialchef's


def _risk(app: App, code: str):
    with app.session() as s:
        risk = s.scalar(select(Risk).where(Risk.code == code))
        current = {ra.year: (ra.likelihood, ra.impact, ra.assessed_by) for ra in risk.assessments if ra.is_current}
        current["unit"] = risk.unit.code
        return risk, current


def _events(app: App, code: str) -> list[tuple[str, str]]:
    with app.session() as s:
        return [(e.action, e.actor) for e in s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "risk", AuditEvent.entity_id == code).order_by(AuditEvent.seq))]


def test_a_controller_keeps_the_register_between_workshops(web):
    """Add a risk found after an incident (assessed at once), change it, assess it again, merge a
    duplicate into it and retire it: each refused form stores nothing and says why at its field, each
    stored change is in the log under the controller's name, and the data still verifies."""
    app, _, _ = web
    c = client(web, "controller")
    year = today().year + 1
    token = csrf_of(c.get("/risker").text)
    found = auditlog.verify(app).problems  # (an earlier test of the module alters an underlag on purpose)
    fields = {"enhet": "SN", "rubrik": "Utbetalning till fel konto efter bytt bankkonto", "kategori": "ekonomi",
              "kalla": "incident", "lagkrav": "nej", "ar": str(year), "ruta": "3-4"}
    new = {"csrf": token, **{f"ny-{k}": v for k, v in fields.items()}}  # the register's form for a new risk
    edit = {"csrf": token, **fields}  # the risk page's form
    before = counts(app)
    for missing, says, field in (("rubrik", "Skriv riskens rubrik", "rubrik"), ("ruta", "Välj sannolikhet och konsekvens",
                                                                               "ruta")):
        r = c.post("/risker", data={**new, f"ny-{missing}": ""})
        assert r.status_code == 400 and says in text_of(r), text_of(r)
        assert f'href="#ny-{field}"' in r.text
        assert 'value="Utbetalning till fel konto' in r.text or missing == "rubrik"  # what was typed stays
    r = c.post("/risker", data={**new, "ny-rubrik": "", "ny-ruta": ""})  # every problem at once
    assert r.status_code == 400 and "Det finns 2 fel att rätta" in text_of(r)
    r = c.post("/risker", data={**new, "ny-process": "KFN-P1"})
    assert r.status_code in (400, 404)
    assert counts(app) == before
    r = c.post("/risker", data=new, follow_redirects=False)
    assert r.status_code == 303, text_of(r)
    code = r.headers["location"].split("/risker/")[1].split("?")[0]
    shown = text_of(c.get(r.headers["location"]))
    assert "Risken är tillagd i riskregistret med sin bedömning" in shown
    risk, current = _risk(app, code)
    assert (risk.category, risk.source, current["unit"]) == ("ekonomi", "incident", "SN")
    assert current[year][:2] == (3, 4) and "Anna Lind" in current[year][2]
    assert [a for a, _who in _events(app, code)] == ["skapa"]  # (the assessment is an event of its own)
    # a change: only what differs; nothing differing is refused
    r = c.post(f"/risker/{code}", data={**edit, "agare": "Ekonomichef"}, follow_redirects=False)
    assert r.status_code == 303
    assert _risk(app, code)[0].owner == "Ekonomichef"
    r = c.post(f"/risker/{code}", data={**edit, "agare": "Ekonomichef"})
    assert r.status_code == 400 and "Ingenting att ändra" in text_of(r)
    # assessed again: the earlier assessment stays in the history
    r = c.post(f"/risker/{code}/bedom", data={"csrf": token, "ar": str(year), "ruta": "2-4"}, follow_redirects=False)
    assert r.status_code == 303
    assert _risk(app, code)[1][year][:2] == (2, 4)
    with app.session() as ss:
        assert ss.scalar(select(func.count()).select_from(RiskAssessment).where(
            RiskAssessment.risk_id == _risk(app, code)[0].id, RiskAssessment.year == year)) == 2
    assert "2 4 8" in text_of(c.get(f"/risker/{code}")) and "3 4 12" in text_of(c.get(f"/risker/{code}"))
    # a duplicate merged into it: the merged one is avslutad, its page has no forms
    r = c.post("/risker", data={**new, "ny-rubrik": "Fel konto vid utbetalning (dubblett)"}, follow_redirects=False)
    dup = r.headers["location"].split("/risker/")[1].split("?")[0]
    r = c.post(f"/risker/{dup}/sla-ihop", data={"csrf": token, "behall": ""})
    assert r.status_code == 400 and "Välj risken som finns kvar" in text_of(r)
    r = c.post(f"/risker/{dup}/sla-ihop", data={"csrf": token, "behall": code}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/risker/{code}?")
    merged, _ = _risk(app, dup)
    assert merged.status == "retired" and merged.merged_into_id == _risk(app, code)[0].id
    assert "Ändra risken" not in text_of(c.get(f"/risker/{dup}"))
    # retired, with a reason
    r = c.post(f"/risker/{code}/avsluta", data={"csrf": token, "skal": " "})
    assert r.status_code == 400 and "Skriv varför risken avslutas" in text_of(r)
    r = c.post(f"/risker/{code}/avsluta", data={"csrf": token, "skal": "Utbetalningarna görs nu av ekonomienheten"},
               follow_redirects=False)
    assert r.status_code == 303
    assert _risk(app, code)[0].status == "retired"
    r = c.post(f"/risker/{code}", data={**edit, "agare": "Någon annan"})
    assert r.status_code == 400 and "avslutad och kan inte ändras" in text_of(r)
    assert [a for a, _ in _events(app, code)] == ["skapa", "ändra", "avsluta"]
    assert all("Anna Lind" in who for _a, who in _events(app, code) + _events(app, dup))
    assert auditlog.verify(app).problems == found  # every change is under the log


WRITES = [  # (path, the roles that may), each posted by every role with an otherwise valid form
    ("/planer/SN/2027/ta-fram", {"controller"}),
    ("/planer/SN/2027/acceptera", {"controller"}),
    ("/planer/SN/2027/besluta", {"sekreterare"}),
    ("/planer/SN/2026/revidera", {"controller"}),
    (FORM, {"controller", "kontrollansvarig"}),
    ("/atgarder/SN-2026-Å02", {"controller"}),
    ("/rapporter/SN/2026/halvar/lamna-in", {"sekreterare"}),
    ("/risker", {"controller"}),
    ("/risker/SN-R002", {"controller"}),
    ("/risker/SN-R002/bedom", {"controller"}),
    ("/risker/SN-R002/sla-ihop", {"controller"}),
    ("/risker/SN-R002/avsluta", {"controller"}),
]


@pytest.mark.parametrize("role", ["admin", "ks", "revisor", "controller", "sekreterare", "kontrollansvarig"])
def test_no_role_writes_what_it_may_not(web, role):
    """Every write refused for a role without the right changes nothing; KFN (not the controller's unit)
    and another kommun's units are refused for every role."""
    app, _, _ = web
    c = client(web, role)
    token = csrf_of(c.get("/").text)
    for path, allowed in WRITES:
        if role in allowed:
            continue
        before = counts(app)
        r = c.post(path, data={"csrf": token, **GOOD, "status": "pågår", "datum": "2026-11-20", "paragraf": "§ 1",
                               "dnr": "X", "revidera-skal": "test"}, follow_redirects=False)
        assert r.status_code in (403, 404), (role, path, r.status_code)
        assert counts(app) == before, (role, path)
    for path in ["/planer/KFN/2027/ta-fram", "/rapporter/KFN/2025/halvar/lamna-in", "/planer/XX/2027/ta-fram",
                 "/risker/KFN-R001/avsluta", "/risker/KFN-R001"]:
        before = counts(app)
        r = c.post(path, data={"csrf": token, "datum": "2026-11-20", "skal": "test", "rubrik": "Ändrad"},
                   follow_redirects=False)
        assert r.status_code in (403, 404), (role, path)
        assert counts(app) == before, (role, path)
    r = c.post("/risker", data={"csrf": token, "ny-enhet": "KFN", "ny-rubrik": "Ny", "ny-ruta": "2-2"},
               follow_redirects=False)
    assert r.status_code in (403, 404), role  # a new risk in a unit that is not theirs


def test_the_admin_adds_changes_and_disables_accounts_and_applies_the_org_file(web, tmp_path):
    app, _, _ = web
    a = client(web, "admin")
    token = csrf_of(a.get("/konton").text)
    r = a.post("/konton", data={"csrf": token, "username": "lena.ek", "namn": "Lena Ek", "roll": "kontrollansvarig",
                                "befattning": "Enhetschef myndighet", "losenord": "kort"})
    assert r.status_code == 400 and "Lösenordet är för kort" in text_of(r)
    assert 'value="lena.ek"' in r.text  # what was typed stays (the password never)
    r = a.post("/konton", data={"csrf": token, "username": "lena.ek", "namn": "Lena Ek", "roll": "kontrollansvarig",
                                "enheter": "SN", "befattning": "Enhetschef myndighet",
                                "losenord": "ett-långt-lösenord"}, follow_redirects=False)
    assert r.status_code == 303
    lena = TestClient(web[1])
    assert login(lena, "lena.ek", "ett-långt-lösenord").status_code == 303
    r = a.post("/konton/lena.ek", data={"csrf": token, "gor": "role", "roll": "controller", "enheter": ["SN", "KFN"]},
               follow_redirects=False)
    assert r.status_code == 303
    assert lena.get("/", follow_redirects=False).status_code == 303  # a new role: she logs in again
    # a befattning handed over from a day: the one who held it stops the day before (issue #22)
    import datetime as dt

    from ikcheck import positions
    from ikcheck.calendar import today

    r = a.post("/konton/lena.ek", data={"csrf": token, "gor": "position", "befattning": "Enhetschef barn och unga",
                                        "fran": (today() - dt.timedelta(days=1)).isoformat()})
    assert r.status_code == 400 and "ett byte måste ligga efter den dagen" in text_of(r)  # she started today
    r = a.post("/konton/lena.ek", data={"csrf": token, "gor": "position", "befattning": "Enhetschef barn och unga",
                                        "fran": ""}, follow_redirects=False)
    assert r.status_code == 303
    held = positions.history(app, "Enhetschef barn och unga", org_code="exempelby")
    assert [(h["namn"], h["från"], h["till"]) for h in held][:2] == [
        ("Lena Ek", today(), ""), ("Erik Holm", dt.date(2024, 8, 20), today() - dt.timedelta(days=1))]
    r = a.post("/konton/lena.ek", data={"csrf": token, "gor": "position", "befattning": "X", "fran": "2099-01-01"})
    assert r.status_code == 400 and "framtiden" in text_of(r)
    a.post("/konton/lena.ek", data={"csrf": token, "gor": "position", "befattning": "", "fran": ""})
    assert a.post("/konton/admin", data={"csrf": token, "gor": "disable"}).status_code == 400  # not oneself
    assert a.post("/konton/lena.ek", data={"csrf": token, "gor": "disable"}, follow_redirects=False).status_code == 303
    assert login(TestClient(web[1]), "lena.ek", "ett-långt-lösenord").status_code == 400
    assert client(web, "ks").post("/konton", data={"csrf": token}).status_code == 403
    # the org file: shown first, then applied
    from ikcheck.config import bundled

    text = (bundled("riskregister") / "demo" / "exempelby.yaml").read_text(encoding="utf-8").replace(
        "name: Kultur- och fritidsnämnden", "name: Kultur-, fritids- och turismnämnden")
    r = a.post("/organisation", data={"csrf": token}, files={"fil": ("exempelby.yaml", text.encode(), "text/yaml")})
    assert r.status_code == 200 and "KFN, namn: Kultur- och fritidsnämnden → Kultur-, fritids- och turismnämnden" in \
        text_of(r)
    assert "Kultur- och fritidsnämnden" in text_of(a.get("/organisation"))  # nothing applied yet
    r = a.post("/organisation", data={"csrf": token, "gor": "tillampa", "filnamn": "exempelby.yaml", "text": text},
               follow_redirects=False)
    assert r.status_code == 303 and "Kultur-, fritids- och turismnämnden" in text_of(a.get("/organisation"))
    other = text.replace("code: exempelby", "code: andraby")
    r = a.post("/organisation", data={"csrf": token}, files={"fil": ("andraby.yaml", other.encode(), "text/yaml")})
    assert r.status_code == 400 and "inte 'exempelby'" in text_of(r)


def test_ks_adds_a_kommunovergripande_kontrollpunkt(web):
    k = client(web, "ks")
    token = csrf_of(k.get("/ks-krav?ar=2028").text)
    r = k.post("/ks-krav?ar=2028", data={"csrf": token, "kod": "ks-lon", "kontrollpunkt": "Lön enligt beslut",
                                         "metod": "stickprov", "frekvens": "halvår", "omfattning": "tjugo"})
    assert r.status_code == 400 and "Omfattning" in text_of(r)
    r = k.post("/ks-krav?ar=2028", data={"csrf": token, "kod": "ks-lon", "kontrollpunkt": "Lön enligt beslut",
                                         "metod": "stickprov", "frekvens": "halvår", "omfattning": "20",
                                         "ansvarig": "HR-chef"}, follow_redirects=False)
    assert r.status_code == 303
    page = text_of(k.get("/ks-krav?ar=2028"))
    assert "KS-LON" in page and "Lön enligt beslut" in page and "KS-ATTEST" in page  # the file's come with it
    assert "KS-LON Lön enligt beslut stickprov 20 halvår HR-chef" in page  # every field shown, the sample too
    c = client(web, "controller")
    assert c.post("/ks-krav?ar=2028", data={"csrf": csrf_of(c.get("/").text), "kod": "X", "kontrollpunkt": "Y"}
                  ).status_code == 403


def test_the_facilitator_downloads_the_workshop_summary_once_it_is_closed(web, tmp_path):
    import subprocess

    from ikcheck import live

    app = web[0]
    wid = live.open_workshop(app, "SN", 2028, org_code="exempelby")
    code, _ = live.new_code(app, wid, org_code="exempelby")
    pids = [live.joined(app, live.join(app, code, n)[0])[1] for n in ("Pia Ek", "Olle Berg")]
    items = live.state(app, wid, org_code="exempelby")["items"]
    live.score(app, wid, pids[0], items[0]["id"], 4, 4, "Fler elever i år", org_code="exempelby")
    live.score(app, wid, pids[1], items[0]["id"], 1, 1, None, org_code="exempelby")
    c = client(web, "controller")
    assert c.get(f"/workshop/{wid}/sammanstallning.pdf").status_code in (400, 404)  # not closed yet: nothing stored
    live.close(app, wid, held_on="2026-11-20", org_code="exempelby")
    page = c.get(f"/workshop/{wid}")
    assert f'href="/workshop/{wid}/sammanstallning.pdf"' in page.text
    pdf = c.get(f"/workshop/{wid}/sammanstallning.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    (tmp_path / "s.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "Pia Ek" in text and "Olle Berg" in text and "Fler elever i år" in text and "Diskutera: spridning 3 steg" in text
    assert c.get(f"/workshop/{wid}/sammanstallning.xlsx").status_code == 200
    assert c.get(f"/workshop/{wid}/sammanstallning.docx").status_code == 404
    assert client(web, "kontrollansvarig").get(f"/workshop/{wid}/sammanstallning.pdf").status_code in (403, 404)


def test_before_the_kommun_changes_matrix_a_risk_is_assessed_for_the_year_the_grid_is_drawn_for(cli, app, tmp_path):
    """The assessment form draws the coming year's matrix. When this year has another, a cell of the grid
    would mean something else on this year's (4 × 4 is the worst cell of a 4×4, not of a 5×5), so
    this year is not offered, the page says why, and a form that names it anyway stores nothing."""
    from ikcheck import accounts
    from tests.test_org import GOOD, write
    from tests.web_support import DEMO_PASSWORD

    this = today().year
    assert cli("init", "--org", write(tmp_path, GOOD)).code == 0
    assert cli("risk", "add", "--unit", "SN", "--title", "Beslut saknar stöd", "--owner", "Chef").code == 0
    assert cli("risk", "assess", "SN-R001", "--year", str(this), "-s", "4", "-k", "4").code == 0
    five = GOOD.replace("matrix: kommun-4x4", f"matrix: kommun-5x5\n  matrix_from: {this + 1}")
    r = cli("org", "apply", write(tmp_path, five, "fem.yaml"))
    assert r.code == 0 and f"från {this + 1}: kommun-4x4 → kommun-5x5" in r.out, r.out + r.err
    accounts.add_user(app, "controller", full_name="Anna Lind", email=None, role="controller", units=["SN"],
                      password=DEMO_PASSWORD, title=None)
    c = client((app, create_app(app)), "controller")
    page = c.get("/risker/SN-R001")
    form = page.text[page.text.index('action="/risker/SN-R001/bedom"'):]
    form = form[:form.index("</form>")]
    assert re.findall(r'<option value="(\d+)"', form) == [str(this + 1)]
    assert f"Från {this + 1} bedöms risker i en ny matris" in text_of(page)
    assert re.search(r'<p class="hint" id="ar-tips">Från \d+ bedöms', form)  # read with the year field:
    assert re.search(r'<select id="ar" name="ar" aria-describedby="ar-tips">', form)
    assert 'value="5-5"' in form  # the 5×5 grid
    new = c.get("/risker").text
    assert f"Från {this + 1} bedöms risker i en ny matris" in text_of(c.get("/risker")) and 'value="5-5"' in new
    token, before = csrf_of(page.text), counts(app)
    r = c.post("/risker/SN-R001/bedom", data={"csrf": token, "ar": str(this), "ruta": "4-4"})
    assert r.status_code == 400 and f"välj året bedömningen gäller ({this + 1})" in text_of(r).lower(), text_of(r)
    assert counts(app) == before and _risk(app, "SN-R001")[1][this][:2] == (4, 4)
    r = c.post("/risker/SN-R001/bedom", data={"csrf": token, "ar": str(this + 1), "ruta": "5-5"}, follow_redirects=False)
    assert r.status_code == 303, text_of(r)
    assert _risk(app, "SN-R001")[1][this + 1][:2] == (5, 5)
    assert cli("audit", "verify").code == 0


def test_the_browser_is_told_what_to_do_in_words_and_led_to_the_page_that_does_it(web, monkeypatch):
    """A plan that cannot be derived says why in words that hold in the browser (the CLI's command
    stays in the terminal), and Att göra links each årshjul item to the page where it is done."""
    monkeypatch.setenv("IKCHECK_TODAY", "2026-10-01")
    c = client(web, "controller")
    token = csrf_of(c.get("/").text)
    r = c.post("/planer/SN/2040/ta-fram", data={"csrf": token}, follow_redirects=False)
    said = text_of(r)
    assert r.status_code == 400, said
    assert "Socialnämnden har inga riskbedömningar för 2040. Håll riskworkshoppen först." in said, said
    assert "`" not in said and "ikcheck workshop" not in said and "--" not in said, said
    assert '<a href="/planer?ar=2040">Tillbaka till sidan</a>' in r.text  # to the plans, to try again there
    page = c.get("/").text
    items = re.findall(r"Plan för intern kontroll (\d{4}) beslutad", page)
    assert items, text_of(c.get("/"))  # SN's plan for 2027 is due this autumn, other units' are late
    for year in set(items):
        assert f'<a href="/planer?ar={year}">Plan för intern kontroll {year} beslutad</a>' in page, page
    r = c.get(f"/planer?ar={items[0]}")
    assert r.status_code == 200 and "Ta fram planutkast" in r.text
    # a unit's plan page for a year without a plan (a reminder's link, a bookmark): the year's plans
    r = c.get("/planer/SN/2040", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/planer?ar=2040", r.status_code
    assert c.get("/planer/SN/2040/punkt/SN-2040-K01").status_code == 404
    # the open åtgärder (several read alike) each say which kontrollpunkt's result they came from
    listed = re.findall(r'<a href="/atgarder/([^"]+)">[^<]+</a>( \([^)]*\))?: ([^<]*?) – klart senast', page)
    assert listed and all(re.fullmatch(r" \((SN-\d{4}-[A-Z0-9-]+ (halvår|helår)|direktåtgärd för SN-R\d+)\)", g)
                          for _c, g, _t in listed), listed
    assert any("direktåtgärd" in g for _c, g, _t in listed) and any("halvår" in g for _c, g, _t in listed), listed
    assert not any(t.endswith(".") for _c, _g, t in listed), listed  # "… utbildas – klart", not "utbildas. –"


def test_several_files_are_read_in_at_once_all_or_nothing(web, tmp_path):
    """A controller sends the returned templates of both periods in one upload: every row of every file
    checked first, a problem in one stores nothing from the other; two files of the same name (from
    two folders) are both read; files sent again are named and change nothing. (Last in the module: it
    reports every SN kontrollpunkt of 2026, which the tests before it report one by one.)"""
    app, _, _ = web
    c = client(web, "controller")
    token = csrf_of(c.get("/resultat/rapportera?ar=2026&period=halvar").text)
    from openpyxl import load_workbook

    sent = []
    for period, day in (("halvar", "2026-06-15"), ("helar", "2026-11-16")):
        path = results.template(app, "SN", 2026, period, tmp_path / f"{period}.xlsx", org_code="exempelby")
        wb = load_workbook(path)
        ws = wb["Resultat"]
        head = {ws.cell(1, col).value: col for col in range(1, ws.max_column + 1)}
        for r in range(2, ws.max_row + 1):
            for header, v in {"Utförd (ja/nej)": "ja", "Datum": day, "Antal granskade": 12, "Antal avvikelser": 0,
                              "Utförd av": "Anna Lind", "Godkänd av": "Karin Ström"}.items():
                ws.cell(r, head[header], v)
        wb.save(path)
        sent.append(("resultat.xlsx", path.read_bytes(), "application/octet-stream"))  # the same name twice
    bad = load_workbook(tmp_path / "helar.xlsx")
    bad["Resultat"].cell(2, head["Antal granskade"], "tolv")
    bad.save(tmp_path / "fel.xlsx")
    before = counts(app)
    r = c.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token},
               files=[("fil", sent[0]), ("fil", ("fel.xlsx", (tmp_path / "fel.xlsx").read_bytes(), "x"))])
    assert r.status_code == 400 and "”tolv” är inget heltal" in text_of(r) and counts(app) == before
    # (SN-2026-K02 was reported by the tests before: its rows are corrections, with a reason)
    r = c.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token, "skal": "Hela året samlat"},
               files=[("fil", sent[0]), ("fil", sent[1])], follow_redirects=False)
    assert r.status_code == 303 and "klart=filer" in r.headers["location"], r.text
    stored = {p: len(results.list_results(app, "SN", 2026, p, org_code="exempelby")) for p in ("halvar", "helar")}
    assert all(stored.values()) and counts(app)["results"] == before["results"] + sum(
        len(load_workbook(tmp_path / f"{p}.xlsx")["Resultat"]["A"]) - 1 for p in ("halvar", "helar")), stored
    assert "Filerna är inlästa." in c.get(r.headers["location"]).text
    r = c.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token, "skal": "Hela året samlat"},
               files=[("fil", sent[0]), ("fil", sent[1])])
    assert r.status_code == 400 and "Filerna är redan inlästa" in text_of(r)
    # one file new (a comment added) beside one already read: the new one is read, the other named
    wb = load_workbook(tmp_path / "halvar.xlsx")
    wb["Resultat"].cell(2, head["Kommentar"], "Kompletterat med underlag")
    wb.save(tmp_path / "halvar-2.xlsx")
    before = counts(app)
    r = c.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token, "skal": "Kommentar tillagd"},
               files=[("fil", ("halvar-2.xlsx", (tmp_path / "halvar-2.xlsx").read_bytes(), "x")), ("fil", sent[1])],
               follow_redirects=False)
    assert r.status_code == 303 and "klart=filer-delvis" in r.headers["location"], r.text
    assert counts(app)["results"] == before["results"] + 1
    assert "de som redan var inlästa ändrade ingenting" in c.get(r.headers["location"]).text
    # a name that is no file's, or an old browser's whole path: read under a name of its own
    for sent_as, shown in (("..", "resultat.xlsx"), ("C:\\fakepath\\fel.xlsx", "fel.xlsx")):
        r = c.post("/resultat/rapportera?ar=2026&period=halvar", data={"csrf": token},
                   files=[("fil", (sent_as, (tmp_path / "fel.xlsx").read_bytes(), "x"))])
        assert r.status_code == 400 and "”tolv” är inget heltal" in text_of(r), text_of(r)
        assert f"<td>{shown}</td><td>Resultat</td>" in r.text
    # more than a request may carry: a page that says so, and the way back to the form
    page, before = "/resultat/rapportera?ar=2026&period=halvar", counts(app)
    r = c.post(page, data={"csrf": token}, headers={"referer": f"http://testserver{page}"},
               files=[("fil", ("stor.xlsx", b"x" * (51 * 1024 * 1024), "x"))])
    assert r.status_code == 413 and "större än 50 MB och togs inte emot" in text_of(r), text_of(r)
    assert f'<a href="{html.escape(page)}">Tillbaka till sidan</a>' in r.text and counts(app) == before
