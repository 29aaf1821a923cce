"""The application context every service takes: settings, the database and who is acting."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck import matrix as matrix_mod
from ikcheck.config import Settings, load_settings
from ikcheck.errors import NotFound, Problem, UserError
from ikcheck.store import Database, audit
from ikcheck.store.db import missing_file, readonly_file
from ikcheck.store.signing import Signer, Verifier, load_signer, load_verifier
from ikcheck.store.models import ImportBatch, Organisation, RiskMatrix, Unit
from ikcheck.workbooks.reader import content_hash


class App:
    def __init__(self, settings: Settings | None = None, read_only: bool = False):
        self.settings = settings or load_settings()
        self.read_only = read_only
        self.notice: str | None = None  # said once by the CLI: the database was opened read-only by itself

    @cached_property
    def db(self) -> Database:
        if not self.read_only and (why := readonly_file(self.settings.database_url)):
            self.read_only = True
            self.notice = (f"Databasen {why}: den öppnas skrivskyddad. Kommandon som bara läser fungerar; "
                           "kommandon som ändrar data körs inte.")
        return Database(self.settings.database_url, read_only=self.read_only)

    @property
    def user(self) -> str:
        return self.settings.user

    def acting_as(self, label: str) -> App:
        """The same application (database, key) with another actor for the audit log: the web app acts
        as the logged-in person ("Namn (konto N)"), never as the server's own user."""
        other = copy.copy(self)
        other.settings = dataclasses.replace(self.settings, user=label)
        return other

    @cached_property
    def signer(self) -> Signer | None:
        return load_signer(self.settings.signing_key) if self.settings.signing_key else None

    def verifier(self, public_key: Path | None = None) -> Verifier | None:
        """The key a verify checks the head's signature with: the one given, the configured public key,
        or the public half of the signing key."""
        path = public_key or self.settings.public_key
        if path:
            return load_verifier(path)
        return self.signer.verifier if self.signer else None

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One transaction. A writing one (`write=True`) is serialised with every other writer before it
        reads anything (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so it decides on what
        the one before it committed, and it ends by putting its rows under the audit log."""
        if not write and (absent := missing_file(self.settings.database_url)):
            # reading creates nothing: a mistyped --db must not leave a new, empty database behind
            raise NotFound(f"Databasen {absent} finns inte.", cli="Ange rätt fil med --db, eller skapa en ny med "
                           "`ikcheck init --org FIL` (eller prova `ikcheck demo`).")
        db = self.db
        if write and self.read_only:
            raise UserError("Databasen är öppnad skrivskyddad" + ("" if not self.notice else
                            " (du har inte skrivrätt till den)") + ": det här ändrar data och görs inte. "
                            "Be den som förvaltar databasen om skrivrätt, eller arbeta på en kopia.",
                            cli=None if self.notice else "(Den öppnades med --read-only.)")
        with db.session() as s:
            if write:
                self.db.lock_writers(s)
            yield s
            if write:
                s.flush()  # what the block added but did not flush yet is the transaction's too
            if audit.writes_pending(s):
                if not write:
                    raise RuntimeError("a reading session wrote data: open it with app.session(write=True)")
                audit.finish(s, self.user, self.signer)

    def audit(self, s: Session, action: str, entity: str, entity_id: Any = None,
              before: Any = None, after: Any = None, org_id: int | None = None) -> None:
        audit.record(s, self.user, action, entity, entity_id, before, after, org_id)

    # --- lookups shared by every service -------------------------------------------------------
    def org(self, s: Session, code: str | None = None) -> Organisation:
        """The organisation named, or the only one in the database."""
        if code:
            org = s.scalar(select(Organisation).where(Organisation.code == code))
            if org is None:
                known = ", ".join(s.scalars(select(Organisation.code))) or "inga"
                raise NotFound(f"Organisationen {code!r} finns inte (finns: {known}).")
            return org
        orgs = s.scalars(select(Organisation).order_by(Organisation.id).limit(2)).all()
        if not orgs:
            raise NotFound("Databasen har ingen organisation ännu.",
                           cli="Skapa en med `ikcheck init --org FIL` eller prova `ikcheck demo`.")
        if len(orgs) > 1:
            raise UserError("Databasen har flera organisationer: ange vilken.", cli="Den anges med --org KOD.")
        return orgs[0]

    def unit(self, s: Session, org: Organisation, code: str) -> Unit:
        unit = s.scalar(
            select(Unit).where(Unit.org_id == org.id, (Unit.code == code) | (Unit.name == code))
        )
        if unit is None:
            known = ", ".join(u.code for u in org.units)
            raise NotFound(f"Enheten {code!r} finns inte i {org.name} (finns: {known}).")
        return unit

    def files_to_import(self, s: Session, org: Organisation, kind: str, files: list[Path],
                        one_each: str) -> tuple[list[tuple[Path, str]], list[str], list[Problem]]:
        """The files to read, each with its content hash; a Swedish line for each file imported before,
        saying when and by whom (the same file again changes nothing); and a problem for each file with
        the same content as an earlier one in this import, which would otherwise count twice (the same
        file given twice, or two participants' untouched workshop templates). `one_each` is what to do
        instead, for the message."""
        new, already, problems = [], [], []
        seen: dict[str, str] = {}  # content hash -> file name, in this import
        for path in map(Path, files):
            digest = content_hash(path) if path.is_file() else ""
            if digest in seen:
                problems.append(Problem(f"filen har samma innehåll som {seen[digest]}", file=path.name,
                                        expected=one_each))
                continue
            prior = s.scalar(select(ImportBatch).where(ImportBatch.org_id == org.id, ImportBatch.kind == kind,
                                                       ImportBatch.content_hash == digest)) if digest else None
            if prior is not None:
                already.append(f"{path.name}: inläst {prior.imported_at:%Y-%m-%d %H:%M} av {prior.imported_by}")
                continue
            if digest:
                seen[digest] = path.name
            new.append((path, digest))
        return new, already, problems

    def matrix_row(self, s: Session, m: matrix_mod.Matrix) -> RiskMatrix:
        """The stored version of a matrix, created the first time it is used."""
        row = s.scalar(
            select(RiskMatrix).where(
                RiskMatrix.name == m.name, RiskMatrix.content_hash == m.content_hash
            )
        )
        if row is None:
            row = RiskMatrix(name=m.name, version=m.version, content_hash=m.content_hash,
                             definition=m.definition)
            s.add(row)
            s.flush()
            self.audit(s, "registrera", "risk_matrix", row.id, after=audit.snapshot(row))
        return row

    def load_matrix(self, name: str) -> matrix_mod.Matrix:
        return matrix_mod.load(name, self.settings.matrices_dir)

    def matrix_for(self, org: Organisation, year: int) -> matrix_mod.Matrix:
        """The matrix a kommun assesses a year's risks on: its matrix, or the one it changed to from
        an earlier year (`org apply` with matrix_from; settings["matrices"]: [[year, name], …])."""
        return self.load_matrix(matrix_name_for(org, year))


def matrix_name_for(org: Organisation, year: int) -> str:
    changes = sorted((int(y), str(n)) for y, n in (org.settings or {}).get("matrices") or [])
    return next((n for y, n in reversed(changes) if y <= year), org.matrix_name)


def output_path(out: Path | None, default: str) -> Path:
    """Where a written file goes: `default` (a name with its format's suffix) when no --out is given,
    inside --out when it is a directory, else --out itself, with the suffix added when it has none.
    A suffix of another format is refused rather than writing, say, a PDF into "rapport.html"."""
    suffix = Path(default).suffix
    if out is None:
        path = Path(default)
    elif Path(out).is_dir():
        path = Path(out) / default
    elif not Path(out).suffix:
        path = Path(out).with_suffix(suffix)
    elif Path(out).suffix.lower() != suffix:
        raise UserError(f"Filen {out} får fel ändelse: det som skrivs är {suffix[1:]}, "
                        f"så namnet ska sluta på {suffix}.")
    else:
        path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
