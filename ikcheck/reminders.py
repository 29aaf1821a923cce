"""Reminders by e-mail: once a day (`ikcheck remind`, from cron or a systemd timer), each person gets one
Swedish digest of what concerns them, read from the start page's own function (`portal.todo`), so
the e-mail and "Att göra" never disagree.

Who gets what:
- kontrollansvarig: their controls due within the årshjul's days (14 and 3 before the period ends),
  then overdue ones weekly; their åtgärder due within 7 days, then overdue ones weekly;
- controller: controls and åtgärder of their units that are overdue, weekly;
- nämndsekreterare: the plan to be decided and the reports to be submitted (14 and 3 days before),
  then weekly while late; once, a submitted report that no longer says what its data say (a new
  version is due; only on the day itself, since it is compared with today's data);
- KS: the units that are late, weekly.
The days are parameters of the årshjul rules (`rules/arshjul.yaml`). A befattning's reminders go to
whoever held it on the day (`positions`).

Never twice: every notice sent is recorded (person, item, notice), and a notice is sent once. Each
person's mail is recorded right after the SMTP server accepted it, in its own transaction, so a crash
can at most send that one mail again the next run (a lost reminder would be worse than a repeated
one). A mail that fails is reported and the others still go; its notices stay unsent and go out the
next day.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select

from ikcheck import positions, rulebook, words
from ikcheck.accounts import Actor
from ikcheck.app import App
from ikcheck.calendar import STOCKHOLM, swedish_date, today
from ikcheck.errors import UserError
from ikcheck.store.models import Account, Organisation, ReminderSent

ROLES = ("kontrollansvarig", "controller", "sekreterare", "ks")
KIND_SV = {"kontroll": "Kontroller att rapportera", "åtgärd": "Åtgärder", "plan": "Planen för intern kontroll",
           "rapport": "Rapporter till kommunstyrelsen", "sen enhet": "Enheter som är sena"}
DEFAULTS = {"påminn_kontroll_dagar_före": [14, 3], "påminn_åtgärd_dagar_före": [7],
            "påminn_beslut_dagar_före": [14, 3], "påminn_sen_var_dag": 7}


@dataclass
class Notice:
    item: str          # what it is about, stable: "kontroll:SN-2025-K01:halvar"
    kind: str          # kontroll | åtgärd | plan | rapport | sen enhet
    notice: str        # "före 14", "före 3", "sen 0", "sen 1" …
    due: dt.date
    text: str
    link: str


@dataclass
class Digest:
    account_id: int
    name: str
    email: str
    role: str
    title: str | None
    notices: list[Notice] = field(default_factory=list)


@dataclass
class RemindReport:
    on: dt.date
    digests: list[Digest] = field(default_factory=list)
    sent: list[Digest] = field(default_factory=list)
    failed: list[tuple[Digest, str]] = field(default_factory=list)
    no_email: list[str] = field(default_factory=list)


def schedule(app: App) -> dict[str, object]:
    """The days before a deadline a reminder goes out, and how often while late (the årshjul rules)."""
    rs = rulebook.ruleset(app, "arshjul")
    out = {**DEFAULTS, **{k: v for k, v in rs.parameters.items() if k in DEFAULTS}}
    for key, value in out.items():
        ok = (isinstance(value, list) and all(isinstance(d, int) and d >= 0 for d in value)) if key.endswith("före") \
            else (isinstance(value, int) and value >= 1)
        if not ok:
            raise UserError(f"Parametern {key} i {rs.source} ska vara "
                            + ("en lista med dagar, t.ex. [14, 3]." if key.endswith("före") else "ett antal dagar ≥ 1."))
    return out


def _notice(due: dt.date, on: dt.date, before: list[int], every: int) -> str | None:
    """The newest notice that applies on `on`: the nearest "före N" once N days or fewer remain, then
    "sen K" for the K:th week (every `every` days) after the deadline."""
    left = (due - on).days
    if left >= 0:
        passed = [d for d in before if left <= d]
        return f"före {min(passed)}" if passed else None
    return f"sen {(-left - 1) // every}"


def _actor(s, org: Organisation, acc: Account, on: dt.date) -> Actor:
    """The person as they were on `on`: the befattning they held then."""
    title = positions.title_on(s, org.id, acc.id, on)
    if title is None and not _has_history(s, org, acc):
        title = acc.title  # an account whose befattning has no dates
    return Actor(acc.id, acc.username, acc.full_name, acc.role, org.id, org.code, frozenset(acc.unit_ids or []), title,
                 org.name)


def _has_history(s, org: Organisation, acc: Account) -> bool:
    from ikcheck.store.models import PositionHolding

    return s.scalar(select(PositionHolding.id).where(PositionHolding.org_id == org.id,
                                                     PositionHolding.account_id == acc.id).limit(1)) is not None


def notices(app: App, on: dt.date | None = None, org_code: str | None = None,
            already: set[tuple[int, str, str]] | None = None) -> list[Digest]:
    """What each person would be told on `on`, without what they were already told (as recorded, or
    `already`: (account id, item, notice) for a simulation)."""
    from ikcheck import portal

    on = on or today()
    plan = schedule(app)
    base = (app.settings.web.get("base_url") or "http://127.0.0.1:8000").rstrip("/")
    digests = []
    with app.session() as s:
        org = app.org(s, org_code)
        accounts = list(s.scalars(select(Account).where(Account.org_id == org.id, Account.role.in_(ROLES),
                                                        Account.disabled_at.is_(None)).order_by(Account.id)))
        people = [(acc, _actor(s, org, acc, on)) for acc in accounts]
        sent = already if already is not None else {
            (a, i, n) for a, i, n in s.execute(select(ReminderSent.account_id, ReminderSent.item, ReminderSent.notice)
                                               .where(ReminderSent.org_id == org.id))}
    for acc, actor in people:
        t = portal.todo(app, actor, on)
        found: list[Notice] = []
        every = plan["påminn_sen_var_dag"]
        if acc.role in ("kontrollansvarig", "controller"):
            for p in t["points"]:
                if acc.role == "controller" and not p["passerad"]:
                    continue  # the controller hears of a control once it is late
                if acc.role == "kontrollansvarig" and not p["may_report"]:
                    continue
                n = _notice(p["periodens slut"], on, plan["påminn_kontroll_dagar_före"], every)
                if n:
                    found.append(Notice(f"kontroll:{p['kod']}:{p['period_code']}", "kontroll", n, p["periodens slut"],
                                        f"{p['kod']} {p['kontrollmoment']} ({p['period']}): " + _when(p["periodens slut"], on,
                                                                                                    "rapporteras senast"),
                                        f"{base}/resultat/rapportera/{p['enhet']}/{t['reporting']}/{p['period_code']}/{p['kod']}"))
            for a in t["actions"]:
                if acc.role == "controller" and a["status"] != "försenad":
                    continue
                if not a["klart senast"]:
                    continue
                n = _notice(a["klart senast"], on, plan["påminn_åtgärd_dagar_före"], every)
                if n:
                    found.append(Notice(f"åtgärd:{a['kod']}", "åtgärd", n, a["klart senast"],
                                        f"{a['kod']}{_about(a)} {a['åtgärd'].strip().rstrip('.')}: "
                                        + _when(a["klart senast"], on, "ska vara klar"),
                                        f"{base}/atgarder/{a['kod']}"))
        if acc.role == "sekreterare":
            for d in t["deadlines"] + t["late"]:
                n = _notice(d["senast"], on, plan["påminn_beslut_dagar_före"], every)
                if n:
                    link = (f"{base}/planer/{d['enhet']}/{d['år']}" if d["slag"] == "plan" else f"{base}/rapporter?ar={d['år']}")
                    found.append(Notice(f"{d['slag']}:{d['enhet']}:{d['nyckel']}:{d['år']}", d["slag"], n, d["senast"],
                                        f"{d['namn']}: {d['vad'].replace(' beslutad', '').replace(' inlämnad', '')} – "
                                        + _when(d["senast"], on, "beslutas senast" if d["slag"] == "plan" else "lämnas senast"),
                                        link))
            if on == today():  # compared with today's data, so a day gone by cannot be replayed
                for r in portal.outdated_reports(app, actor, on):
                    found.append(Notice(f"ny version:{r['enhet']}:{r['kind']}:{r['år']}:{r['version']}", "rapport",
                                        "ändrad", on,
                                        f"{r['namn']}: {r['vad']}, version {r['version']} inlämnad "
                                        f"{swedish_date(r['inlämnad'])} – {r['varför']} sedan dess; en ny version "
                                        "behöver lämnas in", f"{base}/rapporter?ar={r['år']}"))
        if acc.role == "ks":
            for d in t["late"]:
                n = _notice(d["senast"], on, [], every)
                if n:
                    found.append(Notice(f"sen:{d['enhet']}:{d['nyckel']}:{d['år']}", "sen enhet", n, d["senast"],
                                        f"{d['namn']}: {d['vad'].replace(' beslutad', ' är inte beslutad').replace(' inlämnad', ' är inte inlämnad')} "
                                        f"({words.n(d['sen'], 'dag', 'dagar')} efter sista dag, {swedish_date(d['senast'])})",
                                        f"{base}/enheter/{d['enhet']}"))
        new = [x for x in found if (acc.id, x.item, x.notice) not in sent]
        if new:
            digests.append(Digest(acc.id, acc.full_name, acc.email or "", acc.role, actor.title,
                                  sorted(new, key=lambda x: (list(KIND_SV).index(x.kind), x.due, x.item))))
    return digests


def simulate(app: App, start: dt.date, end: dt.date, org_code: str | None = None) -> dict[str, int]:
    """How many e-mails `remind`, run every day from `start` to `end`, would send, per role (nothing
    is sent or recorded; the demo prints it)."""
    already: set[tuple[int, str, str]] = set()
    counts: dict[str, int] = {}
    day = start
    while day <= end:
        for d in notices(app, day, org_code, already):
            counts[d.role] = counts.get(d.role, 0) + 1
            already |= {(d.account_id, x.item, x.notice) for x in d.notices}
        day += dt.timedelta(days=1)
    return counts


def _about(action: dict) -> str:
    """What an åtgärd concerns, after its code: " (SN-2025-K01 halvår)"; several often read alike."""
    return f" ({action['gäller']})" if action.get("gäller") else ""


# a deadline passed is said in the past, and how late as Att göra says it ("372 dagar sent"): "beslutas
# senast 30 november 2025; 372 dagar sedan" read as if the decision had been made then
_PAST = {"rapporteras senast": "skulle ha rapporterats senast", "ska vara klar": "skulle ha varit klar",
         "beslutas senast": "skulle ha beslutats senast", "lämnas senast": "skulle ha lämnats in senast"}


def _when(due: dt.date, on: dt.date, verb: str) -> str:
    left = (due - on).days
    if left > 0:
        return f"{verb} {swedish_date(due)} (om {words.n(left, 'dag', 'dagar')})"
    if left == 0:
        return f"{verb} i dag, {swedish_date(due)}"
    return f"{_PAST[verb]} {swedish_date(due)}, {words.n(-left, 'dag', 'dagar')} sent"


def message(d: Digest, org_name: str, on: dt.date, sender: str) -> EmailMessage:
    """One person's digest as a Swedish e-mail: what, by when, and a link to its page."""
    m = EmailMessage()
    m["Subject"] = f"Intern kontroll: {words.n(len(d.notices), 'sak', 'saker')} att göra ({org_name})"
    m["From"] = sender
    m["To"] = f"{d.name} <{d.email}>"
    m["Date"] = format_datetime(dt.datetime.combine(on, dt.time(7, 0), STOCKHOLM))
    m["Message-ID"] = make_msgid("ikcheck")
    lines = [f"Hej {d.name},", "", f"det här gäller dig i den interna kontrollen {swedish_date(on)}:"]
    for kind, label in KIND_SV.items():
        mine = [x for x in d.notices if x.kind == kind]
        if mine:
            lines += ["", label]
            for x in mine:
                lines += [f"- {x.text}", f"  {x.link}"]
    role = {"kontrollansvarig": f"kontrollansvarig ({d.title})" if d.title else "kontrollansvarig",
            "controller": "controller", "sekreterare": "nämndsekreterare", "ks": "kommunstyrelsens förvaltning"}[d.role]
    lines += ["", f"Du får det här för att du är {role} i {org_name}. Påminnelserna skickas av ikcheck en gång "
                  "om dagen, bara när något är nytt eller försenat; svara inte på brevet."]
    m.set_content("\n".join(lines))
    return m


def _smtp(app: App) -> dict:
    conf = dict(app.settings.smtp)
    if not conf.get("host"):
        raise UserError("Ingen e-postserver är inställd: ange [smtp] host, port och from i ikcheck.toml.")
    return conf


def send(app: App, on: dt.date | None = None, *, dry_run: bool = False, org_code: str | None = None) -> RemindReport:
    """Send the day's digests of one kommun, or of every kommun in the database when none is named
    (or, with `dry_run`, only say what would be sent)."""
    on = on or today()
    if org_code is None:
        with app.session() as s:
            codes = list(s.scalars(select(Organisation.code).order_by(Organisation.id)))
        total = RemindReport(on)
        for code in codes:
            r = send(app, on, dry_run=dry_run, org_code=code)
            total.digests += r.digests
            total.sent += r.sent
            total.failed += r.failed
            total.no_email += r.no_email
        return total
    report = RemindReport(on)
    with app.session() as s:
        org = app.org(s, org_code)
        org_name, org_id = org.name, org.id
    report.digests = notices(app, on, org_code)
    if dry_run or not report.digests:
        return report
    conf = _smtp(app)
    sender = conf.get("from") or "ikcheck <ikcheck@localhost>"
    for d in report.digests:
        if not d.email:
            report.no_email.append(d.name)
            continue
        try:
            _deliver(conf, message(d, org_name, on, sender))
        except (OSError, smtplib.SMTPException) as exc:
            report.failed.append((d, _why(exc, conf)))
            continue
        with app.session(write=True) as s:  # recorded at once: a crash after this repeats nothing
            for x in d.notices:
                s.add(ReminderSent(org_id=org_id, account_id=d.account_id, item=x.item, kind=x.kind,
                                   notice=x.notice, due=x.due, sent_on=on, email=d.email))
            app.audit(s, "skicka påminnelse", "account", d.account_id,
                      after={"e-post": d.email, "dag": on.isoformat(), "punkter": [f"{x.item} {x.notice}" for x in d.notices]},
                      org_id=org_id)
        report.sent.append(d)
    return report


def _why(exc: Exception, conf: dict) -> str:
    """Why a mail did not go, in Swedish for whoever reads the run's output; the server's own reply
    (code and text) is kept as it came, since that is what its administrator will search for."""
    server = f"e-postservern {conf['host']}:{conf.get('port') or 25}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        return f"{server} tog inte emot mottagaren (svar {code} {_text(reply)})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"{server} godtog inte inloggningen (svar {exc.smtp_code} {_text(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{server} avvisade brevet (svar {exc.smtp_code} {_text(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{server} erbjuder inte det ikcheck bad om (STARTTLS eller inloggning); se security och user under [smtp]"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{server} stängde anslutningen"
    if isinstance(exc, smtplib.SMTPException):
        return f"{server} svarade inte som väntat"
    if isinstance(exc, ConnectionRefusedError):
        return f"{server} tar inte emot anslutningar (Connection refused)"
    if isinstance(exc, TimeoutError):
        return f"{server} svarade inte inom {conf.get('timeout') or 30} sekunder"
    if isinstance(exc, ssl.SSLError):
        return f"den krypterade anslutningen till {server} kunde inte upprättas ({exc.reason or 'TLS'})"
    if isinstance(exc, socket.gaierror):
        return f"{server} finns inte: namnet kan inte slås upp"
    if isinstance(exc, OSError):
        return f"nätverksfel mot {server} ({exc.strerror or 'okänt fel'})"
    return f"fel mot {server}"


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).strip()


def _deliver(conf: dict, msg: EmailMessage) -> None:
    host, port = conf["host"], int(conf.get("port") or 25)
    security = str(conf.get("security") or "starttls").lower()
    timeout = float(conf.get("timeout") or 30)
    password = os.environ.get(str(conf.get("password_env") or "IKCHECK_SMTP_PASSWORD"))
    context = ssl.create_default_context()
    if security == "tls":
        server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
    with server:
        if security == "starttls":
            server.starttls(context=context)
        if conf.get("user"):
            server.login(str(conf["user"]), password or "")
        server.send_message(msg)
