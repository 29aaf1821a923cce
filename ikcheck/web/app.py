"""The app factory and the one way a request is handled: find the person, check CSRF, call the
route's handler in a worker thread (the services are synchronous), turn errors into Swedish pages."""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ikcheck import access, accounts, portal, words
from ikcheck.accounts import SessionInfo
from ikcheck.app import App
from ikcheck.calendar import STOCKHOLM, swedish_date
from ikcheck.config import load_settings
from ikcheck.errors import Forbidden, NotFound, UserError
from ikcheck.reporting.render import prose
from ikcheck.web import security

HERE = Path(__file__).resolve().parent
MAX_UPLOAD = 50 * 1024 * 1024  # an anchor document (a plan's PDF) is far smaller

NAV = [  # (path, label, action on the kommun that shows it)
    ("/", "Att göra", None),
    ("/oversikt", "Översikt", "overview"),
    ("/workshop", "Riskworkshop", "workshop"),
    ("/risker", "Register", "register"),
    ("/planer", "Plan", "plans"),
    ("/resultat", "Resultat", "results"),
    ("/atgarder", "Åtgärder", "results"),
    ("/rapporter", "Rapporter", "reports"),
    ("/granskning", "Granskning", "query"),
    ("/granskning/verifiera", "Verifiera loggen", "verify"),
    ("/ks-krav", "KS-krav", "ks_requirements"),
    ("/organisation", "Organisation", "organisation_edit"),
    ("/konton", "Konton", "accounts"),
]


@dataclass
class Ctx:
    """What a handler gets: the request, the services' App acting as the person, and the person."""

    request: Request
    app: App
    session: SessionInfo | None
    form: FormData | None = None
    set_cookies: list[tuple[str, str, dict]] = field(default_factory=list)

    @property
    def actor(self):
        return self.session.actor if self.session else None

    def arg(self, name: str, default: str = "") -> str:
        return (self.request.query_params.get(name) or default).strip()

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if not value:
            return default
        if not value.isdigit():
            raise UserError(f"{name}: {value!r} är inget heltal.")
        return int(value)

    def path_int(self, name: str) -> int:
        value = self.request.path_params[name]
        if not str(value).isdigit():
            raise NotFound("Sidan finns inte.")
        return int(value)

    def can(self, action: str) -> bool:
        return self.actor is not None and access.can(self.actor, action, access.org(self.actor.org_id))


def _env(app: App) -> Environment:
    dirs = []
    custom = app.settings.web.get("templates_dir")
    if custom:  # a kommun's own templates first, ours last
        dirs.append(FileSystemLoader(str(Path(custom).expanduser())))
    dirs.append(FileSystemLoader(str(HERE / "templates")))
    env = Environment(loader=ChoiceLoader(dirs), autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True, auto_reload=bool(app.settings.web.get("reload_templates")))
    env.filters["sv_date"] = swedish_date
    env.filters["date"] = shown_date
    env.filters["stored"] = lambda v: (v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, dt.datetime)  # as exported
                                       else shown_date(v))
    env.filters["blank"] = lambda v: "" if v is None else v
    env.filters["prose"] = prose  # a text written in a textarea, as the documents show it: paragraphs, lists
    env.filters["yesno"] = lambda v: "" if v is None else ("ja" if v else "nej")
    env.filters["n"] = words.n
    env.filters["breakable"] = words.breakable
    env.filters["person"] = words.person
    env.filters["trace_links"] = trace_links
    env.filters["local_time"] = lambda d: "" if d is None else d.replace(tzinfo=dt.timezone.utc).astimezone(
        STOCKHOLM).strftime("%H.%M")  # stored in UTC, read in Sweden
    env.filters["filesize"] = lambda n: (f"{n} byte" if n < 1024 else f"{n / 1024:.0f} kB" if n < 1024 * 1024
                                         else f"{n / 1024 / 1024:.1f} MB".replace(".", ","))
    env.globals["urlencode"] = urlencode
    env.globals["quote"] = quote
    return env


TRACE_TOKEN = re.compile(r"\b(result|point|risk|action|report):([0-9A-Za-zÅÄÖåäö_\-]+)")


def trace_links(text: Any) -> Markup:
    """A trace step's text with every result:ID, point:KOD, risk:KOD, action:KOD and report:ID a link
    to its own trace (escaped first: the text is data)."""
    escaped = str(escape("" if text is None else text))
    return Markup(TRACE_TOKEN.sub(lambda m: f'<a href="/spara/{m[1]}/{quote(m[2])}">{m[0]}</a>', escaped))


class Web:
    """The running web app: settings, services and templates shared by every request (no user state)."""

    def __init__(self, app: App):
        self.app = app
        self.env = _env(app)
        self.https = bool(app.settings.web.get("https"))

    # --- responses ---
    def render(self, ctx: Ctx, template: str, title: str, status: int = 200, **data: Any) -> Response:
        if ctx.request.query_params.get("format") == "json":
            return JSONResponse(_plain(data), status_code=status)
        actor = ctx.actor
        nav = [(p, label) for p, label, action in NAV if actor and (action is None or ctx.can(action))]
        html = self.env.get_template(template).render(
            title=title, actor=actor, nav=nav, path=ctx.request.url.path, csrf=self.csrf_of(ctx),
            sso=self.sso_button(), done=self._notice(ctx), **{"guest": None, **data})
        return HTMLResponse(html, status_code=status)

    @staticmethod
    def _notice(ctx: Ctx) -> str | None:
        from ikcheck.web.routes import NOTICES

        return NOTICES.get(ctx.arg("klart"))

    def csrf_of(self, ctx: Ctx) -> str:
        if ctx.session:
            return ctx.session.csrf
        token = ctx.request.cookies.get(security.PRE_COOKIE)
        if not token:
            token = security.new_token()
            ctx.set_cookies.append((security.PRE_COOKIE, token, {"max_age": 3600}))
        return token

    def sso_button(self) -> str | None:
        from ikcheck.web import sso

        c = sso.config(self.app)
        return c.button if c else None

    def error(self, ctx: Ctx, status: int, heading: str, message: str, back: str | None = None) -> Response:
        """A page saying what went wrong; `back`: the page the person came from, to try again there."""
        return self.render(ctx, "error.html", heading, status=status, heading=heading, message=message, back=back)

    # --- the request cycle ---
    def page(self, handler: Callable[[Ctx], Response], *, login: bool = True):
        async def endpoint(request: Request) -> Response:
            form = None
            if request.method == "POST":
                if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
                    return _bare_error(request, 413, "Det du skickade är för stort",
                                       f"Formuläret med sina filer är större än {MAX_UPLOAD // (1024 * 1024)} MB och "
                                       "togs inte emot; ingenting har sparats. Skicka färre eller mindre filer åt "
                                       "gången.", back=_came_from(request))
                # a controller may send the returned templates of every unit at once
                form = await request.form(max_files=50, max_fields=200)
            try:
                return await run_in_threadpool(self._handle, handler, request, form, login)
            finally:
                if form is not None:
                    await form.close()

        endpoint.__name__ = handler.__name__
        return endpoint

    def _handle(self, handler, request: Request, form: FormData | None, login: bool) -> Response:
        started = time.perf_counter()
        response = self._respond(handler, request, form, login)
        # the server's own time for the page (benchmarks/bench_web.py reads it; browsers show it)
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    def _respond(self, handler, request: Request, form: FormData | None, login: bool) -> Response:
        ctx = Ctx(request, self.app, accounts.session_actor(self.app, request.cookies.get(security.SESSION_COOKIE)),
                  form)
        try:
            if form is not None:
                expected = ctx.session.csrf if ctx.session else request.cookies.get(security.PRE_COOKIE)
                if not security.same(form.get("csrf"), expected):
                    response = self.error(ctx, 403, "Formuläret har gått ut",
                                          "Sidan var för gammal eller kom från en annan webbplats. Ladda om sidan "
                                          "och försök igen.")
                    return self._finish(ctx, response)
            if login and ctx.session is None:
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.headers.get("hx-request"):  # a poll after the session ended: the whole page to the login
                    page = urlsplit(request.headers.get("hx-current-url") or "/").path
                    target = f"/logga-in?{urlencode({'nasta': accounts.safe_next(page)})}"
                    return self._finish(ctx, Response(status_code=204, headers={"hx-redirect": target}))
                return self._finish(ctx, RedirectResponse(f"/logga-in?{urlencode({'nasta': nxt})}", status_code=303))
            response = handler(ctx)
        except NotFound as e:
            response = self.error(ctx, 404, "Sidan finns inte", str(e) if ctx.session else "Sidan finns inte.")
        except Forbidden as e:
            response = self.error(ctx, 403, "Ingen behörighet", str(e))
        except UserError as e:
            response = self.error(ctx, 400, "Det gick inte", str(e))
        return self._finish(ctx, response)

    def _finish(self, ctx: Ctx, response: Response) -> Response:
        for name, value, opts in ctx.set_cookies:
            if value:
                response.set_cookie(name, value, httponly=True, samesite="lax", secure=self.https, path="/", **opts)
            else:
                response.delete_cookie(name, path="/")
        return response

    def file(self, path: Path, *, inline: bool = False) -> Response:
        """A file a service wrote for this request (in a temporary directory of its own, removed once sent)."""
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        media = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}.get(path.suffix, media)
        return FileResponse(path, media_type=media, filename=path.name,
                            content_disposition_type="inline" if inline else "attachment",
                            background=BackgroundTask(remove_download, path))


def remove_download(path: Path) -> None:
    """The directory portal wrote a download into, once it has been sent."""
    if path.parent.name.startswith(portal.DOWNLOAD_PREFIX):
        shutil.rmtree(path.parent, ignore_errors=True)


def _plain(v: Any) -> Any:
    """A page's data as JSON: dates as ISO text, keys as text (a heat map's cells are keyed by
    (sannolikhet, konsekvens)), objects by their public attributes."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {(",".join(map(str, k)) if isinstance(k, tuple) else str(k)): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_plain(x) for x in v]
    if hasattr(v, "__dict__"):
        return {k: _plain(x) for k, x in vars(v).items() if not k.startswith("_")}
    return str(v)


def shown_date(d) -> str:
    """A date as ISO, a stored time (UTC, naive) as Swedish time: "2025-08-15 kl. 12.00"."""
    if d is None:
        return ""
    if isinstance(d, dt.datetime):
        return d.replace(tzinfo=dt.timezone.utc).astimezone(STOCKHOLM).strftime("%Y-%m-%d kl. %H.%M")
    return d.isoformat() if hasattr(d, "isoformat") else str(d)


def create_app(app: App | None = None) -> Starlette:
    from ikcheck.web import routes

    app = app or App(load_settings())
    web = Web(app)
    table = [Route(r.path, web.page(r.handler, login=r.login), methods=list(r.methods), name=r.handler.__name__)
             for r in routes.ROUTES]
    table.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
    asgi = Starlette(routes=table,
                     exception_handlers={404: _not_found, 405: _not_allowed, Exception: _server_error})
    asgi.state.web = web
    asgi.add_middleware(security.SecurityHeaders, https=web.https)
    return asgi


def _bare_error(request: Request, status: int, heading: str, message: str, headers: dict | None = None,
                **data) -> Response:
    """error.html outside the request cycle (no session, no menu): for Starlette's own 404 and 500."""
    web: Web = request.app.state.web
    html = web.env.get_template("error.html").render(title=heading, heading=heading, message=message, actor=None,
                                                     nav=[], path="", csrf="", sso=None, **data)
    return HTMLResponse(html, status_code=status, headers=headers)


async def _not_found(request: Request, exc) -> Response:
    return _bare_error(request, 404, "Sidan finns inte", "Sidan finns inte.")


async def _server_error(request: Request, exc) -> Response:
    """An error ikcheck did not foresee (the database gone, a disk full): a page in Swedish, not
    Starlette's "Internal Server Error". A write is one transaction, stored whole or not at all, so
    after a form the page says to look before sending it again. The error itself goes to the
    server's log (Starlette raises it on once this page is sent)."""
    web: Web = request.app.state.web
    after = ("Det du skickade sparas helt eller inte alls: gå tillbaka till sidan och se efter om det finns med "
             "innan du skickar det igen. " if request.method == "POST" else "Försök igen om en stund. ")
    headers = {k.decode(): v.decode() for k, v in security.added(set(), web.https)}
    return _bare_error(request, 500, "Något gick fel", "Servern kunde inte göra klart det du bad om. " + after
                       + "Om felet står kvar, kontakta den som förvaltar ikcheck i kommunen och berätta när det "
                       "hände.", headers, back=_came_from(request))


def _came_from(request: Request) -> str | None:
    """The page a form was sent from (its Referer), if it is one of ours: where to go back to."""
    came = urlsplit(request.headers.get("referer") or "")
    return (came.path + (f"?{came.query}" if came.query else "")
            if request.method == "POST" and came.netloc == request.url.netloc and came.path.startswith("/")
            and not came.path.startswith("//") else None)


async def _not_allowed(request: Request, exc) -> Response:
    return HTMLResponse("Metoden är inte tillåten.", status_code=405)
