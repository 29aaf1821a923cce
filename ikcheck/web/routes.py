"""Every page of the web app. Each handler parses the request, calls one service (portal, accounts,
sso), and renders; who may see what is decided by access.can inside the service (portal.require).

`ROUTES` is the whole table: tests/test_web_access.py walks it for every role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ikcheck import accounts, forms, live, portal
from ikcheck.errors import BadKey, Forbidden, NotFound, UserError, ValidationFailed
from ikcheck.results import FORM_LABELS
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
    return render(ctx, "start.html", "Att göra", t=portal.todo(ctx.app, ctx.actor),
                  outdated=portal.outdated_reports(ctx.app, ctx.actor))


def _year(ctx: Ctx) -> int:
    return ctx.int_arg("ar") or portal.default_year(ctx.app, ctx.actor)


def overview(ctx: Ctx) -> Response:
    year = _year(ctx)
    kind = ctx.arg("period") or None
    data = portal.ks_overview(ctx.app, ctx.actor, year, kind, ctx.arg("sortera", "enhet"))
    return render(ctx, "overview.html", f"KS översikt {year}", k=data, years=portal.years(ctx.app, ctx.actor, year))


def overview_file(ctx: Ctx) -> Response:
    fmt = ctx.request.path_params["fmt"]
    if fmt not in ("pdf", "xlsx"):
        raise NotFound("Sidan finns inte.")
    return web(ctx).file(portal.ks_file(ctx.app, ctx.actor, _year(ctx), ctx.arg("period") or None, fmt))


def unit_page(ctx: Ctx) -> Response:
    year = _year(ctx)
    data = portal.unit_page(ctx.app, ctx.actor, ctx.request.path_params["unit"], year)
    return render(ctx, "unit.html", data["unit"]["name"], u=data, years=portal.years(ctx.app, ctx.actor, year))


def risks(ctx: Ctx, errors=None, values=None) -> Response:
    data = portal.risks(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, year=ctx.int_arg("ar"),
                        process=ctx.arg("process"), level=ctx.arg("niva"), category=ctx.arg("kategori"),
                        text=ctx.arg("text"))
    new = forms.new_risk_form(ctx.app, ctx.actor)
    if new and values:
        new["values"] = {**new["values"], **values}
    return render(ctx, "risks.html", "Riskregistret", d=data, years=portal.years(ctx.app, ctx.actor, data["year"]), new=new,
                  errors=errors or [])


def risk_page(ctx: Ctx, errors=None, values=None) -> Response:
    code = ctx.request.path_params["code"]
    data = portal.risk_page(ctx.app, ctx.actor, code)
    f = forms.risk_form(ctx.app, ctx.actor, code)
    if f and values:
        f["values"] = {**f["values"], **values}
    return render(ctx, "risk.html", f"Risk {data['risk']}", r=data, f=f, errors=errors or [])


def heatmap(ctx: Ctx) -> Response:
    data = portal.heatmap(ctx.app, ctx.actor, ctx.request.path_params["unit"], _year(ctx))
    return render(ctx, "heatmap.html", f"Riskkarta {data['unit']['name']} {data['year']}", h=data)


def plans(ctx: Ctx) -> Response:
    year = _year(ctx)
    return render(ctx, "plans.html", f"Planer för intern kontroll {year}", d=portal.plans(ctx.app, ctx.actor, year),
                  years=portal.years(ctx.app, ctx.actor, year))


def _version(ctx: Ctx) -> int | None:
    v = ctx.request.path_params.get("version")
    if v is None:
        return None
    if not str(v).isdigit():
        raise NotFound("Sidan finns inte.")
    return int(v)


def plan_page(ctx: Ctx, errors=None, values=None) -> Response:
    p = ctx.request.path_params
    compare = ctx.int_arg("jamfor")
    data = portal.plan_page(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), _version(ctx), compare)
    if data is None:  # no plan that year yet (a link in a reminder, a bookmark): the year's plans, to derive it
        return RedirectResponse(f"/planer?ar={ctx.path_int('year')}", status_code=303)
    if data["draft"] and data["version"] > 1 and compare is None and (data["may"]["decide"] or data["may"]["edit"]):
        # a revision is decided knowing what it changes: the diff against the version in force
        data = portal.plan_page(ctx.app, ctx.actor, p["unit"], data["year"], None, data["version"] - 1)
    found = forms.plan_findings(ctx.app, ctx.actor, data["unit_code"], data["year"]) if data["draft"] else []
    risks = forms.unit_risks(ctx.app, ctx.actor, data["unit_code"]) if data["draft"] and data["may"]["edit"] else []
    return render(ctx, "plan.html", f"Plan för intern kontroll {data['year']} – {data['unit']}", p=data,
                  findings=found, errors=errors or [], values=values or {}, risks=risks,
                  methods=portal.planning.METHODS, frequencies=portal.planning.FREQUENCIES)


def plan_file(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    if p["fmt"] not in ("pdf", "xlsx", "html", "docx"):
        raise NotFound("Sidan finns inte.")
    path = portal.plan_file(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), _version(ctx), p["fmt"])
    if p["fmt"] == "html":
        return _document(ctx, path)
    return web(ctx).file(path, inline=p["fmt"] == "pdf" and ctx.arg("visa") == "1")  # a preview opens in the browser


def _document(ctx: Ctx, path) -> Response:
    """A document (plan, report) shown as itself: its own inline styles, no script."""
    html = path.read_text(encoding="utf-8")
    remove_download(path)
    return HTMLResponse(html, headers={"content-security-policy": security.DOCUMENT_CSP})


def results(ctx: Ctx) -> Response:
    data = portal.results(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, year=ctx.int_arg("ar"),
                          period=ctx.arg("period"), assessment=ctx.arg("bedomning"))
    return render(ctx, "results.html", "Kontrollresultat", d=data, years=portal.years(ctx.app, ctx.actor, data["year"]))


def result_page(ctx: Ctx, errors=None) -> Response:
    data = portal.result_page(ctx.app, ctx.actor, ctx.path_int("id"))
    return render(ctx, "result.html", f"Resultat för {data['point']['kod']}, {data['period']} {data['year']}", r=data,
                  errors=errors or [])


def action_list(ctx: Ctx) -> Response:
    data = portal.action_list(ctx.app, ctx.actor, unit=ctx.arg("enhet") or None, status=ctx.arg("status"),
                              owner=ctx.arg("ansvarig") or None)
    return render(ctx, "actions.html", "Åtgärder", d=data)


def action_page(ctx: Ctx, errors=None) -> Response:
    data = portal.action_page(ctx.app, ctx.actor, ctx.request.path_params["code"])
    return render(ctx, "action.html", f"Åtgärd {data['kod']}", a=data, errors=errors or [],
                  today=forms.today().isoformat())


def reports(ctx: Ctx) -> Response:
    year = _year(ctx)
    return render(ctx, "reports.html", f"Rapporter {year}", d=portal.reports(ctx.app, ctx.actor, year),
                  years=portal.years(ctx.app, ctx.actor, year))


def report_file(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    if p["fmt"] not in ("pdf", "xlsx", "html", "docx"):
        raise NotFound("Sidan finns inte.")
    path = portal.report_file(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), p["kind"], p["fmt"])
    return _document(ctx, path) if p["fmt"] == "html" else web(ctx).file(path)


def audit_index(ctx: Ctx) -> Response:
    org = portal.access.org(ctx.actor.org_id)
    portal.require(ctx.actor, "query", org)
    return render(ctx, "audit.html", "Granskning", titles=portal.QUERY_TITLES,
                  may_log=portal.access.can(ctx.actor, "log", org), may_verify=portal.access.can(ctx.actor, "verify", org))


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
    return render(ctx, "trace.html", "Spårning", t=data, kind=p["kind"], key=p["key"],
                  log=portal.log_link(ctx.actor, p["kind"], p["key"]))


def events_page(ctx: Ctx) -> Response:
    filters = dict(ctx.request.query_params)
    fmt = filters.pop("format", "")
    if fmt:
        return web(ctx).file(portal.events_file(ctx.app, ctx.actor, filters, fmt))
    data = portal.events_page(ctx.app, ctx.actor, filters)
    return render(ctx, "events.html", "Granskningsloggens händelser", ev=data, errors=data["errors"],
                  export=urlencode({k: v for k, v in data["values"].items() if v}))


def verify_page(ctx: Ctx) -> Response:
    portal.require(ctx.actor, "verify", portal.access.org(ctx.actor.org_id))
    return _verify_page(ctx)


def _verify_page(ctx: Ctx, result=None, errors: list | None = None) -> Response:
    return render(ctx, "verify.html", "Verifiera granskningsloggen", result=result, errors=errors or [],
                  signed=ctx.app.settings.signing_key is not None)


def receipt(ctx: Ctx) -> Response:
    return web(ctx).file(portal.receipt_file(ctx.app, ctx.actor))


def verify_submit(ctx: Ctx) -> Response:
    uploads = []
    for f in ctx.form.getlist("ankare"):
        if getattr(f, "filename", None):
            uploads.append((f.filename, f.file.read()))
    tokens = [t for t in str(ctx.form.get("kontrollsumma") or "").splitlines() if t.strip()]
    key = ctx.form.get("nyckel")
    key = (key.filename, key.file.read()) if getattr(key, "filename", None) else None
    try:
        result = portal.verify(ctx.app, ctx.actor, uploads, tokens, public_key=key)
    except UserError as e:  # a key that is no key is the key field's; any other refusal the anchors'
        field = "nyckel" if isinstance(e, BadKey) else "ankare"
        r = _verify_page(ctx, errors=[(field, str(e))])
        r.status_code = 400
        return r
    return _verify_page(ctx, result)


def account_list(ctx: Ctx, errors=None, values=None) -> Response:
    r = render(ctx, "accounts.html", "Konton", d=forms.accounts_page(ctx.app, ctx.actor), errors=errors or [],
               values=values or {})
    if errors:
        r.status_code = 400
    return r


ACCOUNT_FIELDS = ("username", "namn", "epost", "roll", "befattning", "losenord")


def account_add(ctx: Ctx) -> Response:
    values = {k: _field(ctx, k) for k in ACCOUNT_FIELDS}
    units = [str(u) for u in ctx.form.getlist("enheter")]
    if not values["username"] or not values["namn"]:
        return account_list(ctx, errors=[(k, m) for k, m in (("username", "Skriv ett användarnamn."),
                                                            ("namn", "Skriv personens namn.")) if not values[k]],
                            values={**values, "losenord": ""})
    try:
        forms.add_account(ctx.app, ctx.actor, values, units)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        field = ("losenord" if "lösenord" in str(e).lower() else "enheter" if "enhet" in str(e) else
                 "username" if "användarnamn" in str(e).lower() else "roll")
        return account_list(ctx, errors=[(field, str(e))], values={**values, "losenord": "", "enheter": units})
    return _done("/konton", "konto")


def account_change(ctx: Ctx) -> Response:
    username = ctx.request.path_params["username"]
    try:
        forms.change_account(ctx.app, ctx.actor, username, _field(ctx, "gor"), _field(ctx, "roll"),
                             [str(u) for u in ctx.form.getlist("enheter")],
                             title=_field(ctx, "befattning"), start=_field(ctx, "fran") or None)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return web(ctx).error(ctx, 400, "Kontot kunde inte ändras", str(e), back="/konton")
    return _done("/konton", "kontot")


def organisation_page(ctx: Ctx, errors=None, changes=None, text: str = "", filename: str = "") -> Response:
    r = render(ctx, "organisation.html", "Organisationen", o=forms.organisation_page(ctx.app, ctx.actor),
               errors=errors or [], changes=changes, text=text, filename=filename)
    if errors:
        r.status_code = 400
    return r


def organisation_apply(ctx: Ctx) -> Response:
    """Upload the org file: its changes are shown; a second step (the file's text carried in the form)
    applies them."""
    f = ctx.form.get("fil")
    if getattr(f, "filename", None):
        filename, raw = f.filename, f.file.read()
    else:
        filename, raw = _field(ctx, "filnamn") or "organisation.yaml", str(ctx.form.get("text") or "").encode()
    if not raw:
        return organisation_page(ctx, errors=[("fil", "Välj organisationsfilen (YAML).")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return organisation_page(ctx, errors=[("fil", f"Filen {filename} är inte en textfil i UTF-8.")])
    apply_now = _field(ctx, "gor") == "tillampa"
    try:
        changes = forms.apply_organisation(ctx.app, ctx.actor, filename, text, dry_run=not apply_now)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return organisation_page(ctx, errors=[("fil", str(e))])
    if apply_now:
        return _done("/organisation", "organisation")
    return organisation_page(ctx, changes=changes, text=text, filename=filename)


def ks_requirements(ctx: Ctx, errors=None, values=None) -> Response:
    year = ctx.int_arg("ar") or portal.default_year(ctx.app, ctx.actor) + 1
    r = render(ctx, "ks_requirements.html", f"Kommunövergripande kontrollpunkter {year}",
               d=forms.ks_requirements(ctx.app, ctx.actor, year), errors=errors or [], values=values or {},
               years=portal.years(ctx.app, ctx.actor, year))
    if errors:
        r.status_code = 400
    return r


def ks_requirement_add(ctx: Ctx) -> Response:
    year = ctx.int_arg("ar") or portal.default_year(ctx.app, ctx.actor) + 1
    values = {k: _field(ctx, k) for k in ("kod", "kontrollpunkt", "metod", "frekvens", "omfattning", "ansvarig")}
    try:
        forms.add_ks_requirement(ctx.app, ctx.actor, year, values)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        field = "omfattning" if "Omfattning" in str(e) else "kod"
        return ks_requirements(ctx, errors=[(field, str(e))], values=values)
    return _done(f"/ks-krav?ar={year}", "kskrav")


# --- the writing side: a form's page, and the POST that stores it ----------------------------------
# Every POST redirects to a page (so a reload never sends twice) with `klart=` naming what was done;
# a refused form is shown again, with its errors at the fields and in the error summary, status 400.

NOTICES = {
    "kalender": "Kalenderlänken är återkallad; kalendrar som prenumererar på den får inget mer.",
    "resultat": "Resultatet är sparat.", "fil": "Filen är inläst.", "filer": "Filerna är inlästa.",
    "filer-delvis": "Filerna är inlästa; de som redan var inlästa ändrade ingenting.",
    "godkant": "Resultatet är godkänt.",
    "atgard": "Åtgärden är uppdaterad.", "utkast": "Planutkastet är framtaget ur riskregistret och reglerna.",
    "accepterade": "Förslagen är accepterade.", "punkt": "Kontrollpunkten är ändrad.",
    "asidosatt": "Fyndet är åsidosatt med skäl.", "beslutad": "Nämndens beslut är registrerat; planen är fryst.",
    "reviderad": "En ny version av planen är påbörjad.", "inlamnad": "Rapporten är inlämnad till KS.",
    "underlag": "Underlaget är bifogat.", "texter": "Planens texter är sparade.",
    "ny-punkt": "Kontrollpunkten är tillagd i utkastet.", "text": "Förvaltningens bedömning är sparad; den står i rapporten.",
    "rapportbeslut": "Nämndens beslut om rapporten är registrerat.", "konto": "Kontot är skapat.",
    "kontot": "Kontot är ändrat; personen loggar in på nytt.", "organisation": "Organisationen är uppdaterad.", "kskrav": "Den kommunövergripande kontrollpunkten är tillagd.", "bedomning": "Din bedömning är sparad.",
    "forslag": "Ditt förslag är tillagt; bedöm det gärna direkt.", "enats": "Gruppens bedömning är sparad.",
    "ihop": "Förslagen är sammanslagna.", "katalog": "Risken är tillagd på dagordningen.",
    "excel": "Filen är tillagd: deltagarens bedömningar räknas med.",
    "avslutad": "Workshoppen är avslutad och bedömningarna sparade i riskregistret.",
    "ny-risk": "Risken är tillagd i riskregistret med sin bedömning; den räknas med när nästa plan tas fram.",
    "risk": "Risken är ändrad.", "riskbedomning": "Bedömningen är sparad; den tidigare finns kvar i historiken.",
    "risker-ihop": "Riskerna är sammanslagna; den sammanslagna riskens historik visas här.",
    "risk-avslutad": "Risken är avslutad; den finns kvar i historiken.",
}


def _field(ctx: Ctx, name: str) -> str:
    return str(ctx.form.get(name) or "").strip()


def _done(path: str, what: str, anchor: str = "") -> Response:
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}klart={what}" + (f"#{anchor}" if anchor else ""), status_code=303)


def _refused(response: Response) -> Response:
    response.status_code = 400
    return response


def _problems(e: UserError, labels: dict[str, str] | None = None, fallback: str = "fel") -> list[tuple[str, ...]]:
    """A refusal as (field id, message) pairs for the error summary: a problem's column named by its
    label goes to that field, with the label third where the message does not name it (the summary
    then says which field: "Antal granskade: ”x” är inget heltal"); the rest to `fallback`."""
    ids = {v: k for k, v in (labels or {}).items()}
    if not e.problems:
        return [(fallback, e.message)]
    out: list[tuple[str, ...]] = []
    for p in e.problems:
        text = p.message[:1].upper() + p.message[1:]
        if p.expected:
            text += f" (förväntat: {p.expected})"
        field = ids.get(p.column or "")
        if field is None:
            out.append((fallback, text))
        else:
            out.append((field, text) + (() if p.column.casefold() in text.casefold() else (p.column,)))
    return out


def my_controls(ctx: Ctx, errors=None, table=None, status: int = 200) -> Response:
    data = forms.my_controls(ctx.app, ctx.actor, ctx.int_arg("ar"), ctx.arg("period") or None)
    r = render(ctx, "controls.html", f"Mina kontroller {data['period_sv']} {data['year']}", d=data,
               errors=errors or [], table=table or [], years=portal.years(ctx.app, ctx.actor, data["year"]))
    r.status_code = status
    return r


def upload_results(ctx: Ctx) -> Response:
    files = [f for f in ctx.form.getlist("fil") if getattr(f, "filename", None)]
    if not files:
        return my_controls(ctx, errors=[("fil", "Välj en eller flera filer att läsa in.")], status=400)
    try:
        report = forms.upload_results(ctx.app, ctx.actor, [(f.filename, f.file.read()) for f in files],
                                      _field(ctx, "skal") or None)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        only = files[0].filename if len(files) == 1 else ""  # a problem of the whole upload names no file
        rows = [{"fil": p.file or only, "blad": p.sheet or "", "rad": p.row or p.line or "", "kolumn": p.column or "",
                 "fel": p.message, "förväntat": p.expected or ""} for p in e.problems]
        return my_controls(ctx, errors=[("fil", e.message)], table=rows, status=400)
    if report.already and not report.files:
        said = "Filen är redan inläst: " if len(report.already) == 1 else "Filerna är redan inlästa: "
        return my_controls(ctx, errors=[("fil", said + "; ".join(report.already))], status=400)
    done = "filer-delvis" if report.already else "filer" if len(report.files) > 1 else "fil"
    return _done(ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else ""), done)


def result_template(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    return web(ctx).file(forms.result_template(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), p["period"]))


def _result_args(ctx: Ctx) -> tuple[str, int, str, str]:
    p = ctx.request.path_params
    return p["unit"], ctx.path_int("year"), p["period"], p["code"]


def result_form(ctx: Ctx, errors=None, values=None, reason: str = "") -> Response:
    unit, year, period, code = _result_args(ctx)
    data = forms.result_form(ctx.app, ctx.actor, unit, year, period, code)
    if values is not None:
        data["fields"] = values
    r = render(ctx, "result_form.html", f"Rapportera {code}, {data['period_sv']} {year}", f=data, errors=errors or [],
               reason=reason)
    if errors:
        r.status_code = 400
    return r


def result_submit(ctx: Ctx) -> Response:
    unit, year, period, code = _result_args(ctx)
    values = {k: _field(ctx, k) for k in forms.results_svc.FORM_FIELDS}
    reason = _field(ctx, "reason")
    opened_on = _field(ctx, "ersatter")  # the result the form showed, if it was a correction
    replaces = int(opened_on) if opened_on.isdigit() else (0 if opened_on else None)  # 0: matches no result
    try:
        forms.submit_result(ctx.app, ctx.actor, unit, year, period, code, values, reason or None, _files(ctx, "underlag"),
                            replaces=replaces)
    except (Forbidden, NotFound):
        raise
    except ValidationFailed as e:  # the fields' problems and the underlag's, all of them at once
        return result_form(ctx, errors=_problems(e, {**FORM_LABELS, "underlag": forms.UNDERLAG}, "performed"),
                           values=values, reason=reason)
    except forms.results_svc.Replaced:  # the form shows the newest version's id now: saving again replaces it
        return result_form(ctx, errors=[("reason", "Någon annan har rättat resultatet medan du hade formuläret "
                                                      "öppet. Dina värden står kvar; jämför med resultatet och "
                                                      "spara igen om de ska gälla.")], values=values, reason=reason)
    return _done(f"/resultat/rapportera?ar={year}&period={period}", "resultat")


def _files(ctx: Ctx, name: str) -> list[tuple[str, bytes]]:
    return [(f.filename, f.file.read()) for f in ctx.form.getlist(name) if getattr(f, "filename", None)]


def result_attach(ctx: Ctx) -> Response:
    rid = ctx.path_int("id")
    try:
        forms.attach_evidence(ctx.app, ctx.actor, rid, _files(ctx, "underlag"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(result_page(ctx, errors=[("underlag", str(e))]))
    return _done(f"/resultat/{rid}", "underlag", anchor="underlag-rubrik")


def evidence_download(ctx: Ctx) -> Response:
    """Always a download, never shown in the browser: the file is whatever someone uploaded."""
    ev, content = forms.evidence_file(ctx.app, ctx.actor, ctx.path_int("id"))
    ascii_name = ev.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return Response(content, media_type=ev.media_type, headers={
        "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(ev.filename)}",
        "content-security-policy": "default-src 'none'; sandbox", "cache-control": "private, no-store"})


def result_approve(ctx: Ctx) -> Response:
    rid = ctx.path_int("id")
    try:
        forms.approve_result(ctx.app, ctx.actor, rid, _field(ctx, "undantag") or None)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(result_page(ctx, errors=_problems(e, {"undantag": "Godkänd av"}, "undantag")))
    return _done(f"/resultat/{forms.current_result_id(ctx.app, rid) or rid}", "godkant")


RISK_FIELDS = tuple(forms.RISK_LABELS)


def _posted(ctx: Ctx, prefix: str = "") -> dict[str, str]:
    """The risk form's fields this form sent (another form on the page keeps its own values)."""
    return {k: _field(ctx, prefix + k) for k in RISK_FIELDS if prefix + k in ctx.form}


def risk_add(ctx: Ctx) -> Response:
    # the register's page filters by enhet, år, process and kategori too: this form's fields are ny-*
    values = _posted(ctx, "ny-")
    try:
        code = forms.add_risk(ctx.app, ctx.actor, values)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        errors = [("ny-" + field, *said) for field, *said in _problems(e, forms.RISK_LABELS, "rubrik")]
        return _refused(risks(ctx, errors=errors, values=values))
    return _done(f"/risker/{code}", "ny-risk")


def _risk_change(ctx: Ctx, change, fallback: str, what: str) -> Response:
    """One of the risk page's forms: `change(code, values)` stores it and returns the page to show."""
    code, values = ctx.request.path_params["code"], _posted(ctx)
    try:
        shown = change(code, values) or code
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(risk_page(ctx, errors=_problems(e, forms.RISK_LABELS, fallback), values=values))
    return _done(f"/risker/{shown}", what)


def risk_edit(ctx: Ctx) -> Response:
    return _risk_change(ctx, lambda code, v: forms.edit_risk(ctx.app, ctx.actor, code, v), "rubrik", "risk")


def risk_assess(ctx: Ctx) -> Response:
    return _risk_change(ctx, lambda code, v: forms.assess_risk(ctx.app, ctx.actor, code, v.get("ar"), v.get("ruta")),
                        "ruta", "riskbedomning")


def risk_merge(ctx: Ctx) -> Response:
    def merge(code, v):
        forms.merge_risk(ctx.app, ctx.actor, code, v.get("behall"))
        return v.get("behall")  # the page of the risk that stays shows both histories
    return _risk_change(ctx, merge, "behall", "risker-ihop")


def risk_retire(ctx: Ctx) -> Response:
    return _risk_change(ctx, lambda code, v: forms.retire_risk(ctx.app, ctx.actor, code, v.get("skal")), "skal",
                        "risk-avslutad")


def action_update(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"]
    try:
        forms.update_action(ctx.app, ctx.actor, code, status=_field(ctx, "status"), comment=_field(ctx, "kommentar"),
                            date=_field(ctx, "datum"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(action_page(ctx, errors=[("status", str(e))]))
    return _done(f"/atgarder/{code}", "atgard")


def _plan_path(ctx: Ctx) -> tuple[str, int, str]:
    unit, year = ctx.request.path_params["unit"], ctx.path_int("year")
    return unit, year, f"/planer/{unit}/{year}"


def plan_derive(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    try:
        forms.derive_plan(ctx.app, ctx.actor, unit, year, replace=_field(ctx, "ersatt") == "ja")
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return web(ctx).error(ctx, 400, "Planutkastet kunde inte tas fram", str(e), back=f"/planer?ar={year}")
    return _done(path, "utkast")


def plan_accept_all(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    forms.accept_all(ctx.app, ctx.actor, unit, year)
    return _done(path, "accepterade")


def point_form(ctx: Ctx, errors=None, values=None) -> Response:
    unit, year, _path = _plan_path(ctx)
    code = ctx.request.path_params["code"]
    data = portal.plan_page(ctx.app, ctx.actor, unit, year)
    if data is None:
        raise NotFound(f"Det finns ingen plan för {year} ännu.")
    if not data["may"]["edit"]:
        raise Forbidden("Din roll ändrar inte planen.")
    line = next((ln for ln in data["lines"] + data["rejected"] if ln["kod"] == code), None)
    if line is None or not data["draft"]:
        raise NotFound("Kontrollpunkten finns inte i något utkast; en beslutad plan ändras genom en revidering.")
    r = render(ctx, "point_form.html", f"Kontrollpunkt {code}", p=data, ln=line, errors=errors or [],
               values=values or {}, methods=portal.planning.METHODS, frequencies=portal.planning.FREQUENCIES,
               fields=forms.EDIT_FIELDS)
    if errors:
        r.status_code = 400
    return r


def point_submit(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    code = ctx.request.path_params["code"]
    what = _field(ctx, "gor")
    values = {k: _field(ctx, k) for k in forms.EDIT_FIELDS}
    try:
        if what == "avvisa":
            reason = _field(ctx, "skal")
            if not reason:
                return point_form(ctx, errors=[("skal", "Skriv skälet till att kontrollpunkten avvisas.")], values=values)
            forms.edit_point(ctx.app, ctx.actor, unit, year, code, reject=reason)
        elif what == "acceptera":
            forms.edit_point(ctx.app, ctx.actor, unit, year, code, accept=True)
        else:
            forms.edit_point(ctx.app, ctx.actor, unit, year, code, fields=values)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return point_form(ctx, errors=[("title" if what == "spara" else "skal", str(e))], values=values)
    return _done(path, "punkt", anchor=f"punkt-{code}")


ADD_FIELDS = ("title", "risk", "method", "sample_size", "frequency", "owner", "reporting")


def plan_add_point(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    values = {k: _field(ctx, f"ny-{k}") for k in ADD_FIELDS}
    try:
        code = forms.add_point(ctx.app, ctx.actor, unit, year, values)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        field = "risk" if "risk" in str(e).lower() else "sample_size" if "Omfattning" in str(e) else "title"
        return _refused(plan_page(ctx, errors=[(f"ny-{field}", str(e))], values={f"ny-{k}": v for k, v in values.items()}))
    return _done(path, "ny-punkt", anchor=f"punkt-{code}")


def plan_texts(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    intro, proposal = str(ctx.form.get("inledning") or ""), str(ctx.form.get("forslag") or "")
    try:
        forms.plan_texts(ctx.app, ctx.actor, unit, year, intro, proposal)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(plan_page(ctx, errors=[("inledning", str(e))], values={"inledning": intro, "forslag": proposal}))
    if _field(ctx, "gor") == "forhandsgranska":
        version = portal.plan_page(ctx.app, ctx.actor, unit, year)["version"]
        return RedirectResponse(f"{path}/v{version}.pdf?visa=1", status_code=303)
    return _done(path, "texter", anchor="texter-rubrik")


def plan_override(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    key = _field(ctx, "fynd")
    try:
        forms.override_finding(ctx.app, ctx.actor, unit, year, key, _field(ctx, "skal"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _refused(plan_page(ctx, errors=[("skal-" + key.replace(":", "-"), str(e))]))
    return _done(path, "asidosatt")


def plan_decide(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    errors = [(name, msg) for name, msg in (("datum", "Ange beslutsdatumet."), ("paragraf", "Ange paragrafen i protokollet."),
                                             ("dnr", "Ange diarienumret.")) if not _field(ctx, name)]
    if not errors:
        try:
            forms.decide_plan(ctx.app, ctx.actor, unit, year, _field(ctx, "datum"), _field(ctx, "paragraf"),
                              _field(ctx, "dnr"))
        except (Forbidden, NotFound):
            raise
        except UserError as e:
            errors = [("datum" if "datum" in e.message.lower() else "beslut", e.message)]
            errors += [("beslut", p.message) for p in e.problems]
    if errors:
        return _refused(plan_page(ctx, errors=errors, values={k: _field(ctx, k) for k in ("datum", "paragraf", "dnr")}))
    return _done(path, "beslutad")


def plan_revise(ctx: Ctx) -> Response:
    unit, year, path = _plan_path(ctx)
    reason = _field(ctx, "revidera-skal")
    if not reason:
        return _refused(plan_page(ctx, errors=[("revidera-skal", "Skriv skälet till revideringen.")]))
    forms.revise_plan(ctx.app, ctx.actor, unit, year, reason)
    return _done(path, "reviderad")


def report_submit(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    year = ctx.path_int("year")
    try:
        forms.submit_report(ctx.app, ctx.actor, p["unit"], year, p["kind"], _field(ctx, "datum") or None)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return web(ctx).error(ctx, 400, "Rapporten kunde inte lämnas in", str(e), back=f"/rapporter?ar={year}")
    return _done(f"/rapporter?ar={year}", "inlamnad")


def report_text_page(ctx: Ctx, errors=None, text: str | None = None) -> Response:
    p = ctx.request.path_params
    data = forms.report_text(ctx.app, ctx.actor, p["unit"], ctx.path_int("year"), p["kind"])
    if text is not None:
        data["text"] = text
    r = render(ctx, "report_text.html", f"Förvaltningens bedömning i {data['kind_sv']} {data['year']} – "
               f"{data['unit']['name']}", t=data, errors=errors or [])
    if errors:
        r.status_code = 400
    return r


def report_text_submit(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    year = ctx.path_int("year")
    text = str(ctx.form.get("text") or "")
    try:
        forms.save_report_text(ctx.app, ctx.actor, p["unit"], year, p["kind"], text)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return report_text_page(ctx, errors=[("text", str(e))], text=text)
    if _field(ctx, "gor") == "forhandsgranska":
        return RedirectResponse(f"/rapporter/{p['unit']}/{year}/{p['kind']}.html", status_code=303)
    return _done(f"/rapporter?ar={year}", "text")


def report_decision(ctx: Ctx) -> Response:
    p = ctx.request.path_params
    year = ctx.path_int("year")
    try:
        forms.record_report_decision(ctx.app, ctx.actor, p["unit"], year, p["kind"], _field(ctx, "datum"),
                                     _field(ctx, "paragraf"), _field(ctx, "dnr"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return web(ctx).error(ctx, 400, "Beslutet kunde inte registreras", str(e), back=f"/rapporter?ar={year}")
    return _done(f"/rapporter?ar={year}", "rapportbeslut")


# --- the live risk workshop -------------------------------------------------------------------------
# The facilitator (a controller) runs it at /workshop/ID; participants score at /workshop/ID/delta,
# logged in or with the join code's session (cookie WS_COOKIE: that workshop's participant pages only).

WS_COOKIE = "ikcheck_ws"


def _joined(ctx: Ctx):
    return live.joined(ctx.app, ctx.request.cookies.get(WS_COOKIE))


def _ws(ctx: Ctx) -> int:
    return ctx.path_int("id")


def workshops(ctx: Ctx, errors=None) -> Response:
    r = render(ctx, "workshops.html", "Riskworkshop", d=forms.workshop_list(ctx.app, ctx.actor), errors=errors or [])
    if errors:
        r.status_code = 400
    return r


def workshop_open(ctx: Ctx) -> Response:
    year = _field(ctx, "ar")
    if not year.isdigit() or not 2000 <= int(year) <= 2100:
        return workshops(ctx, errors=[("ar", "Skriv planåret med fyra siffror, till exempel 2027.")])
    try:
        wid = forms.open_workshop(ctx.app, ctx.actor, _field(ctx, "enhet"), int(year))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return workshops(ctx, errors=[("enhet", str(e))])
    return RedirectResponse(f"/workshop/{wid}", status_code=303)


def workshop_page(ctx: Ctx, errors=None, code=None, expires=None, table=None) -> Response:
    data = forms.facilitator(ctx.app, ctx.actor, _ws(ctx))
    base = web(ctx).app.settings.web.get("base_url") or str(ctx.request.base_url).rstrip("/")
    r = render(ctx, "workshop.html", f"Riskworkshop {data['unit']['name']} {data['year']}", w=data,
               errors=errors or [], code=code, code_expires=expires, table=table or [], base_url=base.rstrip("/"),
               today=forms.today().isoformat())
    if errors:
        r.status_code = 400
    return r


def workshop_summary(ctx: Ctx) -> Response:
    fmt = ctx.request.path_params["fmt"]
    if fmt not in ("pdf", "xlsx"):
        raise NotFound("Sidan finns inte.")
    return web(ctx).file(forms.workshop_summary(ctx.app, ctx.actor, _ws(ctx), fmt))


def workshop_template(ctx: Ctx) -> Response:
    return web(ctx).file(forms.workshop_template(ctx.app, ctx.actor, _ws(ctx)))


def workshop_state(ctx: Ctx) -> Response:
    """The facilitator's live table alone (htmx polls it)."""
    data = forms.facilitator(ctx.app, ctx.actor, _ws(ctx))
    html = web(ctx).env.get_template("workshop_state.html").render(w=data)
    return HTMLResponse(html, headers={"cache-control": "no-store"})


def workshop_code(ctx: Ctx) -> Response:
    code, expires = forms.workshop_code(ctx.app, ctx.actor, _ws(ctx))
    return workshop_page(ctx, code=code, expires=expires)  # shown once: only its hash is kept


def join_page(ctx: Ctx, errors=None) -> Response:
    r = render(ctx, "join.html", "Delta i en riskworkshop", errors=errors or [], kod=ctx.arg("kod"), namn="")
    if errors:
        r.status_code = 400
    return r


def join_submit(ctx: Ctx) -> Response:
    code, name = _field(ctx, "kod"), _field(ctx, "namn")
    errors = [(f, m) for f, m, v in (("kod", "Skriv koden från skärmen.", code), ("namn", "Skriv ditt namn.", name))
              if not v]
    if not errors:
        try:
            token, wid = live.join(ctx.app, code, name, _address(ctx))
        except UserError as e:
            errors = [("kod", str(e))]
        else:
            ctx.set_cookies.append((WS_COOKIE, token, {"max_age": live.CODE_HOURS * 3600}))
            return RedirectResponse(f"/workshop/{wid}/delta", status_code=303)
    r = render(ctx, "join.html", "Delta i en riskworkshop", errors=errors, kod=code, namn=name)
    r.status_code = 400
    return r


def _participant_page(ctx: Ctx, errors=None, values=None) -> Response:
    joined = _joined(ctx)
    if ctx.session is None and (joined is None or joined[0] != _ws(ctx)):
        nxt = ctx.request.url.path
        return RedirectResponse(f"/logga-in?{urlencode({'nasta': nxt})}", status_code=303)
    data = forms.participant_view(ctx.app, ctx.actor, _ws(ctx), joined)
    r = render(ctx, "take_part.html", f"Riskworkshop {data['unit']['name']} {data['year']}", w=data,
               errors=errors or [], values=values or {}, guest=None if ctx.session else data["me"])
    if errors:
        r.status_code = 400
    return r


def take_part(ctx: Ctx) -> Response:
    return _participant_page(ctx)


def _guarded(ctx: Ctx):
    """Who is scoring: the join session of this workshop, or a logged-in person; else to the login."""
    joined = _joined(ctx)
    if ctx.session is None and (joined is None or joined[0] != _ws(ctx)):
        return None, RedirectResponse(f"/logga-in?{urlencode({'nasta': f'/workshop/{_ws(ctx)}/delta'})}",
                                      status_code=303)
    return joined, None


def score_submit(ctx: Ctx) -> Response:
    joined, away = _guarded(ctx)
    if away:
        return away
    item = ctx.path_int("item")
    try:
        forms.score(ctx.app, ctx.actor, _ws(ctx), joined, item, _field(ctx, "ruta"), _field(ctx, f"kommentar-{item}"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _participant_page(ctx, errors=[(f"ruta-{item}", str(e))])
    return RedirectResponse(f"/workshop/{_ws(ctx)}/delta?klart=bedomning#risk-{item}", status_code=303)


def propose_submit(ctx: Ctx) -> Response:
    joined, away = _guarded(ctx)
    if away:
        return away
    try:
        item = forms.propose(ctx.app, ctx.actor, _ws(ctx), joined, _field(ctx, "rubrik"), _field(ctx, "kategori") or None,
                             _field(ctx, "process") or None, _field(ctx, "beskrivning") or None)
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return _participant_page(ctx, errors=[("kategori" if "kategori" in str(e) else "rubrik", str(e))],
                                 values={k: _field(ctx, k) for k in ("rubrik", "kategori", "process", "beskrivning")})
    return RedirectResponse(f"/workshop/{_ws(ctx)}/delta?klart=forslag#risk-{item}", status_code=303)


def workshop_item(ctx: Ctx, errors=None, chosen: str | None = None) -> Response:
    data = forms.workshop_item(ctx.app, ctx.actor, _ws(ctx), ctx.path_int("item"))
    it = data["item"]
    r = render(ctx, "workshop_item.html", f"{it['code'] or 'Nytt förslag'}: {it['title']}", w=data,
               errors=errors or [], chosen=chosen)
    if errors:
        r.status_code = 400
    return r


def item_agree(ctx: Ctx) -> Response:
    try:
        forms.agree(ctx.app, ctx.actor, _ws(ctx), ctx.path_int("item"), _field(ctx, "ruta"), _field(ctx, "skal"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        field = "skal" if any(p.field == "skal" for p in e.problems) else "ruta"
        return workshop_item(ctx, errors=[(field, e.message)], chosen=_field(ctx, "ruta"))  # the cell stays chosen
    return _done(f"/workshop/{_ws(ctx)}", "enats")


def item_merge(ctx: Ctx) -> Response:
    try:
        forms.merge(ctx.app, ctx.actor, _ws(ctx), ctx.path_int("item"), _field(ctx, "med"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return workshop_item(ctx, errors=[("med", str(e))])
    return _done(f"/workshop/{_ws(ctx)}", "ihop")


def workshop_catalogue(ctx: Ctx) -> Response:
    try:
        forms.add_catalogue(ctx.app, ctx.actor, _ws(ctx), _field(ctx, "risk"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return workshop_page(ctx, errors=[("risk", str(e))])
    return _done(f"/workshop/{_ws(ctx)}", "katalog")


def workshop_excel(ctx: Ctx) -> Response:
    f = ctx.form.get("fil")
    if not getattr(f, "filename", None):
        return workshop_page(ctx, errors=[("fil", "Välj workshopmallen att lägga till.")])
    try:
        forms.add_excel(ctx.app, ctx.actor, _ws(ctx), f.filename, f.file.read())
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        rows = [{"fil": p.file or f.filename, "blad": p.sheet or "", "rad": p.row or "", "kolumn": p.column or "",
                 "fel": p.message + (f" (förväntat: {p.expected})" if p.expected else "")} for p in e.problems]
        return workshop_page(ctx, errors=[("fil", e.message)], table=rows)
    return _done(f"/workshop/{_ws(ctx)}", "excel")


def workshop_close(ctx: Ctx) -> Response:
    try:
        forms.close_workshop(ctx.app, ctx.actor, _ws(ctx), _field(ctx, "datum"))
    except (Forbidden, NotFound):
        raise
    except UserError as e:
        return workshop_page(ctx, errors=[("datum", str(e))])
    return _done(f"/workshop/{_ws(ctx)}", "avslutad")


# --- one's own calendar -----------------------------------------------------------------------------

def calendar_page(ctx: Ctx, link: str | None = None) -> Response:
    return render(ctx, "calendar.html", "Min kalender", c=forms.calendar_state(ctx.app, ctx.actor), link=link)


def calendar_new(ctx: Ctx) -> Response:
    token = forms.new_calendar_link(ctx.app, ctx.actor)
    base = web(ctx).app.settings.web.get("base_url") or str(ctx.request.base_url).rstrip("/")
    r = calendar_page(ctx, link=f"{base.rstrip('/')}/kalender/{token}.ics")
    r.headers["Cache-Control"] = "no-store"  # the address is shown once
    return r


def calendar_revoke(ctx: Ctx) -> Response:
    forms.revoke_calendar_link(ctx.app, ctx.actor)
    return _done("/kalender", "kalender")


def calendar_feed(ctx: Ctx) -> Response:
    """The feed a calendar program fetches: the secret address is the only key (no session)."""
    from starlette.responses import Response as Plain

    from ikcheck import ical

    body = ical.feed_for(ctx.app, ctx.request.path_params["token"])
    return Plain(body, media_type="text/calendar; charset=utf-8",
                 headers={"Cache-Control": "private, max-age=900", "Content-Disposition": 'inline; filename="ikcheck.ics"'})


ROUTES: list[R] = [
    R("/logga-in", login_page, login=False),
    R("/logga-in", login_submit, ("POST",), login=False),
    R("/logga-ut", logout, ("POST",)),
    R("/logga-in/sso", sso_start, login=False),
    R("/logga-in/sso/klar", sso_done, login=False),
    R("/", start),
    R("/kalender", calendar_page),
    R("/kalender/ny", calendar_new, ("POST",)),
    R("/kalender/aterkalla", calendar_revoke, ("POST",)),
    R("/kalender/{token}.ics", calendar_feed, login=False),
    R("/oversikt", overview),
    R("/workshop", workshops),
    R("/workshop", workshop_open, ("POST",)),
    R("/workshop/{id}", workshop_page),
    R("/workshop/{id}/lage", workshop_state),
    R("/workshop/{id}/sammanstallning.{fmt}", workshop_summary),
    R("/workshop/{id}/mall.xlsx", workshop_template),
    R("/workshop/{id}/kod", workshop_code, ("POST",)),
    R("/workshop/{id}/risk/{item}", workshop_item),
    R("/workshop/{id}/risk/{item}/enas", item_agree, ("POST",)),
    R("/workshop/{id}/risk/{item}/sla-ihop", item_merge, ("POST",)),
    R("/workshop/{id}/katalog", workshop_catalogue, ("POST",)),
    R("/workshop/{id}/excel", workshop_excel, ("POST",)),
    R("/workshop/{id}/avsluta", workshop_close, ("POST",)),
    R("/workshop/{id}/delta", take_part, login=False),
    R("/workshop/{id}/delta/ny", propose_submit, ("POST",), login=False),
    R("/workshop/{id}/delta/{item}", score_submit, ("POST",), login=False),
    R("/delta", join_page, login=False),
    R("/delta", join_submit, ("POST",), login=False),
    R("/oversikt.{fmt}", overview_file),
    R("/enheter/{unit}", unit_page),
    R("/enheter/{unit}/riskkarta", heatmap),
    R("/risker", risks),
    R("/risker", risk_add, ("POST",)),
    R("/risker/{code}", risk_page),
    R("/risker/{code}", risk_edit, ("POST",)),
    R("/risker/{code}/bedom", risk_assess, ("POST",)),
    R("/risker/{code}/sla-ihop", risk_merge, ("POST",)),
    R("/risker/{code}/avsluta", risk_retire, ("POST",)),
    R("/planer", plans),
    R("/planer/{unit}/{year}", plan_page),
    R("/planer/{unit}/{year}/v{version}.{fmt}", plan_file),
    R("/planer/{unit}/{year}/v{version}", plan_page),
    R("/planer/{unit}/{year}/ta-fram", plan_derive, ("POST",)),
    R("/planer/{unit}/{year}/acceptera", plan_accept_all, ("POST",)),
    R("/planer/{unit}/{year}/punkt/{code}", point_form),
    R("/planer/{unit}/{year}/punkt/{code}", point_submit, ("POST",)),
    R("/planer/{unit}/{year}/asidosatt", plan_override, ("POST",)),
    R("/planer/{unit}/{year}/texter", plan_texts, ("POST",)),
    R("/planer/{unit}/{year}/ny-punkt", plan_add_point, ("POST",)),
    R("/planer/{unit}/{year}/besluta", plan_decide, ("POST",)),
    R("/planer/{unit}/{year}/revidera", plan_revise, ("POST",)),
    R("/resultat", results),
    R("/resultat/rapportera", my_controls),
    R("/resultat/rapportera", upload_results, ("POST",)),
    R("/resultat/rapportera/{unit}/{year}/{period}.xlsx", result_template),
    R("/resultat/rapportera/{unit}/{year}/{period}/{code}", result_form),
    R("/resultat/rapportera/{unit}/{year}/{period}/{code}", result_submit, ("POST",)),
    R("/resultat/{id}", result_page),
    R("/resultat/{id}/godkann", result_approve, ("POST",)),
    R("/resultat/{id}/underlag", result_attach, ("POST",)),
    R("/underlag/{id}", evidence_download),
    R("/atgarder", action_list),
    R("/atgarder/{code}", action_page),
    R("/atgarder/{code}", action_update, ("POST",)),
    R("/rapporter", reports),
    R("/rapporter/{unit}/{year}/{kind}.{fmt}", report_file),
    R("/rapporter/{unit}/{year}/{kind}/lamna-in", report_submit, ("POST",)),
    R("/rapporter/{unit}/{year}/{kind}/text", report_text_page),
    R("/rapporter/{unit}/{year}/{kind}/text", report_text_submit, ("POST",)),
    R("/rapporter/{unit}/{year}/{kind}/beslut", report_decision, ("POST",)),
    R("/granskning", audit_index),
    R("/granskning/handelser", events_page),
    R("/granskning/verifiera", verify_page),
    R("/granskning/verifiera", verify_submit, ("POST",)),
    R("/granskning/kvitto.json", receipt),
    R("/granskning/{what}", query_page),
    R("/spara/{kind}/{key}", trace_page),
    R("/konton", account_list),
    R("/konton", account_add, ("POST",)),
    R("/konton/{username}", account_change, ("POST",)),
    R("/organisation", organisation_page),
    R("/organisation", organisation_apply, ("POST",)),
    R("/ks-krav", ks_requirements),
    R("/ks-krav", ks_requirement_add, ("POST",)),
]
