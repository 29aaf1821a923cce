"""The 26 ways someone with write access to the database might alter it behind ikcheck's back, each
tried on a copy of the demo database: `audit verify` detects every one and names what changed, with
the demo's signing key or an anchor where the attack needs one (docs/threat-model.md)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text

from ikcheck import anchor, auditlog, demo
from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.store import audit
from ikcheck.store.db import dispose_all
from ikcheck.store.models import AuditEvent
from tests.conftest import copy_of, fresh_database, make_settings


@pytest.fixture(scope="module")
def demo_db(_template, tmp_path_factory):
    """The demo's whole cycle once per backend; each test works on its own copy."""
    directory = tmp_path_factory.mktemp("tamper")
    (directory / "db").mkdir()
    with fresh_database(_template, directory / "db") as url:
        demo.run_demo(load_settings(None, "testare"), directory / "demo", database=url)
        dispose_all()
        yield url, directory / "demo"


@pytest.fixture
def victim(demo_db, tmp_path):
    """(app on a copy of the demo database, the demo's directory, its public key)."""
    url, directory = demo_db
    with copy_of(url, tmp_path) as copy:
        key = directory / "nycklar" / "ikcheck-signering.pub"
        # ikcheck itself runs with the key (on the server); the attacker, in the database, has none
        yield App(make_settings(copy, signing_key=directory / "nycklar" / "ikcheck-signering.key")), directory, key


def sql(app: App, *statements: str, **params) -> None:
    """The attacker: plain SQL, in one transaction, past every service."""
    with app.db.engine.begin() as c:
        for st in statements:
            c.execute(text(st), params)


def one(app: App, query: str, **params):
    with app.db.engine.connect() as c:
        return c.execute(text(query), params).first()


def unkeyed(app: App) -> App:
    """The same database seen by someone with neither the key nor an anchor."""
    return App(make_settings(app.settings.database_url))


def problems(app: App, **kw) -> list[str]:
    """What verify finds with only what is given (a public key, anchors), not the server's own key."""
    result = auditlog.verify(unkeyed(app), **kw)
    assert not result.ok, "verify found nothing"
    return result.problems


def has(found: list[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in found)


def last_seq(app: App) -> int:
    return one(app, "SELECT max(seq) FROM audit_event")[0]


def rechain(app: App, start: int) -> None:
    """Recompute every hash from event `start` on and move the head, as someone who knows the scheme
    would (without the signing key, which is not in the database)."""
    t = AuditEvent.__table__
    with app.db.engine.begin() as c:
        prev = c.execute(select(t.c.hash).where(t.c.seq == start - 1)).scalar() or audit.GENESIS
        for ev in c.execute(select(t).where(t.c.seq >= start).order_by(t.c.seq)).all():
            h = audit.event_hash(ev.seq, ev.org_id, ev.at, ev.actor, ev.action, ev.entity, ev.entity_id,
                                 ev.before, ev.after, prev)
            c.execute(t.update().where(t.c.seq == ev.seq).values(prev_hash=prev, hash=h))
            prev, last = h, ev.seq
        c.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last, "h": prev})


def test_the_demo_database_verifies_with_its_key_and_its_documents(victim):
    app, directory, key = victim
    docs = [directory / "planer" / "plan-SN-2025.pdf", directory / "rapporter" / "ks-sammanstallning-2025.pdf",
            directory / "kvitto-granskningslogg.json"]
    result = auditlog.verify(app, anchors=docs, public_key=key)
    assert result.ok, result.problems
    assert result.anchors == 3 and result.rows > 500
    assert any("signerat med nyckel" in n for n in result.notes)


# --- data edited, the log untouched ----------------------------------------------------------

def test_01_risk_assessment_scores(victim):
    app = victim[0]
    rid = one(app, "SELECT max(id) FROM risk_assessment")[0]
    sql(app, "UPDATE risk_assessment SET likelihood = 1, score = 1, level = 'låg' WHERE id = :i", i=rid)
    assert has(problems(app), f"Riskbedömningen {rid}", "har ändrats utanför ikcheck", "sannolikhet", "riskvärde")


def _a_result(app: App):
    return one(app, "SELECT r.id, r.deviations FROM control_result r WHERE r.is_current AND r.examined > 0 "
                    "AND r.assessment = 'inga avvikelser' ORDER BY r.id")


def test_02_control_result_deviations_and_assessment(victim):
    app = victim[0]
    rid, _dev = _a_result(app)
    sql(app, "UPDATE control_result SET deviations = 0, assessment = 'väsentliga brister' WHERE id = :i", i=rid)
    assert has(problems(app), f"Kontrollresultatet {rid}", "avvikelser", "bedömning ”inga avvikelser” → ”väsentliga brister”")


def _decided_point(app: App):
    return one(app, "SELECT p.id, p.code FROM control_point p JOIN control_plan c ON c.id = p.plan_id "
                    "WHERE c.status = 'decided' ORDER BY p.id")


def test_03_decided_kontrollpunkt_title_and_sample(victim):
    app = victim[0]
    pid, code = _decided_point(app)
    sql(app, "UPDATE control_point SET title = 'Något lättare', sample_size = 5 WHERE id = :i", i=pid)
    found = problems(app)
    assert has(found, f"Kontrollpunkten {code} (id {pid})", "omfattning", "→ 5", "rubrik")
    assert has(found, "innehållet stämmer inte med det som beslutades")


def test_04_decision_paragraph_and_date(victim):
    app = victim[0]
    plan = one(app, "SELECT id FROM control_plan WHERE status = 'decided' ORDER BY id")[0]
    sql(app, "UPDATE control_plan SET decision_paragraph = '§ 1', decision_date = '2024-12-30' WHERE id = :i",
        i=plan)
    assert has(problems(app), f"Planen {plan} (år 2025, version 1)", "paragraf", "→ ”§ 1”", "beslutsdatum")


def test_05_decided_line_deleted_with_its_results(victim):
    app = victim[0]
    pid, code = one(app, "SELECT p.id, p.code FROM control_point p JOIN control_plan c ON c.id = p.plan_id "
                         "WHERE c.status = 'decided' AND EXISTS (SELECT 1 FROM control_result r "
                         "WHERE r.control_point_id = p.id) AND NOT EXISTS (SELECT 1 FROM action a JOIN "
                         "control_result r ON r.id = a.result_id WHERE r.control_point_id = p.id) ORDER BY p.id")
    sql(app, "DELETE FROM control_result WHERE control_point_id = :i", "DELETE FROM control_point WHERE id = :i",
        i=pid)
    found = problems(app)
    assert has(found, f"Kontrollpunkten {code} (id {pid}) har tagits bort utanför ikcheck")
    assert has(found, "Kontrollresultatet", "har tagits bort utanför ikcheck")


def test_06_result_edited_and_report_hash_zeroed(victim):
    app = victim[0]
    rid, _dev = _a_result(app)
    rec = one(app, "SELECT id FROM report_record ORDER BY id")[0]
    sql(app, "UPDATE control_result SET deviations = 0, assessment = 'väsentliga brister' WHERE id = :i",
        f"UPDATE report_record SET data_hash = '{'0' * 64}' WHERE id = {rec}", i=rid)
    found = problems(app)
    assert has(found, f"Kontrollresultatet {rid}") and has(found, f"Rapportposten {rec}", "datahash")


def test_07_result_edited_and_report_hash_set_to_the_live_one(victim):
    from ikcheck.reporting import datasets
    from ikcheck.store.models import Organisation, ReportRecord, Unit

    app = victim[0]
    rid, _dev = _a_result(app)
    sql(app, "UPDATE control_result SET deviations = 0, assessment = 'väsentliga brister' WHERE id = :i", i=rid)
    with app.session() as s:
        rec = s.scalars(select(ReportRecord).order_by(ReportRecord.id)).first()
        unit, org = s.get(Unit, rec.unit_id), s.get(Organisation, rec.org_id)
        live = datasets.unit_report(app, s, org, unit, rec.year, rec.kind, on=rec.submitted_at)
        rec_id, live_hash = rec.id, live["provenance"]["data_hash"]
    sql(app, "UPDATE report_record SET data_hash = :h WHERE id = :i", h=live_hash, i=rec_id)
    found = problems(app)
    assert has(found, f"Kontrollresultatet {rid}") and has(found, f"Rapportposten {rec_id}", "datahash")


def test_08_open_action_set_to_klar(victim):
    app = victim[0]
    aid, code = one(app, "SELECT id, code FROM action WHERE status <> 'klar' ORDER BY id")
    sql(app, "UPDATE action SET status = 'klar', closed_on = '2025-06-01' WHERE id = :i", i=aid)
    assert has(problems(app), f"Åtgärden {code} (id {aid})", "status", "→ ”klar”")


# --- the log itself --------------------------------------------------------------------------

def _middle(app: App) -> int:
    return last_seq(app) // 2


def test_09_event_after_state_edited(victim):
    app = victim[0]
    seq = one(app, "SELECT min(seq) FROM audit_event WHERE action = 'beslut'")[0]
    after = json.dumps({"status": "decided", "decision_paragraph": "§ 1"})
    sql(app, "UPDATE audit_event SET after = :a WHERE seq = :s", a=after, s=seq)
    assert has(problems(app), f"Händelse {seq} (beslut control_plan", "har ändrats")


def test_10_event_actor_changed(victim):
    app = victim[0]
    seq = _middle(app)
    sql(app, "UPDATE audit_event SET actor = 'någon annan' WHERE seq = :s", s=seq)
    assert has(problems(app), f"Händelse {seq} ", "har ändrats")


def test_11_event_time_moved_a_day(victim):
    app = victim[0]
    seq = _middle(app)
    at = one(app, "SELECT at FROM audit_event WHERE seq = :s", s=seq)[0]
    import datetime as dt
    moved = (at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)) - dt.timedelta(days=1)
    sql(app, "UPDATE audit_event SET at = :t WHERE seq = :s", t=moved, s=seq)
    assert has(problems(app), f"Händelse {seq} ", "har ändrats")


def test_12_newest_event_deleted_head_untouched(victim):
    app = victim[0]
    last = last_seq(app)
    sql(app, "DELETE FROM audit_event WHERE seq = :s", s=last)
    assert has(problems(app), f"Händelse {last}", "saknas")


def test_13_middle_event_deleted(victim):
    app = victim[0]
    seq = _middle(app)
    sql(app, "DELETE FROM audit_event WHERE seq = :s", s=seq)
    assert has(problems(app), f"Händelse {seq} saknas")


def test_14_two_sequence_numbers_swapped(victim):
    app = victim[0]
    seq = _middle(app)
    sql(app, "UPDATE audit_event SET seq = -1 WHERE seq = :a", "UPDATE audit_event SET seq = :a WHERE seq = :b",
        "UPDATE audit_event SET seq = :b WHERE seq = -1", a=seq, b=seq + 1)
    assert has(problems(app), f"Händelse {seq}")


def test_15_two_events_contents_swapped(victim):
    app = victim[0]
    a = _middle(app)
    cols = "actor, action, entity, entity_id, before, after"
    with app.db.engine.begin() as c:
        ra = c.execute(text(f"SELECT {cols} FROM audit_event WHERE seq = :s"), {"s": a}).one()
        rb = c.execute(text(f"SELECT {cols} FROM audit_event WHERE seq = :s"), {"s": a + 2}).one()
        for seq, r in ((a, rb), (a + 2, ra)):
            c.execute(text("UPDATE audit_event SET actor = :actor, action = :action, entity = :entity, "
                           "entity_id = :entity_id, before = :before, after = :after WHERE seq = :seq"),
                      {**{k: v for k, v in r._mapping.items()}, "seq": seq,
                       "before": None if r.before is None else json.dumps(r.before),
                       "after": None if r.after is None else json.dumps(r.after)})
    found = problems(app)
    assert has(found, f"Händelse {a} ") and has(found, f"Händelse {a + 2} ")


def test_16_forged_event_appended_with_made_up_hash(victim):
    app = victim[0]
    last = last_seq(app)
    prev = one(app, "SELECT hash FROM audit_event WHERE seq = :s", s=last)[0]
    sql(app, "INSERT INTO audit_event (seq, at, actor, action, entity, entity_id, prev_hash, hash) VALUES "
             "(:s, '2026-03-30 10:00:00', 'förfalskare', 'beslut', 'control_plan', '1', :p, :h)",
        s=last + 1, p=prev, h="f" * 64)
    found = problems(app)
    assert has(found, f"Händelse {last + 1}")


def test_17_forged_event_inserted_and_later_ones_renumbered(victim):
    app = victim[0]
    k = _middle(app)
    sql(app, "UPDATE audit_event SET seq = seq + 100000 WHERE seq >= :k",
        "UPDATE audit_event SET seq = seq - 99999 WHERE seq >= 100000",
        "INSERT INTO audit_event (seq, at, actor, action, entity, entity_id, prev_hash, hash) SELECT :k, at, "
        "'förfalskare', 'beslut', 'control_plan', '1', hash, hash FROM audit_event WHERE seq = :k - 1",
        "UPDATE audit_head SET seq = seq + 1", k=k)
    assert has(problems(app), f"Händelse {k}")


def test_18_only_an_events_stored_hash_changed(victim):
    app = victim[0]
    seq = _middle(app)
    sql(app, "UPDATE audit_event SET hash = :h WHERE seq = :s", h="0" * 64, s=seq)
    assert has(problems(app), f"Händelse {seq} ", "har ändrats")


def test_19_only_the_heads_hash_changed(victim):
    app = victim[0]
    sql(app, "UPDATE audit_head SET hash = :h", h="0" * 64)
    assert has(problems(app), "stämmer inte med loggens huvud")


def test_20_head_row_deleted(victim):
    app = victim[0]
    sql(app, "DELETE FROM audit_head")
    assert has(problems(app), "Loggens huvud saknas")


def test_21_every_event_and_the_head_deleted(victim, cli):
    app = victim[0]
    sql(app, "DELETE FROM audit_row", "DELETE FROM audit_event", "DELETE FROM audit_head")
    assert has(problems(app), "Granskningsloggen är tom, men databasen innehåller")
    r = cli("audit", "verify", db=app.settings.database_url)
    assert r.code == 1 and "Granskningsloggen är tom" in r.err and "… och" in r.err  # capped at 50 lines


# --- attacks that need the key or an anchor --------------------------------------------------

def _cut_tail(app: App, to: int) -> None:
    """Delete every event after `to` with the rows they sealed, and move the head back to `to`."""
    sql(app, "DELETE FROM audit_row WHERE seq > :t", "DELETE FROM audit_event WHERE seq > :t",
        "UPDATE audit_head SET seq = :t, hash = (SELECT hash FROM audit_event WHERE seq = :t)", t=to)


def test_22_newest_event_deleted_and_head_moved_back(victim):
    app, directory, key = victim
    receipt, _ = anchor.receipt(app, directory.parent / f"kvitto-{uuid.uuid4().hex[:6]}.json")
    last = last_seq(app)
    _cut_tail(app, last - 1)
    assert has(problems(app, public_key=key), "ingen giltig signatur")
    assert has(problems(app, anchors=[receipt]), f"Händelse {last}", "finns inte i loggen")


def test_23_tail_cut_last_submissions_and_their_records(victim, tmp_path):
    from ikcheck.calendar import clock_at
    from ikcheck.reporting import reports

    app, directory, key = victim
    before = last_seq(app)
    text_file = tmp_path / "text.txt"
    with clock_at(demo.at("2026-03-20")):
        for unit in ("SN", "BUN"):  # resubmitted with the förvaltning's own text: new versions, at the tail
            text_file.write_text(f"Förvaltningens bedömning för {unit}.", encoding="utf-8")
            assert not reports.submit(app, unit, 2025, "ar", out_dir=tmp_path, date="2026-03-20",
                                      own_text=text_file)["unchanged"]
    receipt, _ = anchor.receipt(app, tmp_path / "kvitto.json")  # the revisor's, after the submissions
    with app.db.engine.connect() as c:
        recs = [r for (r,) in c.execute(text(
            "SELECT CAST(entity_id AS INTEGER) FROM audit_event WHERE action = 'lämna till KS' AND seq > :s"),
            {"s": before})]
    assert len(recs) == 2
    sql(app, *[f"DELETE FROM report_record WHERE id = {r}" for r in recs])
    _cut_tail(app, before)
    plain = auditlog.verify(unkeyed(app))
    assert plain.ok, plain.problems  # consistent: only the key or an anchor can tell
    assert has(problems(app, public_key=key), "ingen giltig signatur")
    assert has(problems(app, anchors=[receipt]), "finns inte i loggen", "kortats")


def test_24_import_event_edited_and_the_chain_recomputed(victim):
    app, directory, key = victim
    seq = one(app, "SELECT min(seq) FROM audit_event WHERE action = 'importera resultat'")[0]
    with app.db.engine.begin() as c:
        after = c.execute(text("SELECT after FROM audit_event WHERE seq = :s"), {"s": seq}).scalar()
        after = json.loads(after) if isinstance(after, str) else after
        after["reason"] = "förfalskat"
        c.execute(text("UPDATE audit_event SET after = :a WHERE seq = :s"), {"a": json.dumps(after), "s": seq})
    rechain(app, seq)
    assert auditlog.verify(unkeyed(app)).ok  # a consistent rewrite ...
    assert has(problems(app, public_key=key), "ingen giltig signatur")
    # ... and every document made after the import anchors the log against it
    report = directory / "rapporter" / "ks-sammanstallning-2025.pdf"
    assert has(problems(app, anchors=[report]), "har inte den kontrollsumma som dokumentet", "skrivits om")


def test_25_forged_event_appended_with_correct_hash_and_head(victim):
    app, _directory, key = victim
    last = last_seq(app)
    sql(app, "INSERT INTO audit_event (seq, org_id, org_seq, at, actor, action, entity, entity_id, prev_hash, hash) "
             "SELECT :s, org_id, org_seq + 1, at, 'förfalskare', 'beslut', 'control_plan', '1', hash, hash "
             "FROM audit_event WHERE seq = :p", s=last + 1, p=last)
    rechain(app, last + 1)
    assert has(problems(app, public_key=key), "ingen giltig signatur")


def test_26_middle_event_deleted_renumbered_and_rechained(victim):
    app, directory, key = victim
    seq = one(app, "SELECT min(seq) FROM audit_event WHERE action = 'importera resultat'")[0]
    sql(app, "DELETE FROM audit_event WHERE seq = :k", "UPDATE audit_event SET seq = seq + 100000 WHERE seq > :k",
        "UPDATE audit_event SET seq = seq - 100001 WHERE seq > 100000",
        "UPDATE audit_row SET seq = seq - 1 WHERE seq > :k",
        "UPDATE audit_event SET org_seq = org_seq - 1 WHERE seq >= :k AND org_id IS NOT NULL", k=seq)
    rechain(app, seq)
    assert has(problems(app, public_key=key), "ingen giltig signatur")
    report = directory / "rapporter" / "halvarsrapport-SN-2025-v1.pdf"
    assert has(problems(app, anchors=[report]), "har inte den kontrollsumma som dokumentet")


def test_a_forged_receipt_is_refused(victim, tmp_path):
    app, directory, key = victim
    body = json.loads((directory / "kvitto-granskningslogg.json").read_text(encoding="utf-8"))
    body["händelse"] -= 1
    forged = tmp_path / "kvitto.json"
    forged.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    from ikcheck.errors import UserError
    with pytest.raises(UserError, match="ingen giltig signatur"):
        auditlog.verify(app, anchors=[forged], public_key=key)


def test_a_printed_kontrollsumma_is_an_anchor(victim, cli):
    app, directory, key = victim
    seq, h = one(app, "SELECT seq, hash FROM audit_event WHERE action = 'beslut' ORDER BY seq")
    r = cli("audit", "verify", "--anchor", f"{seq}:{h[:16]}", "--public-key", key, db=app.settings.database_url)
    assert r.code == 0 and f"Händelse {seq} har samma kontrollsumma" in r.out, r.text
    sql(app, "UPDATE audit_event SET actor = 'x' WHERE seq = :s", s=seq)
    rechain(app, seq)
    r = cli("audit", "verify", "--anchor", f"{seq}:{h[:16]}", db=app.settings.database_url)
    assert r.code == 1 and f"Händelse {seq} har inte den kontrollsumma" in r.err


def test_an_unusable_signing_key_is_named_in_swedish(victim, cli, tmp_path, monkeypatch):
    """What IT may put in IKCHECK_SIGNING_KEY by mistake: each gets its own answer, no Python names."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    app, directory, _key = victim
    locked = tmp_path / "låst.key"
    locked.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hemligt")))
    garbage = tmp_path / "skräp.key"
    garbage.write_text("inte en nyckel\n", encoding="utf-8")
    cases = [(locked, "är lösenordsskyddad"), (garbage, "filen är ingen Ed25519-nyckel i PEM-format"),
             (tmp_path, "är en katalog, inte en nyckelfil"), (tmp_path / "saknas.key", "finns inte")]
    for path, words in cases:
        monkeypatch.setenv("IKCHECK_SIGNING_KEY", str(path))
        r = cli("audit", "anchor", "--out", tmp_path / "kvitto.json", db=app.settings.database_url)
        assert r.code != 0 and f"Signeringsnyckeln {path}" in r.err and words in r.err, r.text
        assert "Error" not in r.text and "Traceback" not in r.text, r.text
