"""The audit log proves nothing was altered: tampering with plain SQL is detected and named."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ikcheck import auditlog, organisation, register


@pytest.fixture
def populated(app, demo_org_file):
    organisation.init_org(app, demo_org_file)
    register.add_risk(app, "SN", "Testrisk", category="legal")
    register.edit_risk(app, "SN-R001", {"owner": "Socialchef"})
    return app


def sql(app, statement: str) -> None:
    with app.db.engine.begin() as conn:
        conn.execute(text(statement))


def test_intact_log_verifies(populated, cli):
    result = auditlog.verify(populated)
    assert result.ok, result.problems
    assert result.events > 20
    r = cli("audit", "verify")
    assert r.code == 0 and "obruten" in r.out


def test_edited_event_is_named(populated, cli):
    sql(populated, "UPDATE audit_event SET actor = 'någon annan' WHERE seq = 5")
    result = auditlog.verify(populated)
    assert not result.ok
    assert any(p.startswith("Händelse 5 ") and "har ändrats" in p for p in result.problems)
    r = cli("audit", "verify")
    assert r.code == 1 and "Händelse 5" in r.err


def test_edited_payload_is_named(populated):
    sql(populated, "UPDATE audit_event SET after = '{\"owner\": \"x\"}' WHERE entity = 'risk' "
                   "AND action = 'ändra'")
    result = auditlog.verify(populated)
    assert any("ändra risk SN-R001" in p for p in result.problems)


def test_deleted_event_is_named(populated):
    sql(populated, "DELETE FROM audit_event WHERE seq = 7")
    result = auditlog.verify(populated)
    assert any("Händelse 7 saknas" in p for p in result.problems)


def test_deleting_the_newest_events_is_detected(populated):
    with populated.db.engine.connect() as c:
        last = c.execute(text("SELECT max(seq) FROM audit_event")).scalar()
    sql(populated, f"DELETE FROM audit_event WHERE seq >= {last - 1}")
    result = auditlog.verify(populated)
    assert any(f"Händelse {last - 1}–{last} saknas" in p for p in result.problems)


def test_inserted_event_is_detected(populated):
    with populated.db.engine.connect() as c:
        row = c.execute(text("SELECT max(seq), max(hash) FROM audit_event")).one()
    sql(populated, "INSERT INTO audit_event (seq, at, actor, action, entity, prev_hash, hash) "
                   f"VALUES ({row[0] + 1}, '2026-01-01 00:00:00', 'x', 'x', 'x', '{row[1]}', 'abc')")
    problems = auditlog.verify(populated).problems
    assert any(f"Händelse {row[0] + 1}" in p for p in problems)


def test_rehashed_edit_breaks_the_next_link(populated):
    """Someone who edits an event and recomputes its hash still breaks the chain at the next one."""
    from ikcheck.store import audit
    from ikcheck.store.models import AuditEvent

    with populated.session() as s:
        ev = s.get(AuditEvent, 4)
        ev.actor = "förfalskare"
        ev.hash = audit.event_hash(ev.seq, ev.org_id, ev.at, ev.actor, ev.action, ev.entity,
                                   ev.entity_id, ev.before, ev.after, ev.prev_hash)
    problems = auditlog.verify(populated).problems
    assert any(p.startswith("Händelse 5: länken") for p in problems)


def test_log_lists_before_and_after(populated, cli):
    r = cli("audit", "log", "--entity", "risk", "--id", "SN-R001")
    assert r.code == 0
    assert "ansvarig: – → ”Socialchef”" in r.out and "None" not in r.out  # in Swedish, no Python values
    assert "testare" in r.out
    # each change is followed by the event that put its rows under the log, saying which
    r = cli("audit", "log", "--limit", "2")
    assert "spara rader" in r.out and "1 rad i loggen: risk 1" in r.out, r.out


def test_every_table_under_the_log_has_a_swedish_word():
    """A "spara rader" line names its tables as a revisor says them (åtgärd, statusändring), and
    `--entity` takes the same words."""
    from ikcheck.store import coverage

    tables = {t.name for t in coverage.covered_tables()}
    assert tables - set(auditlog.WORD_OF) == set()
    assert all(auditlog.entity_of(auditlog.WORD_OF[t]) == t for t in tables if auditlog.WORD_OF[t] in auditlog.ENTITY_WORDS)


def test_the_log_is_asked_for_in_swedish_words_and_answers_in_them(populated, cli):
    """`--entity risk` or `--entity plan`, as a person says it; a word that names nothing is an error
    with the words to choose from, never an empty list that looks like "no changes"."""
    assert cli("audit", "log", "--entity", "kontrollpunkt").out == cli("audit", "log", "--entity", "control_point").out
    r = cli("audit", "log", "--entity", "Risk", "--id", "SN-R001")
    assert r.code == 0 and "ansvarig: – → ”Socialchef”" in r.out
    r = cli("audit", "log", "--entity", "risker")
    assert r.code == 2 and "'risker' är ingen typ av post i loggen" in r.err
    assert "kontrollpunkt, resultat, åtgärd" in r.err
    register.retire_risk(populated, "SN-R001", reason="Verksamheten har upphört")
    r = cli("audit", "log", "--entity", "risk", "--id", "SN-R001", "--limit", "1")
    assert "status: ”aktiv” → ”avslutad”" in r.out, r.out  # the codes in Swedish, as everywhere else


def test_the_log_read_by_day_in_swedish_time_starts_at_swedish_midnight(populated):
    """New Year's Eve, 23.30 UTC, is half past midnight on New Year's Day in Sweden: the web's list,
    which shows Swedish time, finds it from 1 January; `audit log`, which shows UTC, from 31 December."""
    import datetime as dt

    from ikcheck.calendar import STOCKHOLM, clock_at

    with clock_at(dt.datetime(2025, 12, 31, 23, 30)):
        register.edit_risk(populated, "SN-R001", {"owner": "Förvaltningschef"})
    day = dt.date(2026, 1, 1)
    swedish = auditlog.event_rows(populated, since=day, until=day, seals=False, tz=STOCKHOLM)
    assert [(e["entity_id"], e["at"]) for e in swedish] == [("SN-R001", dt.datetime(2025, 12, 31, 23, 30))]
    assert auditlog.event_rows(populated, since=day, until=day, seals=False) == []
    eve = day - dt.timedelta(days=1)
    assert [e["at"] for e in auditlog.event_rows(populated, since=eve, until=eve, seals=False)] == [
        dt.datetime(2025, 12, 31, 23, 30)]


def test_a_rows_log_text_is_its_sorted_json(populated):
    """row_text and texts put the keys in sorted order themselves: the same text as sorting every
    row's dict."""
    import json

    from ikcheck.store import coverage
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                              default=coverage._default).encode
    seen = set()
    with populated.session() as s:
        for table in coverage.covered_tables():
            for row, logged in coverage.texts(s.execute(coverage.rows_of(table).limit(50))):
                assert coverage.row_text(row) == logged == encode(row._asdict()), table.name
                seen.add(table.name)
    assert {"organisation", "unit", "risk", "risk_matrix"} <= seen, seen


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(),
    st.dates(), st.datetimes(), st.decimals(allow_nan=False), st.lists(st.integers(), max_size=3)), max_size=8))
def test_the_seals_encoder_writes_what_the_standard_encoder_writes(row):
    """The seal encodes rows with the C encoder built once (coverage._UNSORTED): the text, and so
    every digest in a log written before, must be byte for byte the standard encoder's."""
    import json

    from ikcheck.store import coverage
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=coverage._default).encode
    assert coverage._UNSORTED(row) == standard(row)


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                              st.text()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4)),
                    max_leaves=12))
def test_json_columns_store_what_json_dumps_writes(value):
    """JSON columns (a conclusion's attributes and matched facts) are written by the C encoder built
    once (store.jsontext): the stored text must be json.dumps's, byte for byte, a bare string too."""
    import json

    from ikcheck.store import jsontext
    assert jsontext.dumps(value) == json.dumps(value)
    with pytest.raises(TypeError):
        jsontext.dumps({"when": object()})
