"""The årshjul: deadlines per organisation and year, and today's date in Europe/Stockholm.

`IKCHECK_TODAY=ÅÅÅÅ-MM-DD` fixes "today" (for reproducible demos, reports and tests)."""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import os
from zoneinfo import ZoneInfo

from ikcheck.errors import UserError

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SV_MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
             "oktober", "november", "december"]


def today() -> dt.date:
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


def deadline(org, key: str, year: int) -> dt.date:
    """The date `key` (plan_beslut, halvar_rapport, ar_rapport) falls on in `year`."""
    month, day = (int(x) for x in org.settings["arshjul"][key].split("-"))
    return dt.date(year, month, min(day, _cal.monthrange(year, month)[1]))


def swedish_date(d: dt.date | dt.datetime | None) -> str:
    """'28 februari 2026', as written in Swedish minutes."""
    if d is None:
        return ""
    return f"{d.day} {SV_MONTHS[d.month - 1]} {d.year}"
