"""The hash-chained audit log.

Every write through a service calls `record()` in the same transaction as the write. Each event's
hash covers its own fields and the previous event's hash; the head row holds the newest seq and hash,
so `verify()` detects an altered, inserted or deleted event, including deletion of the newest ones.
Every transaction ends with `finish()`: its rows' states go into the log (store/coverage.py) and,
with a signing key, the head is signed. `verify()` checks the chain, the rows of the log, every
audited row of the data, each decided plan's content hash, the head's signature and any anchors
(receipts or documents kept outside the database). docs/threat-model.md says what each one catches.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from ikcheck.store import coverage
from ikcheck.store.models import AuditEvent, AuditHead, utcnow
from ikcheck.store.signing import Signer, Verifier, head_message

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
    session.info["ik_head_moved"] = True
    if action != coverage.SEAL_ACTION:
        session.info.setdefault("ik_entity", entity)
    if org_id is not None:
        session.info["ik_org"] = org_id
    session.flush()
    return ev


def finish(session: Session, actor: str, signer: Signer | None = None, tables=None) -> None:
    """End a writing transaction: one "spara rader" event with the state of every audited row it
    touched, then the head signed (with a key). Nothing is written when nothing was."""
    if coverage.pending(session):
        entries = coverage.collect(session, tables)
        if entries:
            counts: dict[str, int] = {}
            for e in entries:
                counts[e["tbl"]] = counts.get(e["tbl"], 0) + 1
            digest = coverage.entries_digest((e["tbl"], e["row_id"], e["digest"]) for e in entries)
            # the seal is filed under what the transaction did first: a report's data as of its newest
            # event then leaves out the seal of the report's own submission too (datasets.as_of)
            ev = record(session, actor, coverage.SEAL_ACTION, session.info.get("ik_entity", "rader"), None,
                        after={"rader": counts, "digest": digest}, org_id=session.info.get("ik_org"))
            coverage.write_entries(session, ev.seq, entries)
    if session.info.pop("ik_head_moved", False):
        head = session.get(AuditHead, 1)
        head.signature = signer.sign(head_message(head.seq, head.hash)) if signer else None
        head.key_id = signer.key_id if signer else None
        session.flush()


def writes_pending(session: Session) -> bool:
    return coverage.pending(session) or bool(session.info.get("ik_head_moved"))


@dataclass
class Anchor:
    """A head recorded outside the database: a receipt, or a document's Kontrollsumma."""
    seq: int
    hash: str  # the whole hash, or (from a printed document) its first 16 or more hex digits
    source: str  # for messages: "kvittot kvitto.json", "dokumentet plan.pdf"


@dataclass
class VerifyResult:
    events: int
    problems: list[str]
    rows: int = 0  # data rows compared with the log
    notes: list[str] = field(default_factory=list)
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, verifier: Verifier | None = None, anchors: list[Anchor] = ()) -> VerifyResult:
    """Walk the whole chain; name every event that was altered, inserted or deleted; then every row
    of the log and of the data; then the head's signature and the anchors."""
    problems: list[str] = []
    expected_seq = 1
    prev = GENESIS
    count = 0
    sealed: dict[int, str] = {}
    org_count: dict[int, int] = {}
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
        if ev.org_id is not None:
            org_count[ev.org_id] = org_count.get(ev.org_id, 0) + 1
            if ev.org_seq != org_count[ev.org_id]:
                problems.append(f"Händelse {ev.seq}: kommunens löpnummer är {ev.org_seq}, men det är kommunens "
                                f"händelse nr {org_count[ev.org_id]} (en händelse har raderats eller numrerats om).")
        if ev.action == coverage.SEAL_ACTION and isinstance(ev.after, dict):
            sealed[ev.seq] = str(ev.after.get("digest"))
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
    coverage.check_entries(session, sealed, problems)
    result = VerifyResult(events=count, problems=problems)
    result.rows = coverage.check_data(session, problems)
    if not count and result.rows:
        problems.insert(0, f"Granskningsloggen är tom, men databasen innehåller {result.rows} rader: loggen har "
                           "tömts (eller skrivits förbi).")
    _check_signature(head, verifier, result)
    for anchor in anchors:
        _check_anchor(session, anchor, result)
    return result


def _check_signature(head: AuditHead | None, verifier: Verifier | None, result: VerifyResult) -> None:
    if head is None:
        return
    if verifier is None:
        if head.signature:
            result.notes.append(f"Loggens huvud är signerat (nyckel {head.key_id}), men signaturen kontrollerades "
                                "inte: ingen publik nyckel angavs (den som revisorerna har fått).")
        return
    if not head.signature:
        result.problems.append("Loggens huvud är inte signerat, fast en nyckel är angiven: huvudet har skrivits "
                               "utan nyckeln (utanför ikcheck) eller signaturen har tagits bort.")
    elif not verifier.valid(head_message(head.seq, head.hash), head.signature):
        other = head.key_id and head.key_id != verifier.key_id
        result.problems.append(f"Loggens huvud (händelse {head.seq}) har ingen giltig signatur med nyckel "
                               f"{verifier.key_id}: " + (
                                   f"det är signerat med en annan nyckel ({head.key_id}). Antingen är nyckeln "
                                   "som angavs fel, eller har huvudet signerats om med en annan nyckel."
                                   if other else "huvudet eller kedjan har skrivits om utan nyckeln."))
    else:
        result.notes.append(f"Loggens huvud (händelse {head.seq}) är signerat med nyckel {verifier.key_id}.")


def _check_anchor(session: Session, anchor: Anchor, result: VerifyResult) -> None:
    result.anchors += 1
    ev = session.get(AuditEvent, anchor.seq)
    if ev is None:
        result.problems.append(f"Händelse {anchor.seq}, som {anchor.source} anger, finns inte i loggen: loggen har "
                               "kortats eller tömts efter att den skrevs.")
    elif not ev.hash.startswith(anchor.hash.lower()):
        result.problems.append(f"Händelse {anchor.seq} har inte den kontrollsumma som {anchor.source} anger "
                               f"({anchor.hash[:16]}, nu {ev.hash[:16]}): loggen har skrivits om.")
    else:
        result.notes.append(f"Händelse {anchor.seq} har samma kontrollsumma som {anchor.source} anger "
                            f"({anchor.hash[:16]}).")
