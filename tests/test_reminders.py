"""Reminders by e-mail and calendars (issue #22), against a real SMTP server (aiosmtpd on 127.0.0.1,
started here) and the demo kommun's year replayed day by day: `remind` each day from 1 January 2025
to 31 March 2026, with a kontrollansvarig changing job in September and the mail server down for a day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket
from collections import Counter

import pytest
from sqlalchemy import select

from ikcheck import accounts, ical, positions, reminders
from ikcheck.app import App
from ikcheck.calendar import period_end
from ikcheck.store.db import dispose_all
from ikcheck.store.models import Account, Action, ActionChange, ControlPoint, ControlResult, ReminderSent

from tests.conftest import copy_of, make_settings

START, END = dt.date(2025, 1, 1), dt.date(2026, 3, 31)
CHANGE = dt.date(2025, 9, 1)             # Erik Holm leaves Enhetschef barn och unga for Enhetschef hemtjänst
DOWN = dt.date(2025, 6, 16)              # the mail server is down all day
REFUSED = dt.date(2025, 12, 17)          # the server turns Lena Berg's address away; the others' mails go
OLD, NEW = "Enhetschef barn och unga", "Enhetschef hemtjänst"


class Inbox:
    """aiosmtpd's handler: every message the server accepted, as parsed e-mail."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()  # addresses the server turns away (a full mailbox)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "552 5.2.2 Brevlådan är full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, inbox: Inbox):
        from aiosmtpd.controller import Controller

        self.port = _free_port()
        self.controller = Controller(inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def _app(url: str, port: int) -> App:
    settings = make_settings(url)
    return App(dataclasses.replace(settings, smtp={"host": "127.0.0.1", "port": port, "security": "none",
                                                   "from": "Intern kontroll <ikcheck@exempelby.example>"},
                                   web={"base_url": "https://ikcheck.exempelby.example"}))


@pytest.fixture(scope="module")
def year(web_db, tmp_path_factory):
    """The demo database after the replayed year: every mail the server got, by day."""
    url, _ = web_db
    directory = tmp_path_factory.mktemp("paminnelser")
    with copy_of(url, directory) as copy:
        inbox = Inbox()
        server = Server(inbox)
        app = _app(copy, server.port)
        accounts.add_user(app, "lena", full_name="Lena Berg", email="lena.berg@exempelby.example",
                          role="kontrollansvarig", units=["SN"], org_code="exempelby")
        positions.assign(app, "lena", OLD, CHANGE.isoformat(), org_code="exempelby")
        positions.assign(app, "kontrollansvarig", NEW, CHANGE.isoformat(), org_code="exempelby")
        # Kultur- och fritidsnämndens sekreterare: its årsrapport was late on purpose in the demo
        accounts.add_user(app, "kfn-sekreterare", full_name="Maja Ek", email="maja.ek@exempelby.example",
                          role="sekreterare", units=["KFN"], org_code="exempelby")
        by_day: dict[dt.date, list] = {}
        failed = {}
        day = START
        while day <= END:
            if day == DOWN:
                server.stop()
            inbox.refuse = {"lena.berg@exempelby.example"} if day == REFUSED else set()
            before = len(inbox.messages)
            r = reminders.send(app, day, org_code="exempelby")
            if day in (DOWN, REFUSED):
                failed[day] = r.failed
            if day == DOWN:
                server = Server(inbox)
                app = _app(copy, server.port)
            by_day[day] = inbox.messages[before:]
            day += dt.timedelta(days=1)
        again = reminders.send(app, END, org_code="exempelby")  # the same day twice: nothing new
        # without --org: every kommun in the database, each its own people (Andraby's first run)
        before = len(inbox.messages)
        everyone = reminders.send(app, END)
        others = inbox.messages[before:]
        yield app, copy, by_day, failed, (again, everyone, others)
        server.stop()
        dispose_all()


def _sent(app) -> list[ReminderSent]:
    with app.session() as s:
        rows = list(s.scalars(select(ReminderSent).order_by(ReminderSent.sent_on, ReminderSent.id)))
        s.expunge_all()
    return rows


def _who(app) -> dict[int, Account]:
    with app.session() as s:
        rows = {a.id: a for a in s.scalars(select(Account))}
        s.expunge_all()
    return rows


def test_the_replayed_year_sends_one_digest_a_day_at_most_and_never_a_notice_twice(year):
    app, _url, by_day, _failed, (again, everyone, others) = year
    people = _who(app)
    assert again.sent == [] and again.digests == []
    exempelby = people[next(a.id for a in people.values() if a.username == "kontrollansvarig")].org_id
    sent = [r for r in _sent(app) if r.org_id == exempelby]
    keys = [(r.account_id, r.item, r.notice) for r in sent]
    assert len(keys) == len(set(keys))  # never twice
    for day, mails in by_day.items():
        to = [m["To"].addresses[0].addr_spec for m in mails]
        assert len(to) == len(set(to)), day  # one digest per person and day
        recorded = {r.email for r in sent if r.sent_on == day}
        assert set(to) == recorded, day  # what was recorded is what the server got
    # per person and kind: every role hears of what is theirs
    counts = Counter((people[r.account_id].role, r.kind) for r in sent)
    for role, kind in [("kontrollansvarig", "kontroll"), ("kontrollansvarig", "åtgärd"), ("controller", "kontroll"),
                       ("controller", "åtgärd"), ("sekreterare", "plan"), ("sekreterare", "rapport"),
                       ("ks", "sen enhet")]:
        assert counts[role, kind] > 0, (role, kind, counts)
    assert not {"revisor", "admin"} & {people[r.account_id].role for r in sent}
    # each kommun's people hear of their own kommun's things only (both kommuner ran the same story)
    assert all(people[r.account_id].org_id == r.org_id for r in _sent(app))
    assert everyone.sent and {m["To"].addresses[0].domain for m in others} == {"andraby.example"}
    mails = [m for ms in by_day.values() for m in ms]
    assert all(m["Subject"].startswith("Intern kontroll: ") for m in mails)
    body = mails[0].get_body().get_content()
    assert body.startswith("Hej ") and "https://ikcheck.exempelby.example/" in body


def test_a_control_is_reminded_before_its_deadline_and_weekly_after_until_it_is_reported(year):
    """SN-2025-K01 (Enhetschef barn och unga): 14 and 3 days before the halvår ends, then every week
    until the result came in; the day the server was down, the notice went the next day."""
    app, _url, by_day, failed, _again = year
    plan = reminders.schedule(app)
    people = {a.username: a for a in _who(app).values()}
    erik = people["kontrollansvarig"]
    with app.session() as s:
        cp = s.scalar(select(ControlPoint).where(ControlPoint.code == "SN-2025-K01"))
        reported = min(r.reported_at.date() for r in s.scalars(
            select(ControlResult).where(ControlResult.lineage_id == (cp.lineage_id or cp.id),
                                        ControlResult.period == "halvar")))
    due = period_end(2025, "halvar", ["halvar", "helar"])
    mine = [r for r in _sent(app) if r.account_id == erik.id and r.item == "kontroll:SN-2025-K01:halvar"]
    expected = []
    for days in sorted(plan["påminn_kontroll_dagar_före"], reverse=True):
        day = due - dt.timedelta(days=days)
        expected.append((f"före {days}", day + dt.timedelta(days=1) if day == DOWN else day))
    k, day = 0, due + dt.timedelta(days=1)
    while day < reported:
        expected.append((f"sen {k}", day))
        k, day = k + 1, day + dt.timedelta(days=plan["påminn_sen_var_dag"])
    assert [(r.notice, r.sent_on) for r in mine] == expected
    assert [d.name for d, why in failed[DOWN]] == ["Erik Holm"]
    assert re.fullmatch(r"e-postservern 127\.0\.0\.1:\d+ tar inte emot anslutningar \(Connection refused\)",
                        failed[DOWN][0][1])
    assert not any(r.sent_on == DOWN for r in _sent(app))


def _expected(due: dt.date, done: dt.date | None, before: list[int], every: int) -> list[tuple[str, dt.date]]:
    """The årshjul's schedule for one item, from the rule file's days: a notice N days before, then one
    a week while late, none from the day it was done, within the replayed year."""
    out = [(f"före {d}", due - dt.timedelta(days=d)) for d in sorted(before, reverse=True)]
    k, day = 0, due + dt.timedelta(days=1)
    while day <= END:
        out.append((f"sen {k}", day))
        k, day = k + 1, day + dt.timedelta(days=every)
    return [(n, day) for n, day in out if START <= day <= END and (done is None or day < done)]


def test_the_mails_per_person_and_kind_are_the_årshjuls_schedule(year):
    """Counted per person and kind against the schedule worked out here from the data itself (deadlines,
    period ends, when results came in and reports were submitted, who held a befattning when), not
    from what `remind` decided: the kontrollansvariga's controls, the sekreterare's plan and reports,
    and KS's late units."""
    from ikcheck.calendar import deadline
    from ikcheck.store.models import ControlPlan, Organisation, ReportRecord, Unit

    app, _url, _by_day, _failed, _again = year
    plan = reminders.schedule(app)
    every = plan["påminn_sen_var_dag"]
    people = {a.username: a for a in _who(app).values()}
    want: dict[tuple[str, str], set] = {}

    def add(user, kind, item, schedule, shifts=()):
        for notice, day in schedule:
            day = day + dt.timedelta(days=1) if day in shifts else day
            want.setdefault((user, kind), set()).add((item, notice, day))

    with app.session() as s:
        org = s.scalar(select(Organisation).where(Organisation.code == "exempelby"))
        periods = org.settings.get("periods", ["halvar", "helar"])
        units = list(s.scalars(select(Unit).where(Unit.org_id == org.id)))
        sn = next(u for u in units if u.code == "SN")
        # the kontrollansvarigas' controls: every point of SN's plan owned by the two befattningar
        points = {}
        for cp in s.scalars(select(ControlPoint).join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                            .where(ControlPlan.unit_id == sn.id, ControlPlan.year == 2025,
                                   ControlPlan.status != "draft", ControlPoint.owner.in_([OLD, NEW]))):
            points[cp.code] = cp
        for code, cp in points.items():
            for p in cp.reporting or []:
                due = period_end(2025, p, periods)
                done = min((r.reported_at.date() for r in s.scalars(select(ControlResult).where(
                    ControlResult.lineage_id == (cp.lineage_id or cp.id), ControlResult.period == p))), default=None)
                for notice, day in _expected(due, done, plan["påminn_kontroll_dagar_före"], every):
                    who = ("kontrollansvarig" if day < CHANGE else "lena") if cp.owner == OLD else (
                        "kontrollansvarig" if day >= CHANGE else None)
                    if who:
                        add(who, "kontroll", f"kontroll:{code}:{p}", [(notice, day)],
                            shifts={DOWN} | ({REFUSED} if who == "lena" else set()))
        # Socialnämndens sekreterare: the plan for 2026 and the reports of 2025
        decided = {(u.code, y): s.scalar(select(ControlPlan.decision_date).where(
            ControlPlan.unit_id == u.id, ControlPlan.year == y, ControlPlan.decision_date.is_not(None))
            .order_by(ControlPlan.decision_date)) for u in units for y in (2025, 2026)}
        submitted = {(u.code, kind): s.scalar(select(ReportRecord.submitted_at).where(
            ReportRecord.unit_id == u.id, ReportRecord.year == 2025, ReportRecord.kind == kind,
            ReportRecord.submitted_at.is_not(None)).order_by(ReportRecord.submitted_at)) for u in units
            for kind in ("halvar", "ar")}
        items = lambda u: [  # noqa: E731 - (item, kind, due, done) for one unit
            (f"plan:{u}:plan_beslut:2026", "plan", deadline(org, "plan_beslut", 2025), decided[u, 2026]),
            (f"rapport:{u}:halvar_rapport:2025", "rapport", deadline(org, "halvar_rapport", 2025), submitted[u, "halvar"]),
            (f"rapport:{u}:ar_rapport:2025", "rapport", deadline(org, "ar_rapport", 2026), submitted[u, "ar"])]
        for item, kind, due, done in items("SN"):
            add("sekreterare", kind, item, _expected(due, done, plan["påminn_beslut_dagar_före"], every), {DOWN})
        for u in units:  # KS: every unit, once it is late
            for item, _kind, due, done in items(u.code):
                add("ks", "sen enhet", "sen:" + item.split(":", 1)[1], _expected(due, done, [], every), {DOWN})
        assert all(decided[u.code, 2025] for u in units)  # no 2025 plan was late: nothing to expect of it
    sent = _sent(app)
    got: dict[tuple[str, str], set] = {}
    by_id = {a.id: a.username for a in people.values()}
    for r in sent:
        if by_id.get(r.account_id) in ("kontrollansvarig", "lena", "sekreterare", "ks") and r.kind in (
                "kontroll", "plan", "rapport", "sen enhet"):
            got.setdefault((by_id[r.account_id], r.kind), set()).add((r.item, r.notice, r.sent_on))
    counts = {k: len(v) for k, v in sorted(want.items())}
    assert {k: len(v) for k, v in sorted(got.items())} == counts
    for key in want:
        assert got.get(key) == want[key], key
    assert counts[("ks", "sen enhet")] > 100 and counts[("sekreterare", "plan")] > 10


def test_a_late_report_is_reminded_before_its_deadline_and_weekly_until_it_is_submitted(year):
    from ikcheck.calendar import deadline
    from ikcheck.store.models import Organisation, ReportRecord, Unit

    app, _url, _by_day, _failed, _again = year
    plan = reminders.schedule(app)
    maja = next(a for a in _who(app).values() if a.username == "kfn-sekreterare")
    with app.session() as s:
        org = s.scalar(select(Organisation).where(Organisation.code == "exempelby"))
        unit = s.scalar(select(Unit).where(Unit.org_id == org.id, Unit.code == "KFN"))
        due = deadline(org, "ar_rapport", 2026)
        submitted = s.scalar(select(ReportRecord.submitted_at).where(ReportRecord.unit_id == unit.id,
                                                                     ReportRecord.kind == "ar", ReportRecord.year == 2025))
    assert submitted > due  # the demo's story
    expected = [(f"före {d}", due - dt.timedelta(days=d)) for d in sorted(plan["påminn_beslut_dagar_före"], reverse=True)]
    k, day = 0, due + dt.timedelta(days=1)
    while day < submitted:
        expected.append((f"sen {k}", day))
        k, day = k + 1, day + dt.timedelta(days=plan["påminn_sen_var_dag"])
    got = [(r.notice, r.sent_on) for r in _sent(app) if r.account_id == maja.id and r.item == "rapport:KFN:ar_rapport:2025"]
    assert got == expected and len(expected) >= 4
    # said ahead of the deadline in the future, after it in the past, with how late as Att göra says it
    from ikcheck.calendar import swedish_date

    def text(on):
        digest = next(d for d in reminders.notices(app, on, "exempelby", already=set()) if d.account_id == maja.id)
        return next(x.text for x in digest.notices if x.item == "rapport:KFN:ar_rapport:2025")

    assert text(due - dt.timedelta(days=3)).endswith(f"– lämnas senast {swedish_date(due)} (om 3 dagar)")
    assert text(due + dt.timedelta(days=8)).endswith(f"– skulle ha lämnats in senast {swedish_date(due)}, 8 dagar sent")


def test_a_report_whose_data_changed_after_it_was_sent_is_reminded_once_on_the_day(web_db, tmp_path, monkeypatch):
    """As Att göra says it: the secretary is told once that a new version is due. Only on the day
    itself: the report is compared with today's data, which a day gone by did not have."""
    from ikcheck.calendar import swedish_date
    from tests.web_support import correct_a_result

    on = dt.date(2026, 6, 1)
    monkeypatch.setenv("IKCHECK_TODAY", on.isoformat())
    with copy_of(web_db[0], tmp_path) as url:
        app = App(make_settings(url))

        def told(day, already=None):
            return {(d.account_id, x.item, x.notice): x for d in reminders.notices(app, day, "exempelby", already=already)
                    if d.role == "sekreterare" for x in d.notices if x.item.startswith("ny version:")}

        assert told(on) == {}  # the demo's reports still hold (KFN's changed halvårsrapport is followed by its årsrapport)
        correct_a_result(app, "SN", 2025, "helar")
        sofia = next(a for a in _who(app).values() if a.username == "sekreterare")
        with app.session() as s:
            from ikcheck.store.models import ReportRecord, Unit

            sent = s.scalar(select(ReportRecord.submitted_at).join(Unit, Unit.id == ReportRecord.unit_id).where(
                Unit.code == "SN", ReportRecord.kind == "ar", ReportRecord.year == 2025))
        now = told(on)
        assert list(now) == [(sofia.id, "ny version:SN:ar:2025:1", "ändrad")]
        assert now[(sofia.id, "ny version:SN:ar:2025:1", "ändrad")].text == (
            f"Socialnämnden: Årsrapport 2025, version 1 inlämnad {swedish_date(sent)} – underlaget har ändrats "
            "sedan dess; en ny version behöver lämnas in")
        assert told(on, already=set(now)) == {}  # once
        assert told(on - dt.timedelta(days=1)) == {}  # a day gone by is not replayed with today's data
        dispose_all()


def test_one_mail_refused_does_not_stop_the_others_and_goes_the_next_day(year):
    app, _url, by_day, failed, _again = year
    assert [d.name for d, why in failed[REFUSED]] == ["Lena Berg"]
    assert failed[REFUSED][0][1].endswith("tog inte emot mottagaren (svar 552 5.2.2 Brevlådan är full)")
    others = {m["To"].addresses[0].addr_spec for m in by_day[REFUSED]}
    assert others and "lena.berg@exempelby.example" not in others
    lena = next(a for a in _who(app).values() if a.username == "lena")
    hers = [r for r in _sent(app) if r.account_id == lena.id]
    assert not [r for r in hers if r.sent_on == REFUSED]
    refused = {(x.item, x.notice) for x in failed[REFUSED][0][0].notices}
    assert refused and refused <= {(r.item, r.notice) for r in hers if r.sent_on == REFUSED + dt.timedelta(days=1)}


def test_a_server_without_starttls_is_named_with_the_setting_to_change(web_db, tmp_path):
    """ikcheck asks for STARTTLS by default; a plain relay inside the kommun's network offers none."""
    url, _ = web_db
    inbox = Inbox()
    server = Server(inbox)
    try:
        with copy_of(url, tmp_path) as copy:
            app = _app(copy, server.port)
            app.settings = dataclasses.replace(app.settings, smtp={**app.settings.smtp, "security": "starttls"})
            r = reminders.send(app, DOWN, org_code="exempelby")
            assert r.failed and not r.sent and not inbox.messages
            assert {why for _d, why in r.failed} == {
                f"e-postservern 127.0.0.1:{server.port} erbjuder inte det ikcheck bad om (STARTTLS eller inloggning); "
                "se security och user under [smtp]"}
            assert not _sent(app)  # nothing recorded as sent: the next run tries again
            dispose_all()
    finally:
        server.stop()


def test_after_a_change_of_job_the_new_holder_gets_the_befattnings_reminders(year):
    app, url, _by_day, _failed, _again = year
    people = {a.username: a for a in _who(app).values()}
    erik, lena = people["kontrollansvarig"], people["lena"]
    with app.session() as s:
        owner = {cp.code: cp.owner for cp in s.scalars(select(ControlPoint))}
        action_owner = {a.code: a.owner for a in s.scalars(select(Action))}

    def title_of(r: ReminderSent) -> str | None:
        code = r.item.split(":")[1]
        return owner.get(code) if r.kind == "kontroll" else action_owner.get(code)

    sent = [r for r in _sent(app) if r.kind in ("kontroll", "åtgärd")]
    assert not [r for r in sent if r.account_id == erik.id and title_of(r) == OLD and r.sent_on >= CHANGE]
    assert [r for r in sent if r.account_id == erik.id and title_of(r) == OLD and r.sent_on < CHANGE]
    assert [r for r in sent if r.account_id == erik.id and title_of(r) == NEW and r.sent_on >= CHANGE]
    lenas = [r for r in sent if r.account_id == lena.id]
    assert lenas and all(r.sent_on >= CHANGE and title_of(r) == OLD for r in lenas)
    assert [h["namn"] for h in positions.history(app, OLD, org_code="exempelby")] == ["Lena Berg", "Erik Holm"]


def test_nothing_is_reminded_once_it_is_done(year):
    app, _url, _by_day, _failed, _again = year
    with app.session() as s:
        reported = {}
        for r in s.scalars(select(ControlResult)):
            cp = s.get(ControlPoint, r.control_point_id)
            key = (r.org_id, f"kontroll:{cp.code}:{r.period}")
            reported[key] = min(reported.get(key, r.reported_at.date()), r.reported_at.date())
        closed = {}
        for a in s.scalars(select(Action)):
            done = [c.on for c in s.scalars(select(ActionChange).where(ActionChange.action_id == a.id,
                                                                       ActionChange.status_to == "klar"))]
            if done:
                closed[(a.org_id, f"åtgärd:{a.code}")] = min(done)
    checked = 0
    for r in _sent(app):
        for done in (reported, closed):
            if (r.org_id, r.item) in done:
                checked += 1
                assert r.sent_on < done[r.org_id, r.item], (r.item, r.notice, r.sent_on)
    assert checked > 20


def test_remind_from_the_command_line_dry_run_sends_nothing(year, tmp_path):
    import subprocess
    import sys

    _app_, url, _by_day, _failed, _again = year
    before = len(_sent(_app_))
    out = subprocess.run([sys.executable, "-m", "ikcheck", "--db", url, "--org", "exempelby", "remind", "--on",
                          "2026-04-07", "--dry-run"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "skulle skickas (inget skickat)" in out.stdout and "Karin Sjöberg" in out.stdout
    # an åtgärd says what it concerns: several read alike ("Rutinen förtydligas …")
    assert re.search(r"Å-\d+ \(SN-2025-[A-Z0-9]+ (halvår|helår)\) ", out.stdout), out.stdout
    assert len(_sent(_app_)) == before
    # without a mail server set up, sending is refused in Swedish, and nothing is recorded
    out = subprocess.run([sys.executable, "-m", "ikcheck", "--db", url, "--org", "exempelby", "remind", "--on",
                          "2026-04-07"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "Ingen e-postserver är inställd" in out.stderr
    assert len(_sent(_app_)) == before


def test_the_units_årshjul_is_valid_icalendar_with_stable_uids(year, tmp_path):
    from icalendar import Calendar

    app, _url, _by_day, _failed, _again = year
    a = ical.export(app, "SN", 2025, tmp_path / "a.ics", org_code="exempelby")
    b = ical.export(app, "SN", 2025, tmp_path / "b.ics", org_code="exempelby")
    first, second = (Calendar.from_ical(p.read_bytes()) for p in (a, b))
    events = [e for e in first.walk("VEVENT")]
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids)) and uids == [str(e["UID"]) for e in second.walk("VEVENT")]
    assert str(first["X-WR-TIMEZONE"]) == "Europe/Stockholm" and first.walk("VTIMEZONE")
    assert str(first.walk("VTIMEZONE")[0]["TZID"]) == "Europe/Stockholm"
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any("plan för intern kontroll 2025 beslutas senast" in x for x in summaries)
    assert any(x.startswith("SN-2025-K01 rapporteras (halvår)") for x in summaries)
    k01 = next(e for e in events if str(e["SUMMARY"]).startswith("SN-2025-K01 rapporteras (halvår)"))
    assert k01.decoded("DTSTART") == dt.date(2025, 6, 30)
