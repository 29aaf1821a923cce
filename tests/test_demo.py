"""`ikcheck demo` as a user runs it: a whole kommun, a summary in Swedish, an intact audit log."""

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import BACKEND


def demo_url(tmp_path: Path, db_url: str) -> str:
    return db_url if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'demo' / 'ikcheck.db'}"


def test_demo_with_its_own_database_prints_summary(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IKCHECK_DATABASE_URL", raising=False)
    r = cli("demo", db=False)  # exactly what the README runs: no options at all
    assert r.code == 0, r.text
    assert "Exempelby kommun: 8 enheter (KS, 5 nämnder, 2 bolag), 14 processer." in r.out
    assert "60 risker bedömda inför 2025" in r.out
    assert (tmp_path / "ikcheck-demo" / "ikcheck.db").is_file()
    # Running it again starts afresh instead of failing on the existing kommun.
    assert cli("demo", db=False).code == 0


def test_demo_database_verifies_and_has_two_years(cli, tmp_path, db_url):
    url = demo_url(tmp_path, db_url)
    assert cli("demo", "--dir", tmp_path / "demo", db=url).code == 0
    assert cli("audit", "verify", db=url).code == 0
    engine = create_engine(url)
    with engine.connect() as c:
        years = c.execute(text("SELECT year, count(*) FROM risk_assessment GROUP BY year ORDER BY year")).all()
    engine.dispose()
    assert [tuple(y) for y in years] == [(2024, 60), (2025, 60)]


def test_demo_scale_makes_n_kommuner(cli, tmp_path, db_url):
    url = demo_url(tmp_path, db_url)
    r = cli("demo", "--dir", tmp_path / "demo", "--scale", "2", db=url)
    assert r.code == 0, r.text
    r = cli("org", "list", db=url)
    assert "exempelby-001" in r.out and "exempelby-002" in r.out
