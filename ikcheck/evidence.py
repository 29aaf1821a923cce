"""Underlag: files attached to a control result (stickprovslistor, protokoll, skärmbilder).

A file's type is decided by its content, never by its name: PDF, Excel (xlsx), Word (docx), CSV, PNG
and JPEG are taken; anything else, an encrypted file, or one over 25 MB is refused in Swedish before
anything is stored. The bytes are stored once per SHA-256 (content-addressed: the same file attached
to ten results is stored once) in the database, so that several app hosts need nothing else shared.
Each attachment is an `evidence` row under the audit log; `audit verify` recomputes every stored
file's hash (`check_contents`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck.app import App
from ikcheck.errors import NotFound, UserError
from ikcheck.store.audit import snapshot
from ikcheck.store.models import ControlResult, Evidence, EvidenceContent

MAX_BYTES = 25 * 1024 * 1024
ALLOWED = "PDF, Excel (xlsx), Word (docx), CSV, PNG eller JPEG"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Kind:
    media_type: str
    label: str
    suffix: str


PDF = Kind("application/pdf", "PDF", ".pdf")
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel", ".xlsx")
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word", ".docx")
CSV = Kind("text/csv", "CSV", ".csv")
PNG = Kind("image/png", "PNG-bild", ".png")
JPEG = Kind("image/jpeg", "JPEG-bild", ".jpg")


def detect(name: str, content: bytes) -> Kind:
    """The file's kind by its content, or a Swedish refusal naming the file and what is accepted."""
    if not content:
        raise UserError(f"Filen {name} är tom.")
    if len(content) > MAX_BYTES:
        raise UserError(f"Filen {name} är {len(content) / 1024 / 1024:.1f} MB; ett underlag får vara högst "
                        f"{MAX_BYTES // (1024 * 1024)} MB. Dela upp den, eller spara den som PDF med lägre upplösning.")
    head = content[:8]
    if head.startswith(b"%PDF-"):
        return _pdf(name, content)
    if head == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return _office(name, content)
    if head == OLE:
        if "EncryptionInfo".encode("utf-16-le") in content:  # Office's "Kryptera med lösenord"
            raise UserError(f"Filen {name} är lösenordsskyddad (krypterad). Spara den utan lösenord och bifoga den "
                            "igen: ett underlag ska kunna läsas av revisorn.")
        raise UserError(f"Filen {name} är i ett äldre Office-format (.xls eller .doc). Spara den som .xlsx, .docx "
                        "eller PDF och bifoga den igen.")
    if _csv(content):
        return CSV
    raise UserError(f"Filen {name} är inte av en typ som tas emot som underlag (innehållet avgör, inte namnet); "
                    f"bifoga {ALLOWED}.")


def _pdf(name: str, content: bytes) -> Kind:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            if pdf.is_encrypted:
                raise UserError(f"Filen {name} är en krypterad PDF. Spara den utan lösenord och skydd och bifoga den "
                                "igen: ett underlag ska kunna läsas av revisorn.")
    except pikepdf.PasswordError:
        raise UserError(f"Filen {name} är en lösenordsskyddad PDF. Spara den utan lösenord och bifoga den igen.") from None
    except pikepdf.PdfError:
        raise UserError(f"Filen {name} börjar som en PDF men går inte att läsa; den är skadad eller ofullständig.") from None
    return PDF


def _office(name: str, content: bytes) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UserError(f"Filen {name} är en skadad zip-fil och går inte att läsa.") from None
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return XLSX
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return DOCX
    raise UserError(f"Filen {name} är en zip-fil men inget Excel- eller Word-dokument; bifoga {ALLOWED}.")


def _csv(content: bytes) -> bool:
    """Text with columns: UTF-8 (or Excel's Windows-1252), no NUL bytes, a separator on its first line."""
    if b"\x00" in content:
        return False
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content[:65536].decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    if any(ord(c) < 32 and c not in "\r\n\t" for c in text):
        return False
    first = text.splitlines()[0] if text.splitlines() else ""
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=";,\t")
    except csv.Error:
        return False
    return first.count(dialect.delimiter) >= 1


def download_name(name: str, kind: Kind) -> str:
    """The name a download is given: as uploaded, with the suffix its content calls for (a PDF uploaded
    as "lista.png" downloads as "lista.png.pdf", so no program opens it as something else)."""
    base = PurePath(name).name or "underlag"
    return base if base.lower().endswith(kind.suffix) or (kind is JPEG and base.lower().endswith(".jpeg")) \
        else base + kind.suffix


def _lineage_ids(s: Session, res: ControlResult) -> list[int]:
    return list(s.scalars(select(ControlResult.id).where(ControlResult.lineage_id == res.lineage_id,
                                                         ControlResult.period == res.period)))


def attached(s: Session, res: ControlResult | None) -> set[str]:
    """The sha256 of every file attached to the result or an earlier version of it."""
    if res is None:
        return set()
    return set(s.scalars(select(Evidence.sha256).where(Evidence.result_id.in_(_lineage_ids(s, res)))))


def twice(name: str, digest: str, known: set[str]) -> str | None:
    """Why a file (its sha256) cannot be attached where the `known` files are, or None (and it is
    added to them: the same file twice in one upload is refused too)."""
    if digest in known:
        return f"Filen {name} är redan bifogad till resultatet."
    known.add(digest)
    return None


def attach(app: App, result_id: int, files: list[tuple[str, bytes]], org_code: str | None = None) -> list[int]:
    """Attach files to a result, all or none: every file is checked first."""
    checked = [(name, content, detect(name, content)) for name, content in files]
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        res = s.get(ControlResult, result_id)
        if res is None or res.org_id != org.id:
            raise NotFound("Resultatet finns inte.")
        return add(app, s, res, checked)


def add(app: App, s: Session, res: ControlResult, checked: list[tuple[str, bytes, Kind]]) -> list[int]:
    """Files already checked (`detect`) attached to a result in the caller's writing transaction: a
    result stored from the web form gets its underlag in the same transaction, or neither is stored."""
    known = attached(s, res)
    ids = []
    for name, content, kind in checked:
        digest = hashlib.sha256(content).hexdigest()
        if (why := twice(name, digest, known)) is not None:
            raise UserError(why)
        if s.get(EvidenceContent, digest) is None:  # deduplicated: stored once, however often attached
            s.add(EvidenceContent(sha256=digest, content=content))
            s.flush()
        ev = Evidence(org_id=res.org_id, result_id=res.id, filename=download_name(name, kind)[:255],
                      media_type=kind.media_type, size=len(content), sha256=digest, added_by=app.user)
        s.add(ev)
        s.flush()
        app.audit(s, "bifoga underlag", "evidence", ev.id, after=snapshot(ev), org_id=res.org_id)
        ids.append(ev.id)
    return ids


def listed(s: Session, res: ControlResult) -> list[dict]:
    """The underlag of a result, from any of its versions (a correction or approval keeps them)."""
    return [{"id": e.id, "filnamn": e.filename, "typ": _label(e.media_type), "storlek": e.size,
             "kontrollsumma": e.sha256, "bifogad": e.added_at, "av": e.added_by}
            for e in s.scalars(select(Evidence).where(Evidence.result_id.in_(_lineage_ids(s, res)))
                               .order_by(Evidence.id))]


def _label(media_type: str) -> str:
    return next((k.label for k in (PDF, XLSX, DOCX, CSV, PNG, JPEG) if k.media_type == media_type), media_type)


def content_of(app: App, evidence_id: int, org_code: str | None = None) -> tuple[Evidence, bytes]:
    with app.session() as s:
        org = app.org(s, org_code)
        ev = s.get(Evidence, evidence_id)
        if ev is None or ev.org_id != org.id:
            raise NotFound("Underlaget finns inte.")
        blob = s.get(EvidenceContent, ev.sha256)
        if blob is None:
            raise NotFound("Underlagets innehåll saknas i databasen.")
        s.expunge(ev)
        return ev, blob.content


def check_contents(s: Session, problems: list[str]) -> int:
    """Every stored file against its own SHA-256, and every attachment's file present: what `audit
    verify` adds for underlag (the evidence rows themselves are under the row log)."""
    n = 0
    for digest, content in s.execute(select(EvidenceContent.sha256, EvidenceContent.content)).yield_per(20):
        n += 1
        if hashlib.sha256(content).hexdigest() != digest:
            problems.append(f"Underlaget med kontrollsumma {digest[:16]} har ändrats i databasen: innehållet "
                            "stämmer inte längre med kontrollsumman.")
    stored = set(s.scalars(select(EvidenceContent.sha256)))
    for ev_id, digest, name in s.execute(select(Evidence.id, Evidence.sha256, Evidence.filename)):
        if digest not in stored:
            problems.append(f"Underlaget {name} (id {ev_id}) saknas i databasen: filens innehåll har tagits bort.")
    return n
