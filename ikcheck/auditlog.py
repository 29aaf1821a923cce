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


def events(app: App, *, entity: str | None = None, entity_id: str | None = None,
           actor: str | None = None, since: str | None = None, until: str | None = None,
           limit: int = 50, org_code: str | None = None) -> list[dict]:
    """The newest events of one kommun (and those of no kommun, such as a matrix registered), filtered."""
    if limit < 1:
        raise UserError(f"--limit: {limit} händelser går inte att visa; ange minst 1.")
    q = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if entity:
        q = q.where(AuditEvent.entity == entity)
    if entity_id:
        q = q.where(AuditEvent.entity_id == entity_id)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if d := _date(since, "--since"):
        q = q.where(AuditEvent.at >= dt.datetime.combine(d, dt.time()))
    if d := _date(until, "--until"):
        q = q.where(AuditEvent.at < dt.datetime.combine(d + dt.timedelta(days=1), dt.time()))
    with app.session() as s:
        org = app.org(s, org_code)
        q = q.where((AuditEvent.org_id == org.id) | AuditEvent.org_id.is_(None))
        return [
            {"nr": e.seq, "när (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "vem": e.actor,
             "vad": e.action, "post": e.entity, "id": e.entity_id or "",
             "ändrat": _sealed(e.after) if e.action == coverage.SEAL_ACTION else _changed(e.before, e.after)}
            for e in s.scalars(q)
        ]


def _sealed(after: dict | None) -> str:
    """What a "spara rader" event put under the log: rows per table."""
    counts = (after or {}).get("rader") or {}
    return f"{sum(counts.values())} rader i loggen: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _changed(before: dict | None, after: dict | None) -> str:
    if before is None:
        return "ny"
    if after is None:
        return "borttagen"
    keys = [k for k in after if before.get(k) != after.get(k)]
    return ", ".join(f"{coverage.FIELD_SV.get(k, k)}: {_shown(before.get(k))} → {_shown(after.get(k))}"
                     for k in keys[:4])


def _shown(value) -> str:
    """A logged value as a revisor reads it (words.value_sv), text in quotes, lists as JSON."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return f"”{words.value_sv(value)}”" if isinstance(value, str) and value else words.value_sv(value)
