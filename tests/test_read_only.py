"""Read-only that means it: nothing that writes runs under --read-only, a file the user may only read
is opened read-only by itself, and no command that writes nothing changes a byte of the file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from ikcheck import organisation
from ikcheck.store import db as dbmod
from ikcheck.store.db import dispose_all
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="filrättigheter och --read-only gäller SQLite-filen")


def digest(path: Path) -> str:
    dispose_all()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def dbfile(app, db_url, demo_org_file) -> Path:
    organisation.init_org(app, demo_org_file)
    dispose_all()
    return Path(db_url.removeprefix("sqlite:///"))


def test_the_demo_refuses_to_run_read_only(cli, tmp_path):
    target = tmp_path / "ny.db"
    r = cli("--read-only", "demo", "--dir", tmp_path / "demo", db=str(target))
    assert r.code == 2 and "kan inte köras med --read-only" in r.err
    assert not target.exists() and not (tmp_path / "demo").exists()


def test_writing_commands_refuse_under_read_only_and_leave_every_byte(cli, dbfile):
    before = digest(dbfile)
    r = cli("--read-only", "risk", "add", "--unit", "SN", "--title", "Ny risk")
    assert r.code == 2 and "skrivskyddad" in r.err and "ändrar data" in r.err, r.err
    assert "öppnades med --read-only" in r.err, r.err
    r = cli("--read-only", "org", "show")
    assert r.code == 0 and "SN" in r.out, r.err
    assert digest(dbfile) == before


def test_reading_and_verifying_change_no_byte_of_the_file(cli, dbfile):
    before = digest(dbfile)
    for args in (("org", "show"), ("audit", "verify"), ("risk", "list"), ("audit", "log")):
        assert cli(*args).code == 0, args
    assert digest(dbfile) == before
    assert not Path(str(dbfile) + "-wal").exists()


def test_a_file_the_user_may_only_read_is_opened_read_only_by_itself(cli, dbfile, monkeypatch):
    folder = dbfile.parent
    dbfile.chmod(stat.S_IRUSR | stat.S_IRGRP)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.geteuid() == 0:  # root may write anyway: ask as the user the permissions are for would
            real = os.access
            monkeypatch.setattr(dbmod.os, "access",
                                lambda p, mode: False if mode == os.W_OK and Path(p) in (dbfile, folder) else real(p, mode))
        before = digest(dbfile)
        r = cli("org", "show")
        assert r.code == 0, r.err
        assert r.err.count("öppnas skrivskyddad") == 1, r.err
        r = cli("risk", "add", "--unit", "SN", "--title", "Ny risk")
        assert r.code == 2 and "du har inte skrivrätt" in r.err and "ändrar data och görs inte" in r.err, r.err
        r = cli("audit", "verify")
        assert r.code == 0, r.err
        assert digest(dbfile) == before
    finally:
        folder.chmod(stat.S_IRWXU)
        dbfile.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_reading_command_on_a_database_that_does_not_exist_creates_nothing(cli, tmp_path, demo_org_file):
    """A mistyped --db: reading says the file is not there, and leaves no new empty database (or folder)
    behind; `init` is what creates one."""
    target = tmp_path / "skrivfel" / "ikcheck.db"
    for args in (("org", "show"), ("risk", "list"), ("audit", "verify"), ("audit", "log"), ("query", "risks")):
        r = cli(*args, db=str(target))
        assert r.code == 2 and f"Databasen {target} finns inte" in r.err and "ikcheck init" in r.err, (args, r.text)
    r = cli("db", "status", db=str(target))
    assert r.code == 1 and "finns inte ännu" in r.out, r.text
    r = cli("serve", "--port", "9", db=str(target))  # refused before any server starts
    assert r.code == 2 and f"Databasen {target} finns inte" in r.err and "ikcheck user add" in r.err, r.text
    assert not target.parent.exists()
    r = cli("init", "--org", demo_org_file, db=str(target))
    assert r.code == 0 and target.is_file(), r.text
    assert cli("org", "show", db=str(target)).code == 0
