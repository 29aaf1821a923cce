"""Befattningar and who holds them.

Plan lines and åtgärder name a befattning as kontrollansvarig or owner ("Enhetschef barn och unga"),
never a person: the befattning stays when people change jobs. Each holding says who held a befattning
from which day to which day, so the reminders go to whoever holds it on the day, and the history keeps
who held it then (a revisor asks who was responsible in March). The account's `title` is the holding it
has today: the permission checks read it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck.app import App
from ikcheck.calendar import not_in_future, parse_date, today
from ikcheck.errors import UserError
from ikcheck.store.audit import snapshot
from ikcheck.store.models import Account, Organisation, PositionHolding


def _key(title: str | None) -> str:
    return " ".join((title or "").split()).casefold()


def record(app: App, s: Session, org: Organisation, account: Account, title: str | None, start: dt.date) -> None:
    """`account` holds `title` from `start` (None: no befattning any more): its holding of another
    befattning ends the day before, and so does anyone else's holding of this one."""
    title = " ".join((title or "").split()) or None
    end = start - dt.timedelta(days=1)
    open_rows = list(s.scalars(select(PositionHolding).where(PositionHolding.org_id == org.id,
                                                             PositionHolding.end_on.is_(None))))
    for h in open_rows:
        mine = h.account_id == account.id
        same_title = title is not None and _key(h.title) == _key(title)
        if mine and same_title:
            return  # already held
        if mine or same_title:
            if h.start_on > start:
                raise UserError(f"{h.name} blev {h.title} {h.start_on}; ett byte måste ligga efter den dagen.")
            if h.start_on == start:  # registered the same day: a correction, the holding never began
                app.audit(s, "ta bort befattning", "position_holding", h.id, before=snapshot(h), org_id=org.id)
                s.delete(h)
                s.flush()
            else:
                before = snapshot(h)
                h.end_on = end
                app.audit(s, "avsluta befattning", "position_holding", h.id, before=before, after=snapshot(h),
                          org_id=org.id)
            if not mine and h.account_id is not None:
                other = s.get(Account, h.account_id)
                if other is not None and _key(other.title) == _key(title):
                    other.title = None  # the one who left no longer reports for it
    if title is not None:
        h = PositionHolding(org_id=org.id, title=title, account_id=account.id, name=account.full_name,
                            email=account.email, start_on=start, created_by=app.user)
        s.add(h)
        s.flush()
        app.audit(s, "tillträd befattning", "position_holding", h.id, after=snapshot(h), org_id=org.id)


def assign(app: App, username: str, title: str | None, start: str | None = None, org_code: str | None = None) -> dict:
    """The person takes over a befattning from a day (today unless given; not in the future): the one
    who held it before stops holding it the day before, and the person's earlier befattning ends."""
    day = not_in_future(parse_date(start, "Från"), "Dagen för bytet") if start else today()
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        acc = s.scalar(select(Account).where(Account.org_id == org.id, Account.username == username.strip()))
        if acc is None:
            raise UserError(f"Det finns inget konto {username!r} i {org.name}.")
        record(app, s, org, acc, title, day)
        before = {"title": acc.title}
        acc.title = " ".join((title or "").split()) or None
        if before["title"] != acc.title:
            app.audit(s, "byt befattning", "account", acc.id, before=before, after={"title": acc.title}, org_id=org.id)
        return {"konto": acc.username, "namn": acc.full_name, "befattning": acc.title or "", "från": day}


def title_on(s: Session, org_id: int, account_id: int, day: dt.date) -> str | None:
    """The befattning the account held on `day`, if any."""
    for h in s.scalars(select(PositionHolding).where(PositionHolding.org_id == org_id,
                                                     PositionHolding.account_id == account_id,
                                                     PositionHolding.start_on <= day)
                       .order_by(PositionHolding.start_on.desc(), PositionHolding.id.desc())):
        if h.end_on is None or h.end_on >= day:
            return h.title
    return None


def holder_on(s: Session, org_id: int, title: str, day: dt.date) -> PositionHolding | None:
    """Who held the befattning on `day`."""
    for h in s.scalars(select(PositionHolding).where(PositionHolding.org_id == org_id, PositionHolding.start_on <= day)
                       .order_by(PositionHolding.start_on.desc())):
        if _key(h.title) == _key(title) and (h.end_on is None or h.end_on >= day):
            return h
    return None


def holders(s: Session, org_id: int, titles, day: dt.date) -> list[dict]:
    """For a document's provenance: who held each of the befattningar named, on the day it speaks of
    (only those with a registered holder)."""
    out = []
    for title in sorted({" ".join(t.split()) for t in titles if t}, key=str.casefold):
        h = holder_on(s, org_id, title, day)
        if h is not None:
            out.append({"befattning": title, "namn": h.name, "från": h.start_on})
    return out


def history(app: App, title: str | None = None, org_code: str | None = None) -> list[dict]:
    """Every holding, befattning by befattning, newest first."""
    with app.session() as s:
        org = app.org(s, org_code)
        rows = s.scalars(select(PositionHolding).where(PositionHolding.org_id == org.id)
                         .order_by(PositionHolding.title, PositionHolding.start_on.desc()))
        return [{"befattning": h.title, "namn": h.name, "e-post": h.email or "", "från": h.start_on,
                 "till": h.end_on or "", } for h in rows if title is None or _key(h.title) == _key(title)]
