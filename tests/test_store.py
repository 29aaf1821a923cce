"""The schema is made by migrations only; the models and the migrations never drift apart."""

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ikcheck.store.db import head_revision, schema_is_current
from ikcheck.store.models import Base
from tests.conftest import BACKEND


def test_migrations_match_the_models(app):
    with app.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_database_is_at_the_newest_migration(app):
    assert schema_is_current(app.db.engine)
    versions = sorted(p.name[:4] for p in (Path(__file__).parent.parent / "ikcheck/store/migrations/versions").glob("0*.py"))
    assert head_revision() == versions[-1]  # read without Alembic; must agree with the newest file


def test_the_database_file_alone_holds_every_change_after_a_command(tmp_path, demo_org_file):
    """SQLite runs in WAL mode while ikcheck works. ikcheck used to exit with its connections open, so
    every change stayed in ikcheck.db-wal: a copy of ikcheck.db (a backup, the file sent to the auditors)
    was empty, and a WAL file cannot be opened from a directory the reader may not write to."""
    db = tmp_path / "kommun.db"

    def ikcheck(*args):
        done = subprocess.run([sys.executable, "-m", "ikcheck", "--db", str(db), *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ikcheck("init", "--org", str(demo_org_file))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kommun.db"]
    copy = tmp_path / "kopia.db"
    shutil.copyfile(db, copy)
    with closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # what a read-only share needs
        assert con.execute("SELECT count(*) FROM unit").fetchone()[0] == 8
    copy.unlink()
    assert "Socialnämnden" in ikcheck("--read-only", "org", "show")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kommun.db"]


@pytest.mark.skipif(BACKEND != "postgresql", reason="varningen kommer från PostgreSQL-drivrutinen (psycopg)")
def test_json_columns_are_written_without_a_warning_from_the_driver(app, caplog):
    """JSON columns are written by store.jsontext's encoder. psycopg keeps one dumper per dumps
    function and logs "may cause a resource leak" on every connection given a closure; an
    administrator reading the server's log must not see that."""
    import logging

    from ikcheck.store.db import dispose

    dispose(app.settings.database_url)  # a new connection: the driver is given the function again
    caplog.set_level(logging.WARNING)
    with app.session(write=True) as s:
        app.audit(s, "test", "organisation", None, after={"text": "å", "list": [1, 2.5, None]})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
