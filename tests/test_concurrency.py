"""Two users doing the same thing at the same moment, as real processes against one database (on
SQLite and on PostgreSQL): each gets the answer they would get one after the other, nothing is lost,
nothing is written twice, and the log and the data verify. 20 rounds of each (IKCHECK_RACE_ROUNDS)."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import traceback
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ikcheck import actions, auditlog, demo, planning, results, workshop
from ikcheck.app import App
from ikcheck.calendar import clock_at
from ikcheck.config import bundled
from ikcheck.errors import UserError
from ikcheck.reporting import reports
from ikcheck.store.db import dispose_all
from ikcheck.store.models import (
    Action, AuditEvent, ControlPlan, ControlPoint, ControlResult, ReportRecord, RiskAssessment, Unit,
)
from tests.conftest import copy_of, fresh_database, make_settings
from tests.test_workshop import fill

YEAR = demo.DEMO_YEAR
ROUNDS = int(os.environ.get("IKCHECK_RACE_ROUNDS", "20"))


@pytest.fixture(scope="module")
def base(_template, tmp_path_factory):
    """Exempelby with SN's plan decided, BUN's plan accepted but not decided, two different halvår
    result files for SN, two participants' workshop files for SN 2026 and one open åtgärd."""
    directory = tmp_path_factory.mktemp("race")
    with fresh_database(_template, directory) as url:
        app = App(make_settings(url))
        rr = bundled("riskregister") / "demo"
        demo.build_kommun(app, rr / "exempelby.yaml", rr / "risker.yaml")
        for unit in ("SN", "BUN"):
            planning.derive(app, unit, YEAR)
            planning.accept(app, unit, YEAR)
        planning.decide(app, "SN", YEAR, "2024-11-21", "§ 1", "SN 2024/1")
        blank = results.template(app, "SN", YEAR, "halvar", directory / "mall.xlsx")
        files = [demo.fill_results(blank, directory / f"SN-{k}.xlsx", random.Random(k), "halvar", YEAR)
                 for k in (1, 2)]
        a, b = workshop.template(app, "SN", YEAR + 1, directory / "ws.xlsx", participants=2)
        fill(a, "Anna", {"SN-R001": (1, 1), "SN-R002": (2, 2)})
        fill(b, "Bo", {"SN-R001": (3, 1), "SN-R002": (4, 4)})
        code = actions.add(app, "Rutinen för attest ses över", owner="Socialchef", due="2025-10-31",
                           risk_code="SN-R001", year=YEAR)
        dispose_all()
        yield {"url": url, "results": files, "workshop": [a, b], "action": code, "dir": directory}


# what each process does: (name, args) -> a plain, picklable answer
def _decide(app):
    return planning.decide(app, "BUN", YEAR, "2024-11-20", "§ 7", "BUN 2024/7").version


def _import(app, path):
    r = results.import_files(app, [Path(path)])
    return {"new": r.new, "already": len(r.already)}


def _workshop(app, path):
    r = workshop.import_files(app, [Path(path)])
    return {"assessed": r.assessed, "already": len(r.already)}


def _close(app, code):
    return actions.close(app, code, "Rutinen är uppdaterad.")


def _submit(app, out):
    with clock_at(demo.at("2025-08-25")):
        r = reports.submit(app, "SN", YEAR, "halvar", out_dir=Path(out), date="2025-08-25")
    return {"version": r["version"], "unchanged": r["unchanged"]}


def _approve(app, result_id, approver):
    r = results.approve(app, result_id, approver)
    return {"corrected": r.corrected}


OPS = {"decide": _decide, "import": _import, "workshop": _workshop, "close": _close, "submit": _submit,
       "approve": _approve}


def _child(barrier, queue, k: int, url: str, op: str, args: tuple) -> None:
    try:
        app = App(make_settings(url, user=f"användare{k}"))
        with app.session() as s:  # connected and migrated before the start signal
            s.execute(select(func.count()).select_from(Unit))
        barrier.wait(60)
        answer = ("ok", OPS[op](app, *args))
    except UserError as exc:
        answer = ("refused", " ".join([exc.message, *(p.message for p in getattr(exc, "problems", None) or [])]))
    except BaseException:  # noqa: BLE001 - the parent reports it
        answer = ("crash", traceback.format_exc())
    finally:
        dispose_all()
    queue.put((k, answer))
    queue.close()
    queue.join_thread()
    os._exit(0)


def race(url: str, op: str, *args_each: tuple) -> list[tuple[str, object]]:
    """Run OPS[op] in one process per args tuple, all released at the same instant."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(len(args_each)), ctx.Queue()
    dispose_all()  # no connection may cross the fork
    procs = [ctx.Process(target=_child, args=(barrier, queue, k, url, op, args)) for k, args in enumerate(args_each)]
    for p in procs:
        p.start()
    got = dict(queue.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(60)
    answers = [got[k] for k in range(len(procs))]
    crashes = [a[1] for a in answers if a[0] == "crash"]
    assert not crashes, crashes[0]
    return answers


def sequential(url: str, op: str, *args_each: tuple) -> list[tuple[str, object]]:
    """The same, one after the other: what each user should be told."""
    out = []
    for k, args in enumerate(args_each):
        app = App(make_settings(url, user=f"användare{k}"))
        try:
            out.append(("ok", OPS[op](app, *args)))
        except UserError as exc:
            out.append(("refused", " ".join([exc.message, *(p.message for p in getattr(exc, "problems", None) or [])])))
    dispose_all()
    return out


def verified(url: str) -> App:
    app = App(make_settings(url))
    result = auditlog.verify(app)
    assert result.ok, result.problems[:5]
    return app


def _who_aside(answers) -> list[str]:
    """The answers, sorted, without who won (either user may be first)."""
    return sorted(re.sub(r"användare\d", "användare", repr(a)) for a in answers)


def rounds(base, tmp_path, op: str, args_each: list[tuple], check) -> None:
    with copy_of(base["url"], tmp_path) as url:
        seq = sequential(url, op, *args_each)
        expected = _who_aside(seq)
        check(verified(url), seq)
    for _ in range(ROUNDS):
        with copy_of(base["url"], tmp_path) as url:
            answers = race(url, op, *args_each)
            assert _who_aside(answers) == expected, answers
            check(verified(url), answers)
            dispose_all()


def count(app: App, q) -> int:
    with app.session() as s:
        return s.scalar(q)


def test_two_decide_the_same_plan_at_once(base, tmp_path):
    def check(app, answers):
        assert [a[0] for a in sorted(answers)] == ["ok", "refused"]
        assert "är beslutad" in next(a[1] for a in answers if a[0] == "refused")
        assert count(app, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "beslut",
                                                                             AuditEvent.org_id.is_not(None))) == 2
        assert count(app, select(func.count()).select_from(ControlPlan).where(ControlPlan.status == "decided")) == 2

    rounds(base, tmp_path, "decide", [(), ()], check)


def test_the_same_results_file_twice_at_once(base, tmp_path):
    f = str(base["results"][0])

    def check(app, answers):
        assert sorted(a[1]["already"] for a in answers) == [0, 1]
        current = count(app, select(func.count()).select_from(ControlResult).where(ControlResult.is_current))
        assert current == max(a[1]["new"] for a in answers) > 0

    rounds(base, tmp_path, "import", [(f,), (f,)], check)


def test_two_results_files_for_the_same_kontrollpunkter_at_once(base, tmp_path):
    f1, f2 = (str(p) for p in base["results"])

    def check(app, answers):
        assert [a[0] for a in sorted(answers)] == ["ok", "refused"]
        assert "finns redan och skulle ersättas" in next(a[1] for a in answers if a[0] == "refused")
        with app.session() as s:
            per = s.execute(select(ControlResult.lineage_id, ControlResult.period, func.count())
                            .where(ControlResult.is_current).group_by(ControlResult.lineage_id, ControlResult.period)
                            ).all()
        assert per and all(n == 1 for *_k, n in per)

    rounds(base, tmp_path, "import", [(f1,), (f2,)], check)


def test_two_workshop_participants_send_their_files_at_once(base, tmp_path):
    a, b = (str(p) for p in base["workshop"])

    def check(app, answers):
        assert all(x[0] == "ok" and x[1]["already"] == 0 for x in answers)
        with app.session() as s:
            current = s.scalars(select(RiskAssessment).where(RiskAssessment.year == YEAR + 1,
                                                             RiskAssessment.is_current)).all()
        # both participants count, whoever came first: nothing lost
        assert current and all(len(ra.participants) == 2 for ra in current)

    rounds(base, tmp_path, "workshop", [(a,), (b,)], check)


def test_two_close_the_same_action_at_once(base, tmp_path):
    code = base["action"]

    def check(app, answers):
        assert [a[0] for a in sorted(answers)] == ["ok", "refused"]
        assert "redan klar" in next(a[1] for a in answers if a[0] == "refused")
        with app.session() as s:
            a = s.scalar(select(Action).where(Action.code == code))
            assert a.status == "klar" and [c.status_to for c in a.changes].count("klar") == 1
            assert len(a.notes) == 1 + 1  # the one it was written with, and one closing comment

    rounds(base, tmp_path, "close", [(code,), (code,)], check)


def test_two_submit_the_same_report_at_once(base, tmp_path):
    def check(app, answers):
        assert sorted(a[1]["unchanged"] for a in answers) == [False, True]
        assert all(a[1]["version"] == 1 for a in answers)
        assert count(app, select(func.count()).select_from(ReportRecord)) == 1

    out = tmp_path / "rapporter"
    rounds(base, tmp_path, "submit", [(str(out / "a"),), (str(out / "b"),)], check)


@pytest.fixture(scope="module")
def unapproved(base, tmp_path_factory):
    """base, with one SN result reported through the form and not yet approved."""
    with copy_of(base["url"], tmp_path_factory.mktemp("godkann")) as url:
        app = App(make_settings(url, user="rapportör"))
        with app.session() as s:
            code = s.scalar(select(ControlPoint.code).join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                            .where(ControlPlan.status == "decided", ControlPoint.status == "accepted")
                            .order_by(ControlPoint.position))
        results.report_form(app, "SN", YEAR, "halvar", code, {
            "performed": "ja", "date": f"{YEAR}-05-02", "examined": "10", "deviations": "0", "performed_by": "Sara Ek"})
        with app.session() as s:
            result_id = s.scalar(select(ControlResult.id).where(ControlResult.is_current))
        dispose_all()
        yield {"url": url, "result": result_id}


def test_two_approve_the_same_result_at_once(unapproved, tmp_path):
    rid = unapproved["result"]

    def check(app, answers):
        assert [a[0] for a in sorted(answers)] == ["ok", "refused"]
        assert "äldre version" in next(a[1] for a in answers if a[0] == "refused")
        with app.session() as s:
            versions = s.execute(select(ControlResult.version, ControlResult.approved_by, ControlResult.is_current)
                                 .order_by(ControlResult.version)).all()
        # one approval, as a second version; the first approver is not overwritten by the second
        assert [(v, cur) for v, _a, cur in versions] == [(1, False), (2, True)]
        assert versions[1][1] in ("Karin Ström", "Omar Nilsson")

    rounds(unapproved, tmp_path, "approve", [(rid, "Karin Ström"), (rid, "Omar Nilsson")], check)
