"""Calendars (RFC 5545): a unit's årshjul as an .ics file (`ikcheck calendar export`), and each person's
own feed, served by the web app at a secret address that a calendar (Outlook, Google) subscribes to.

Deadlines are all-day events in Europe/Stockholm. Every event's UID is derived from what it is (the
unit, the year, the kontrollpunkt and period, the åtgärd), never from when the file was made, so an
updated feed moves an event instead of adding a second one. The person's feed holds what their start
page "Att göra" holds (`portal.todo`): the årshjul's deadlines, their controls and their åtgärder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path

from sqlalchemy import select

from ikcheck.accounts import Actor
from ikcheck.app import App, output_path
from ikcheck.calendar import deadline, now, period_end, today
from ikcheck.errors import NotFound
from ikcheck.store.models import Account, Action, CalendarToken, ControlPoint

PRODID = "-//ikcheck//intern kontroll//SV"


def _calendar(name: str, first: dt.date, last: dt.date):
    from icalendar import Calendar, Timezone

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Stockholm")
    cal.add_component(Timezone.from_tzid("Europe/Stockholm", first_date=first, last_date=last))
    return cal


def _event(uid: str, day: dt.date, summary: str, description: str = "", url: str | None = None):
    from icalendar import Event

    e = Event()
    e.add("uid", uid)
    e.add("dtstamp", now().replace(tzinfo=dt.timezone.utc))
    e.add("dtstart", day)
    e.add("dtend", day + dt.timedelta(days=1))
    e.add("summary", summary)
    e.add("transp", "TRANSPARENT")  # a deadline does not make the day busy
    if description:
        e.add("description", description)
    if url:
        e.add("url", url)
    return e


def _uid(org: str, *parts: object) -> str:
    return "-".join(str(p) for p in (org, *parts)).replace(" ", "_") + "@ikcheck"


def unit_calendar(app: App, unit_code: str, year: int, org_code: str | None = None) -> bytes:
    """The unit's årshjul for a year: its plan's deadline, each period's controls, the reports to KS
    and the åtgärder of the year, one event each."""
    from ikcheck import planning

    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        periods = org.settings.get("periods", ["halvar", "helar"])
        base = (app.settings.web.get("base_url") or "").rstrip("/")
        events = [(_uid(org.code, unit.code, year, "plan"), deadline(org, "plan_beslut", year - 1),
                   f"{unit.name}: plan för intern kontroll {year} beslutas senast", f"{base}/planer/{unit.code}/{year}"),
                  (_uid(org.code, unit.code, year, "halvarsrapport"), deadline(org, "halvar_rapport", year),
                   f"{unit.name}: halvårsrapport {year} till KS senast", f"{base}/rapporter?ar={year}"),
                  (_uid(org.code, unit.code, year, "arsrapport"), deadline(org, "ar_rapport", year + 1),
                   f"{unit.name}: årsrapport {year} till KS senast", f"{base}/rapporter?ar={year}")]
        plan = planning.decided_plan(s, unit, year)
        for cp in (plan.points if plan else []):
            if cp.status == "rejected":
                continue
            for p in cp.reporting or []:
                events.append((_uid(org.code, unit.code, year, _lineage_code(s, cp), p), period_end(year, p, periods),
                               f"{cp.code} rapporteras ({_period(p)}): {cp.title}",
                               f"{base}/resultat/rapportera/{unit.code}/{year}/{p}/{cp.code}"))
        for a in s.scalars(select(Action).where(Action.unit_id == unit.id, Action.due_date.is_not(None))
                           .order_by(Action.due_date, Action.code)):
            if a.due_date.year in (year, year + 1) and a.status != "klar":
                events.append((_uid(org.code, "atgard", a.code), a.due_date, f"Åtgärd {a.code} klar senast: {a.description}",
                               f"{base}/atgarder/{a.code}"))
        cal = _calendar(f"Årshjul {unit.name} {year}", dt.date(year - 1, 1, 1), dt.date(year + 1, 12, 31))
        for uid, day, summary, url in events:
            cal.add_component(_event(uid, day, summary, url=url if base else None))
    return cal.to_ical()


def _lineage_code(s, cp: ControlPoint) -> str:
    """A kontrollpunkt's first code: the same point in a revised plan keeps its event."""
    first = s.get(ControlPoint, cp.lineage_id) if cp.lineage_id else None
    return first.code if first is not None else cp.code


def _period(p: str) -> str:
    from ikcheck.words import period_sv

    return period_sv(p)


def export(app: App, unit_code: str, year: int, out: Path | None = None, org_code: str | None = None) -> Path:
    path = output_path(out, f"arshjul-{unit_code}-{year}.ics")
    path.write_bytes(unit_calendar(app, unit_code, year, org_code))
    return path


# --- a person's feed ----------------------------------------------------------------------------

def person_feed(app: App, actor: Actor) -> bytes:
    """What the person's start page holds, as a calendar."""
    from ikcheck import portal

    t = portal.todo(app, actor, today())
    base = (app.settings.web.get("base_url") or "").rstrip("/")
    year = t["year"]
    cal = _calendar(f"Intern kontroll – {actor.name}", dt.date(year - 1, 1, 1), dt.date(year + 2, 12, 31))
    for d in t["deadlines"] + t["late"]:
        cal.add_component(_event(_uid(actor.org_code, d["enhet"], d["år"], d["nyckel"]), d["senast"],
                                 f"{d['namn']}: {d['vad'].replace(' beslutad', ' beslutas senast').replace(' inlämnad', ' lämnas senast')}"))
    for p in t["points"]:
        cal.add_component(_event(_uid(actor.org_code, p["kod"], p["period_code"]), p["periodens slut"],
                                 f"{p['kod']} rapporteras ({p['period']})", p["kontrollmoment"],
                                 f"{base}/resultat/rapportera/{p['enhet']}/{t['reporting']}/{p['period_code']}/{p['kod']}"
                                 if base else None))
    for a in t["actions"]:
        if a["klart senast"]:
            cal.add_component(_event(_uid(actor.org_code, "atgard", a["kod"]), a["klart senast"],
                                     f"Åtgärd {a['kod']} klar senast", a["åtgärd"],
                                     f"{base}/atgarder/{a['kod']}" if base else None))
    return cal.to_ical()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(app: App, actor: Actor) -> str:
    """A new secret address for the person's feed; the one before stops working. Shown once."""
    token = secrets.token_urlsafe(24)
    with app.session(write=True) as s:
        for old in s.scalars(select(CalendarToken).where(CalendarToken.account_id == actor.account_id,
                                                         CalendarToken.revoked_at.is_(None))):
            old.revoked_at = now()
        s.add(CalendarToken(account_id=actor.account_id, token_hash=_hash(token), created_at=now()))
        app.audit(s, "ny kalenderlänk", "account", actor.account_id, org_id=actor.org_id)
    return token


def revoke(app: App, actor: Actor) -> int:
    with app.session(write=True) as s:
        rows = list(s.scalars(select(CalendarToken).where(CalendarToken.account_id == actor.account_id,
                                                          CalendarToken.revoked_at.is_(None))))
        for row in rows:
            row.revoked_at = now()
        if rows:
            app.audit(s, "återkalla kalenderlänk", "account", actor.account_id, org_id=actor.org_id)
        return len(rows)


def has_token(app: App, actor: Actor) -> bool:
    with app.session() as s:
        return s.scalar(select(CalendarToken.id).where(CalendarToken.account_id == actor.account_id,
                                                       CalendarToken.revoked_at.is_(None)).limit(1)) is not None


def feed_for(app: App, token: str) -> bytes:
    """The feed the address is for; a revoked or unknown address, or a closed account, is not found."""
    from ikcheck.accounts import actor_of

    with app.session() as s:
        row = s.scalar(select(CalendarToken).where(CalendarToken.token_hash == _hash(token or ""),
                                                   CalendarToken.revoked_at.is_(None)))
        acc = s.get(Account, row.account_id) if row else None
        if acc is None or acc.disabled_at is not None:
            raise NotFound("Kalendern finns inte (länken kan ha ersatts av en ny).")
        actor = actor_of(s, acc)
    return person_feed(app, actor)

