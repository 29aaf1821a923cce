"""Audit-log services: verification and filtered listing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from ikcheck import anchor, evidence, planning, words
from ikcheck.app import App
from ikcheck.errors import UserError
from ikcheck.store import audit, coverage
from ikcheck.store.models import AuditEvent


def verify(app: App, anchors: list[Path] | None = None, public_key: Path | None = None) -> audit.VerifyResult:
    """The whole chain, every row of the data against it, every decided plan against its decision,
    the head's signature (with a key) and each anchor kept outside the database."""
    verifier = app.verifier(public_key)
    found = [a for path in anchors or [] for a in anchor.read(path, verifier)]
    with app.session() as s:
        result = audit.verify(s, verifier, found)
        planning.check_decided_plans(s, result.problems)
        evidence.check_contents(s, result.problems)
        return result


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name}: {value!r} är inget datum (förväntat ÅÅÅÅ-MM-DD).") from None


# what a person may give `audit log --entity`: the Swedish word, or the table's own name
ENTITY_WORDS = {"risk": "risk", "riskbedömning": "risk_assessment", "plan": "control_plan",
                "kontrollpunkt": "control_point", "resultat": "control_result", "åtgärd": "action",
                "rapport": "report_record", "konto": "account", "inläsning": "import_batch", "workshop": "workshop",
                "enhet": "unit", "process": "process", "regelkörning": "rule_run", "ks-krav": "ks_requirement",
                "organisation": "organisation", "underlag": "evidence", "befattning": "position_holding",
                "påminnelse": "reminder_sent", "riskmatris": "risk_matrix", "text": "report_text"}


# each table as one word in a "spara rader" line: the words above, and the tables no one asks for by name
WORD_OF = {**{table: word for word, table in ENTITY_WORDS.items()},
           "report_text": "förvaltningens text", "action_change": "statusändring", "conclusion": "slutsats",
           "live_item": "workshoprisk", "live_participant": "workshopdeltagare", "live_score": "workshopbedömning",
           "workshop_comment": "workshopkommentar"}


def entity_of(word: str) -> str:
    """The table a word names; a word that names none is an error listing the words, never an empty list."""
    w = word.strip().lower()
    if w in coverage.ENTITY_SV:
        return w
    if w in ENTITY_WORDS:
        return ENTITY_WORDS[w]
    raise UserError(f"{word!r} är ingen typ av post i loggen; välj en av: {', '.join(ENTITY_WORDS)} "
                    "(eller tabellens namn, t.ex. control_plan).")


def events(app: App, *, entity: str | None = None, entity_id: str | None = None,
           actor: str | None = None, since: str | None = None, until: str | None = None,
           limit: int = 50, org_code: str | None = None) -> list[dict]:
    """The newest events of one kommun (and those of no kommun, such as a matrix registered), filtered,
    as `audit log` prints them."""
    return [{"nr": e["seq"], "när (UTC)": e["at"].strftime("%Y-%m-%d %H:%M:%S"), "vem": e["actor"],
             "vad": e["action"], "post": e["entity"], "id": e["entity_id"], "ändrat": e["changed"]}
            for e in event_rows(app, entity=entity_of(entity) if entity else None, entity_id=entity_id, actor=actor,
                                since=_date(since, "Från"), until=_date(until, "Till"), limit=limit,
                                org_code=org_code)]


def event_rows(app: App, *, entity: str | None = None, entity_id: str | None = None, actor: str | None = None,
               since: dt.date | None = None, until: dt.date | None = None, limit: int = 50,
               org_code: str | None = None, seals: bool = True, tz: dt.tzinfo = dt.timezone.utc) -> list[dict]:
    """The events behind `audit log` and the web's list: newest first, `at` in UTC as stored; `since`
    and `until` are days as a clock in `tz` reads them (the web shows Swedish time); `seals` False
    leaves out the "spara rader" events that put each change's rows under the log."""
    if limit < 1:
        raise UserError(f"{limit} händelser går inte att visa; ange minst 1.")
    q = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if entity:
        q = q.where(AuditEvent.entity == entity)
    if entity_id:
        q = q.where(AuditEvent.entity_id == entity_id)
    if actor:
        q = q.where(AuditEvent.actor == actor)

    def stored(day: dt.date) -> dt.datetime:  # midnight in tz, as the naive UTC the rows are stamped in
        return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.timezone.utc).replace(tzinfo=None)

    if since:
        q = q.where(AuditEvent.at >= stored(since))
    if until:
        q = q.where(AuditEvent.at < stored(until + dt.timedelta(days=1)))
    if not seals:
        q = q.where(AuditEvent.action != coverage.SEAL_ACTION)
    with app.session() as s:
        org = app.org(s, org_code)
        q = q.where((AuditEvent.org_id == org.id) | AuditEvent.org_id.is_(None))
        return [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "entity": e.entity,
             "entity_id": e.entity_id or "",
             "changed": _sealed(e.after) if e.action == coverage.SEAL_ACTION else _changed(e.before, e.after)}
            for e in s.scalars(q)
        ]


def actors(app: App, org_code: str | None = None) -> list[str]:
    """Everyone who has an event in the kommun's log, for a list to choose from."""
    with app.session() as s:
        org = app.org(s, org_code)
        return list(s.scalars(select(AuditEvent.actor).where(AuditEvent.org_id == org.id).distinct()
                              .order_by(AuditEvent.actor)))


def _sealed(after: dict | None) -> str:
    """What a "spara rader" event put under the log: rows per table."""
    counts = (after or {}).get("rader") or {}
    n = sum(counts.values())
    named = sorted((WORD_OF.get(table, table), count) for table, count in counts.items())
    return f"{words.n(n, 'rad', 'rader')} i loggen: " + ", ".join(f"{word} {count}" for word, count in named)


# what names a new row in a line of the log, in this order: the file read, the run's purpose, the code ...
_NAMING = ("file", "purpose", "code", "name", "title", "kind", "year", "version", "score", "level", "status")
_NAMING_SV = {"file": "fil", "purpose": "syfte", "kind": "slag", "year": "år", "version": "version"}


def _changed(before: dict | None, after: dict | None) -> str:
    if before is None:
        named = [(k, after[k]) for k in _NAMING if isinstance(after, dict) and after.get(k) not in (None, "", [])]
        return "ny" + (": " + ", ".join(f"{_NAMING_SV.get(k) or coverage.FIELD_SV.get(k, k)} {_shown(v)}"
                                          for k, v in named[:4]) if named else "")
    if after is None:
        return "borttagen"
    keys = [k for k in after if before.get(k) != after.get(k)]
    return ", ".join(_one_change(coverage.FIELD_SV.get(k, k), before.get(k), after.get(k)) for k in keys[:4])


def _one_change(field: str, old, new) -> str:
    """One field's change; a list that only grew (an åtgärd's notes) shows what was added, not both lists."""
    if isinstance(old, list) and isinstance(new, list) and len(new) > len(old) and new[:len(old)] == old:
        return f"{field}: + " + ", ".join(_note(x) for x in new[len(old):])
    return f"{field}: {_shown(old)} → {_shown(new)}"


def _note(value) -> str:
    """An added note as a person reads it: its words, then who and when."""
    if isinstance(value, dict) and "text" in value:
        by = ", ".join(str(value[k]) for k in ("by", "at") if value.get(k))
        return f"”{value['text']}”" + (f" ({by})" if by else "")
    return _shown(value)


def _shown(value) -> str:
    """A logged value as a revisor reads it (words.value_sv), text in quotes, lists as JSON."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return f"”{words.value_sv(value)}”" if isinstance(value, str) and value else words.value_sv(value)
