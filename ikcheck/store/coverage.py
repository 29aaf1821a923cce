"""The audit log covers the data: every audited row's state is in the log.

Each writing transaction ends with one "spara rader" event (`seal`): for every audited row the
transaction inserted, changed or deleted, an `audit_row` entry holds the row's state as read back from
the database and its SHA-256, and the event's own hash covers the digest of all those entries. So a row
edited, deleted or added behind ikcheck's back (in SQL, by anyone with write access to the database)
no longer matches its last entry, and rewriting the entry breaks the event's hash, which breaks the
chain. `check_data` compares every row with its last entry; `check_entries` the entries with their
events.

Which rows a transaction touched: the ORM's own flushes are seen by a session hook; Core statements
say so themselves (`touch` for updates by id, `note_insert` before a bulk insert: every row above the
table's highest id at that moment is this transaction's, since writers are serialised, see
`App.session`). Conclusions are many and only ever written with their rule run, so they are covered
per run (one entry per run: the digest of all its conclusions).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, Text, cast, event, func, select
from sqlalchemy.orm import Session

from ikcheck.store import jsontext
from ikcheck.store.db import bulk_insert, one_of
from ikcheck.store.models import AuditRow, Base

SEAL_ACTION = "spara rader"
# the log itself, and the web app's short-lived security state (sessions, throttling, SSO state); and
# evidence files' bytes, whose key is their own SHA-256 (audit verify recomputes it), held by the
# covered evidence rows
NOT_COVERED = {"audit_event", "audit_head", "audit_row", "alembic_version", "web_session", "login_attempt",
               "login_state", "evidence_content", "live_code", "live_join", "calendar_token"}
GROUPED = {"conclusion": "run_id"}  # table -> the column its rows are covered by, together

# what a revisor reads in a message: the row, in Swedish
ENTITY_SV = {
    "organisation": "Organisationen", "unit": "Enheten", "process": "Processen", "risk_matrix": "Riskmatrisen",
    "risk": "Risken", "workshop": "Workshopen", "import_batch": "Inläsningen", "risk_assessment": "Riskbedömningen",
    "ks_requirement": "KS-kravet", "control_plan": "Planen", "control_point": "Kontrollpunkten",
    "control_result": "Kontrollresultatet", "action": "Åtgärden", "action_change": "Statusändringen",
    "rule_run": "Regelkörningen", "conclusion": "Slutsatserna från regelkörningen", "report_record": "Rapportposten",
    "account": "Kontot", "evidence": "Underlaget", "live_item": "Workshoppens risk",
    "live_participant": "Workshopdeltagaren", "live_score": "Workshopbedömningen",
    "report_text": "Förvaltningens text", "position_holding": "Befattningsinnehavet",
    "reminder_sent": "Den skickade påminnelsen", "workshop_comment": "Workshopkommentaren",
}
FIELD_SV = {
    "likelihood": "sannolikhet", "impact": "konsekvens", "score": "riskvärde", "level": "risknivå",
    "residual_likelihood": "sannolikhet efter åtgärd", "residual_impact": "konsekvens efter åtgärd",
    "residual_score": "riskvärde efter åtgärd", "residual_level": "risknivå efter åtgärd",
    "deviations": "avvikelser", "examined": "granskade", "assessment": "bedömning", "performed": "utförd",
    "performed_on": "datum", "comment": "kommentar", "performed_by": "utförd av", "approved_by": "godkänd av",
    "title": "rubrik", "sample_size": "omfattning", "method": "metod", "frequency": "frekvens", "owner": "ansvarig",
    "reporting": "rapportering", "status": "status", "decision_date": "beslutsdatum",
    "decision_paragraph": "paragraf", "decision_dnr": "diarienummer", "decided_by": "beslutad av",
    "content_hash": "innehållshash", "data_hash": "datahash", "due_date": "klart senast", "closed_on": "klar den",
    "description": "beskrivning", "is_current": "gällande", "name": "namn", "code": "kod", "notes": "anteckningar",
}


def covered_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_COVERED]


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)
_text = _ENCODER.encode  # one encoder: json.dumps with options builds a new one per call


def rows_of(table: Table):
    """The select every coverage read uses: every column, JSON columns as the text stored (no parse
    and re-encode of nested values; what is stored is what is checked)."""
    return select(*(cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.c))


# _text's encoding without sorting the keys (the caller puts them in order), from the C encoder built
# once: building one per call was a fifth of the seal's time at 200k rows
_UNSORTED = jsontext.encoder(ensure_ascii=False, separators=(",", ":"), default=_default)
_ORDER: dict[tuple[str, ...], tuple[tuple[str, ...], Any]] = {}


def _order(fields: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    """The column names sorted, and a picker of a row's values in that order: once per shape of row."""
    order = _ORDER.get(fields)
    if order is None:
        names = sorted(fields)
        pick = [fields.index(n) for n in names]
        order = _ORDER[fields] = (tuple(names), itemgetter(*pick) if len(pick) > 1 else (lambda r, i=pick[0]: (r[i],)))
    return order


def row_text(row) -> str:
    """A row (from `rows_of(table)`) in its log form: every column, canonical JSON text. The keys go
    in sorted once per shape of row, so the text is _text's without sorting 200k dicts."""
    names, pick = _order(row._fields)
    return _UNSORTED(dict(zip(names, pick(row))))


def texts(result) -> Iterator[tuple[Any, str]]:
    """(row, its row_text) for every row of a result from `rows_of`: the shape is looked up once, not
    per row (a row's `_fields` is built anew on every call)."""
    names, pick = _order(tuple(result.keys()))
    for row in result:
        yield row, _UNSORTED(dict(zip(names, pick(row))))


def state_of(row) -> dict[str, Any]:
    return json.loads(row_text(row))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entries_digest(entries: Iterable[tuple[str, int, str | None]]) -> str:
    """What a "spara rader" event's hash covers: its entries (table, row id, digest), in order."""
    h = hashlib.sha256()
    for tbl, row_id, digest in entries:
        h.update(f"{tbl}\t{row_id}\t{digest or '-'}\n".encode())
    return h.hexdigest()


# --- what a transaction touched ----------------------------------------------------------------

def _touched(s: Session) -> dict[str, set[int]]:
    return s.info.setdefault("ik_touched", defaultdict(set))


@event.listens_for(Session, "after_flush")
def _track(session: Session, _ctx) -> None:
    names = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        if table is None or table.name in NOT_COVERED:
            continue
        if names is None:
            names = _touched(session)
        key = GROUPED.get(table.name)
        value = getattr(obj, key or "id", None)
        if value is not None:
            names[table.name].add(value)


def touch(s: Session, model, ids: Iterable[int]) -> None:
    """Rows a Core statement changed, by id (for a grouped table: the group's key)."""
    _touched(s)[getattr(model, "__table__", model).name].update(ids)


def note_insert(s: Session, model) -> None:
    """Before a bulk insert: every row above the table's highest id now is this transaction's."""
    marks = s.info.setdefault("ik_marks", {})
    table = model.__table__
    if table.name not in marks and table.name not in NOT_COVERED:
        marks[table.name] = s.scalar(select(func.coalesce(func.max(table.c.id), 0)))


def pending(s: Session) -> bool:
    return bool(s.info.get("ik_touched") or s.info.get("ik_marks"))


# --- sealing -----------------------------------------------------------------------------------

def _chunks(ids: list[int], n: int = 900) -> Iterator[list[int]]:
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def _group_entries(s: Session, table: Table, key: str, groups: list[int]) -> list[dict]:
    col = table.c[key]
    out = []
    for chunk in _chunks(groups):
        found: dict[int, list[str]] = defaultdict(list)
        result = s.execute(rows_of(table).where(one_of(s, col, chunk)).order_by(col, table.c.id))
        at = list(result.keys()).index(key)
        for row, text in texts(result):
            found[row[at]].append(_sha(text))
        for g in chunk:
            rows = found.get(g, [])
            out.append({"tbl": table.name, "row_id": g, "digest": _group_digest(rows) if rows else None,
                        "state": _text({"rader": len(rows)}) if rows else None})
    return out


def _group_digest(digests: list[str]) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def collect(s: Session, tables: dict[str, Table] | None = None) -> list[dict]:
    """The audit_row entries for everything the transaction touched, in (table, id) order. `tables`:
    the tables as they are (a migration passes them reflected), by default the models'."""
    s.flush()
    touched: dict[str, set[int]] = s.info.pop("ik_touched", None) or {}
    marks: dict[str, int] = s.info.pop("ik_marks", None) or {}
    tables = tables or {t.name: t for t in covered_tables()}
    entries: list[dict] = []
    for name in sorted(set(touched) | set(marks)):
        table, ids, mark = tables[name], touched.get(name, set()), marks.get(name)
        if name in GROUPED:
            key = table.c[GROUPED[name]]
            above = set(s.scalars(select(key).where(table.c.id > mark).distinct())) if mark is not None else set()
            entries += _group_entries(s, table, GROUPED[name], sorted(ids | above))
            continue
        found: dict[int, str] = {}
        if mark is not None:  # the inserted rows in one read by range: no list of 100k ids to bind
            found.update((row.id, text) for row, text in texts(s.execute(rows_of(table).where(table.c.id > mark))))
        for chunk in _chunks(sorted(i for i in ids if mark is None or i <= mark)):
            result = s.execute(rows_of(table).where(one_of(s, table.c.id, chunk)))
            found.update((row.id, text) for row, text in texts(result))
        for i in sorted(found.keys() | ids):  # a touched id not found: deleted
            text = found.get(i)
            entries.append({"tbl": name, "row_id": i, "digest": _sha(text) if text is not None else None,
                            "state": text})
    return entries


def write_entries(s: Session, seq: int, entries: list[dict]) -> None:
    for e in entries:
        e["seq"] = seq
    bulk_insert(s, AuditRow, entries)  # the log is not itself covered: nothing is noted


# --- checking ----------------------------------------------------------------------------------

def check_entries(s: Session, sealed: dict[int, str], problems: list[str]) -> None:
    """Every event's entries against the digest its hash covers, and each entry's state against its
    own digest. `sealed`: seq -> the digest recorded in that "spara rader" event."""
    t = AuditRow.__table__
    current, acc, seen = None, None, set()

    def close(seq, acc):
        seen.add(seq)
        if seq not in sealed:
            problems.append(f"Radposter med händelsenummer {seq} hör inte till någon händelse som sparade rader "
                            "(de har lagts till i loggen utanför ikcheck).")
        elif acc.hexdigest() != sealed[seq]:
            problems.append(f"Händelse {seq}: raderna den sparade stämmer inte med händelsen (radposter har ändrats, "
                            "lagts till eller tagits bort i loggen).")

    for seq, tbl, row_id, digest, state in s.execute(
            select(t.c.seq, t.c.tbl, t.c.row_id, t.c.digest, t.c.state).order_by(t.c.seq, t.c.tbl, t.c.row_id)
    ).yield_per(5000):
        if seq != current:
            if current is not None:
                close(current, acc)
            current, acc = seq, hashlib.sha256()
        acc.update(f"{tbl}\t{row_id}\t{digest or '-'}\n".encode())
        if state is not None and tbl not in GROUPED and _sha(state) != digest:
            problems.append(f"Händelse {seq}: den sparade raden {tbl} {row_id} stämmer inte med sin kontrollsumma.")
    if current is not None:
        close(current, acc)
    empty = entries_digest([])
    for seq in sorted(set(sealed) - seen):
        if sealed[seq] != empty:
            problems.append(f"Händelse {seq}: raderna den sparade saknas i loggen (radposterna har tagits bort).")


def _latest(s: Session, name: str) -> Iterator[tuple[int, int, str | None]]:
    """(row id, seq, digest) of each row's last entry, in row id order."""
    t = AuditRow.__table__
    last = None
    for row_id, seq, digest in s.execute(select(t.c.row_id, t.c.seq, t.c.digest).where(t.c.tbl == name)
                                         .order_by(t.c.row_id, t.c.seq)).yield_per(5000):
        if last is not None and last[0] != row_id:
            yield last
        last = (row_id, seq, digest)
    if last is not None:
        yield last


def _actual(s: Session, table: Table) -> Iterator[tuple[int, str, Any]]:
    """(row id, digest, row) of every row, in id order; for a grouped table one per group."""
    key = GROUPED.get(table.name)
    if key is None:
        for row, text in texts(s.execute(rows_of(table).order_by(table.c.id)).yield_per(2000)):
            yield row.id, _sha(text), row
        return
    col = table.c[key]
    group, digests = None, []
    result = s.execute(rows_of(table).order_by(col, table.c.id)).yield_per(2000)
    at = list(result.keys()).index(key)
    for row, text in texts(result):
        g = row[at]
        if g != group and digests:
            yield group, _group_digest(digests), len(digests)
            digests = []
        group = g
        digests.append(_sha(text))
    if digests:
        yield group, _group_digest(digests), len(digests)


def _parsed(text: str | None) -> dict:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _label(name: str, row_id: int, state: dict | None) -> str:
    what, state = ENTITY_SV.get(name, name), state or {}
    if state.get("code"):
        return f"{what} {state['code']} (id {row_id})"
    hints = [f"{sv} {state[k]}" for k, sv in (("year", "år"), ("version", "version"), ("period", "period"))
             if state.get(k) is not None]
    return f"{what} {row_id}" + (f" ({', '.join(hints)})" if hints else "")


def _value(v: Any) -> str:
    if v is None:
        return "tomt"
    if isinstance(v, str):
        return f"”{v[:60]}”"
    if isinstance(v, bool):
        return "ja" if v else "nej"
    return str(v)[:60]


def _fields(before: dict, after: dict) -> str:
    keys = [k for k in after if before.get(k) != after.get(k)] + [k for k in before if k not in after]
    return "; ".join(f"{FIELD_SV.get(k, k)} {_value(before.get(k))} → {_value(after.get(k))}" for k in keys[:6])


def check_data(s: Session, problems: list[str], limit: int = 10_000) -> int:
    """Every audited row against its last entry: edited, deleted or added outside ikcheck. Returns how
    many rows were checked."""
    t = AuditRow.__table__
    checked = 0
    for table in covered_tables():
        name = table.name
        expected = _latest(s, name)
        actual = _actual(s, table)
        e, a = next(expected, None), next(actual, None)
        while e is not None or a is not None:
            if len(problems) >= limit:
                return checked
            if a is None or (e is not None and e[0] < a[0]):
                if e[2] is not None:  # the log says it exists; it is gone
                    state = _parsed(s.scalar(select(t.c.state).where(t.c.tbl == name, t.c.row_id == e[0],
                                                                     t.c.seq == e[1])))
                    problems.append(f"{_label(name, e[0], state)} har tagits bort utanför ikcheck "
                                    f"(senast sparad i händelse {e[1]}).")
                e = next(expected, None)
                continue
            checked += 1
            if e is None or a[0] < e[0]:
                state = state_of(a[2]) if name not in GROUPED else None
                problems.append(f"{_label(name, a[0], state)} har lagts till utanför ikcheck "
                                "(ingen händelse i granskningsloggen har sparat den).")
                a = next(actual, None)
                continue
            row_id, seq, digest = e
            if digest is None:
                state = state_of(a[2]) if name not in GROUPED else None
                problems.append(f"{_label(name, row_id, state)} finns, men loggen säger att den togs bort "
                                f"i händelse {seq}.")
            elif a[1] != digest:
                if name in GROUPED:
                    logged = _parsed(s.scalar(select(t.c.state).where(t.c.tbl == name, t.c.row_id == row_id,
                                                                      t.c.seq == seq)))
                    problems.append(f"{_label(name, row_id, None)} har ändrats utanför ikcheck ({a[2]} rader nu, "
                                    f"{(logged or {}).get('rader')} när de sparades i händelse {seq}).")
                else:
                    logged = _parsed(s.scalar(select(t.c.state).where(t.c.tbl == name, t.c.row_id == row_id,
                                                                      t.c.seq == seq)))
                    now = state_of(a[2])
                    problems.append(f"{_label(name, row_id, now)} har ändrats utanför ikcheck: "
                                    f"{_fields(logged or {}, now)} (senast sparad i händelse {seq}).")
            e, a = next(expected, None), next(actual, None)
    return checked


def cover_again(bind, names: list[str]) -> None:
    """For a migration that adds columns to covered tables: every row's state changed (its new columns
    are empty), so put the rows under the log again with one "spara rader" event, or `audit verify`
    would report each as changed outside ikcheck. Nothing on a database with no events yet."""
    from sqlalchemy import MetaData

    from ikcheck.store import audit

    meta = MetaData()
    meta.reflect(bind, only=[*names, "audit_event"])
    tables = {n: meta.tables[n] for n in names}
    with Session(bind=bind) as s:
        if not s.scalar(select(func.count()).select_from(meta.tables["audit_event"])):
            return
        for table in tables.values():
            touch(s, table, s.scalars(select(table.c.id)))
        audit.finish(s, "ikcheck (uppgradering)", tables=tables)
        s.info.clear()
        s.flush()
