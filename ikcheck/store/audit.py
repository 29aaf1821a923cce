"""The hash-chained audit log.

Every write through a service calls `record()` in the same transaction as the write. Each event's
hash covers its own fields and the previous event's hash; the head row holds the newest seq and hash,
so `verify()` detects an altered, inserted or deleted event, including deletion of the newest ones.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from ikcheck.store.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def plain(value: Any) -> Any:
    """The JSON form a value takes in the log (what is stored is what is hashed)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def rows_digest(rows: list[dict[str, Any]]) -> str:
    """SHA-256 of stored rows in their log form (`plain`, keys sorted), for an import's audit event.
    Serialised once: the same text as json.dumps(plain(rows), sort_keys=True), without the round trip
    that cost a 10k-row import a twentieth of its time."""
    text = json.dumps(rows, default=_default, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of a mapped object, JSON-safe, for before/after."""
    mapper = inspect(obj).mapper
    return plain({c.key: getattr(obj, c.key) for c in mapper.column_attrs})


def event_hash(
    seq: int,
    org_id: int | None,
    at: dt.datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: Any,
    after: Any,
    prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, org_id, at.isoformat(), actor, action, entity, entity_id, before, after, prev_hash],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_default,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any = None,
    before: Any = None,
    after: Any = None,
    org_id: int | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    before, after = plain(before), plain(after)
    org_seq = None
    if org_id is not None:
        org_seq = 1 + (session.scalar(select(func.max(AuditEvent.org_seq)).where(AuditEvent.org_id == org_id)) or 0)
    ev = AuditEvent(
        seq=head.seq + 1,
        org_id=org_id,
        org_seq=org_seq,
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
        prev_hash=head.hash,
    )
    ev.hash = event_hash(
        ev.seq, org_id, ev.at, actor, action, entity, ev.entity_id, before, after, head.hash
    )
    session.add(ev)
    head.seq, head.hash = ev.seq, ev.hash
    session.flush()
    return ev


@dataclass
class VerifyResult:
    events: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; name every event that was altered, inserted or deleted."""
    problems: list[str] = []
    expected_seq = 1
    prev = GENESIS
    count = 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    for ev in rows.yield_per(5000) if hasattr(rows, "yield_per") else rows:
        count += 1
        if ev.seq != expected_seq:
            if ev.seq > expected_seq:
                missing = (
                    f"{expected_seq}" if ev.seq == expected_seq + 1 else
                    f"{expected_seq}–{ev.seq - 1}"
                )
                problems.append(f"Händelse {missing} saknas (raderad ur loggen).")
            expected_seq = ev.seq
        if ev.prev_hash != prev:
            problems.append(
                f"Händelse {ev.seq}: länken till föregående händelse stämmer inte "
                "(en händelse före den har ändrats, infogats eller raderats)."
            )
        actual = event_hash(
            ev.seq, ev.org_id, ev.at, ev.actor, ev.action, ev.entity, ev.entity_id,
            ev.before, ev.after, ev.prev_hash,
        )
        if actual != ev.hash:
            problems.append(
                f"Händelse {ev.seq} ({ev.action} {ev.entity} {ev.entity_id or ''}".rstrip()
                + ") har ändrats: innehållet stämmer inte med dess hash."
            )
        prev = ev.hash
        expected_seq += 1
        session.expunge(ev)
    head = session.get(AuditHead, 1)
    last = expected_seq - 1
    if head is None:
        if count:
            problems.append("Loggens huvud saknas: kedjan kan inte bekräftas som komplett.")
    elif head.seq > last:
        problems.append(
            f"Händelse {last + 1}–{head.seq} saknas: loggen slutar vid {last} men huvudet pekar "
            f"på {head.seq} (de senaste händelserna har raderats)."
        )
    elif head.seq < last:
        problems.append(
            f"Händelse {head.seq + 1}–{last} har infogats efter loggens huvud ({head.seq})."
        )
    elif head.hash != prev:
        problems.append(f"Händelse {last} stämmer inte med loggens huvud (ändrad).")
    return VerifyResult(events=count, problems=problems)
