"""The Swedish words a user types and reads for the codes the data keeps.

Periods, report kinds and unit kinds are stored as codes (halvar, helar, ar, namnd), stable for
scripts and files. A user may type either the code or the Swedish word, in any case ("halvår",
"Helår", "nämnd"), and reads the Swedish word.
"""

from __future__ import annotations

from ikcheck.errors import UserError

PERIOD_SV = {"halvar": "halvår", "helar": "helår"}
REPORT_SV = {"halvar": "halvårsrapport", "ar": "årsrapport"}
UNIT_KIND_SV = {"ks": "kommunstyrelse", "namnd": "nämnd", "bolag": "bolag"}

_PERIODS = {"halvar": "halvar", "halvår": "halvar", "helar": "helar", "helår": "helar"}
_REPORTS = {"halvar": "halvar", "halvår": "halvar", "halvårsrapport": "halvar", "halvarsrapport": "halvar",
            "ar": "ar", "år": "ar", "helår": "ar", "helar": "ar", "årsrapport": "ar", "arsrapport": "ar"}
_UNIT_KINDS = {"ks": "ks", "kommunstyrelse": "ks", "kommunstyrelsen": "ks", "namnd": "namnd", "nämnd": "namnd",
               "bolag": "bolag", "styrelse": "bolag"}


def period(value: str | None) -> str | None:
    """A reporting period's code: halvår → halvar, helår → helar; a tertial T1–T3 as T1–T3."""
    if value is None:
        return None
    v = str(value).strip()
    key = v.casefold()
    if key in _PERIODS:
        return _PERIODS[key]
    if key in ("t1", "t2", "t3"):
        return key.upper()
    return v


def periods(value: str | list[str] | None) -> list[str]:
    """A comma-separated list of periods (as `plan edit --reporting "halvår, helår"`), as codes."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [period(p) for p in items if str(p).strip()]


def report_kind(value: str | None) -> str | None:
    """halvar or ar, from the code or a Swedish word (halvår, halvårsrapport, år, helår, årsrapport)."""
    if value is None:
        return None
    kind = _REPORTS.get(str(value).strip().casefold())
    if kind is None:
        raise UserError(f"Okänd rapport {value!r}; välj halvår eller år (halvårsrapporten eller årsrapporten).")
    return kind


def unit_kind(value: str) -> str:
    """ks, namnd or bolag, from the code or the Swedish word; unknown words are returned as given."""
    return _UNIT_KINDS.get(str(value).strip().casefold(), value)


def period_sv(code: str) -> str:
    return PERIOD_SV.get(code, code)


def n(count: int, one: str, many: str) -> str:
    """A count with its noun in the right number: "1 risk", "2 risker", "0 risker" (the one helper every
    message, page and document uses)."""
    return f"{count} {one if count == 1 else many}"


def paragraph(text: str) -> str:
    """A protocol paragraph as Swedish minutes write it: "§ 31" (typed "§31", "31" or "§  31")."""
    t = " ".join((text or "").split())
    if t.startswith("§"):
        rest = t[1:].strip()
        return f"§ {rest}" if rest else t
    return f"§ {t}" if t[:1].isdigit() else t
