"""Engine and sessions. SQLite (rollback journal, foreign keys, busy timeout, BEGIN IMMEDIATE for
writers) is the embedded default; PostgreSQL via IKCHECK_DATABASE_URL. The schema is made by Alembic
migrations only.

SQLite keeps its rollback journal: opening, reading or a refused write never changes a byte of the
file (WAL rewrote the header's journal-mode bytes on every read-write open, so a file hash could not
show that a refused import changed nothing), the file alone is the whole database at every moment,
and a reader with read access to the file only can open it."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from operator import itemgetter
from pathlib import Path

from sqlalchemy import ARRAY, Engine, any_, bindparam, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ikcheck.errors import UserError
from ikcheck.store import jsontext

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()


def _sqlite_engine(url: str, read_only: bool) -> Engine:
    u = make_url(url)
    path = u.database
    if read_only:
        if not path or not Path(path).exists():
            raise UserError(f"Databasen {path} finns inte och kan inte öppnas skrivskyddad.")
        # SQLite itself refuses every write on a mode=ro connection.
        uri = f"file:{Path(path).resolve()}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: _ro_connect(uri), json_serializer=jsontext.dumps)
    else:
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=jsontext.dumps)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        sqlite_functions(dbapi_conn)  # before any statement: SQLite refuses while one is active
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-16384")  # 16 MB: a kommun's import does not spill (which would lock readers out)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front, so two writers never both read the audit head.
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _lower(value):
    return None if value is None else str(value).lower()


def sqlite_functions(con) -> None:
    """SQLite's own lower() folds only A-Z; text search must find "Åtgärd" from "åtgärd" as on
    PostgreSQL, so connections get Python's (Unicode) lower in its place."""
    con.create_function("lower", 1, _lower, deterministic=True)


def _ro_connect(uri: str):
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def get_engine(url: str, read_only: bool = False) -> Engine:
    key = (url, read_only)
    with _lock:
        if key not in _engines:
            if url.startswith("sqlite"):
                engine = _sqlite_engine(url, read_only)
            else:
                args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
                engine = create_engine(url, connect_args=args, pool_pre_ping=True, json_serializer=jsontext.dumps)
            _engines[key] = engine
        return _engines[key]


def dispose(url: str) -> None:
    """Close and forget the engines of one database (before its file is replaced)."""
    with _lock:
        for key in [k for k in _engines if k[0] == url]:
            _close(_engines.pop(key))


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            _close(engine)
        _engines.clear()


def _close(engine: Engine) -> None:
    """Close the engine's connections. A file an earlier version left in WAL mode is switched back
    to a rollback journal, so a copy of the file alone holds everything (docs/decisions.md)."""
    engine.dispose()
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or not Path(path).exists() or not Path(path + "-wal").exists():
        return
    try:
        with closing(sqlite3.connect(path, timeout=0)) as con:
            con.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error:
        pass


def readonly_file(url: str) -> str | None:
    """Why a SQLite database file can only be read by this user (None: it can be written, or it is
    not a SQLite file that exists): the file, or its folder (where the journal goes), is read-only."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(make_url(url).database or "")
    if not path.is_file():
        return None
    if not os.access(path, os.W_OK):
        return f"{path} är skrivskyddad för dig"
    if not os.access(path.parent, os.W_OK):
        return f"{path} ligger i en mapp du inte får skriva i"
    return None


def missing_file(url: str) -> Path | None:
    """The SQLite file a URL names, when it does not exist (yet); None for one that exists, for memory
    and for a server database."""
    if not url.startswith("sqlite:///"):
        return None
    name = make_url(url).database
    return Path(name) if name and name != ":memory:" and not Path(name).exists() else None


atexit.register(dispose_all)


def bulk_insert(s: Session, model, rows: list[dict], chunk: int = 5000) -> None:
    """Insert many rows, one executemany per chunk (on PostgreSQL one COPY). Through the table, not
    the ORM: the ORM's bulk insert leaves None values out of each row and so splits the rows into one
    statement per run of same-shaped rows (572 statements for 2,000 results). Every row must have the
    same keys."""
    from ikcheck.store import coverage

    table = model.__table__
    if not rows:
        return
    coverage.note_insert(s, model)  # the rows above today's highest id go under the audit log
    conn = s.connection()
    prepared = _insert_statement(table, conn.dialect, tuple(rows[0]))
    if prepared is None:  # columns left to their Python-side defaults: SQLAlchemy fills them in
        for i in range(0, len(rows), chunk):
            s.execute(table.insert(), rows[i:i + chunk])
        return
    sql, names, procs, positional = prepared
    if conn.dialect.driver == "psycopg":  # PostgreSQL: COPY, a fifth of executemany's time (below)
        _copy(conn, table, names, _processed(rows, names, procs, positional=True))
        return
    for i in range(0, len(rows), chunk):
        conn.exec_driver_sql(sql, list(_processed(rows[i:i + chunk], names, procs, positional)))


def _processed(rows: list[dict], names: list[str], procs: list, positional: bool) -> Iterator:
    """Each row's values in statement order, each through its column type's own bind processor, as
    SQLAlchemy would: only its per-row parameter bookkeeping is left out (a sixth of the time). A
    flag, date or naive time stamp is processed once per distinct value (100k rows share a few
    dozen); equal values of other kinds may be stored differently (Decimal 1.0 and 1.00, equal
    instants in different zones), so they are processed one by one."""
    pick = itemgetter(*names) if len(names) > 1 else (lambda r, k=names[0]: (r[k],))
    processed = [(n, p, {}) for n, p in enumerate(procs) if p is not None]
    if not processed and positional:
        yield from map(pick, rows)
        return
    for r in rows:
        values = list(pick(r))
        for n, p, memo in processed:
            v = values[n]
            t = type(v)
            if t is bool or t is dt.date or (t is dt.datetime and v.tzinfo is None):
                if v not in memo:
                    memo[v] = p(v)
                values[n] = memo[v]
            else:
                values[n] = p(v)
        yield tuple(values) if positional else dict(zip(names, values))


def _copy(conn, table, names: list[str], rows: Iterator[tuple]) -> None:
    """The rows into the table with PostgreSQL's COPY, in the session's transaction. psycopg's
    executemany sends one INSERT per row (pipelined); for a 100k-row import's results, conclusions
    and log entries that was 8.9 of its 31 s under the profiler. The values are the bind processors'
    (a JSON column's is psycopg's Json, written by the engine's json_serializer), adapted by
    psycopg as parameters are; ids and defaults are the server's, as with INSERT."""
    prep = conn.dialect.identifier_preparer
    columns = ", ".join(prep.quote(table.c[n].name) for n in names)
    with conn.connection.driver_connection.cursor() as cur:
        with cur.copy(f"COPY {prep.format_table(table)} ({columns}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)


def one_of(s: Session, column, values: list):
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`, one parameter instead of one per
    value: SQLAlchemy expands, and psycopg parses, every IN list anew (800 lists of 500 values took
    4 of a 100k-row import's 31 s there under the profiler), and the server plans it faster."""
    if s.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


_INSERTS: dict[tuple, tuple] = {}


def _insert_statement(table, dialect, keys: tuple[str, ...]) -> tuple[str, list[str], list, bool] | None:
    """A table's INSERT of these columns for the dialect: its SQL, the parameters in order, each one's
    bind processor (None when the driver takes the value as it is) and whether they are positional;
    None when the statement has parameters besides the given columns (Python-side defaults)."""
    key = (table.name, dialect.name, dialect.paramstyle, keys)
    if key not in _INSERTS:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        positional = compiled.positiontup is not None
        names = list(compiled.positiontup) if positional else list(compiled.binds)
        if set(names) != set(keys) or compiled.escaped_bind_names:
            _INSERTS[key] = None
        else:
            processors = compiled._bind_processors
            _INSERTS[key] = (compiled.string, names, [processors.get(n) for n in names], positional)
    return _INSERTS[key]


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def head_revision() -> str:
    """The newest migration, read from the files (Alembic itself is only imported to migrate)."""
    revs, downs = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        body = path.read_text(encoding="utf-8")
        rev = re.search(r"^revision\s*=\s*['\"]([^'\"]+)", body, re.M)
        down = re.search(r"^down_revision\s*=\s*['\"]([^'\"]+)", body, re.M)
        if rev:
            revs.add(rev.group(1))
        if down:
            downs.add(down.group(1))
    heads = revs - downs
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads")
    return heads.pop()


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()


class Database:
    """A database the services work on: an engine plus a session factory."""

    def __init__(self, url: str, read_only: bool = False, auto_migrate: bool = True):
        self.url = url
        self.read_only = read_only
        self.engine = get_engine(url, read_only)
        if auto_migrate and not read_only and not schema_is_current(self.engine):
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self._sessions() as s:
            with s.begin():
                yield s

    def lock_writers(self, s: Session) -> None:
        """Wait for every other writing transaction to end. SQLite's BEGIN IMMEDIATE already did."""
        if self.dialect == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(7301708)"))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def create_reader(engine: Engine, name: str, password: str) -> None:
    """A PostgreSQL role that can read every table and view and write nothing."""
    import re

    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        raise UserError("Skrivskyddade roller finns i PostgreSQL. För SQLite: öppna filen skrivskyddad eller "
                        "använd filrättigheter.", cli="Filen öppnas skrivskyddad med --read-only (mode=ro).")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise UserError(f"Ogiltigt rollnamn {name!r} (små bokstäver, siffror och _).")
    with engine.begin() as conn:
        db = conn.execute(text("SELECT current_database()")).scalar()
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).scalar()
        pw = password.replace("'", "''")
        conn.execute(text(f"{'ALTER' if exists else 'CREATE'} ROLE {name} LOGIN PASSWORD '{pw}'"))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO {name}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {name}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}"))
        conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {name}"))
        conn.execute(text(f"ALTER ROLE {name} SET default_transaction_read_only = on"))
