"""The Swedish words a user types and reads for the codes the data keeps.

Periods, report kinds and unit kinds are stored as codes (halvar, helar, ar, namnd), stable for
scripts and files. A user may type either the code or the Swedish word, in any case ("halvår",
"Helår", "nämnd"), and reads the Swedish word.
"""

from __future__ import annotations

import re

from ikcheck.errors import UserError

PERIOD_SV = {"halvar": "halvår", "helar": "helår"}
# what a rule's conclusion is about (a fact's type), as a column of the revisor's query reads it
SUBJECT_SV = {"risk": "risk", "control_point": "kontrollpunkt", "result": "resultat", "ks_requirement": "KS-krav",
              "plan": "plan", "action": "åtgärd", "unit": "enhet", "report": "rapport"}
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


def sentence(text: str | None) -> str:
    """A text as a sentence: capital first letter, full stop at the end ("riskvärdet 9 …" → "Riskvärdet 9 … .")."""
    t = " ".join((text or "").split())
    if not t:
        return ""
    t = t[0].upper() + t[1:]
    return t if t[-1] in ".!?:" else t + "."


_RULE_PART = re.compile(r"^([A-ZÅÄÖ][A-ZÅÄÖ0-9]*-\d+[a-z]?):\s*(.+)$", re.S)


def reasons(why: str | None) -> tuple[list[str], list[str]]:
    """A stored motivation ("PRI-02: riskvärdet …; KD-01: …") split into what the nämnd reads (the
    reasons as sentences, no rule codes) and what a revisor traces (the rule ids, in order)."""
    said, rules = [], []
    for part in (why or "").split("; "):
        m = _RULE_PART.match(part.strip())
        if m:
            rules.append(m.group(1))
            said.append(sentence(m.group(2)))
        elif part.strip():
            said.append(sentence(part))
    return said, rules


# The governing body of a unit by its kind: a bolag's plan is decided by its styrelse, prepared by its
# VD, and what a nämnd would have "anmält till nämnden" a bolag anmäler till styrelsen.
_FOR_BOLAG = (("till nämnden", "till styrelsen"), ("i nämnden", "i styrelsen"), ("Nämndsekreterare", "Styrelsesekreterare"),
              ("nämndsekreterare", "styrelsesekreterare"), ("Förvaltningschef", "VD"), ("förvaltningschef", "VD"))


def for_unit(text: str | None, kind: str) -> str | None:
    """A kommunövergripande text worded for the unit that reads it (a bolag has a styrelse and a VD)."""
    if text is None or kind != "bolag":
        return text
    for a, b in _FOR_BOLAG:
        text = text.replace(a, b)
    return text


def decision_body(kind: str, name: str) -> str:
    """Who decides a unit's plan and reports: the nämnd itself, or a bolag's styrelse."""
    return f"Styrelsen för {name}" if kind == "bolag" else name


def body_noun(kind: str) -> str:
    """'nämnden', 'styrelsen' or 'kommunstyrelsen': the body a document speaks to."""
    return {"bolag": "styrelsen", "ks": "kommunstyrelsen"}.get(kind, "nämnden")


_ACCOUNT = re.compile(r"\s*\(konto \d+\)$")


def person(label: str | None) -> str:
    """A person as people read them: "Anna Lind", not the audit log's "Anna Lind (konto 3)" (the log
    keeps the account, so that two Anna Lind are told apart)."""
    return _ACCOUNT.sub("", label or "")


def findings(counts: dict[str, int]) -> str:
    """The rules' findings as a reader says them: "åtgärd krävs 2, bristande dualitet 1" (the rules
    name a conclusion bristande_dualitet; the underscores are for the rule files)."""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items())) or "inga"


# The rules' fact fields and conclusion attributes as a user reads them (rules explain, rules diff).
FIELD_SV = {
    "risk_id": "risk", "code": "kod", "unit": "enhet", "unit_kind": "enhetstyp", "process": "process",
    "title": "rubrik", "category": "kategori", "source": "källa", "legal": "lagkrav", "year": "år",
    "likelihood": "sannolikhet", "impact": "konsekvens", "score": "riskvärde", "level": "risknivå",
    "level_rank": "nivåns rang", "implies": "nivån innebär", "in_plan": "ska med i planen",
    "residual_score": "kvarvarande riskvärde", "residual_level": "kvarvarande risknivå",
    "spread": "spridning (steg)", "flagged": "oenighet", "previous_score": "förra årets riskvärde",
    "earlier_deficiency": "tidigare brist", "cp_id": "kontrollpunkt", "plan_id": "plan", "method": "metod",
    "sample_size": "stickprov", "frequency": "frekvens", "owner": "kontrollansvarig", "reporting": "rapportering",
    "municipality_wide": "kommunövergripande", "ks_code": "KS-krav", "status": "status", "risk_level": "risknivå",
    "action_id": "åtgärd", "req_id": "KS-krav", "version": "version", "decided": "beslutad",
    "days_late": "dagar sen", "points": "kontrollpunkter", "result_id": "resultat", "period": "period",
    "reported": "rapporterad", "performed": "utförd", "examined": "granskade", "deviations": "avvikelser",
    "deviation_rate": "andel avvikelser", "assessment": "bedömning", "performed_by": "utförd av",
    "approved_by": "godkänd av", "same_person": "samma person utför och godkänner",
    "previous_assessment": "förra bedömningen", "has_action": "åtgärd finns", "batch": "inläsning",
    "report_id": "rapport", "submitted": "inlämnad", "due_passed": "sista dag passerad", "unit_id": "enhet",
    "name": "namn", "kind": "typ", "significant": "väsentliga brister", "minor": "mindre brister",
    "not_performed": "ej utförda", "not_reported": "ej rapporterade", "escalations": "eskaleringar",
    "overdue_actions": "försenade åtgärder", "late": "försenade steg", "performed_share": "andel utförda",
    "reason": "skäl", "message": "meddelande", "blocking": "hindrar beslut", "severity": "allvar",
    "colour": "färg", "text": "text", "subject_type": "gäller", "subject_id": "id", "rule_id": "regel",
}
_VALUE_SV = {"namnd": "nämnd", "ks": "kommunstyrelse", "halvar": "halvår", "helar": "helår", "ar": "år",
             "draft": "utkast", "decided": "beslutad", "revised": "reviderad", "proposed": "föreslagen",
             "accepted": "godkänd", "rejected": "avvisad", "superseded": "ersatt", "active": "aktiv",
             "retired": "avslutad"}


def field_sv(name: str) -> str:
    return FIELD_SV.get(name, name.replace("_", " "))


def value_sv(value) -> str:
    """A fact's value as read: ja/nej, decimal comma, Swedish words for codes, "–" for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(",.").replace(".", ",")
    return _VALUE_SV.get(value, str(value)) if isinstance(value, str) else str(value)


_TAILS = re.compile(r"(?<=\w{4})(nämnden|nämnd|styrelsen|styrelse|förvaltningen|förvaltning|bolaget)\b")


def breakable(name: str) -> str:
    """A unit's long name with a soft hyphen (U+00AD) before its compound's tail: "Samhällsbyggnadsnämnden"
    may break as "Samhällsbyggnads-" / "nämnden" in a narrow table column, where a Swede would break it,
    instead of widening the table. Screen readers and the accessible name read the name whole."""
    return " ".join(_TAILS.sub("\u00ad\\1", w) if len(w) > 14 else w for w in name.split(" "))
