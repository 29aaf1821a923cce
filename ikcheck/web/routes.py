"""Every page of the web app. Each handler parses the request, calls one service (portal, accounts,
sso), and renders; who may see what is decided by access.can inside the service (portal.require).

`ROUTES` is the whole table: tests/test_web_access.py walks it for every role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ikcheck import accounts, portal
from ikcheck.errors import NotFound, UserError
from ikcheck.web import security, sso
from ikcheck.web.app import Ctx, remove_download


@dataclass(frozen=True)
class R:
    path: str
    handler: Callable[[Ctx], Response]
    methods: tuple[str, ...] = ("GET",)
    login: bool = True


def web(ctx: Ctx):
    return ctx.request.app.state.web


def render(ctx: Ctx, template: str, title: str, **data) -> Response:
    return web(ctx).render(ctx, template, title, **data)


# --- logging in and out --------------------------------------------------------------------------

def login_page(ctx: Ctx) -> Response:
    if ctx.session:
        return RedirectResponse(accounts.safe_next(ctx.arg("nasta")), status_code=303)
    return render(ctx, "login.html", "Logga in", nasta=accounts.safe_next(ctx.arg("nasta")), errors=[],
                  username="", notice=ctx.arg("meddelande"))


def login_submit(ctx: Ctx) -> Response:
    username = str(ctx.form.get("username") or "")
    password = str(ctx.form.get("password") or "")
    nasta = accounts.safe_next(str(ctx.form.get("nasta") or "/"))
    errors = []
    if not username.strip():
        errors.append(("username", "Skriv ditt användarnamn."))
    if not password:
        errors.append(("password", "Skriv ditt lösenord."))
    if not errors:
        try:
            token = accounts.login(ctx.app, username, password, _address(ctx))
        except UserError as e:
            errors.append(("username", str(e)))
        else:
            ctx.set_cookies.append((security.SESSION_COOKIE, token, {}))
            ctx.set_cookies.append((security.PRE_COOKIE, "", {}))
            return RedirectResponse(nasta, status_code=303)
    response = render(ctx, "login.html", "Logga in", nasta=nasta, errors=errors, username=username, notice="")
    response.status_code = 400
    return response


def _address(ctx: Ctx) -> str:
    trusted = web(ctx).app.settings.web.get("trusted_proxy")
    forwarded = ctx.request.headers.get("x-forwarded-for")
    if trusted and forwarded:  # behind the kommun's reverse proxy: the client it saw
        return forwarded.split(",")[0].strip()
    return ctx.request.client.host if ctx.request.client else "okänd"


def logout(ctx: Ctx) -> Response:
    accounts.logout(ctx.app, ctx.request.cookies.get(security.SESSION_COOKIE))
    ctx.set_cookies.append((security.SESSION_COOKIE, "", {}))
    return RedirectResponse("/logga-in?meddelande=utloggad", status_code=303)


def _redirect_uri(ctx: Ctx) -> str:
    base = web(ctx).app.settings.web.get("base_url") or str(ctx.request.base_url).rstrip("/")
    return f"{base.rstrip('/')}/logga-in/sso/klar"


def sso_start(ctx: Ctx) -> Response:
    c = sso.config(ctx.app)
    if c is None:
        raise NotFound("Inloggning via kommunens katalog är inte inställd.")
    try:
        url = sso.authorization_url(ctx.app, c, _redirect_uri(ctx), ctx.arg("nasta", "/"))
    except Exception as e:  # the directory does not answer
        raise UserError(sso.FAILED) from e
    return RedirectResponse(url, status_code=303)


def sso_done(ctx: Ctx) -> Response:
    c = sso.config(ctx.app)
    if c is None:
        raise NotFound("Inloggning via kommunens katalog är inte inställd.")
    if ctx.arg("error"):
        return web(ctx).error(ctx, 403, "Inloggningen avbröts", "Kommunens katalog godkände inte inloggningen.")
    try:
        token, nxt = sso.finish(ctx.app, c, _redirect_uri(ctx), ctx.arg("code"), ctx.arg("state"))
    except UserError as e:
        return web(ctx).error(ctx, 403, "Inloggningen gick inte", str(e))
    ctx.set_cookies.append((security.SESSION_COOKIE, token, {}))
    return RedirectResponse(nxt, status_code=303)


# --- the read side -------------------------------------------------------------------------------

def start(ctx: Ctx) -> Response:
    return render(ctx, "start.html", "Att göra", t=portal.todo(ctx.app, ctx.actor))


def _year(ctx: Ctx) -> int:
    return ctx.int_arg("ar") or portal.default_year(ctx.app, ctx.actor)


def overview(ctx: Ctx) -> Response:
    year = _year(ctx)
    kind = ctx.arg("period") or None
    data = portal.ks_overview(ctx.app, ctx.actor, year, kind, ctx.arg("sortera", "enhet"))
    return render(ctx, "overview.html", f"KS översikt {year}", k=data, years=portal.years(ctx.app, ctx.actor))


def overview_file(ctx: Ctx) -> Response:
    fmt = ctx.request.path_params["fmt"]
    if fmt not in ("pdf", "xlsx"):
        raise NotFound("Sidan finns inte.")
    return web(ctx).file(portal.ks_file(ctx.app, ctx.actor, _year(ctx), ctx.arg("period") or None, fmt))


def unit_page(ctx: Ctx) -> Response:
    year = _year(ctx)
    data = portal.unit_page(ctx.app, ctx.actor, ctx.request.path_params["unit"], year)
    return render(ctx, "unit.html", data["unit"]["name"], u=data, years=portal.years(ctx.app, ctx.actor))


def risks(ctx: Ctx) -> Response:
    data = portal.risks(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, year=ctx.int_arg("ar"),
                        process=ctx.arg("process"), level=ctx.arg("niva"), category=ctx.arg("kategori"),
                        text=ctx.arg("text"))
    return render(ctx, "risks.html", "Riskregistret", d=data, years=portal.years(ctx.app, ctx.actor))


def risk_page(ctx: Ctx) -> Response:
    data = portal.risk_page(ctx.app, ctx.actor, ctx.request.path_params["code"])
    return render(ctx, "risk.html", f"Risk {data['risk']}", r=data)


def heatmap(ctx: Ctx) -> Response:
    data = portal.heatmap(ctx.app, ctx.actor, ctx.request.path_params["unit"], _year(ctx))
    return render(ctx, "heatmap.html", f"Riskkarta {data['unit']['name']} {data['year']}", h=data)


def plans(ctx: Ctx) -> Response:
    year = _year(ctx)
    return render(ctx, "plans.html", f"Planer för intern kontroll {year}", d=portal.plans(ctx.app, ctx.actor, year),
                  years=portal.years(ctx.app, ctx.actor))


def _version(ctx: Ctx) -> int | None:
    v = ctx.request.path_params.get("version")
    if v is None:
        return None
    if not str(v).isdigit():
        raise NotFound("Sidan finns inte.")
    return int(v)


def plan_page(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    data = portal.plan_page(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), _version(ctx), ctx.int_arg("jamfor"))
    return render(ctx, "plan.html", f"Plan för intern kontroll {data['year']} – {data['unit']}", p=data)


def plan_file(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    if p["fmt"] not in ("pdf", "xlsx", "html", "docx"):
        raise NotFound("Sidan finns inte.")
    path = portal.plan_file(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), _version(ctx), p["fmt"])
    return _document(ctx, path) if p["fmt"] == "html" else web(ctx).file(path)


def _document(ctx: Ctx, path) -> Response:
    """A document (plan, report) shown as itself: its own inline styles, no script."""
    html = path.read_text(encoding="utf-8")
    remove_download(path)
    return HTMLResponse(html, headers={"content-security-policy": security.DOCUMENT_CSP})


def results(ctx: Ctx) -> Response:
    data = portal.results(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, year=ctx.int_arg("ar"),
                          period=ctx.arg("period"), assessment=ctx.arg("bedomning"))
    return render(ctx, "results.html", "Kontrollresultat", d=data, years=portal.years(ctx.app, ctx.actor))


def result_page(ctx: Ctx) -> Response:
    data = portal.result_page(ctx.app, ctx.actor, ctx.path_int("id"))
    return render(ctx, "result.html", f"Resultat för {data['point']['kod']}, {data['period']} {data['year']}", r=data)


def action_list(ctx: Ctx) -> Response:
    data = portal.action_list(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, status=ctx.arg("status"))
    return render(ctx, "actions.html", "Åtgärder", d=data)


def action_page(ctx: Ctx) -> Response:
    data = portal.action_page(ctx.app, ctx.actor, ctx.request.path_params["code"])
    return render(ctx, "action.html", f"Åtgärd {data['kod']}", a=data)


def reports(ctx: Ctx) -> Response:
    year = _year(ctx)
    return render(ctx, "reports.html", f"Rapporter {year}", d=portal.reports(ctx.app, ctx.actor, year),
                  years=portal.years(ctx.app, ctx.actor))


def report_file(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    if p["fmt"] not in ("pdf", "xlsx", "html", "docx"):
        raise NotFound("Sidan finns inte.")
    path = portal.report_file(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), p["kind"], p["fmt"])
    return _document(ctx, path) if p["fmt"] == "html" else web(ctx).file(path)


def audit_index(ctx: Ctx) -> Response:
    portal.require(ctx.actor, "query", portal.access.org(ctx.actor.org_id))
    return render(ctx, "audit.html", "Granskning", titles=portal.QUERY_TITLES)


def query_page(ctx: Ctx) -> Response:
    what = ctx.request.path_params["what"]
    filters = dict(ctx.request.query_params)
    fmt = filters.pop("format", "")
    if fmt in ("xlsx", "csv"):
        return web(ctx).file(portal.query_file(ctx.app, ctx.actor, what, filters, fmt))
    data = portal.query_page(ctx.app, ctx.actor, what, filters)
    return render(ctx, "query.html", data["title"], q=data, export=urlencode(data["values"]), shown=portal.SHOWN)


def trace_page(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    data = portal.trace(ctx.app, ctx.actor, p["kind"], p["key"])
    return render(ctx, "trace.html", "Spårning", t=data, kind=p["kind"], key=p["key"])


def verify_page(ctx: Ctx) -> Response:
    portal.require(ctx.actor, "verify", portal.access.org(ctx.actor.org_id))
    return render(ctx, "verify.html", "Verifiera granskningsloggen", result=None, errors=[])


def verify_submit(ctx: Ctx) -> Response:
    uploads = []
    for f in ctx.form.getlist("ankare"):
        if getattr(f, "filename", None):
            uploads.append((f.filename, f.file.read()))
    tokens = [t for t in str(ctx.form.get("kontrollsumma") or "").splitlines() if t.strip()]
    try:
        result = portal.verify(ctx.app, ctx.actor, uploads, tokens)
    except UserError as e:
        r = render(ctx, "verify.html", "Verifiera granskningsloggen", result=None, errors=[("ankare", str(e))])
        r.status_code = 400
        return r
    return render(ctx, "verify.html", "Verifiera granskningsloggen", result=result, errors=[])


def account_list(ctx: Ctx) -> Response:
    return render(ctx, "accounts.html", "Konton", rows=portal.account_list(ctx.app, ctx.actor),
                  roles=accounts.ROLES)


ROUTES: list[R] = [
    R("/logga-in", login_page, login=False),
    R("/logga-in", login_submit, ("POST",), login=False),
    R("/logga-ut", logout, ("POST",)),
    R("/logga-in/sso", sso_start, login=False),
    R("/logga-in/sso/klar", sso_done, login=False),
    R("/", start),
    R("/oversikt", overview),
    R("/oversikt.{fmt}", overview_file),
    R("/enheter/{unit}", unit_page),
    R("/enheter/{unit}/riskkarta", heatmap),
    R("/risker", risks),
    R("/risker/{code}", risk_page),
    R("/planer", plans),
    R("/planer/{unit}/{year}", plan_page),
    R("/planer/{unit}/{year}/v{version}.{fmt}", plan_file),
    R("/planer/{unit}/{year}/v{version}", plan_page),
    R("/resultat", results),
    R("/resultat/{id}", result_page),
    R("/atgarder", action_list),
    R("/atgarder/{code}", action_page),
    R("/rapporter", reports),
    R("/rapporter/{unit}/{year}/{kind}.{fmt}", report_file),
    R("/granskning", audit_index),
    R("/granskning/verifiera", verify_page),
    R("/granskning/verifiera", verify_submit, ("POST",)),
    R("/granskning/{what}", query_page),
    R("/spara/{kind}/{key}", trace_page),
    R("/konton", account_list),
]
