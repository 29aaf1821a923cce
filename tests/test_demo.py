"""`ikcheck demo` as a user runs it: a whole kommun through the whole cycle, a Swedish summary, every
file written, an intact audit log; and the KS summary flags the unit that was late on purpose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ikcheck import demo

from tests.conftest import BACKEND, fresh_database


@pytest.fixture(scope="module")
def demo_run(_template, tmp_path_factory):
    """One full demo per backend: on SQLite exactly as the README runs it (its own database file)."""
    directory = tmp_path_factory.mktemp("demo")
    with fresh_database(_template, directory / "db") if BACKEND == "postgresql" else _nothing() as url:
        cmd = [sys.executable, "-m", "ikcheck"] + (["--db", url] if url else []) + ["demo"]
        (directory / "db").mkdir(exist_ok=True)
        out = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, env=_env())
        yield directory / "ikcheck-demo", url or f"sqlite:///{directory / 'ikcheck-demo' / 'ikcheck.db'}", out


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _env() -> dict:
    import os

    env = dict(os.environ)
    env.pop("IKCHECK_DATABASE_URL", None)
    env["COLUMNS"] = "200"
    return env


def test_demo_prints_the_whole_cycle_in_swedish(demo_run):
    directory, _url, out = demo_run
    assert out.returncode == 0, out.stderr
    text_out = " ".join(out.stdout.split())
    assert "Exempelby kommun: 8 enheter (KS, 5 nämnder, 2 bolag), 14 processer." in text_out
    assert "Riskworkshoppar hösten 2024: 24 ifyllda Excel-mallar (3 deltagare per enhet)" in text_out
    assert "60 risker bedömda inför 2025" in text_out
    assert "Planer för intern kontroll 2025: 8 beslutade" in text_out
    assert "Kontrollresultat 2025:" in text_out and "1 rättat med skäl" in text_out
    assert "16 halvårs- och årsrapporter inlämnade till KS" in text_out
    assert "Traceback" not in out.stderr


def test_demo_writes_every_report_in_every_format(demo_run):
    directory, _url, _out = demo_run
    for unit in demo.DECISIONS:
        assert len(list((directory / "workshop").glob(f"workshop-{unit}-2025-deltagare-*.xlsx"))) == 3
        assert (directory / "planer" / f"plan-{unit}-2025.pdf").read_bytes().startswith(b"%PDF")
        assert (directory / "rapporter" / f"arsrapport-{unit}-2025-v1.pdf").is_file()
        assert (directory / "rapporter" / f"halvarsrapport-{unit}-2025-v1.pdf").is_file()
    for fmt in ("pdf", "html", "xlsx"):
        assert (directory / "rapporter" / f"ks-sammanstallning-2025.{fmt}").stat().st_size > 5000
        assert (directory / "rapporter" / f"arsrapport-SN-2025.{fmt}").stat().st_size > 5000


def test_demo_database_is_intact_and_complete(demo_run, cli):
    _directory, url, _out = demo_run
    assert cli("audit", "verify", db=url).code == 0
    engine = create_engine(url)
    with engine.connect() as c:
        years = c.execute(text("SELECT year, count(*) FROM risk_assessment GROUP BY year ORDER BY year")).all()
        plans = c.execute(text("SELECT count(*) FROM control_plan WHERE status = 'decided'")).scalar()
        superseded = c.execute(text("SELECT count(*) FROM control_plan WHERE status = 'superseded'")).scalar()
        reports = c.execute(text("SELECT count(*) FROM report_record WHERE submitted_at IS NOT NULL")).scalar()
        # 2025's scores came through the workshop import: three participants' files per unit
        workshops = c.execute(text(
            "SELECT w.held_on, count(DISTINCT w.id), count(*), count(DISTINCT a.import_batch_id) FROM risk_assessment a "
            "JOIN workshop w ON w.id = a.workshop_id WHERE a.year = 2025 GROUP BY w.held_on")).all()
    engine.dispose()
    assert [(str(w[0]), *w[1:]) for w in workshops] == [("2024-09-15", 8, 60, 8)]
    assert [tuple(y) for y in years] == [(2024, 60), (2025, 60)]
    assert (plans, superseded, reports) == (8, 1, 16)


def test_ks_summary_flags_the_unit_late_on_purpose(demo_run):
    directory, _url, _out = demo_run
    html = (directory / "rapporter" / "ks-sammanstallning-2025.html").read_text(encoding="utf-8")
    kfn = html.split("Kultur- och fritidsnämnden", 1)[1].split("</tr>", 1)[0]
    assert "ARS-05" in kfn or "ARS-04" in kfn
    assert "lämnades till KS 20 dagar för sent" in kfn
    others = html.split("Socialnämnden", 1)[1].split("</tr>", 1)[0]
    assert "för sent" not in others
    assert "ändrats efter inlämning" not in html  # nothing changed after the units submitted


def test_demo_scale_adds_kommuner_through_the_whole_cycle(cli, tmp_path, db_url):
    url = db_url if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'scale.db'}"
    r = cli("demo", "--dir", tmp_path / "demo", "--scale", "2", db=url)
    assert r.code == 0, r.text
    r = cli("org", "list", db=url)
    assert "exempelby-001" in r.out and "exempelby-002" in r.out
    for code in ("exempelby-001", "exempelby-002"):
        r = cli("--org", code, "plan", "list", "--year", "2025", db=url)
        assert r.code == 0 and "beslutad" in r.out, r.text
        out = tmp_path / f"{code}.csv"
        r = cli("--org", code, "query", "results", "--format", "csv", "--out", out, db=url)
        assert r.code == 0, r.text
        lines = out.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) > 100 and all(code in line for line in lines[1:])
        assert {"halvar", "helar"} <= {p for line in lines[1:] for p in line.split(",")}


def test_demo_starts_afresh_in_its_own_directory(tmp_path):
    db = tmp_path / "ikcheck.db"
    db.write_text("gammalt")
    Path(str(db) + "-wal").write_text("x")
    demo._fresh_sqlite(f"sqlite:///{db}")
    assert not db.exists() and not Path(str(db) + "-wal").exists()



def test_the_demo_runs_on_its_story_dates_with_a_credible_mix(demo_run):
    """Events carry the story's dates (workshop in 2024, reports in 2026), some åtgärder are closed on
    time, some late, some open, and KS sees a mix of green, yellow and red."""
    directory, url, out = demo_run
    engine = create_engine(url)
    with engine.connect() as c:
        first, last = c.execute(text("SELECT min(at), max(at) FROM audit_event WHERE org_id IS NOT NULL")).one()
        statuses = c.execute(text("SELECT status, closed_on, due_date FROM action WHERE code LIKE 'Å-%'")).all()
    engine.dispose()
    as_date = lambda v: str(v)[:10]  # noqa: E731  (SQLite gives text, PostgreSQL datetimes)
    assert as_date(first) == "2024-08-20" and as_date(last) <= "2026-03-25"
    closed = [(str(c), str(d)) for s, c, d in statuses if s == "klar"]
    assert any(c <= d for c, d in closed) and any(c > d for c, d in closed)
    assert any(s != "klar" for s, _c, _d in statuses)
    assert "gröna" in out.stdout and "som röd" in out.stdout and "som gul" in out.stdout
    hint = next(line for line in out.stdout.splitlines() if line.startswith("Utforska vidare:"))
    cmd = hint.removeprefix("Utforska vidare: ").split()
    ran = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=directory)
    assert ran.returncode == 0 and "Exempelby" in ran.stdout, ran.stderr


def test_a_second_kommun_in_the_database_changes_no_byte_of_the_first_ones_documents(_template, tmp_path,
                                                                                       monkeypatch):
    """The demo kommun's whole cycle alone, and again after another kommun with the same unit and risk
    codes ran the same story in the same database: every file it writes is byte-identical. All but the
    Kontrollsumma, which names an event of the database's one audit chain (docs/threat-model.md): it is
    fixed here, so that nothing else may differ."""
    from ikcheck import anchor
    from ikcheck.config import load_settings

    fixed = {"seq": 1, "hash": "a" * 64, "short": "a" * 16, "token": anchor.token(1, "a" * 64)}
    real = anchor.stamp
    monkeypatch.setattr(anchor, "stamp", lambda ev: fixed if ev is not None else real(None))

    settings = load_settings(None, "testare")
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    alone = tmp_path / "alone"
    with fresh_database(_template, tmp_path / "a") as url:
        demo.run_demo(settings, alone, database=url)
    shared = tmp_path / "shared"
    with fresh_database(_template, tmp_path / "b") as url:
        demo.run_demo(settings, tmp_path / "other", database=url, kommun=("andraby", "Andraby kommun"))
        demo.run_demo(settings, shared, database=url)
    # the key pair and the receipt are the database's own
    files = sorted(p.relative_to(alone) for p in alone.rglob("*")
                   if p.is_file() and p.suffix not in (".db", ".key", ".pub") and not p.name.startswith("kvitto"))
    assert len(files) > 60
    differ = [str(f) for f in files if (alone / f).read_bytes() != (shared / f).read_bytes()]
    assert differ == []
