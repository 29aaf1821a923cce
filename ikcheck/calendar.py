"""The årshjul: deadlines per organisation and year, and the clock: today's date in Europe/Stockholm
and the time stamped on every stored row and audit event.

The clock can be set (`clock_at`): the demo runs its story on the story's own dates, so an event of
the workshop in September 2024 carries that date. `IKCHECK_TODAY=ÅÅÅÅ-MM-DD` fixes "today" (for
reproducible reports and tests) without moving the time stamps."""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from ikcheck.errors import UserError

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SV_MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
             "oktober", "november", "december"]


_clock: list[dt.datetime] = []  # a set clock (UTC, naive), innermost last


@contextmanager
def clock_at(at: dt.datetime | dt.date) -> Iterator[None]:
    """Run the block as if it were `at` (UTC): time stamps and `today()` follow it."""
    if not isinstance(at, dt.datetime):
        at = dt.datetime.combine(at, dt.time(10, 0))
    _clock.append(at.replace(microsecond=0, tzinfo=None))
    try:
        yield
    finally:
        _clock.pop()


def now() -> dt.datetime:
    """The time stamped on stored rows and audit events: UTC, naive, whole seconds."""
    if _clock:
        return _clock[-1]
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)


def today() -> dt.date:
    if _clock:
        return _clock[-1].replace(tzinfo=dt.timezone.utc).astimezone(STOCKHOLM).date()
    fixed = os.environ.get("IKCHECK_TODAY")
    if fixed:
        return parse_date(fixed, "IKCHECK_TODAY")
    return dt.datetime.now(STOCKHOLM).date()


def parse_date(value: str | dt.date, name: str = "datum") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UserError(f"{name}: {value!r} är inget datum (förväntat ÅÅÅÅ-MM-DD).") from None


def not_in_future(day: dt.date, what: str) -> dt.date:
    """Refuse a date that has not happened yet: a decision, submission or closure is recorded after
    the fact."""
    if day > today():
        raise UserError(f"{what} {day.isoformat()} ligger i framtiden (i dag är det {today().isoformat()}); "
                        "registrera det när det har skett.")
    return day


def period_end(year: int, period: str, periods: list[str]) -> dt.date:
    """The last day of a reporting period: the year split evenly (halvår: 30 June and 31 December;
    tertial T1–T3: 30 April, 31 August, 31 December)."""
    k = periods.index(period) + 1 if period in periods else len(periods)
    month = 12 * k // len(periods)
    return dt.date(year, month, _cal.monthrange(year, month)[1])


def election_year(org, year: int) -> bool:
    """Whether `year` is an election year in the kommun's årshjul: every fourth year from `valår`
    (default 2026, the Swedish general elections), or one of the years listed."""
    value = org.settings["arshjul"].get("valår", 2026)
    return year in value if isinstance(value, list) else (year - int(value)) % 4 == 0


def deadline(org, key: str, year: int) -> dt.date:
    """The date `key` (plan_beslut, halvar_rapport, ar_rapport) falls on in `year`. In an election
    year the plan is due by `plan_beslut_valår` (default 31 December): every lateness ikcheck reports
    (plan list, the årshjul rules, reports, KS summary, the web) is measured from here."""
    aj = org.settings["arshjul"]
    value = aj.get("plan_beslut_valår", "12-31") if key == "plan_beslut" and election_year(org, year) else aj[key]
    month, day = (int(x) for x in value.split("-"))
    return dt.date(year, month, min(day, _cal.monthrange(year, month)[1]))


def swedish_date(d: dt.date | dt.datetime | str | None) -> str:
    """'28 februari 2026', as written in Swedish minutes (an ISO date as text too: JSON columns keep them so)."""
    if d is None or d == "":
        return ""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    return f"{d.day} {SV_MONTHS[d.month - 1]} {d.year}"
