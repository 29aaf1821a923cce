"""The year in the browser, as its people do it: by labels and button names, against `ikcheck serve
--workers 2` on a copy of the demo of its own (Debian's Chromium through Playwright). axe-core checks
every page in every state a journey passes, error states included; each state is photographed
(IKCHECK_SCREENSHOTS=DIR keeps the pictures to look at)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from openpyxl import load_workbook  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from ikcheck.app import App  # noqa: E402
from ikcheck.calendar import swedish_date, today  # noqa: E402
from ikcheck.config import load_settings  # noqa: E402
from ikcheck.demo import DEMO_PASSWORD  # noqa: E402
from ikcheck.store.models import ControlResult, Evidence  # noqa: E402
from tests.web_support import CHROMIUM, axe_violations, chromium, serve  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
                                reason="Debian's chromium is not installed (./dev test installs it)")


@pytest.fixture(scope="module")
def server(journey_db):
    url, _ = journey_db
    with serve(url) as base:
        yield base


@pytest.fixture(scope="module")
def app(journey_db):
    return App(load_settings(journey_db[0], "testare"))


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    out = Path(os.environ.get("IKCHECK_SCREENSHOTS") or tmp_path_factory.mktemp("journeys"))
    out.mkdir(parents=True, exist_ok=True)
    return out


class Person:
    """One person in a browser context of their own, logged in; every page they reach is checked by axe."""

    def __init__(self, browser, server: str, username: str, shots: Path):
        self.context = browser.new_context(base_url=server, locale="sv-SE", accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.username, self.shots, self.n = username, shots, 0
        self.found: dict[str, list[str]] = {}
        self.blocked: list[str] = []
        self.page.on("console", lambda m: self.blocked.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.goto("/logga-in")
        self.page.get_by_label("Användarnamn").fill(username)
        self.page.get_by_label("Lösenord").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Logga in").click()
        self.page.wait_for_url(lambda u: "/logga-in" not in u)

    def check(self, state: str) -> None:
        """axe on the page as it is now, and a picture of it."""
        self.n += 1
        self.page.screenshot(path=str(self.shots / f"{self.username}-{self.n:02d}-{state}.png"), full_page=True)
        self.found[f"{self.page.url} ({state})"] = axe_violations(self.page)

    def menu(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name=name, exact=True).click()

    def h1(self) -> str:
        return self.page.get_by_role("heading", level=1).inner_text()

    def notice(self) -> str:
        """What the page says was done; a refusal instead fails with what it said."""
        self.page.locator(".notice.done, .error-summary, h1").first.wait_for()
        refused = self.page.locator(".error-summary")
        assert not refused.count(), refused.inner_text()
        return self.page.locator(".notice.done").inner_text()

    def done(self) -> None:
        bad = {k: v for k, v in self.found.items() if v}
        self.context.close()
        assert not bad, bad
        assert not self.blocked, self.blocked


def test_derive_edit_validate_and_decide_a_plan(browser, server, shots):
    controller = Person(browser, server, "controller", shots)
    p = controller.page
    controller.menu("Plan")
    p.get_by_label("År", exact=True).select_option("2027")  # next year is offered before it has a plan
    p.get_by_role("button", name="Visa").click()
    controller.check("planer")
    p.get_by_role("button", name="Ta fram planutkast för Socialnämnden").click()
    assert controller.notice() == "Planutkastet är framtaget ur riskregistret och reglerna."
    assert "utkast" in p.locator(".lead").inner_text()
    controller.check("utkast")
    # edit a proposal: a bad omfattning first, then a good one and a new kontrollansvarig
    p.get_by_role("link", name="Granska SN-2027-K01").click()
    p.get_by_label("Omfattning (antal att granska)").fill("tjugo")
    p.get_by_role("button", name="Spara ändringarna").click()
    assert "är inget heltal" in p.locator(".error-summary").inner_text()
    controller.check("punkt-fel")
    p.get_by_label("Omfattning (antal att granska)").fill("25")
    p.get_by_label("Kontrollansvarig (befattning)").fill("Enhetschef barn och unga")
    p.get_by_role("button", name="Spara ändringarna").click()
    assert controller.notice() == "Kontrollpunkten är ändrad."
    row = p.locator("#punkt-SN-2027-K01")
    assert "25" in row.inner_text() and "Enhetschef barn och unga" in row.inner_text()
    # reject a proposal: the reason is required
    p.get_by_role("link", name="Granska SN-2027-K02").click()
    p.get_by_role("button", name="Avvisa SN-2027-K02").click()
    assert "Skriv skälet" in p.locator(".error-summary").inner_text()
    controller.check("avvisa-fel")
    p.get_by_label("Skäl till att förslaget avvisas").fill("Granskas av revisorerna 2027")
    p.get_by_role("button", name="Avvisa SN-2027-K02").click()
    assert "Granskas av revisorerna 2027" in p.get_by_role("heading", name="Avvisade förslag").locator(
        "xpath=following-sibling::ul[1]").inner_text()
    # a KS-krav cannot be rejected; accept everything left
    p.get_by_role("link", name="Granska SN-2027-KS-GDPR").click()
    assert p.get_by_role("button", name="Avvisa SN-2027-KS-GDPR").count() == 0
    assert "kan inte avvisas" in p.locator("main").inner_text()
    p.get_by_role("link", name="Tillbaka till planen").click()
    # the plan's own words, and a preview of the PDF the nämnd will read
    p.get_by_label("Förslag till beslut").fill("Socialnämnden beslutar\n- att anta planen för intern kontroll 2027")
    p.get_by_label("Inledning: syfte, ansvar och hur riskanalysen gjordes").fill(
        "Planen bygger på riskworkshoppen i september 2026.\n\nNämnden ansvarar för den interna kontrollen.")
    p.get_by_role("button", name="Spara texterna").click()
    assert controller.notice() == "Planens texter är sparade."
    pdf = p.request.get(p.url.split("?")[0] + "/v1.pdf?visa=1")
    assert pdf.headers["content-disposition"].startswith("inline") and pdf.body()[:5] == b"%PDF-"
    document = p.request.get(p.url.split("?")[0] + "/v1.html").text()  # the HTML the PDF is printed from
    assert "<li>att anta planen för intern kontroll 2027</li>" in document
    p.get_by_role("button", name=re.compile(r"^Acceptera alla \d+ förslag$")).click()
    assert controller.notice() == "Förslagen är accepterade."
    # a kontrollpunkt of the förvaltning's own
    p.get_by_label("Risk", exact=True).select_option("SN-R004")
    p.get_by_label("Kontrollmoment", exact=True).fill("Genomförandeplanerna följs upp var sjätte månad")
    p.get_by_label("Omfattning (antal att granska)").fill("10")
    p.get_by_role("button", name="Lägg till kontrollpunkten").click()
    assert controller.notice() == "Kontrollpunkten är tillagd i utkastet."
    assert "Genomförandeplanerna följs upp" in p.locator("#punkt-SN-2027-M01").inner_text()
    # planvalidering blocks what it lacks, and links to where it is fixed
    findings = p.locator(".findings").inner_text()
    assert "Blockerande: Kontrollpunkten SN-2027-M01 saknar kontrollansvarig" in findings
    controller.check("validering-blockerar")
    p.locator(".findings").get_by_role("link", name="Ändra SN-2027-M01").first.click()
    p.get_by_label("Metod", exact=True).select_option("stickprov")
    p.get_by_label("Frekvens", exact=True).select_option("halvår")
    p.get_by_label("Kontrollansvarig (befattning)").fill("Enhetschef myndighet")
    p.get_by_role("button", name="Spara ändringarna").click()
    assert controller.notice() == "Kontrollpunkten är ändrad."
    assert "Valideringen hittar inget att anmärka på." in p.locator("main").inner_text()
    controller.check("validerad")
    controller.done()

    secretary = Person(browser, server, "sekreterare", shots)
    s = secretary.page
    s.goto("/planer?ar=2027")
    s.get_by_role("link", name="Version 1").click()
    s.get_by_label("Beslutsdatum").fill("2099-11-26")
    s.get_by_label("Paragraf i protokollet").fill("§ 120")
    s.get_by_label("Diarienummer").fill("SN 2026/400")
    s.get_by_role("button", name="Registrera beslutet").click()
    assert "ligger i framtiden" in s.locator(".error-summary").inner_text()
    assert s.get_by_label("Paragraf i protokollet").input_value() == "§ 120"  # what was typed stays
    secretary.check("beslut-fel")
    s.get_by_label("Beslutsdatum").fill("2026-11-26")
    s.get_by_role("button", name="Registrera beslutet").click()
    assert secretary.notice() == "Nämndens beslut är registrerat; planen är fryst."
    assert "beslutad 26 november 2026 § 120, dnr SN 2026/400" in s.locator(".lead").inner_text()
    assert s.get_by_role("button", name="Registrera beslutet").count() == 0
    # the decided plan's texts read as in its document: the "- " line a list item, the paragraphs apart
    assert s.locator("main li", has_text="att anta planen för intern kontroll 2027").count() == 1
    assert s.locator("main p", has_text="Nämnden ansvarar för den interna kontrollen.").count() == 1
    secretary.check("beslutad")
    secretary.done()


def test_a_result_with_underlag_and_an_atgard_approved_by_a_second_person(browser, server, shots, app, tmp_path):
    owner = Person(browser, server, "kontrollansvarig", shots)
    p = owner.page
    owner.menu("Resultat")
    p.get_by_role("link", name="Mina kontroller: rapportera resultat").click()
    p.get_by_label("År", exact=True).select_option("2026")  # a choice, as on every other page
    p.get_by_label("Period", exact=True).select_option(label="halvår")
    p.get_by_role("button", name="Visa").click()
    assert owner.h1() == "Mina kontroller halvår 2026"
    owner.check("mina-kontroller")
    p.get_by_role("link", name="Rapportera SN-2026-K02").click()
    p.get_by_label("Ja, kontrollen är utförd").check()
    p.get_by_label("Datum då kontrollen utfördes").fill("2026-06-12")
    p.get_by_label("Antal granskade").fill("15")
    p.get_by_label("Antal avvikelser").fill("16")
    p.get_by_role("button", name="Spara resultatet").click()
    assert "16 avvikelser men bara 15 granskade" in p.locator(".error-summary").inner_text()
    p.locator(".error-summary a").first.click()  # the summary's link takes focus to the field
    assert p.evaluate("document.activeElement.id") == "deviations"
    owner.check("resultat-fel")
    lista = tmp_path / "stickprovslista.csv"
    lista.write_text("Ärende;Beslutsdatum;Avvikelse\n2026-014;2026-03-02;nej\n2026-031;2026-04-17;ja\n",
                     encoding="utf-8")
    p.get_by_label("Antal avvikelser").fill("2")
    p.get_by_label("Kommentar", exact=True).fill("Två beslut saknade delegationsstöd.\nBåda rättade i maj.")
    p.get_by_label("Åtgärd", exact=True).fill("Gå igenom delegationsordningen med handläggarna")
    p.get_by_label("Åtgärd ansvarig").fill("Enhetschef barn och unga")
    p.get_by_label("Åtgärd klart senast").fill("2026-12-31")
    p.get_by_label("Underlag (valfritt)").set_input_files(str(lista))
    p.get_by_role("button", name="Spara resultatet").click()
    assert owner.notice() == "Resultatet är sparat."
    p.get_by_role("link", name="mindre avvikelser, väntar på godkännande").click()
    body = p.locator("main").inner_text()
    assert "stickprovslista.csv" in body and "Gå igenom delegationsordningen med handläggarna" in body
    with p.expect_download() as dl:
        p.get_by_role("link", name="stickprovslista.csv").click()
    assert Path(dl.value.path()).read_bytes() == lista.read_bytes()
    result_url = p.url.split("?")[0]
    # the one who performed it may not approve it
    p.get_by_role("button", name="Godkänn resultatet").click()
    assert "har utfört kontrollen och kan inte också godkänna den" in p.locator(".error-summary").inner_text()
    owner.check("eget-godkannande")
    owner.done()

    controller = Person(browser, server, "controller", shots)
    c = controller.page
    c.goto(result_url)
    c.get_by_role("button", name="Godkänn resultatet").click()
    assert controller.notice() == "Resultatet är godkänt."
    assert "Anna Lind" in c.locator("dl.facts").inner_text()
    controller.check("godkant")
    controller.done()
    with app.session() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) >= 1
        approved = s.scalar(select(ControlResult).where(ControlResult.is_current.is_(True),
                                                        ControlResult.approved_by == "Anna Lind"))
        assert approved is not None and approved.performed_by == "Erik Holm"


def test_an_atgard_updated_by_its_owner(browser, server, shots):
    owner = Person(browser, server, "kontrollansvarig", shots)
    p = owner.page
    owner.menu("Åtgärder")
    p.get_by_role("link", name="SN-2026-Å01").first.click()
    p.get_by_label("Ny status").select_option("klar")
    p.get_by_role("button", name="Spara").click()
    assert "Beskriv hur åtgärden genomförts" in p.locator(".error-summary").inner_text()
    owner.check("atgard-fel")
    p.get_by_label("Ny status").select_option("klar")
    p.get_by_label("Kommentar", exact=True).fill("Rutinen för förhandsbedömning är omskriven och införd.")
    p.get_by_role("button", name="Spara").click()
    assert owner.notice() == "Åtgärden är uppdaterad."
    assert "→ klar" in p.locator("main").inner_text()
    owner.check("atgard-klar")
    owner.done()


def test_an_excel_file_with_a_bad_row_shows_the_row_and_stores_nothing(browser, server, shots, app):
    owner = Person(browser, server, "kontrollansvarig", shots)
    p = owner.page
    p.goto("/resultat/rapportera?ar=2026&period=helar")
    with p.expect_download() as dl:
        p.get_by_role("link", name="Ladda ner Excelmallen för Socialnämnden").click()
    path = Path(dl.value.path()).with_name("resultat-SN-2026-helar.xlsx")
    Path(dl.value.path()).rename(path)
    wb = load_workbook(path)
    ws = wb["Resultat"]
    head = {ws.cell(1, col).value: col for col in range(1, ws.max_column + 1)}
    assert [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)] == ["SN-2026-K02"]  # only their own
    for header, value in {"Utförd (ja/nej)": "ja", "Datum": "2026-11-20", "Antal granskade": 10,
                          "Antal avvikelser": 12, "Utförd av": "Erik Holm"}.items():
        ws.cell(2, head[header], value)
    wb.save(path)
    with app.session() as s:
        before = s.scalar(select(func.count()).select_from(ControlResult))
    p.get_by_label(re.compile("^Filer med resultat")).set_input_files(str(path))
    p.get_by_role("button", name="Läs in filerna").click()
    table = p.get_by_role("table", name=re.compile("fel i filen – ingenting har sparats"))
    cells = table.locator("tbody tr").first.locator("td").all_inner_texts()
    column = chr(ord("A") + head["Antal avvikelser"] - 1)
    assert cells[:4] == ["resultat-SN-2026-helar.xlsx", "Resultat", "2", column], cells
    assert "12 avvikelser men bara 10 granskade" in cells[4]
    owner.check("fil-fel")
    with app.session() as s:
        assert s.scalar(select(func.count()).select_from(ControlResult)) == before
    owner.done()


def test_a_report_written_previewed_submitted_decided_and_on_ks_oversikt(browser, server, shots):
    controller = Person(browser, server, "controller", shots)
    c = controller.page
    controller.menu("Rapporter")
    c.get_by_label("År", exact=True).select_option("2026")
    c.get_by_role("button", name="Visa").click()
    c.get_by_role("link", name="Skriv förvaltningens bedömning i halvårsrapporten för Socialnämnden").click()
    c.get_by_label("Förvaltningens bedömning").fill(
        "Den interna kontrollen fungerar i huvudsak.\nTvå beslut saknade delegationsstöd.\n\n"
        "- Delegationsordningen gås igenom med handläggarna\n- Uppföljning i helårsrapporten")
    controller.check("text")
    c.get_by_role("button", name="Spara och förhandsgranska rapporten").click()
    section = c.locator("h3", has_text="Förvaltningens bedömning")
    section.wait_for()  # the preview is a new page: count() alone could ask the old one (seen under load)
    assert section.count() == 1
    assert c.locator("li", has_text="Delegationsordningen gås igenom med handläggarna").count() == 1  # a list
    assert "Den interna kontrollen fungerar i huvudsak.\nTvå beslut" in c.locator(
        "h3 + p").first.inner_text()  # its line break kept
    controller.done()

    secretary = Person(browser, server, "sekreterare", shots)
    s = secretary.page
    secretary.menu("Rapporter")
    s.get_by_label("År", exact=True).select_option("2026")
    s.get_by_role("button", name="Visa").click()
    s.get_by_role("link", name="Visa halvårsrapporten för Socialnämnden").click()  # the preview, as itself
    assert "Halvårsrapport" in s.locator("h1").first.inner_text()
    s.go_back()
    s.get_by_role("button", name="Lämna in halvårsrapporten för Socialnämnden till KS").click()
    assert secretary.notice() == "Rapporten är inlämnad till KS."
    section = s.get_by_role("region", name="Socialnämnden")
    assert f"Halvårsrapport 2026: inlämnad {swedish_date(today())}" in " ".join(section.inner_text().split())
    secretary.check("inlamnad")
    section.get_by_label("Beslutsdatum (ÅÅÅÅ-MM-DD)").first.fill(today().isoformat())
    section.get_by_label("Paragraf").first.fill("§ 77")
    section.get_by_role("button", name="Registrera nämndens beslut om halvårsrapporten för Socialnämnden").click()
    assert secretary.notice() == "Nämndens beslut om rapporten är registrerat."
    assert f"Nämndens beslut: {swedish_date(today())} § 77." in " ".join(
        s.get_by_role("region", name="Socialnämnden").inner_text().split())
    assert "Oförändrad sedan inlämningen" in section.inner_text()
    secretary.done()

    # the text rewritten after the submission: the secretary is told a new version is due
    controller = Person(browser, server, "controller", shots)
    c = controller.page
    c.goto("/rapporter?ar=2026")  # the text written before: to change, not to write
    c.get_by_role("link", name="Ändra förvaltningens bedömning i halvårsrapporten för Socialnämnden").click()
    c.get_by_label("Förvaltningens bedömning").fill("Den interna kontrollen fungerar i huvudsak. Rättad formulering.")
    c.get_by_role("button", name="Spara texten").click()
    controller.done()
    secretary = Person(browser, server, "sekreterare", shots)
    s = secretary.page
    s.goto("/")  # Att göra says so first, and leads to the reports of its year
    due = " ".join(s.get_by_role("region", name="Rapporter som behöver lämnas in på nytt").inner_text().split())
    assert (f"Halvårsrapport 2026 för Socialnämnden, version 1 inlämnad {swedish_date(today())}: förvaltningens "
            "bedömning är omskriven sedan dess. En ny version behöver lämnas in till KS.") in due, due
    secretary.check("att-gora-ny-version")
    s.get_by_role("link", name="Halvårsrapport 2026", exact=True).click()
    text = " ".join(s.get_by_role("region", name="Socialnämnden").inner_text().split())
    assert "Förvaltningens bedömning är omskriven sedan inlämningen" in text and "Oförändrad" not in text, text
    secretary.done()

    ks = Person(browser, server, "ks", shots)
    k = ks.page
    k.goto("/oversikt?ar=2026&period=halvar")
    row = k.get_by_role("row", name=re.compile("^Socialnämnden"))
    assert f"Inlämnad {swedish_date(today())}" in row.inner_text()
    ks.check("oversikt")
    ks.done()


class Guest(Person):
    """A participant without an account: joins with the code on the screen."""

    def __init__(self, browser, server: str, name: str, code: str, shots: Path, keyboard: bool = False):
        self.context = browser.new_context(base_url=server, locale="sv-SE")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.username, self.shots, self.n = name.split()[0].lower(), shots, 0
        self.found, self.blocked = {}, []
        self.page.on("console", lambda m: self.blocked.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.goto("/logga-in")
        if keyboard:
            self.tab_to("Delta med deltagarkod")
            self.page.keyboard.press("Enter")
            self.page.wait_for_url("**/delta")
            self.tab_to("kod")
            self.page.keyboard.type(code)
            self.page.keyboard.press("Tab")
            assert self.page.evaluate("document.activeElement.id") == "namn"
            self.page.keyboard.type(name)
            self.page.keyboard.press("Enter")
        else:
            self.page.get_by_role("link", name="Delta med deltagarkod").click()
            self.page.get_by_label("Deltagarkod").fill("FEL0-KOD0")
            self.page.get_by_label("Ditt namn").fill(name)
            self.page.get_by_role("button", name="Delta").click()
            assert "Koden gäller inte" in self.page.locator(".error-summary").inner_text()
            self.check("fel-kod")
            self.page.get_by_label("Deltagarkod").fill(code)
            self.page.get_by_role("button", name="Delta").click()
        self.page.wait_for_url("**/workshop/*/delta")

    def tab_to(self, name: str, limit: int = 400) -> None:
        """Tab until the element named has focus: its text or id, or the start of its label."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            text, ident, label = self.page.evaluate(
                "[document.activeElement.textContent.trim(), document.activeElement.id,"
                " document.activeElement.labels && document.activeElement.labels[0]"
                " ? document.activeElement.labels[0].textContent.trim() : '']")
            if name in (text, ident) or label.startswith(name):
                return
        raise AssertionError(f"never reached {name!r} with Tab")


def _section(page, code: str):
    return page.get_by_role("region", name=re.compile(f"^{re.escape(code)}:"))


def _cell(section, likelihood: int, impact: int):
    return section.get_by_label(re.compile(f"^Sannolikhet {likelihood} .*, konsekvens {impact} "))


def test_a_live_workshop_with_a_facilitator_and_three_participants(browser, server, shots, app, journey_db, tmp_path):
    """The facilitator opens Socialnämnden's workshop for 2028 and shows the code; Pia (join code, mouse),
    Olle (join code, keyboard only) and the nämndsekreterare (logged in) score; two of them propose the
    same new risk, which the facilitator merges; an absent participant's Excel file is added; the group
    agrees a score other than the median, saying why; closing stores it all in the register."""
    fac = Person(browser, server, "controller", shots)
    f = fac.page
    fac.menu("Riskworkshop")
    fac.check("workshoppar")
    f.get_by_label("Enhet", exact=True).select_option("SN")
    f.get_by_label("Planår som bedöms").fill("2028")
    f.get_by_role("button", name="Öppna workshoppen").click()
    assert fac.h1() == "Riskworkshop Socialnämnden 2028"
    f.get_by_role("button", name="Skapa deltagarkod").click()
    code = f.locator("p.code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    fac.check("kod")

    pia = Guest(browser, server, "Pia Gäst", code, shots)
    p = pia.page
    sn1 = _section(p, "SN-R001")
    assert "Förra året: sannolikhet" in sn1.inner_text() and "Inte bedömd av dig i år." in sn1.inner_text()
    pia.check("deltagare")
    _cell(sn1, 3, 4).check()
    sn1.get_by_label("Kommentar till SN-R001 (valfritt)").fill("Två beslut utan delegation i våras.")
    sn1.get_by_role("button", name="Spara bedömningen av SN-R001").click()
    assert pia.notice() == "Din bedömning är sparad."
    assert "Din bedömning: sannolikhet 3, konsekvens 4." in _section(p, "SN-R001").inner_text()
    _section(p, "SN-R002").get_by_role("button", name="Spara bedömningen av SN-R002").click()  # no cell chosen
    assert "Välj en ruta i riskmatrisen" in p.locator(".error-summary").inner_text()
    pia.check("deltagare-fel")
    p.get_by_label("Risk (vad kan gå fel?)").fill("Samtycke till informationsutbyte dokumenteras inte")
    p.get_by_role("button", name="Föreslå risken").click()
    assert "Välj en kategori" in p.locator(".error-summary").inner_text()
    p.get_by_label("Kategori").select_option("lagkrav")
    p.get_by_role("button", name="Föreslå risken").click()
    assert pia.notice().startswith("Ditt förslag är tillagt")
    new = _section(p, "Nytt förslag")
    _cell(new, 3, 3).check()
    new.get_by_role("button", name="Spara bedömningen av förslaget").click()
    assert pia.notice() == "Din bedömning är sparad."

    olle = Guest(browser, server, "Olle Tangent", code, shots, keyboard=True)
    o = olle.page
    olle.tab_to("Sannolikhet 4")  # the first cell of SN-R001's matrix: a radio group of its own
    assert o.evaluate("document.activeElement.name") == "ruta"
    for _ in range(6):  # the arrows go cell by cell, row by row: 4-2 4-3 4-4 3-1 3-2 3-3
        o.keyboard.press("ArrowRight")
    assert o.evaluate("document.activeElement.value") == "3-3"
    o.keyboard.press("Tab")
    o.keyboard.type("Vi ser samma mönster som förra året.")
    o.keyboard.press("Tab")
    assert o.evaluate("document.activeElement.textContent.trim()") == "Spara bedömningen av SN-R001"
    o.keyboard.press("Enter")
    assert olle.notice() == "Din bedömning är sparad."
    assert "Din bedömning: sannolikhet 3, konsekvens 3." in _section(o, "SN-R001").inner_text()
    olle.check("tangentbord")

    secretary = Person(browser, server, "sekreterare", shots)
    s = secretary.page
    secretary.menu("Riskworkshop")
    s.get_by_role("link", name="Delta i workshoppen för Socialnämnden 2028").click()
    _cell(_section(s, "SN-R001"), 1, 1).check()
    _section(s, "SN-R001").get_by_role("button", name="Spara bedömningen av SN-R001").click()
    assert secretary.notice() == "Din bedömning är sparad."
    s.get_by_label("Risk (vad kan gå fel?)").fill("Samtycke dokumenteras ej vid informationsutbyte")
    s.get_by_label("Kategori").select_option("lagkrav")
    s.get_by_role("button", name="Föreslå risken").click()
    dup = s.get_by_role("region", name=re.compile("Samtycke dokumenteras ej"))
    _cell(dup, 2, 3).check()
    dup.get_by_role("button", name="Spara bedömningen av förslaget").click()
    assert secretary.notice() == "Din bedömning är sparad."

    # the facilitator's table follows without a reload (htmx polls the state, in the database)
    row = f.get_by_role("row", name=re.compile("^SN-R001"))
    row.get_by_text("3 av 3").wait_for(timeout=20_000)
    assert "oenighet" in row.inner_text()
    fac.check("laget")
    # agree: another cell than the median needs a reason
    f.get_by_role("link", name=re.compile("^SN-R001:")).click()
    fac.check("risk")
    f.get_by_label(re.compile("^Sannolikhet 4 .*, konsekvens 3 ")).check()
    f.get_by_role("button", name="Enas om bedömningen").click()
    assert "skriv varför" in f.locator(".error-summary").inner_text()
    fac.check("enas-fel")
    assert f.get_by_label(re.compile("^Sannolikhet 4 .*, konsekvens 3 ")).is_checked()  # the choice stays
    f.get_by_label(re.compile("^Skäl")).fill("Två nya fall sedan i våras väger tyngre")
    f.get_by_role("button", name="Enas om bedömningen").click()
    assert fac.notice() == "Gruppens bedömning är sparad."
    # merge the duplicate proposal
    f.get_by_role("link", name=re.compile("Samtycke dokumenteras ej")).click()
    options = f.get_by_label("Samma risk som").locator("option").all_inner_texts()
    f.get_by_label("Samma risk som").select_option(label=next(x for x in options if "Samtycke till" in x))
    f.get_by_role("button", name="Slå ihop förslagen").click()
    assert fac.notice() == "Förslagen är sammanslagna."
    assert f.get_by_role("row", name=re.compile("Samtycke dokumenteras ej")).count() == 0
    # an absent participant's Excel file: the template downloaded from the page, filled in, added
    from ikcheck.demo import DEMO_YEAR, fill_workshop
    from ikcheck import yamlsrc

    with f.expect_download() as download:
        f.get_by_role("link", name="workshopmallen (Excel)").click()
    assert download.value.suggested_filename == "workshop-SN-2028.xlsx"
    blank = tmp_path / download.value.suggested_filename
    download.value.save_as(blank)
    risks = app.settings.riskregister_dir / "demo" / "risker.yaml"
    agreed = {(i["unit"], i["title"]): i["scores"][DEMO_YEAR] for i in yamlsrc.load(risks)["risks"]}
    fill_workshop(blank, "SN", "Fredrik Frånvarande", agreed, off=False)
    f.get_by_label("Workshopmall (xlsx)").set_input_files(str(blank))
    f.get_by_role("button", name="Lägg till filen").click()
    assert fac.notice() == "Filen är tillagd: deltagarens bedömningar räknas med."
    # close: stored as an import stores it
    f.get_by_role("button", name="Avsluta och spara i riskregistret").click()
    assert fac.notice() == "Workshoppen är avslutad och bedömningarna sparade i riskregistret."
    fac.check("avslutad")
    for person in (pia, olle, secretary, fac):
        person.done()

    from ikcheck.store.models import Risk, RiskAssessment

    with app.session() as db:
        got = {r.code: ra for r, ra in db.execute(
            select(Risk, RiskAssessment).join(RiskAssessment, RiskAssessment.risk_id == Risk.id)
            .where(RiskAssessment.year == 2028, RiskAssessment.is_current.is_(True)))}
        r1 = got["SN-R001"]
        assert (r1.likelihood, r1.impact, r1.agreed_reason) == (4, 3, "Två nya fall sedan i våras väger tyngre")
        names = sorted(e["name"] for e in r1.participants)
        assert names == ["Fredrik Frånvarande", "Olle Tangent", "Pia Gäst", "Sofia Berg"]
        assert any(e["comment"] == "Två beslut utan delegation i våras." for e in r1.participants)
        assert r1.flagged and r1.spread >= 2
        new = [r for r in db.scalars(select(Risk).where(Risk.title.like("Samtycke%")))]
        assert [r.title for r in new] == ["Samtycke till informationsutbyte dokumenteras inte"]  # merged: one
        merged = got[new[0].code]
        assert sorted(e["name"] for e in merged.participants) == ["Pia Gäst", "Sofia Berg"]
        # last year's score shown to Pia for SN-R002 was never stored as hers
        assert all(e["name"] != "Pia Gäst" for e in got["SN-R002"].participants)


def test_a_risk_found_between_workshops_added_changed_and_retired(browser, server, shots, app):
    """The controller adds a risk after an incident through the register's form, assessed in the
    matrix at once; a refused form keeps what was typed; then changes its owner and retires it."""
    ctl = Person(browser, server, "controller", shots)
    p = ctl.page
    ctl.menu("Register")
    form = p.locator("form", has=p.get_by_role("button", name="Lägg till risken"))
    form.get_by_label("Rubrik").fill("Leverantörsfaktura betalas två gånger")
    form.get_by_label("Kategori").select_option("ekonomi")
    form.get_by_role("button", name="Lägg till risken").click()
    assert "Välj sannolikhet och konsekvens" in p.locator(".error-summary").inner_text()
    ctl.check("ny-risk-fel")
    form = p.locator("form", has=p.get_by_role("button", name="Lägg till risken"))
    assert form.get_by_label("Rubrik").input_value() == "Leverantörsfaktura betalas två gånger"  # kept
    form.get_by_label(re.compile("^Sannolikhet 3 .*, konsekvens 2 ")).check()
    form.get_by_role("button", name="Lägg till risken").click()
    assert ctl.notice().startswith("Risken är tillagd i riskregistret med sin bedömning")
    code = ctl.h1().split()[0]
    assert "Leverantörsfaktura betalas två gånger" in ctl.h1()
    ctl.check("ny-risk")
    p.get_by_label("Riskägare").fill("Ekonomichef")
    p.get_by_role("button", name="Spara ändringarna").click()
    assert ctl.notice() == "Risken är ändrad."
    assert "Ekonomichef" in p.locator(".facts").inner_text()
    p.get_by_role("button", name="Avsluta risken").click()
    assert "Skriv varför risken avslutas" in p.locator(".error-summary").inner_text()
    ctl.check("avsluta-fel")
    p.get_by_label("Skäl").fill("Dubbelbetalningsspärr införd i ekonomisystemet")
    p.get_by_role("button", name="Avsluta risken").click()
    assert ctl.notice() == "Risken är avslutad; den finns kvar i historiken."
    assert "avslutad" in p.locator(".facts").inner_text()
    assert not p.get_by_role("button", name="Spara ändringarna").count()  # an avslutad risk is not changed
    ctl.check("avslutad-risk")
    ctl.done()
    from ikcheck.store.models import Risk

    with app.session() as db:
        risk = db.scalar(select(Risk).where(Risk.code == code))
        assert (risk.owner, risk.status, risk.category) == ("Ekonomichef", "retired", "ekonomi")
        assert {ra.year: (ra.likelihood, ra.impact) for ra in risk.assessments} == {today().year + 1: (3, 2)}
