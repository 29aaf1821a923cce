"""Anchors: the audit log's head recorded outside the database.

A receipt (`ikcheck audit anchor`) is a small JSON file with the head's number and hash, the time,
and with a signing key an Ed25519 signature. Every decided plan and every report prints the event it
was made at in its provenance ("Kontrollsumma") and carries it whole in the file's metadata, so the
nämnd's archived PDF is an anchor too. `audit verify --anchor FILE` proves that the log still holds
that event unchanged: a log wiped, cut, rewritten or forged after it no longer does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ikcheck.app import App, output_path
from ikcheck.calendar import now
from ikcheck.errors import UserError
from ikcheck.store.audit import Anchor
from ikcheck.store.models import AuditEvent, AuditHead
from ikcheck.store.signing import Verifier

KIND = "ikcheck-kvitto"
TOKEN = "ikcheck-kontrollsumma"
_TOKEN_RE = re.compile(rf"{TOKEN}:(\d+):([0-9a-f]{{64}})")
_LITERAL_RE = re.compile(r"(\d+):([0-9a-fA-F]{16,64})")


def token(seq: int, hash_: str) -> str:
    """The machine-readable form a document carries in its metadata."""
    return f"{TOKEN}:{seq}:{hash_}"


def stamp(ev: AuditEvent | None) -> dict:
    """What a document prints: the event's number and hash, and its token."""
    if ev is None:
        return {"seq": 0, "hash": "", "short": "", "token": ""}
    return {"seq": ev.seq, "hash": ev.hash, "short": ev.hash[:16], "token": token(ev.seq, ev.hash)}


def _message(seq: int, hash_: str, at: str) -> bytes:
    return f"{KIND}:{seq}:{hash_}:{at}".encode()


def receipt(app: App, out: Path | None = None) -> tuple[Path, dict]:
    """Write a receipt of the log's head now (signed with the configured key)."""
    with app.session() as s:
        head = s.get(AuditHead, 1)
        if head is None or head.seq == 0:
            raise UserError("Granskningsloggen är tom: det finns inget huvud att ta kvitto på.")
        ev = s.get(AuditEvent, head.seq)
        at = now().replace(microsecond=0).isoformat()
        body = {"typ": KIND, "version": 1, "händelse": head.seq, "hash": head.hash,
                "händelsens tid (UTC)": ev.at.replace(microsecond=0).isoformat() if ev else None,
                "kvitterat (UTC)": at, "databas": _where(app.settings.database_url)}
    if app.signer:
        body["nyckel"] = app.signer.key_id
        body["signatur"] = app.signer.sign(_message(body["händelse"], body["hash"], at))
    path = output_path(out, f"kvitto-granskningslogg-{body['händelse']}.json")
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path, body


def _where(url: str) -> str:
    """The database named without a password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", url)


def read(path: Path | str, verifier: Verifier | None) -> list[Anchor]:
    """The anchors in a receipt, a document made by ikcheck (PDF, HTML, xlsx), or a literal
    "NUMMER:HASH" as printed in a document's Kontrollsumma."""
    p = Path(path)
    if not p.exists():
        m = _LITERAL_RE.fullmatch(str(path).strip())
        if m:
            return [Anchor(int(m.group(1)), m.group(2).lower(), f"kontrollsumman {path}")]
        raise UserError(f"Förankringen {path}: filen finns inte (ange ett kvitto, ett dokument från ikcheck eller "
                        "NUMMER:HASH ur ett dokuments kontrollsumma).")
    suffix = p.suffix.lower()
    if suffix == ".json":
        return [_receipt(p, verifier)]
    if suffix == ".pdf":
        found = _pdf_tokens(p)
    elif suffix == ".xlsx":
        found = _xlsx_tokens(p)
    elif suffix == ".docx":
        found = _docx_tokens(p)
    elif suffix in (".html", ".htm", ".txt"):
        found = _TOKEN_RE.findall(p.read_text(encoding="utf-8", errors="replace"))
    else:
        raise UserError(f"Förankringen {p.name}: okänd filtyp (kvitto .json, dokument .pdf, .docx, .html eller .xlsx).")
    if not found:
        raise UserError(f"Förankringen {p.name}: dokumentet har ingen kontrollsumma från ikcheck (det gjordes före "
                        "version 0.1 av granskningsloggens förankring, eller av något annat program).")
    return [Anchor(int(seq), h, f"dokumentet {p.name}") for seq, h in dict.fromkeys(found)]


def _receipt(p: Path, verifier: Verifier | None) -> Anchor:
    try:
        body = json.loads(p.read_text(encoding="utf-8"))
        seq, hash_, at = int(body["händelse"]), str(body["hash"]), str(body["kvitterat (UTC)"])
        if body.get("typ") != KIND or not re.fullmatch(r"[0-9a-f]{64}", hash_):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UserError(f"Förankringen {p.name}: filen är inget kvitto från ikcheck (audit anchor).") from None
    source = f"kvittot {p.name}"
    signature = body.get("signatur")
    if signature and verifier is not None and not verifier.valid(_message(seq, hash_, at), signature):
        raise UserError(f"Kvittot {p.name} har ingen giltig signatur med nyckel {verifier.key_id}: det är ändrat "
                        "eller gjort av någon annan än ikcheck. Det kan inte användas som förankring.")
    if signature and verifier is not None:
        source += f" (signerat med nyckel {verifier.key_id})"
    return Anchor(seq, hash_, source)


def _pdf_tokens(p: Path) -> list[tuple[str, str]]:
    import pikepdf

    try:
        with pikepdf.open(p) as pdf:
            keywords = str(pdf.docinfo.get("/Keywords", ""))
    except pikepdf.PdfError:
        raise UserError(f"Förankringen {p.name}: filen är ingen läsbar PDF.") from None
    return _TOKEN_RE.findall(keywords)


def _docx_tokens(p: Path) -> list[tuple[str, str]]:
    from zipfile import BadZipFile

    from docx import Document

    try:
        keywords = Document(str(p)).core_properties.keywords or ""
    except (BadZipFile, OSError, KeyError, ValueError):
        raise UserError(f"Förankringen {p.name}: filen är inget läsbart Word-dokument.") from None
    return _TOKEN_RE.findall(keywords)


def _xlsx_tokens(p: Path) -> list[tuple[str, str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError):
        raise UserError(f"Förankringen {p.name}: filen är ingen läsbar Excel-fil.") from None
    found = []
    try:
        for ws in wb.worksheets:
            for values in ws.iter_rows(values_only=True):
                found += [t for v in values if isinstance(v, str) for t in _TOKEN_RE.findall(v)]
    finally:
        wb.close()
    return found
