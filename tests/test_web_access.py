"""The web app in-process (the ASGI app, no server): who may see what, route by route and role by role;
CSRF on every state-changing request; the security headers; login, throttling, sessions, logout."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from markupsafe import escape
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ikcheck import accounts
from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.store.models import (AuditEvent, ControlPlan, ControlPoint, ControlResult, Organisation, Risk, Unit,
                                  WebSession)
from ikcheck.web import create_app
from ikcheck.web.routes import ROUTES
from tests.conftest import make_settings
from tests.web_support import csrf_of, login

ROLES = ["admin", "ks", "controller", "sekreterare", "kontrollansvarig", "revisor"]
ALL = set(ROLES)
UNIT_READ = {"ks", "revisor", "controller", "sekreterare"}  # the demo's controller and sekreterare work with SN
WHOLE = {"ks", "revisor"}
OWN_SN = "Enhetschef barn och unga"  # the demo kontrollansvarig's befattning


@pytest.fixture(scope="module")
def web(web_db):
    url, _ = web_db
    app = App(load_settings(url, "testare"))
    return app, create_app(app)


@pytest.fixture(scope="module")
def ids(web):
    """Ids of the demo's things the matrix needs: an SN result that is the kontrollansvarig's own, one that
    is not, a KFN result, and a result of the other kommun."""
    app, _ = web
    with app.session() as s:
        def result(org_code, unit_code, owner=None, not_owner=None):
            q = (select(ControlResult.id).join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                 .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id).join(Unit, Unit.id == ControlPlan.unit_id)
                 .join(Organisation, Organisation.id == Unit.org_id)
                 .where(Organisation.code == org_code, Unit.code == unit_code, ControlResult.is_current.is_(True)))
            if owner:
                q = q.where(ControlPoint.owner == owner)
            if not_owner:
                q = q.where(ControlPoint.owner != not_owner)
            return s.scalar(q.order_by(ControlResult.id).limit(1))

        return {"sn_own": result("exempelby", "SN", owner=OWN_SN), "sn_other": result("exempelby", "SN", not_owner=OWN_SN),
                "kfn": result("exempelby", "KFN"), "andraby": result("andraby", "SN")}


def expected_matrix(ids) -> list[tuple]:
    """(path, roles that get the page, status for the others[, status for named roles]). Written out, not
    derived from access.can."""
    sn, sn2, kfn, other = ids["sn_own"], ids["sn_other"], ids["kfn"], ids["andraby"]
    return [
        ("/", ALL, 403),
        ("/oversikt", WHOLE, 403),
        ("/oversikt?sortera=status&period=halvar", WHOLE, 403),
        ("/oversikt.xlsx?ar=2025", WHOLE, 403),
        ("/enheter/SN", UNIT_READ, 403),
        ("/enheter/KFN", WHOLE, 403),
        ("/enheter/FINNS-INTE", set(), 404),
        ("/enheter/SN/riskkarta?ar=2025", UNIT_READ, 403),
        ("/enheter/KFN/riskkarta?ar=2025", WHOLE, 403),
        ("/risker", UNIT_READ, 403),
        ("/risker?enhet=SN&niva=hög&text=barn", UNIT_READ, 403),
        ("/risker/SN-R001", UNIT_READ, 403),
        ("/risker/KFN-R001", WHOLE, 403),
        ("/risker/XX-R999", set(), 404),
        ("/planer", ALL - {"admin"}, 403),
        ("/planer/SN/2025", ALL - {"admin"}, 403),
        ("/planer/SN/2025/v1", ALL - {"admin"}, 403),
        ("/planer/SN/2025/v2?jamfor=1", ALL - {"admin"}, 403),
        ("/planer/SN/2025/v1.xlsx", ALL - {"admin"}, 403),
        ("/planer/KFN/2025/v1", WHOLE, 403),
        ("/planer/KFN/2025/v1.xlsx", WHOLE, 403),
        ("/resultat", ALL - {"admin"}, 403),
        ("/resultat?enhet=SN&bedomning=mindre+avvikelser", ALL - {"admin"}, 403),
        (f"/resultat/{sn}", ALL - {"admin"}, 403),
        (f"/resultat/{sn2}", UNIT_READ, 403),
        (f"/resultat/{kfn}", WHOLE, 403),
        (f"/resultat/{other}", set(), 404),  # another kommun's result: not found, for everyone
        ("/atgarder", ALL - {"admin"}, 403),
        ("/atgarder/Å-00002", ALL - {"admin"}, 403),  # SN, Enhetschef barn och unga
        ("/atgarder/Å-00003", UNIT_READ, 403),  # SN, Socialchef
        ("/atgarder/Å-00005", WHOLE, 403),  # KFN
        ("/rapporter", UNIT_READ, 403),
        ("/rapporter/SN/2025/ar.xlsx", UNIT_READ, 403),
        ("/rapporter/SN/2025/halvar.html", UNIT_READ, 403),
        ("/rapporter/KFN/2025/ar.xlsx", WHOLE, 403),
        ("/granskning", WHOLE, 403),
        ("/granskning/results?unit=SN&year=2025", WHOLE, 403),
        ("/granskning/actions?format=csv", WHOLE, 403),
        ("/granskning/risks?format=xlsx&unit=SN", WHOLE, 403),
        (f"/spara/result/{sn}", WHOLE, 403),
        ("/spara/risk/SN-R001", WHOLE, 403),
        ("/spara/action/Å-00002", WHOLE, 403),
        ("/granskning/verifiera", {"revisor", "admin"}, 403),
        ("/granskning/kvitto.json", {"revisor", "admin"}, 403),
        ("/granskning/handelser?post=action&visa=alla", {"revisor", "admin"}, 403),
        ("/granskning/handelser?post=action&format=xlsx", {"revisor", "admin"}, 403),
        ("/konton", {"admin"}, 403),
        ("/kalender", ALL - {"admin"}, 403),  # one's own calendar feed
        # the writing side's pages: who may fill them in
        ("/resultat/rapportera?ar=2025&period=halvar", {"controller", "kontrollansvarig"}, 403),
        ("/resultat/rapportera/SN/2025/halvar/SN-2025-K01", {"controller", "kontrollansvarig"}, 403),  # the own
        ("/resultat/rapportera/SN/2025/halvar/SN-2025-K02", {"controller"}, 403),  # Socialchef's
        ("/resultat/rapportera/KFN/2025/halvar/KFN-2025-K01", set(), 403),
        ("/resultat/rapportera/SN/2025/halvar.xlsx", {"controller", "kontrollansvarig"}, 403),
        ("/underlag/999999", set(), 404),
        ("/rapporter/SN/2025/ar/text", {"controller"}, 403),  # förvaltningens bedömning: the controller writes it
        ("/rapporter/KFN/2025/ar/text", set(), 403),
        ("/ks-krav?ar=2026", UNIT_READ, 403),
        ("/organisation", {"admin", "ks", "revisor"}, 403),
        # the live risk workshop: the list for those who take part; none is held live in the demo
        ("/workshop", {"controller", "sekreterare", "kontrollansvarig"}, 403),
        ("/workshop/1", set(), 404),
        ("/workshop/1/lage", set(), 404),
        ("/workshop/1/sammanstallning.pdf", set(), 404),  # a closed one's summary: tests/test_web_forms.py
        ("/workshop/1/mall.xlsx", set(), 404),  # an open one's template: tests/test_web_forms.py
        ("/workshop/1/risk/1", set(), 404),
        ("/workshop/1/delta", set(), 404),  # who gets an underlag: tests/test_web_forms.py, on one that exists
        # a decided plan has no draft to edit: not found for the controller, forbidden for the rest
        ("/planer/SN/2025/punkt/SN-2025-K01", set(), 403, {"controller": 404}),
    ]


def _route_of(path: str) -> str:
    """The ROUTES template a concrete path is served by."""
    bare = path.split("?")[0]
    for r in ROUTES:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+?", re.escape(r.path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if "GET" in r.methods and re.match(pattern, bare):
            return r.path
    raise AssertionError(f"no route serves {path}")


@pytest.fixture(scope="module")
def clients(web):
    _, asgi = web
    out = {}
    for role in ROLES:
        c = TestClient(asgi)
        assert login(c, role).status_code == 303, role
        out[role] = c
    return out


def test_every_route_role_and_resource(clients, ids):
    """Every page × every role × a resource of the own unit, another unit, another kommun: allowed, denied
    (403) or not found (404) as the roles say; and every GET route is in the matrix."""
    matrix = expected_matrix(ids)
    wrong = []
    for path, allowed, denied, *special in matrix:
        for role in ROLES:
            r = clients[role].get(path, follow_redirects=False)
            want = (special[0] if special else {}).get(role, 200 if role in allowed else denied)
            if r.status_code != want:
                wrong.append(f"{role} {path}: {r.status_code}, expected {want}")
    assert not wrong, "\n".join(wrong)
    covered = {_route_of(p) for p, *_ in matrix}
    public = {"/logga-in", "/logga-in/sso", "/logga-in/sso/klar", "/delta", "/kalender/{token}.ics"}
    missing = {r.path for r in ROUTES if "GET" in r.methods and r.path not in covered | public}
    assert not missing, f"routes without expectations: {missing}"


def test_another_kommun_sees_nothing_of_this_one(web, ids):
    _, asgi = web
    c = TestClient(asgi)
    assert login(c, "andraby-ks").status_code == 303
    assert c.get(f"/resultat/{ids['sn_own']}").status_code == 404  # Exempelby's result
    assert c.get(f"/spara/result/{ids['sn_own']}").status_code == 404
    assert c.get(f"/resultat/{ids['andraby']}").status_code == 200
    data = c.get("/risker?format=json").json()
    assert data["d"]["rows"] and {r["org"] for r in data["d"]["rows"]} == {"andraby"}
    q = c.get("/granskning/results", params={"format": "csv"})
    assert q.status_code == 200 and "exempelby" not in q.text and "andraby" in q.text


def test_the_audit_log_page_shows_the_own_kommuns_events_and_filters_them(web, clients):
    """The revisor reads who changed what and when in the browser, only the own kommun's (and the
    events of no kommun, such as a matrix registered), newest first, filtered as `audit log` filters."""
    app, asgi = web
    other = TestClient(asgi)
    assert login(other, "andraby-revisor").status_code == 303

    def shown(client, **params) -> list[int]:
        page = client.get("/granskning/handelser", params=params)
        assert page.status_code == 200, page.text
        return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page.text)]

    with app.session() as s:
        orgs = dict(s.execute(select(Organisation.code, Organisation.id)).all())
        seqs = {code: sorted(s.scalars(select(AuditEvent.seq).where(
            (AuditEvent.org_id == orgs[code]) | AuditEvent.org_id.is_(None))), reverse=True) for code in orgs}
    assert len(seqs["exempelby"]) < 1000 and len(seqs["andraby"]) < 1000
    mine, theirs = shown(clients["revisor"], antal="1000", visa="alla"), shown(other, antal="1000", visa="alla")
    assert mine == seqs["exempelby"] and theirs == seqs["andraby"]
    only_theirs = set(theirs) - set(mine)
    assert only_theirs and not only_theirs & set(mine)
    assert len(shown(clients["revisor"], visa="alla")) == 50  # the newest 50 unless more are asked for
    # without "spara rader": the changes alone; a note added to an åtgärd reads as the words added
    page = clients["revisor"].get("/granskning/handelser", params={"post": "action", "antal": "200"}).text
    assert "spara rader" not in page.split("<tbody>")[1] and "<td>uppdatera</td>" in page
    assert re.search(r"anteckningar: \+ ”[^”]+” \(Anna Lind, \d{4}-\d\d-\d\d\)", page)
    one = clients["revisor"].get("/granskning/handelser", params={"post": "action", "id": "Å-00007"}).text
    assert set(re.findall(r'<td class="code">(Å-\d+)</td>', one)) == {"Å-00007"}
    first = dt.date(2026, 1, 1)  # a day in Swedish time, as the page shows the times: 23.00 UTC the day before
    with app.session() as s:
        since = set(s.scalars(select(AuditEvent.seq).where(AuditEvent.org_id == orgs["exempelby"],
                                                           AuditEvent.at >= dt.datetime(2025, 12, 31, 23, 0),
                                                           AuditEvent.action != "spara rader")))
    assert set(shown(clients["revisor"], fran=first.isoformat(), antal="1000")) == since
    bad = clients["revisor"].get("/granskning/handelser", params={"fran": "2026-13-01"}).text
    assert "Det finns 1 fel att rätta" in bad and "Från: ”2026-13-01” är inget datum" in bad and "<tbody>" not in bad
    # from the trace of an åtgärd to its events: for those who may read the log
    trace = clients["revisor"].get("/spara/action/Å-00007").text
    link = re.search(r'<a href="([^"]+)">Granskningsloggens händelser för Å-00007</a>', trace)[1].replace("&amp;", "&")
    followed = clients["revisor"].get(link).text
    assert set(re.findall(r'<td class="code">(Å-\d+)</td>', followed)) == {"Å-00007"}
    assert "Granskningsloggens händelser för" not in clients["ks"].get("/spara/action/Å-00007").text
    # the selection for Excel: the same events, Swedish headings, Swedish time
    csv_file = clients["revisor"].get("/granskning/handelser", params={"post": "action", "antal": "200", "format": "csv"})
    assert csv_file.status_code == 200 and csv_file.content.startswith(b"\xef\xbb\xbf")
    lines = csv_file.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Nr;När (svensk tid);Vem;Vad;Gäller;Id;Ändrat"
    page_seqs = shown(clients["revisor"], post="action", antal="200")
    assert [int(line.split(";")[0]) for line in lines[1:]] == page_seqs
    page = clients["revisor"].get("/granskning/handelser", params={"post": "action", "antal": "200"}).text
    first_time = re.search(r'<td class="code">(\d{4}-\d\d-\d\d) kl\. (\d\d)\.(\d\d)</td>', page).groups()
    assert lines[1].split(";")[1].startswith(f"{first_time[0]} {first_time[1]}:{first_time[2]}")
    xlsx = clients["revisor"].get("/granskning/handelser", params={"vem": "Anna Lind", "format": "xlsx"})
    from openpyxl import load_workbook
    ws = load_workbook(io.BytesIO(xlsx.content))["Händelser"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 50 and {r[2] for r in rows} == {"Anna Lind"}


def test_not_logged_in_goes_to_the_login_page(web, ids):
    _, asgi = web
    c = TestClient(asgi)
    for path, *_ in expected_matrix(ids):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/logga-in?nasta="), path


def test_csrf_is_required_on_every_post(web):
    _, asgi = web
    c = TestClient(asgi)
    for route in [r for r in ROUTES if "POST" in r.methods]:
        r = c.post(route.path, data={"username": "ks", "password": "exempelby-demo"}, follow_redirects=False)
        assert r.status_code == 403 and "Formuläret har gått ut" in r.text, route.path
    assert login(c, "ks").status_code == 303
    for route in [r for r in ROUTES if "POST" in r.methods]:
        r = c.post(route.path, data={"csrf": "fel"}, follow_redirects=False)
        assert r.status_code == 403, route.path
    assert c.get("/").status_code == 200  # still logged in: the forged logout did nothing


def test_security_headers_on_pages_files_and_errors(clients):
    for path in ["/", "/risker/SN-R001", "/planer/SN/2025/v1.xlsx", "/finns/inte", "/static/ikcheck.css"]:
        r = clients["controller"].get(path)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0], path
        assert "script-src 'self'" in csp or path.endswith(".html"), path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert clients["controller"].get("/planer/SN/2025/v1.xlsx").headers["content-disposition"].startswith("attachment")
    doc = clients["controller"].get("/rapporter/SN/2025/halvar.html")
    assert "script-src" not in doc.headers["content-security-policy"]  # default-src 'none': no script at all


def test_cookie_and_escaping(web):
    app, asgi = web
    c = TestClient(asgi)
    r = login(c, "revisor")
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    token = c.cookies.get("ikcheck_session")
    assert token and len(token) >= 40
    with app.session() as s:  # only the token's hash is stored
        assert s.scalar(select(WebSession.id).where(WebSession.id == token)) is None
    page = c.get("/granskning/risks", params={"text": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_login_messages_throttling_and_logout(web):
    app, asgi = web
    accounts.add_user(app, "prov.person", full_name="Prov Person", email=None, role="revisor",
                      password="ett-långt-lösenord", org_code="exempelby")
    c = TestClient(asgi)
    unknown = login(c, "finns.inte", "vad-som-helst-123")
    wrong = login(c, "prov.person", "fel-lösenord-123")
    assert unknown.status_code == wrong.status_code == 400
    assert "Fel användarnamn eller lösenord." in unknown.text and "Fel användarnamn eller lösenord." in wrong.text
    for _ in range(4):
        login(c, "prov.person", "fel-lösenord-123")
    throttled = login(c, "prov.person", "ett-långt-lösenord")  # right password, but too many failures
    assert throttled.status_code == 400 and "För många misslyckade inloggningar" in throttled.text
    other = TestClient(asgi)
    assert login(other, "revisor").status_code == 303  # the account is throttled, not everyone
    # logout revokes the session in the database: the old cookie no longer works
    token = other.cookies.get("ikcheck_session")
    page = other.get("/")
    r = other.post("/logga-ut", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    replay = TestClient(asgi, cookies={"ikcheck_session": token})
    assert replay.get("/", follow_redirects=False).status_code == 303


def _stored_id(client) -> str:
    """The session row of a client: the SHA-256 of its cookie's token."""
    return hashlib.sha256(client.cookies.get("ikcheck_session").encode()).hexdigest()


def test_disable_and_timeouts_end_sessions(web):
    app, asgi = web
    accounts.add_user(app, "tillfällig", full_name="Tillfällig Person", email=None, role="ks",
                      password="ett-långt-lösenord", org_code="exempelby")
    c = TestClient(asgi)
    assert login(c, "tillfällig", "ett-långt-lösenord").status_code == 303
    assert c.get("/oversikt").status_code == 200
    accounts.disable(app, "tillfällig", org_code="exempelby")
    assert c.get("/", follow_redirects=False).status_code == 303
    assert login(c, "tillfällig", "ett-långt-lösenord").status_code == 400  # the same message as a wrong password

    d = TestClient(asgi)
    assert login(d, "revisor").status_code == 303
    with app.db.session() as s:  # idle for 8 h 1 min (this client's session only)
        s.execute(update(WebSession).where(WebSession.id == _stored_id(d))
                  .values(last_seen=accounts.utc() - dt.timedelta(hours=8, minutes=1)))
    assert d.get("/", follow_redirects=False).status_code == 303
    e = TestClient(asgi)
    assert login(e, "revisor").status_code == 303
    with app.db.session() as s:  # used a minute ago, but opened 12 h 1 min ago
        s.execute(update(WebSession).where(WebSession.id == _stored_id(e))
                  .values(created_at=accounts.utc() - dt.timedelta(hours=12, minutes=1), last_seen=accounts.utc()))
    assert e.get("/", follow_redirects=False).status_code == 303


def test_the_audit_log_covers_accounts_and_not_the_password(web):
    app, _ = web
    from ikcheck import auditlog

    events = auditlog.events(app, entity="account", org_code="exempelby")
    assert events and all("password" not in str(e) and "$argon2" not in str(e) for e in events)
    result = auditlog.verify(app)
    assert result.ok, result.problems[:5]


def test_user_commands(cli, kommun, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("kort\n"))
    r = cli("user", "add", "anna", "--name", "Anna Lind", "--email", "anna@exempelby.se", "--role", "controller",
            "--unit", "SN", "--password-stdin")
    assert r.code == 2 and "minst 12 tecken" in r.text
    monkeypatch.setattr("sys.stdin", io.StringIO("ett-långt-lösenord\n"))
    r = cli("user", "add", "anna", "--name", "Anna Lind", "--role", "controller", "--unit", "SN",
            "--password-stdin")
    assert r.code == 0, r.text
    assert cli("user", "add", "bo", "--name", "Bo", "--role", "controller").code == 2  # a unit role needs --unit
    assert cli("user", "add", "bo", "--name", "Bo", "--role", "chef").code == 2
    r = cli("user", "role", "anna", "--role", "revisor")
    assert r.code == 0 and "revisor" in r.text
    r = cli("user", "disable", "anna")
    assert r.code == 0
    listing = cli("user", "list")
    assert "anna" in listing.text and "avstängt" in listing.text


def test_verify_page_with_uploaded_anchors(web, web_db):
    _, asgi = web
    _, directory = web_db
    c = TestClient(asgi)
    assert login(c, "revisor").status_code == 303
    token = csrf_of(c.get("/granskning/verifiera").text)
    receipt = (directory / "exempelby" / "kvitto-granskningslogg.json").read_bytes()
    plan_pdf = next((directory / "exempelby").rglob("plan-SN-2025.pdf")).read_bytes()
    r = c.post("/granskning/verifiera", data={"csrf": token},
               files=[("ankare", ("kvitto.json", receipt, "application/json")),
                      ("ankare", ("plan-SN-2025.pdf", plan_pdf, "application/pdf"))])
    assert r.status_code == 200
    assert "Loggen är obruten och datan stämmer med den" in r.text and "2 förankringar" in r.text
    assert "dokumentet plan-SN-2025.pdf" in r.text and "kvittot kvitto.json" in r.text  # named as uploaded
    # ikcheck on the server writes with Exempelby's signing key; this page's app holds no key
    keys = directory / "exempelby" / "nycklar"
    signed = App(make_settings(web[0].settings.database_url, signing_key=keys / "ikcheck-signering.key"))
    accounts.add_user(signed, "signerad.prov", full_name="Signerad Prov", email=None, role="revisor",
                      password="ett-långt-lösenord", org_code="exempelby")
    r = c.post("/granskning/verifiera", data={"csrf": token})
    assert "signaturen kontrollerades inte: ingen publik nyckel angavs" in r.text
    # the revisor's own copy of the public key: the head's signature is checked against it
    pub = (keys / "ikcheck-signering.pub").read_bytes()
    r = c.post("/granskning/verifiera", data={"csrf": token}, files=[("nyckel", ("revisorns.pub", pub, "text/plain"))])
    assert "Loggen är obruten" in r.text and "är signerat med nyckel" in r.text, r.text[-1500:]
    other = (directory / "andraby" / "nycklar" / "ikcheck-signering.pub").read_bytes()
    r = c.post("/granskning/verifiera", data={"csrf": token}, files=[("nyckel", ("fel.pub", other, "text/plain"))])
    assert "Granskningsloggen eller datan har ändrats" in r.text and "ingen giltig signatur med nyckel" in r.text
    assert "det är signerat med en annan nyckel" in r.text  # the revisor is told it may be the wrong key
    r = c.post("/granskning/verifiera", data={"csrf": token}, files=[("nyckel", ("nyckel.pub", b"hej", "text/plain"))])
    assert r.status_code == 400 and 'id="nyckel-fel"' in r.text
    assert "Nyckelfilen nyckel.pub är ingen Ed25519-nyckel" in r.text and "/tmp" not in r.text
    word = c.get("/planer/SN/2025/v2.docx")  # the decided plan as Word carries its Kontrollsumma too
    assert word.headers["content-type"].endswith("wordprocessingml.document") and word.content[:2] == b"PK"
    report = c.get("/rapporter/SN/2025/ar.docx")
    assert report.status_code == 200 and report.content[:2] == b"PK"
    r = c.post("/granskning/verifiera", data={"csrf": token},
               files=[("ankare", ("plan-SN-2025-v2.docx", word.content, "application/octet-stream"))])
    assert "Loggen är obruten" in r.text and "samma kontrollsumma som dokumentet" in r.text
    r = c.post("/granskning/verifiera", data={"csrf": token, "kontrollsumma": "3:" + "ab" * 32})
    assert "Granskningsloggen eller datan har ändrats" in r.text
    r = c.post("/granskning/verifiera", data={"csrf": token}, files=[("ankare", ("anteckning.txt", b"hej", "text/plain"))])
    assert r.status_code == 400 and "kan inte läsas som förankring" in r.text


def test_a_revisor_takes_a_receipt_in_the_browser_and_verifies_with_it_later(web_db, tmp_path):
    """`audit anchor` without a terminal: the receipt of the head as it is now, signed with the
    server's key, proves at the next audit that the log was not rewritten since."""
    import json

    from ikcheck import register
    from ikcheck.store.db import dispose_all
    from tests.conftest import copy_of

    keys = web_db[1] / "exempelby" / "nycklar"
    with copy_of(web_db[0], tmp_path) as url:
        app = App(make_settings(url, signing_key=keys / "ikcheck-signering.key"))
        c = TestClient(create_app(app))
        assert login(c, "revisor").status_code == 303
        page = c.get("/granskning/verifiera").text
        assert "Ladda ner ett kvitto på loggen som den är nu</a> (JSON, signerat med serverns nyckel)" in page
        r = c.get("/granskning/kvitto.json")
        receipt = json.loads(r.content)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        name = f"kvitto-granskningslogg-{receipt['händelse']}.json"
        assert f'filename="{name}"' in r.headers["content-disposition"] and receipt["signatur"] and receipt["nyckel"]
        register.add_risk(app, "SN", "Ny risk efter kvittot", org_code="exempelby")  # the log goes on
        r = c.post("/granskning/verifiera", data={"csrf": csrf_of(page)},
                   files=[("ankare", (name, r.content, "application/json"))])
        assert "Loggen är obruten och datan stämmer med den" in r.text and "1 förankring" in r.text, r.text[-2000:]
        assert f"kvittot {name}" in r.text
        dispose_all()


def test_throttling_per_client_address_and_secure_cookie_under_https(web):
    app, _ = web
    import dataclasses

    accounts.add_user(app, "adress.prov", full_name="Adress Prov", email=None, role="revisor",
                      password="ett-långt-lösenord", org_code="exempelby")
    # many wrong passwords for many names from one address: that address is stopped, others are not
    for i in range(accounts.MAX_FAILURES_ADDRESS):
        with pytest.raises(accounts.UserError):
            accounts.login(app, f"gissning{i}", "fel-lösenord-123", "10.0.0.66")
    with pytest.raises(accounts.UserError, match="För många misslyckade inloggningar"):
        accounts.login(app, "adress.prov", "ett-långt-lösenord", "10.0.0.66")
    assert accounts.login(app, "adress.prov", "ett-långt-lösenord", "10.0.0.67")

    https = App(dataclasses.replace(app.settings, web={"https": True}))
    c = TestClient(create_app(https), base_url="https://testserver")
    r = login(c, "revisor")
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_downloads_leave_nothing_behind_on_the_server(clients):
    import tempfile
    from pathlib import Path

    from ikcheck.portal import DOWNLOAD_PREFIX

    def left() -> int:
        return sum(1 for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(DOWNLOAD_PREFIX))

    before = left()
    for path in ["/planer/SN/2025/v2.docx", "/rapporter/SN/2025/ar.html", "/granskning/results?format=csv"]:
        assert clients["ks"].get(path, follow_redirects=False).status_code == 200
    assert left() == before


def test_every_page_answers_as_json_too(clients, ids):
    """The same data as the page, for scripts and BI (`?format=json`)."""
    for path, allowed, *_ in expected_matrix(ids):
        if "ks" not in allowed or "." in path.split("?")[0].rsplit("/", 1)[-1] or "format=" in path:
            continue  # files are files
        r = clients["ks"].get(path + ("&" if "?" in path else "?") + "format=json")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", path
        assert isinstance(r.json(), dict), path


def test_a_poll_after_the_session_ended_sends_the_page_to_the_login(web):
    """The facilitator's table polls (htmx); once logged out, the poll must not swap a login form into
    the table but take the whole page to the login, back to where it was."""
    _, asgi = web
    r = TestClient(asgi).get("/workshop/1/lage", headers={"hx-request": "true",
                                                          "hx-current-url": "http://ikcheck.kommun.se/workshop/1"},
                             follow_redirects=False)
    assert r.status_code == 204 and r.headers["hx-redirect"] == "/logga-in?nasta=%2Fworkshop%2F1"


@pytest.fixture
def writable(web_db, tmp_path):
    """A copy of the web demo for a test that writes (the module's own `web` only reads)."""
    from tests.conftest import copy_of

    url, _ = web_db
    with copy_of(url, tmp_path) as copy:
        app = App(load_settings(copy, "testare"))
        yield app, create_app(app)
        from ikcheck.store.db import dispose_all

        dispose_all()


def test_a_calendar_feed_is_reached_by_its_secret_address_alone_until_revoked(writable):
    """Issue #22: the address is shown once, needs no session, holds the person's own deadlines, and
    stops working when revoked or replaced."""
    from icalendar import Calendar

    web = writable
    _, asgi = web
    c = TestClient(asgi)
    assert login(c, "kontrollansvarig").status_code == 303
    page = c.get("/kalender")
    assert "ingen kalenderlänk" in page.text
    made = c.post("/kalender/ny", data={"csrf": csrf_of(page.text)})
    link = re.search(r'value="(http[^"]+/kalender/[^"]+\.ics)"', made.text).group(1)
    assert made.headers["cache-control"] == "no-store"
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = TestClient(asgi)
    feed = anonymous.get("/" + path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(feed.content)
    summaries = [str(e["SUMMARY"]) for e in cal.walk("VEVENT")]
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    again_uids = [str(e["UID"]) for e in Calendar.from_ical(anonymous.get("/" + path).content).walk("VEVENT")]
    assert len(uids) == len(set(uids)) and uids == again_uids  # a refresh moves events, never duplicates them
    assert summaries and all("KFN" not in x for x in summaries)
    assert any(x.startswith("Åtgärd Å-00002") for x in summaries)  # the befattning's own åtgärd
    assert not any(x.startswith("Åtgärd Å-00003") for x in summaries)  # the Socialchef's
    assert "kalenderlänk" in c.get("/kalender").text and token_in_db_is_hashed(web, path)
    again = c.post("/kalender/ny", data={"csrf": csrf_of(c.get("/kalender").text)})
    assert anonymous.get("/" + path).status_code == 404  # replaced
    newer = re.search(r'/kalender/[^"]+\.ics', again.text).group(0)
    assert anonymous.get(newer).status_code == 200
    c.post("/kalender/aterkalla", data={"csrf": csrf_of(c.get("/kalender").text)})
    assert anonymous.get(newer).status_code == 404
    assert anonymous.get("/kalender/inte-en-riktig-adress.ics").status_code == 404


def token_in_db_is_hashed(web, path: str) -> bool:
    from ikcheck.store.models import CalendarToken

    app, _ = web
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    with app.session() as s:
        stored = list(s.scalars(select(CalendarToken.token_hash)))
    return token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored


def test_the_join_page_counts_wrong_codes_against_the_client(web):
    """Through the page: the participant's address is the one counted (see test_live for the rule)."""
    _app, asgi = web
    c = TestClient(asgi, client=("10.0.9.9", 50000))  # an address no other test has failed from
    for _ in range(accounts.MAX_FAILURES_ADDRESS):
        page = c.get("/delta")
        r = c.post("/delta", data={"kod": "FELK-ODEN", "namn": "Gissare", "csrf": csrf_of(page.text)})
        assert r.status_code == 400 and "Koden gäller inte" in r.text
    page = c.get("/delta")
    r = c.post("/delta", data={"kod": "FELK-ODEN", "namn": "Gissare", "csrf": csrf_of(page.text)})
    assert r.status_code == 400 and "För många felaktiga koder" in r.text
    other = TestClient(asgi, client=("10.0.9.10", 50000))  # from elsewhere, the page still answers
    r = other.post("/delta", data={"kod": "FELK-ODEN", "namn": "Gissare", "csrf": csrf_of(other.get("/delta").text)})
    assert "Koden gäller inte" in r.text


def test_the_action_list_says_what_each_action_concerns(clients):
    """The demo's åtgärder read alike ("Rutinen förtydligas …"): the kontrollpunkt and period of the
    result each came from, linked to it, say which is which."""
    page = clients["controller"].get("/atgarder").text
    rows = re.findall(r'<tr><td><a href="/atgarder/(Å-\d+)">.*?</td><td>SN</td><td>(.*?)</td>', page)
    assert rows and all(re.fullmatch(r'<a href="/resultat/\d+">SN-2025-[\w-]+ (halvår|helår)</a>', what)
                        for _, what in rows), rows
    assert len({what for _, what in rows}) == len(rows)
    for code, what in rows:  # the åtgärd's own page names it the same way, and its history in words
        page = clients["controller"].get(f"/atgarder/{code}").text
        link = what.replace('">', '">Resultatet för ')
        assert f"<dt>Gäller</dt><dd>{link}</dd>" in page, page
        assert "registrerad som planerad" in page and "– →" not in page


def test_a_direktatgard_page_names_its_risk(web_db, tmp_path):
    """An åtgärd decided with the plan, on a risk and not a result, names that risk and links to it."""
    from ikcheck import actions
    from ikcheck.store.db import dispose_all
    from tests.conftest import copy_of

    with copy_of(web_db[0], tmp_path) as url:
        app = App(load_settings(url, "testare"))
        code = actions.add(app, "Attestordningen ses över", owner="Socialchef", due="2025-10-31", risk_code="SN-R001",
                           year=2025, org_code="exempelby")
        with app.session() as s:
            title = s.scalar(select(Risk.title).join(Unit).join(Organisation, Organisation.id == Unit.org_id)
                             .where(Organisation.code == "exempelby", Risk.code == "SN-R001"))
        c = TestClient(create_app(app))
        assert login(c, "controller").status_code == 303
        page = c.get(f"/atgarder/{code}").text
        dispose_all()
    assert (f'<dt>Gäller</dt><dd>Direktåtgärd för risken <a href="/risker/SN-R001">SN-R001 {escape(title)}</a></dd>'
            in page), page


SKIP_LINKS = re.compile(r"\.(pdf|docx|xlsx|csv|ics)(\?|$)|format=|/logga-ut|/static/|^https?://|^mailto:|^#")


def _crawl(client: TestClient, limit: int = 80) -> dict[str, tuple[int, str]]:
    """Every page reached from Att göra by following the links a page shows (one page per shape of
    address, ids counted alike, at most `limit`): address -> (status, the page that linked to it)."""
    seen, queue, out = set(), [("/", "")], {}
    while queue and len(out) < limit:
        path, came_from = queue.pop(0)
        shape = re.sub(r"\d+", "N", path.split("#")[0])
        if shape in seen:
            continue
        seen.add(shape)
        r = client.get(path.split("#")[0])
        out[path] = (r.status_code, came_from)
        if r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html"):
            for href in re.findall(r'<a [^>]*href="([^"]+)"', r.text):
                href = href.replace("&amp;", "&")
                if not SKIP_LINKS.search(href) and href.startswith("/"):
                    queue.append((href, path))
    return out


def test_every_link_a_role_is_shown_opens(web_db, tmp_path):
    """A link is shown only where its page opens to the person: a kontrollansvarig was offered the
    register's risk of a direktåtgärd, the unit page above their result and another's result behind
    their own åtgärd, each "Din roll ger inte tillgång". Every role follows every link it is shown."""
    from ikcheck import actions
    from ikcheck.store.db import dispose_all
    from tests.conftest import copy_of
    from tests.web_support import OWN

    with copy_of(web_db[0], tmp_path) as url:
        app = App(load_settings(url, "testare"))
        actions.add(app, "Attestordningen ses över", owner=OWN, due="2025-10-31", risk_code="SN-R001", year=2025,
                    org_code="exempelby")  # a direktåtgärd of theirs: its risk is in the register
        with app.session() as s:
            others = s.scalar(select(ControlResult.id).join(ControlPoint).join(ControlPlan).join(Unit)
                              .where(Unit.code == "SN", ControlPlan.year == 2025, ControlPoint.owner != OWN,
                                     ControlResult.is_current.is_(True)).limit(1))
        theirs = actions.add(app, "Stickprovet utökas", owner=OWN, due="2025-12-31", result_id=others,
                             org_code="exempelby")  # their åtgärd on another's result
        found = {}
        for role in ROLES:
            c = TestClient(create_app(app))
            assert login(c, role).status_code == 303, role
            found[role] = _crawl(c)
        direct = TestClient(create_app(app))
        login(direct, "kontrollansvarig")
        page = direct.get(f"/atgarder/{theirs}").text
        dispose_all()
    broken = {role: {path: hit for path, hit in pages.items() if hit[0] != 200} for role, pages in found.items()}
    assert not any(broken.values()), broken
    assert len(found["kontrollansvarig"]) >= 10 and all(len(pages) >= 5 for pages in found.values())
    assert "/atgarder" in found["kontrollansvarig"] and "Resultatet för SN-2025-" in page
    assert f'href="/resultat/{others}"' not in page  # named, not linked


def test_stored_times_are_shown_in_swedish_time(clients):
    """Rows are stamped in UTC; a page says the time as a clock in Sweden reads it."""
    from ikcheck.web.app import shown_date

    assert shown_date(dt.datetime(2025, 8, 15, 10, 0)) == "2025-08-15 kl. 12.00"  # summer time
    assert shown_date(dt.datetime(2025, 12, 15, 23, 30)) == "2025-12-16 kl. 00.30"  # winter, past midnight
    assert shown_date(dt.date(2025, 10, 31)) == "2025-10-31"
    page = clients["controller"].get("/atgarder").text
    result = re.search(r'href="/resultat/(\d+)"', page)[1]
    assert re.search(r"<dt>Rapporterad</dt><dd>\d{4}-\d\d-\d\d kl\. \d\d\.\d\d av ",
                     clients["controller"].get(f"/resultat/{result}").text)
    # the revisor's query pages show the values as stored and exported, and say so
    query = clients["revisor"].get("/granskning/results").text
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", query) and "i UTC" in query


def test_the_ks_overview_says_what_each_deficiency_is(clients):
    """Each line under "Väsentliga brister och eskaleringar" names the control and its figures, and
    says when the deficiency is escalated, as the KS summary's PDF does (it once ended at the colon)."""
    page = clients["ks"].get("/oversikt?ar=2025").text  # the årsrapporter
    part = page.split("Väsentliga brister och eskaleringar", 1)[1].split("</ul>", 1)[0]
    lines = re.findall(r"<li><strong>Socialnämnden, (SN-[\w-]+)</strong>: (.*?)</li>", part)  # the unit by name
    assert lines, part
    for code, text in lines:
        assert re.match(r"Granska .+ – \d+ avvikelser? av \d+ granskade", text), (code, text)
    assert any("eskaleras till kommunstyrelsen" in text for _, text in lines)


def test_the_plan_list_says_when_each_version_was_decided_and_which_replaced_it(clients, web):
    """A replaced version was decided too: "beslutad <its date and §>, ersatt av version 2", not
    "ersatt <its own decision's date>", which read as the day it was replaced."""
    from ikcheck.calendar import swedish_date

    app, _ = web
    with app.session() as s:
        plans = s.execute(select(ControlPlan.version, ControlPlan.status, ControlPlan.decision_date,
                                 ControlPlan.decision_paragraph).join(Unit, Unit.id == ControlPlan.unit_id)
                          .join(Organisation, Organisation.id == Unit.org_id)
                          .where(Organisation.code == "exempelby", Unit.code == "SN", ControlPlan.year == 2025)
                          .order_by(ControlPlan.version)).all()
    assert [p.status for p in plans] == ["superseded", "decided"]
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", clients["controller"].get("/planer?ar=2025").text))
    first, second = plans
    assert (f"Version 1 (beslutad {swedish_date(first.decision_date)} {first.decision_paragraph}, ersatt av version 2)"
            in page), page
    assert f"Version 2 (beslutad {swedish_date(second.decision_date)} {second.decision_paragraph})" in page
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", clients["controller"].get("/planer/SN/2025/v1").text))
    assert f"(ersatt av version 2, beslutad {swedish_date(second.decision_date)} {second.decision_paragraph}," in page


def test_the_plan_page_says_why_each_point_is_there_in_words_and_names_its_rules(clients, web):
    """The plan page gives each kontrollpunkt's reasons as sentences with the rules that gave them
    ("Regler: PRI-02, KD-01."), a KS point as KS's decision, not the file or command it came from, and
    the sample with its noun as the nämnd's document does ("25 ärenden")."""
    app, _ = web
    with app.session() as s:
        points = s.execute(select(ControlPoint.code, ControlPoint.rule_id, ControlPoint.why, ControlPoint.sample_size)
                           .join(ControlPlan).join(Unit)
                           .where(Unit.code == "SN", ControlPlan.year == 2025, ControlPlan.version == 2)).all()
    html = clients["controller"].get("/planer/SN/2025/v2").text
    rows = {m.group(1): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(2)))
            for m in re.finditer(r'<tr id="punkt-([^"]+)"[^>]*>(.*?)</tr>', html, re.S)}
    assert set(rows) == {p.code for p in points}
    for p in points:
        row = rows[p.code]
        if p.rule_id == "KS":
            assert "kommunstyrelsen har beslutat" in row and ".yaml" not in row and "(cli)" not in row, row
        elif p.rule_id != "manuell":
            ids = re.findall(r"([A-Z]+-\d+): ", p.why)
            assert ids and f"{'Regel' if len(ids) == 1 else 'Regler'}: {', '.join(ids)}." in row, row
            assert not any(f"{i}:" in row.replace(f"Regler: {i}", "").replace(f"Regel: {i}", "") for i in ids), row
        if p.sample_size:
            assert re.search(rf", {p.sample_size} [a-zåäö]+ ", row), row


def test_the_results_list_says_what_each_kontrollpunkt_checks(clients, web):
    """A code alone ("SN-2025-K01") sends the controller into every result to learn what it is: each row
    carries its kontrollpunkt's kontrollmoment, the kontrollpunkt of that result's own plan."""
    app, _ = web
    with app.session() as s:
        want = dict(s.execute(select(ControlResult.id, ControlPoint.title)
                              .join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                              .join(ControlPlan).join(Unit).join(Organisation, Organisation.id == Unit.org_id)
                              .where(Organisation.code == "exempelby", Unit.code == "SN", ControlPlan.year == 2025,
                                     ControlResult.is_current)).all())
    html = clients["controller"].get("/resultat?enhet=SN&ar=2025").text
    rows = re.findall(r"<tr><td>SN</td>(.*?)</tr>", html, re.S)
    got = {int(re.search(r'href="/resultat/(\d+)"', r).group(1)): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r))
           for r in rows}
    assert set(got) == set(want) and len(set(want.values())) > 3
    for rid, title in want.items():
        assert str(escape(title)) in got[rid], (title, got[rid])


def test_a_result_and_its_form_word_the_sample_as_the_plan_does(clients, ids):
    """"registerkontroll, 25 ärenden" on the plan page is the same on the result and on its form, not
    "25 st" or a bare 25."""
    c = clients["kontrollansvarig"]
    page = c.get(f"/resultat/{ids['sn_own']}").text
    code = re.search(r"<h1>Resultat för ([\w-]+), (halvår|helår) 2025</h1>", page)[1]
    plan = c.get("/planer/SN/2025/v2").text
    row = re.search(rf'<tr id="punkt-{code}"[^>]*>(.*?)</tr>', plan, re.S)[1]
    cell = re.sub(r"<[^>]+>", "", re.findall(r"<td>(.*?)</td>", row, re.S)[2]).strip()
    assert re.fullmatch(r"[a-zåäö]+, \d+ [a-zåäö]+", cell), cell
    form = c.get(f"/resultat/rapportera/SN/2025/helar/{code}").text
    for html in (page, form):
        assert f"<dt>Metod och omfattning</dt><dd>{cell}</dd>" in html


def test_the_reports_page_says_whether_a_submitted_report_still_holds(web_db, tmp_path, monkeypatch):
    """To those who act on it (the secretary submits, the controller writes the text) a submitted report
    whose data changed since says so (the demo corrects a KFN result after its halvårsrapport was sent,
    and here an SN result is corrected after its årsrapport was sent); the others say they are
    unchanged, as KS's overview decides it. KS reads it on the overview. Att göra lists the reports
    due again, of each year the newest kind sent: KFN's halvårsrapport is history once its årsrapport
    is in."""
    from ikcheck.reporting import datasets
    from ikcheck.store.db import dispose_all
    from tests.conftest import copy_of
    from tests.web_support import correct_a_result

    monkeypatch.setenv("IKCHECK_TODAY", "2026-06-01")  # Att göra reads last year's reports and this year's
    with copy_of(web_db[0], tmp_path) as url:
        app = App(load_settings(url, "testare"))
        units = ["KS", "BUN", "SN", "SBN", "KFN", "MBN", "EBO", "EEN"]
        accounts.add_user(app, "controller2", full_name="Cecilia Controller", email=None, role="controller",
                          units=units, password="ett-langt-losenord", org_code="exempelby")
        correct_a_result(app, "SN", 2025, "helar")
        with app.session() as s:
            org = s.scalar(select(Organisation).where(Organisation.code == "exempelby"))
            want = {}
            for unit in s.scalars(select(Unit).where(Unit.org_id == org.id)):
                for kind, label in (("halvar", "Halvårsrapport"), ("ar", "Årsrapport")):
                    rec = datasets.last_submitted(s, unit, 2025, kind)
                    if rec is not None:
                        want[(unit.name, label)] = datasets.changed_since(app, s, org, unit, rec)
        c, ks = TestClient(create_app(app)), TestClient(create_app(app))
        assert login(c, "controller2", "ett-langt-losenord").status_code == 303 and login(ks, "ks").status_code == 303
        # a long unit name carries a soft hyphen where a narrow screen may break it; read it whole
        html, ks_html = (x.get("/rapporter?ar=2025").text.replace("\u00ad", "") for x in (c, ks))
        start, ks_start = (x.get("/").text for x in (c, ks))
        dispose_all()
    assert True in want.values() and False in want.values() and len(want) == 16
    for (name, label), changed in want.items():
        section = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(
            rf'<h2 id="enhet-\w+">{re.escape(name)}</h2>(.*?)</section>', html, re.S)[1]))
        line = re.search(rf"{label} 2025: inlämnad [^.]+\. ([^.]+)\.", section)[1]
        assert line == ("Underlaget har ändrats sedan inlämningen" if changed else "Oförändrad sedan inlämningen"), \
            (name, label, line)
    assert "inlämnad" in ks_html and "sedan inlämningen" not in ks_html
    assert want[("Socialnämnden", "Årsrapport")] and want[("Kultur- och fritidsnämnden", "Halvårsrapport")]
    section = re.search(r'<section aria-labelledby="h-outdated">(.*?)</section>', start.replace("\u00ad", ""), re.S)[1]
    listed = re.findall(r'<a href="/rapporter\?ar=2025">(\w+ 2025)</a> för ([^,]+), version \d+ inlämnad', section)
    assert listed == [("Årsrapport 2025", "Socialnämnden")], listed
    assert "underlaget har ändrats sedan dess" in section
    assert "h-outdated" not in ks_start

def test_the_unit_page_gives_the_years_bedomning_as_the_arsrapport_does(clients, web, monkeypatch):
    """The controller and KS see the rules' colour and reason on the unit's page, the same as the
    årsrapport gives them (2025 is over: not "hittills")."""
    from ikcheck.reporting import datasets

    app, _ = web
    with app.session() as s:
        org = s.scalar(select(Organisation).where(Organisation.code == "exempelby"))
        want = {code: datasets.unit_report(app, s, org, s.scalar(select(Unit).where(
            Unit.org_id == org.id, Unit.code == code)), 2025, "ar")["judgement"] for code in ("SN", "KFN", "BUN")}
    assert len({j["colour"] for j in want.values()}) == 3  # röd, gul, grön in the demo
    for code, j in want.items():
        page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", clients["controller" if code == "SN" else "ks"].get(
            f"/enheter/{code}?ar=2025").text))
        assert (f"Bedömning av den interna kontrollen enligt kommunens regler: ● {j['colour'].capitalize()}. "
                f"{j['text']}") in page, (code, page[-800:])
    monkeypatch.setenv("IKCHECK_TODAY", "2025-10-01")  # during the year: so far
    assert "enligt kommunens regler, hittills i år: " in clients["ks"].get("/enheter/SN?ar=2025").text


def test_the_unit_page_names_each_plan_version_once_with_its_decision(clients):
    """"Version 2: beslutad 20 mars 2025 § 31, dnr …", not "beslutad, beslutad …"; a replaced version
    says so before its own decision."""
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", clients["ks"].get("/enheter/SN?ar=2025").text))
    lines = re.findall(r"Version \d: [^–]+–", page)
    assert len(lines) == 2 and not any("beslutad, beslutad" in ln for ln in lines), lines
    assert re.match(r"Version 1: ersatt, beslutad \d+ \w+ 2024 § \d+", lines[0]), lines
    assert re.match(r"Version 2: beslutad \d+ \w+ 2025 § \d+", lines[1]), lines


@pytest.mark.parametrize("path", ["/planer", "/rapporter", "/oversikt", "/enheter/SN", "/resultat", "/risker", "/ks-krav"])
def test_a_year_page_selects_the_year_it_shows_even_without_a_plan(clients, path):
    """Att göra links to the year whose plan is due (/planer?ar=2031 here, a year nobody has planned);
    the year chooser showed another year under that year's heading, and "Visa" then went there."""
    html = clients["ks"].get(f"{path}?ar=2031").text
    chooser = re.search(r'<select id="ar" name="ar">(.*?)</select>', html, re.S)[1]
    assert re.findall(r'<option value="(\d+)" selected>', chooser) == ["2031"], (path, chooser)


def test_the_riskkarta_names_each_risk_beside_its_code(clients, web):
    """A code alone ("SN-R002") says little to a nämnd: each risk in a cell is its link, then its title."""
    app, _ = web
    with app.session() as s:
        titles = dict(s.execute(select(Risk.code, Risk.title).join(Unit).join(Organisation, Organisation.id == Unit.org_id)
                                .where(Organisation.code == "exempelby", Unit.code == "SN")).all())
    html = clients["controller"].get("/enheter/SN/riskkarta?ar=2025").text
    shown = re.findall(r'<li><a href="/risker/([\w-]+)">\1</a> <span class="risk-name">([^<]*)</span></li>', html)
    assert len(shown) >= 5 and all(str(escape(titles[code])) == name for code, name in shown), shown
