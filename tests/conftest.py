"""Test fixtures: a fresh, migrated database per test, on SQLite or on the real PostgreSQL that
`./dev test` starts (IKCHECK_TEST_DATABASE_URL)."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ikcheck.app import App
from ikcheck.config import Settings, bundled, default_engine
from ikcheck.store.db import dispose_all, get_engine, migrate

PG_URL = os.environ.get("IKCHECK_TEST_DATABASE_URL") or ""
BACKEND = "postgresql" if PG_URL.startswith("postgresql") else "sqlite"
_counter = itertools.count()


def pytest_report_header(config):
    return f"ikcheck database backend: {BACKEND}"


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """A migrated empty database that each test copies (migrations run once per session)."""
    if BACKEND == "postgresql":
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"ikc_tmpl_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        migrate(get_engine(url))
        dispose_all()
        yield name
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        migrate(get_engine(f"sqlite:///{path}"))
        dispose_all()
        yield path


@contextmanager
def fresh_database(template, directory: Path):
    """A new database copied from the migrated template; dropped afterwards."""
    source = PG_URL.rsplit("/", 1)[0] + "/" + template if BACKEND == "postgresql" else f"sqlite:///{template}"
    with copy_of(source, directory) as url:
        yield url


@contextmanager
def copy_of(url: str, directory: Path):
    """A copy of a database no one is connected to (PostgreSQL: CREATE DATABASE … TEMPLATE; SQLite: the
    file, in `directory`); dropped afterwards."""
    dispose_all()
    if BACKEND == "postgresql":
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"ikc_t{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"  # conftest may be imported twice
        source = url.rsplit("/", 1)[1]
        with admin.connect() as c:
            # the source must have no sessions; an idle one left over by a module's in-process web app
            # (its connection still checked out when the module moved on) is ended
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db "
                           "AND pid <> pg_backend_pid() AND state = 'idle'"), {"db": source})
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        try:
            yield PG_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            dispose_all()
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        path = directory / f"ikcheck-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(url.removeprefix("sqlite:///"), path)
        try:
            yield f"sqlite:///{path}"
        finally:
            dispose_all()
            path.unlink(missing_ok=True)


@pytest.fixture
def db_url(_template, tmp_path):
    with fresh_database(_template, tmp_path) as url:
        yield url


def make_settings(url: str, **overrides) -> Settings:
    values = dict(
        database_url=url, rules_dir=bundled("rules"), riskregister_dir=bundled("riskregister"),
        reports_dir=bundled("reports"), engine=default_engine(), user="testare",
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app(db_url) -> App:
    return App(make_settings(db_url))


@pytest.fixture
def kommun(app):
    """Exempelby's organisation and risk register (two years of assessments), no plans yet."""
    from ikcheck import demo

    rr = bundled("riskregister") / "demo"
    return demo.build_kommun(app, rr / "exempelby.yaml", rr / "risker.yaml")


@pytest.fixture
def demo_org_file() -> Path:
    return bundled("riskregister") / "demo" / "exempelby.yaml"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(db_url, capsys, monkeypatch):
    """Run `ikcheck ARGS` as a user would, on the test database. Returns exit code and output."""
    from ikcheck.cli import main
    from ikcheck.cli import common

    monkeypatch.setenv("IKCHECK_USER", "testare")
    monkeypatch.setenv("COLUMNS", "200")
    common.console.width = 200
    common.err_console.width = 200

    def run(*args: str, db: str | bool | None = None) -> CliResult:
        """db=None: the test database; db=False: no --db at all (the user's defaults)."""
        prefix = [] if db is False else ["--db", db or db_url]
        argv = [*prefix, *[str(a) for a in args]]
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def web_db(_template, tmp_path_factory):
    """The demo kommun with its demo accounts, and a second kommun (Andraby) beside it in the same
    database, for the web tests (one database per session: the pages only read)."""
    from ikcheck import demo
    from ikcheck.config import load_settings

    directory = tmp_path_factory.mktemp("webdemo")
    with fresh_database(_template, directory) as url:
        settings = load_settings(None, "testare")
        demo.run_demo(settings, directory / "exempelby", database=url)
        demo.run_demo(settings, directory / "andraby", database=url, kommun=("andraby", "Andraby kommun"))
        dispose_all()
        yield url, directory


@pytest.fixture(scope="module")
def journey_db(web_db, tmp_path_factory):
    """A copy of the web demo (Exempelby and Andraby) for tests that write, one per module: Socialnämnden
    has held its workshops for 2026 and 2027, and decided its 2026 plan, in which the demo
    kontrollansvarig (Enhetschef barn och unga) owns SN-2026-K02; the 2027 plan is for the browser to
    derive."""
    from tests.web_support import prepare_years

    url, _ = web_db
    directory = tmp_path_factory.mktemp("journey")
    with copy_of(url, directory) as copy:
        prepare_years(copy, directory)
        dispose_all()
        yield copy, directory
