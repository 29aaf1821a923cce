"""The web app in a real browser: Debian's Chromium driven by Playwright (never Playwright's own browser
download), against one real uvicorn server on 127.0.0.1 for the whole module, and a real OpenID Connect provider
(oidc-provider-mock) on 127.0.0.1 for single sign-on. axe-core checks every page for every role."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from oidc_provider_mock import run_server_in_thread  # noqa: E402

from ikcheck.demo import DEMO_PASSWORD  # noqa: E402
from tests.web_support import CHROMIUM, axe_violations, chromium, free_port, serve  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
                                reason="Debian's chromium is not installed (./dev test installs it)")
ROLES = ["admin", "ks", "controller", "sekreterare", "kontrollansvarig", "revisor"]


@pytest.fixture(scope="module")
def oidc():
    with run_server_in_thread(port=free_port()) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def server(web_db, oidc, tmp_path_factory):
    """`ikcheck serve` on the web test database, with single sign-on configured against the local provider."""
    url, _ = web_db
    conf = tmp_path_factory.mktemp("conf") / "ikcheck.toml"
    conf.write_text(f'''
[oidc]
issuer = "{oidc}"
client_id = "ikcheck-test"
client_secret = "hemligt"
org = "exempelby"
groups_claim = "groups"
button = "Logga in med Exempelby kommuns konto"

[oidc.groups]
"IK-KS" = {{ role = "ks" }}
"IK-Controller-SN" = {{ role = "controller", units = ["SN"] }}
''', encoding="utf-8")
    with serve(url, conf) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, locale="sv-SE", accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def log_in(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/logga-in")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(lambda u: "/logga-in" not in u)


PAGES = {  # role -> the pages of the app that role reaches (every kind of page, some states); the writing
    # journeys (tests/test_web_journeys.py) check every state of the forms they fill in
    "admin": ["/", "/konton", "/granskning/verifiera", "/granskning/handelser?post=account", "/organisation"],
    "ks": ["/", "/oversikt", "/oversikt?sortera=status&period=halvar", "/enheter/SN", "/risker", "/risker/SN-R001",
           "/enheter/SN/riskkarta?ar=2025", "/planer", "/planer/SN/2025/v2?jamfor=1", "/resultat", "/atgarder",
           "/atgarder/Å-00002", "/rapporter", "/granskning", "/granskning/results?unit=SN",
           "/granskning/conclusions", "/spara/risk/SN-R001", "/spara/action/Å-00002", "/finns-inte",
           "/ks-krav?ar=2026", "/planer/SN/2025/v2.html", "/rapporter/SN/2025/ar.html"],  # the documents too
    "controller": ["/", "/enheter/SN", "/risker?enhet=SN&niva=hög", "/risker/SN-R001", "/planer/SN/2025", "/resultat?enhet=SN",
                   "/rapporter", "/oversikt", "/workshop", "/rapporter/SN/2025/ar/text", "/atgarder/Å-00002",
                   "/resultat/rapportera?ar=2025&period=helar", "/rapporter/SN/2025/halvar.html"],
    "sekreterare": ["/", "/planer", "/rapporter", "/workshop", "/kalender"],
    "kontrollansvarig": ["/", "/planer/SN/2025", "/resultat", "/atgarder", "/resultat/rapportera?ar=2025&period=halvar",
                         "/resultat/rapportera/SN/2025/halvar/SN-2025-K01"],
    "revisor": ["/", "/granskning/risks", "/granskning/plans?unit=SN", "/granskning/actions",
                "/granskning/verifiera", "/granskning/handelser", "/granskning/handelser?fran=2026-13-01", "/risker"],
}


@pytest.mark.parametrize("role", ROLES)
def test_axe_finds_nothing_on_any_page(page, role):
    blocked: list[str] = []  # the CSP forbids inline script and style: nothing of ours may need them
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/logga-in")
    found = {"/logga-in": axe_violations(page)}
    page.goto("/delta")
    found["/delta"] = axe_violations(page)
    log_in(page, role)
    for path in PAGES[role]:
        page.goto(path)
        found[path] = axe_violations(page)
    # the login form in its error state, with the error summary
    if role == "admin":
        page.context.clear_cookies()
        page.goto("/logga-in")
        page.get_by_role("button", name="Logga in").click()
        page.wait_for_selector(".error-summary")
        found["/logga-in (fel)"] = axe_violations(page)
    bad = {p: v for p, v in found.items() if v}
    assert not bad, bad
    assert not blocked, blocked


def test_each_role_sees_its_menu(page):
    expected = {
        "admin": ["Att göra", "Verifiera loggen", "Organisation", "Konton"],
        "ks": ["Att göra", "Översikt", "Register", "Plan", "Resultat", "Åtgärder", "Rapporter", "Granskning",
               "KS-krav"],
        "controller": ["Att göra", "Riskworkshop", "Register", "Plan", "Resultat", "Åtgärder", "Rapporter",
                       "KS-krav"],
        "kontrollansvarig": ["Att göra", "Riskworkshop", "Plan", "Resultat", "Åtgärder"],
        "revisor": ["Att göra", "Översikt", "Register", "Plan", "Resultat", "Åtgärder", "Rapporter", "Granskning",
                    "Verifiera loggen", "KS-krav"],
    }
    for role, labels in expected.items():
        page.context.clear_cookies()
        log_in(page, role)
        menu = page.get_by_role("navigation", name="Huvudmeny").get_by_role("link").all_inner_texts()
        assert menu == labels, role


def test_keyboard_only_login_overview_unit_report_download(page):
    """Tab and Enter only: the skip link, the login form, KS översikt, a unit, and a report's download."""
    def tab_to(name: str, limit: int = 200) -> None:
        """Tab until the element named (its text as seen, without soft hyphens, or its id) has focus."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            if name in page.evaluate("[document.activeElement.textContent.replaceAll('\\u00ad', '').trim(), "
                                     "document.activeElement.id]"):
                return
        raise AssertionError(f"never reached {name!r} with Tab")

    page.goto("/logga-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Till innehållet"
    page.keyboard.press("Enter")
    tab_to("username")
    page.keyboard.type("ks")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Att göra")

    tab_to("Översikt")
    page.keyboard.press("Enter")
    page.wait_for_url("**/oversikt")
    assert page.get_by_role("heading", level=1).inner_text().startswith("KS-sammanställning")
    tab_to("Socialnämnden")
    page.keyboard.press("Enter")
    page.wait_for_url("**/enheter/SN**")
    tab_to("Rapporter 2025")
    page.keyboard.press("Enter")
    page.wait_for_url("**/rapporter**")
    with page.expect_download() as dl:
        tab_to("Excel årsrapporten för Socialnämnden")
        page.keyboard.press("Enter")
    download = dl.value
    assert download.suggested_filename == "arsrapport-SN-2025.xlsx"
    assert Path(download.path()).read_bytes()[:2] == b"PK"


def test_focus_is_visible(page):
    log_in(page, "ks")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline


def test_small_screen_has_no_sideways_scroll(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 320, "height": 640})
    pg = context.new_page()
    log_in(pg, "ks")
    # and the pages whose heading is a long unit name ("Samhällsbyggnadsnämnden" was 367 px wide at 320)
    for path in ["/", "/oversikt", "/risker", "/planer/SN/2025", "/resultat", "/atgarder", "/granskning/results",
                 "/enheter/SBN", "/enheter/SBN/riskkarta?ar=2025", "/planer/SBN/2025", "/rapporter"]:
        pg.goto(path)
        # wide tables scroll inside their own region, the hidden texts in their cells too; the page does not
        assert pg.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"), path
    context.close()


def test_ks_overview_shows_every_column_in_a_1200_px_window(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    log_in(pg, "ks")
    pg.goto("/oversikt")
    region = pg.get_by_role("region", name="Enheterna")
    assert region.evaluate("e => e.scrollWidth <= e.clientWidth"), region.evaluate("e => [e.scrollWidth, e.clientWidth]")
    # a long name breaks before its compound's tail, and is still named whole
    link = pg.get_by_role("link", name="Samhällsbyggnadsnämnden", exact=True)
    assert link.evaluate("e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size") == 2
    context.close()


def test_the_accounts_list_shows_its_change_column_in_a_1200_px_window(browser, server):
    """The administrator reaches "Ändra" without scrolling sideways: an address may wrap before its @."""
    context = browser.new_context(base_url=server, viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    log_in(pg, "admin")
    pg.goto("/konton")
    region = pg.get_by_role("region", name=re.compile("konton$"))
    assert region.evaluate("e => e.scrollWidth <= e.clientWidth"), region.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert pg.get_by_role("cell", name="kontrollansvarig@exempelby.example").count() == 1  # read whole
    context.close()


def test_a_participant_scores_on_a_phone_without_scrolling_sideways(browser, server, page):
    """In the workshop room people score on their phones: at 390 px (a common phone) the page does not
    scroll sideways and the 4×4 matrix fits whole (its labels are read by a screen reader either way)."""
    log_in(page, "controller")
    page.goto("/workshop")
    page.get_by_label("Enhet", exact=True).select_option("SN")
    page.get_by_label("Planår som bedöms").fill("2031")  # a year no other test uses
    page.get_by_role("button", name="Öppna workshoppen").click()
    page.get_by_role("button", name="Skapa deltagarkod").click()
    code = page.locator("p.code").inner_text()
    phone = browser.new_context(base_url=server, locale="sv-SE", viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True)
    pg = phone.new_page()
    pg.goto("/delta")
    pg.get_by_label("Deltagarkod").fill(code)
    pg.get_by_label("Ditt namn").fill("Pia Mobil")
    pg.get_by_role("button", name="Delta").click()
    first = pg.locator("section.score").first
    first.wait_for()
    # the form's answer is a navigation: measured before its stylesheet has loaded, the unstyled
    # matrix is 530 px wide (seen once in a full run); a user's browser does not paint before it
    pg.wait_for_load_state("load")
    # (on a phone, window.innerWidth grows with a page too wide for it: the layout viewport is the measure)
    width = pg.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width == [390, 390], width
    wrap = first.locator(".pick-wrap")
    fits = wrap.evaluate("e => [e.scrollWidth, e.clientWidth, Math.ceil(e.getBoundingClientRect().right)]")
    assert fits[0] <= fits[1] and fits[2] <= 390, fits
    first.get_by_label(re.compile("^Sannolikhet 2 .*, konsekvens 3 ")).tap()
    first.get_by_role("button", name=re.compile("^Spara bedömningen")).tap()
    assert "Din bedömning är sparad." in pg.locator(".notice").inner_text()
    phone.close()


def _sso_login(page, oidc: str, sub: str, claims: dict) -> None:
    httpx.put(f"{oidc}/users/{sub}", json=claims, timeout=5).raise_for_status()
    page.goto("/logga-in")
    page.get_by_role("link", name="Logga in med Exempelby kommuns konto").click()
    page.wait_for_url(f"{oidc}/**")
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def back_in_ikcheck(server: str):
    """The URL test for being back from the directory, past the login pages."""
    return lambda u: u.startswith(server) and "/logga-in" not in u


def test_single_sign_on_role_from_groups_and_logout(page, oidc, server):
    _sso_login(page, oidc, "karin-sso", {"name": "Karin Sso", "email": "karin@exempelby.se",
                                           "preferred_username": "karin.sso", "groups": ["IK-KS", "Alla"]})
    page.wait_for_url(back_in_ikcheck(server))
    header = page.locator("header").inner_text()
    # the kommun's name, not its code
    assert "Karin Sso · kommunledning (KS)" in header and "Exempelby kommun" in header, header
    page.get_by_role("link", name="Översikt").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("KS-sammanställning")
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/logga-in?meddelande=utloggad")
    assert "Du är utloggad." in page.content()
    page.goto("/oversikt")
    page.wait_for_url("**/logga-in?**")


def test_single_sign_on_controller_gets_their_unit(page, oidc, server):
    _sso_login(page, oidc, "anna-sso", {"name": "Anna Sso", "groups": ["IK-Controller-SN"]})
    page.wait_for_url(back_in_ikcheck(server))
    assert "controller" in page.locator("header").inner_text()
    assert page.goto("/enheter/SN").status == 200
    assert page.goto("/enheter/KFN").status == 403


def test_single_sign_on_unknown_group_is_refused_in_swedish(page, oidc):
    _sso_login(page, oidc, "okand-sso", {"name": "Okänd Person", "groups": ["Bibliotek"]})
    page.wait_for_selector("h1")
    assert page.get_by_role("heading", level=1).inner_text() == "Inloggningen gick inte"
    assert "hör inte till någon grupp som ger behörighet i ikcheck" in page.content()
    assert page.goto("/").url.split("?")[0].endswith("/logga-in")


def test_screenshots_of_the_main_pages(page, tmp_path_factory):
    """Pictures to look at (IKCHECK_SCREENSHOTS=DIR keeps them); each is a full page for its role."""
    out = Path(os.environ.get("IKCHECK_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    out.mkdir(parents=True, exist_ok=True)
    shots = {"ks": ["/", "/oversikt", "/enheter/SN/riskkarta?ar=2025", "/risker/SN-R001", "/planer/SN/2025/v2?jamfor=1",
                    "/ks-krav?ar=2026"],
             "kontrollansvarig": ["/", "/planer/SN/2025"], "revisor": ["/granskning/results?unit=SN", "/spara/risk/SN-R001"],
             "controller": ["/resultat?enhet=SN", "/workshop", "/atgarder", "/rapporter/SN/2025/ar/text"],
             "admin": ["/konton", "/organisation"], "sekreterare": ["/rapporter?ar=2025"]}
    for role, paths in shots.items():
        page.context.clear_cookies()
        log_in(page, role)
        for i, path in enumerate(paths):
            page.goto(path)
            page.screenshot(path=str(out / f"{role}-{i}.png"), full_page=True)
    assert len(list(out.glob("*.png"))) == sum(map(len, shots.values()))
