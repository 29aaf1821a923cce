"""Risk workshops in Excel: a template per participant, and the import of one or many participants'
files: agreed score = median, spread recorded, disagreements flagged, new rows become new risks.

Median rounding: with an even number of participants the two middle values are averaged and rounded
up to the next step (the cautious choice: a tie between "2" and "3" counts as 3).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update

from ikcheck import register, yamlsrc
from ikcheck.app import App, output_path
from ikcheck.calendar import parse_date, today
from ikcheck.errors import Problem, UserError, ValidationFailed
from ikcheck.gcpause import paused_gc
from ikcheck.matrix import Matrix
from ikcheck.store import coverage
from ikcheck.store.audit import rows_digest
from ikcheck.store.db import bulk_insert
from ikcheck.store.models import ImportBatch, Organisation, Risk, RiskAssessment, Unit, Workshop, utcnow
from ikcheck.workbooks import reader
from ikcheck.workbooks import workshop as wbw

FLAG_SPREAD = 2


def median_step(values: list[int]) -> int:
    ordered = sorted(values)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return math.ceil((ordered[n // 2 - 1] + ordered[n // 2]) / 2)


def catalogue(app: App) -> list[dict]:
    path = app.settings.riskregister_dir / "katalog.yaml"
    if not path.is_file():
        return []
    return [dict(r) for r in yamlsrc.load(path).get("risks") or []]


_PHRASING = {"kontrollmoment": {"annan": "Granska om ”{risk}” förekommer."}, "omfattning_enhet": {"annan": "ärenden"}}


def phrasing(app: App) -> dict:
    """How a plan words what the catalogue knows: the kontrollmoment per method ({risk}, {enhet}),
    what a sample is counted in per category, and the catalogue risks' own kontrollmoment by title."""
    path = app.settings.riskregister_dir / "katalog.yaml"
    data = yamlsrc.load(path) if path.is_file() else {}
    own = {str(r["title"]): str(r["kontrollmoment"]) for r in data.get("risks") or [] if r.get("kontrollmoment")}
    return {"kontrollmoment": {**_PHRASING["kontrollmoment"], **dict(data.get("kontrollmoment") or {})},
            "per_category": dict(data.get("kontrollmoment_per_kategori") or {}),
            "omfattning_enhet": {**_PHRASING["omfattning_enhet"], **dict(data.get("omfattning_enhet") or {})},
            "own": own}


def sample_noun(words_: dict, category: str | None) -> str:
    nouns = words_["omfattning_enhet"]
    return str(nouns.get(category or "", nouns["annan"]))


def control_step(words_: dict, title: str, category: str | None, method: str | None) -> str:
    """A proposed kontrollpunkt's kontrollmoment for a risk, in a sentence that quotes the risk (a
    risk is phrased as what goes wrong, so "kontrollera att rutinerna förhindrar: … inte …" read as
    a double negative)."""
    if title in words_["own"]:
        return words_["own"][title]
    templates = words_["kontrollmoment"]
    text = str(words_.get("per_category", {}).get(category or "") or templates.get(method or "", templates["annan"]))
    return text.replace("{risk}", title).replace("{enhet}", sample_noun(words_, category))


def template(app: App, unit_code: str, year: int, out: Path | None = None, participants: int = 1,
             org_code: str | None = None) -> list[Path]:
    if participants < 1 or participants > 50:
        raise UserError("Antal deltagare ska vara 1–50.")
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        m = app.load_matrix(org.matrix_name)
        prev = {r.id: (ra.likelihood, ra.impact) for r, ra in register.current_assessments(s, org.id, year - 1, unit.id)}
        procs = {p.id: p.name for p in unit.processes}
        # a row's key is the risk's code, not a database id: the same register gives the same file
        risks = [{"id": r.code, "code": r.code, "process": procs.get(r.process_id), "title": r.title,
                  "category": r.category, "description": r.description, "prev": prev.get(r.id)}
                 for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id, Risk.status == "active").order_by(Risk.code))]
        meta = {"org": org.code, "unit": unit.code, "unit_name": unit.name, "year": year}
        processes = [p.name for p in unit.processes]
    base = output_path(out, f"workshop-{unit.code}-{year}.xlsx")
    cat = catalogue(app)
    if participants == 1:
        return [wbw.write_template(base, meta, m, processes, risks, cat)]
    return [wbw.write_template(base.with_name(f"{base.stem}-deltagare-{i}{base.suffix}"), meta, m, processes, risks, cat)
            for i in range(1, participants + 1)]


@dataclass
class WorkshopReport:
    unit: str = ""
    year: int = 0
    files: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    assessed: int = 0
    new_risks: int = 0
    flagged: int = 0


def import_files(app: App, files: list[Path], unit_code: str | None = None, year: int | None = None,
                 org_code: str | None = None, held_on: str | dt.date | None = None) -> WorkshopReport:
    """Validate every file first (same workshop, known risks, scores on the matrix); then one transaction.
    `held_on` is the day the workshop was held, when the files are read in later (default: today)."""
    day = parse_date(held_on, "--date") if held_on else None
    if day and day > today():
        raise UserError(f"--date: {day} ligger i framtiden; ange dagen då workshoppen hölls.")
    with paused_gc():
        return _import(app, [Path(f) for f in files], unit_code, year, org_code, day)


def _import(app: App, files: list[Path], unit_code: str | None, year: int | None,
            org_code: str | None, held_on: dt.date | None) -> WorkshopReport:
    report = WorkshopReport()
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        m = app.load_matrix(org.matrix_name)
        new, report.already, problems = app.files_to_import(
            s, org, "workshop", files, "en fil per deltagare, med deltagarens namn vid Deltagare: överst i mallen")
        tables = []
        for path, digest in new:
            try:
                if reader.sniff(path) != "xlsx":
                    raise ValidationFailed(f"Filen {path.name} är ingen Excel-arbetsbok.", [Problem(
                        "filen är en textfil (t.ex. CSV) med Excel-namn, inte workshopmallen", file=path.name,
                        expected="den ifyllda workshopmallen (.xlsx)")])
                table = reader.read(path, wbw.COLUMNS, sheet=wbw.SHEET, info_sheet=wbw.INFO)
            except ValidationFailed as exc:
                problems += exc.problems or [Problem(exc.message, file=path.name)]
                continue
            tables.append((path, digest, table))
        if not tables and not problems:
            return report  # every file was imported before: nothing changes
        unit, year = which_workshop(s, org, m, tables, unit_code, year, problems)
        if unit is None:
            raise ValidationFailed("Workshopfilerna kunde inte läsas; ingenting har sparats.", problems)
        # keys: the risk's code; "R<id>" in templates made before the code was the key
        risks = {}
        for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id)):
            risks[r.code] = risks[f"R{r.id}"] = r
        processes = {p.name.lower(): p for p in unit.processes} | {p.code.lower(): p for p in unit.processes}
        scored: dict[str, list[dict]] = defaultdict(list)   # risk key -> participants' scores
        new: dict[str, dict] = {}                            # normalised title -> new risk
        for n, (path, _digest, table) in enumerate(tables):
            name = wbw.participant(table) or path.stem
            report.participants.append(name)
            rows, errs = wbw.parse_rows(table.rows, m)
            problems += errs
            for r in rows:
                entry = {"name": name, "file": path.name, "likelihood": r.likelihood, "impact": r.impact,
                         "res_l": r.res_l, "res_i": r.res_i, "comment": r.comment, "batch": n}
                if r.id is not None:
                    risk = risks.get(r.id)
                    if risk is None:
                        problems.append(r.row.problem("id", f"risken {r.id} hör inte till {unit.name}",
                                                      f"rader ur {unit.name}s mall"))
                    elif risk.status != "active":
                        problems.append(r.row.problem("id", f"risken {risk.code} är avslutad", "aktiva risker"))
                    else:
                        scored[risk.code].append(entry)
                    continue
                proc = processes.get((r.process or "").lower())
                if r.process and proc is None:
                    problems.append(r.row.problem("process", f"processen {r.process!r} finns inte i {unit.name}",
                                                  ", ".join(p.name for p in unit.processes)))
                    continue
                key = " ".join(r.title.lower().split())
                item = new.setdefault(key, {"title": r.title, "process": proc, "category": r.category,
                                            "description": r.description, "scores": []})
                item["scores"].append(entry)
        if problems:
            raise ValidationFailed(
                f"Workshopimporten avbröts: {len(problems)} fel. Ingenting har sparats; rätta filerna och läs in igen.",
                sorted(problems, key=lambda p: (p.file or "", p.sheet or "", p.row or 0, p.column or "")))
        report.unit, report.year = unit.code, year
        if not tables:
            return report
        sources = [Source(path.name, digest, len(table.rows), wbw.participant(table) or path.stem)
                   for path, digest, table in tables]
        store(app, s, org, unit, year, m, sources, risks, scored, new, report, held_on)
        return report


@dataclass
class Source:
    """Where a participant's scores came from: a file (its name and content hash), or a live workshop
    in the browser (ikcheck/live.py: the scores' own hash). One import batch each."""

    filename: str
    content_hash: str
    rows: int
    participant: str


def which_workshop(s, org: Organisation, m: Matrix, tables, unit_code, year, problems):
    """All files must be templates of the same unit and year, made with the matrix in force."""
    seen = None
    for path, _d, table in tables:
        info = table.extra
        if str(info.get("org") or "") != org.code:
            what = (f"filen är en mall för {info['org']}, inte för {org.code}" if info.get("org") else
                    "filen är ingen workshopmall från ikcheck (den saknar uppgift om kommun)")
            problems.append(Problem(what, file=path.name, sheet=wbw.INFO if info.get("org") else None,
                                    expected="en workshopmall från ikcheck för den här kommunen"))
            continue
        key = (str(info.get("unit")), int(info.get("year") or 0))
        if unit_code and key[0] != unit_code or year and key[1] != year:
            problems.append(Problem(f"filen gäller {key[0]} {key[1]}, inte {unit_code or key[0]} {year or key[1]}",
                                    file=path.name, expected=f"mallen för {unit_code or key[0]} {year or key[1]}"))
            continue
        if seen and key != seen[0]:
            problems.append(Problem(f"filen gäller {key[0]} {key[1]} men {seen[1]} gäller {seen[0][0]} {seen[0][1]}",
                                    file=path.name, expected="filer från samma workshop"))
            continue
        if info.get("matrix_hash") and info["matrix_hash"] != m.content_hash:
            problems.append(Problem("mallen gjordes med en annan version av riskmatrisen", file=path.name,
                                    expected=f"en ny mall för {m.name} v{m.version}"))
            continue
        seen = seen or (key, path.name)
    if seen is None:
        return None, None
    unit = s.scalar(select(Unit).where(Unit.org_id == org.id, Unit.code == seen[0][0]))
    if unit is None:
        problems.append(Problem(f"enheten {seen[0][0]!r} finns inte", file=seen[1]))
        return None, None
    return unit, seen[0][1]


def _agree(m: Matrix, scores: list[dict]) -> dict:
    ls, is_ = [e["likelihood"] for e in scores], [e["impact"] for e in scores]
    out = {"likelihood": median_step(ls), "impact": median_step(is_), "residual_likelihood": None,
           "residual_impact": None}
    res = [e for e in scores if e["res_l"] is not None]
    if res:
        out["residual_likelihood"] = median_step([e["res_l"] for e in res])
        out["residual_impact"] = median_step([e["res_i"] for e in res])
    li, im = m.likelihood_values(), m.impact_values()
    out["spread"] = max(max(li.index(x) for x in ls) - min(li.index(x) for x in ls),
                        max(im.index(x) for x in is_) - min(im.index(x) for x in is_))
    return out


def store(app: App, s, org: Organisation, unit: Unit, year: int, m: Matrix, sources: list[Source], risks, scored,
          new, report: WorkshopReport, held_on: dt.date | None, agreed: dict | None = None) -> None:
    """What a workshop records, however it was held (Excel files, or live in the browser): each
    participant's scores, the agreed score (the median, or what the group agreed with its reason:
    `agreed`, by the same keys as `scored`, for a new risk "ny:" and its key in `new`), the spread,
    the comments and the day held."""
    now = utcnow()
    agreed = dict(agreed or {})
    workshop = s.scalar(select(Workshop).where(Workshop.unit_id == unit.id, Workshop.year == year))
    if workshop is None:
        workshop = Workshop(org_id=org.id, unit_id=unit.id, year=year, held_on=held_on or today())
        s.add(workshop)
    elif held_on:
        workshop.held_on = held_on
    batches = []
    for src in sources:
        b = ImportBatch(org_id=org.id, kind="workshop", filename=src.filename, content_hash=src.content_hash,
                        rows=src.rows, participant=src.participant, imported_by=app.user)
        s.add(b)
        batches.append(b)
    s.flush()
    matrix_row = app.matrix_row(s, m)
    # new risks first (bulk), numbered after the unit's existing ones
    if new:
        start = int(register.next_risk_code(s, org, unit).rsplit("R", 1)[1])
        bulk_insert(s, Risk, [{
            "org_id": org.id, "unit_id": unit.id, "process_id": item["process"].id if item["process"] else None,
            "code": f"{unit.code}-R{start + k:03d}", "title": item["title"], "description": item["description"],
            "category": item["category"], "owner": None, "status": "active", "source": "workshop",
            "legal_requirement": item["category"] == "legal", "created_at": now} for k, item in enumerate(new.values())])
        codes = [f"{unit.code}-R{start + k:03d}" for k in range(len(new))]
        by_code = {r.code: r for r in s.scalars(select(Risk).where(Risk.org_id == org.id, Risk.code.in_(codes)))}
        for code, (key, item) in zip(codes, new.items()):
            risk = by_code[code]
            risks[risk.code] = risk
            scored[risk.code] = item["scores"]
            if f"ny:{key}" in agreed:
                agreed[risk.code] = agreed.pop(f"ny:{key}")
        report.new_risks = len(new)
    # earlier participants of the same workshop count too (files sent in on another day)
    ids = [risks[k].id for k in scored]
    current = {}
    for i in range(0, len(ids), 500):
        for ra in s.scalars(select(RiskAssessment).where(RiskAssessment.risk_id.in_(ids[i:i + 500]),
                                                         RiskAssessment.year == year, RiskAssessment.is_current.is_(True))):
            current[ra.risk_id] = ra
    rows = []
    for key, scores in scored.items():
        risk = risks[key]
        old = current.get(risk.id)
        earlier = [dict(p) for p in (old.participants if old and old.workshop_id == workshop.id else [])]
        entries = earlier + [{k: v for k, v in e.items() if k != "batch"} | {"batch_id": batches[e["batch"]].id}
                             for e in scores]
        a = _agree(m, entries)
        reason = None
        if key in agreed:  # the group's own score, with why it is not the median
            a["likelihood"], a["impact"], reason = agreed[key]
        lvl = m.level(a["likelihood"], a["impact"]).name
        res = a["residual_likelihood"] is not None
        rows.append({
            "org_id": org.id, "risk_id": risk.id, "year": year, "matrix_id": matrix_row.id,
            "likelihood": a["likelihood"], "impact": a["impact"], "score": a["likelihood"] * a["impact"], "level": lvl,
            "residual_likelihood": a["residual_likelihood"], "residual_impact": a["residual_impact"],
            "residual_score": a["residual_likelihood"] * a["residual_impact"] if res else None,
            "residual_level": m.level(a["residual_likelihood"], a["residual_impact"]).name if res else None,
            "spread": a["spread"], "flagged": a["spread"] >= FLAG_SPREAD, "participants": entries,
            "agreed_reason": reason,
            "assessed_by": f"Riskworkshop {unit.code} {year} ({len(entries)} deltagare)", "assessed_at": now,
            "workshop_id": workshop.id, "import_batch_id": batches[scores[-1]["batch"]].id,
            "supersedes_id": old.id if old else None, "is_current": True})
    superseded = [r["supersedes_id"] for r in rows if r["supersedes_id"]]
    for i in range(0, len(superseded), 500):
        s.execute(update(RiskAssessment).where(RiskAssessment.id.in_(superseded[i:i + 500])).values(is_current=False))
    coverage.touch(s, RiskAssessment, superseded)
    bulk_insert(s, RiskAssessment, rows)
    report.assessed = len(rows)
    report.flagged = sum(1 for r in rows if r["flagged"])
    report.files = [b.filename for b in batches]
    digest = rows_digest(rows)
    app.audit(s, "importera workshop", "workshop", workshop.id, after={
        "unit": unit.code, "year": year, "files": [{"file": b.filename, "hash": b.content_hash,
                                                    "participant": b.participant} for b in batches],
        "assessments": len(rows), "new_risks": report.new_risks, "flagged": report.flagged,
        "superseded": superseded[:1000], "rows_digest": digest}, org_id=org.id)
    s.flush()


def list_catalogue(app: App) -> list[dict]:
    return [{"område": r.get("area"), "kategori": r.get("category"), "risk": r.get("title")} for r in catalogue(app)]



