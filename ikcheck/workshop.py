"""Risk workshops in Excel: a template per participant, and the import of one or many participants'
files: agreed score = median, spread recorded, disagreements flagged, new rows become new risks.

Median rounding: with an even number of participants the two middle values are averaged and rounded
up to the next step (the cautious choice: a tie between "2" and "3" counts as 3).
"""

from __future__ import annotations

import datetime as dt
import math
import re
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
from ikcheck.store.audit import snapshot
from ikcheck.store.db import bulk_insert
from ikcheck.store.models import (
    ImportBatch, Organisation, Risk, RiskAssessment, Unit, Workshop, WorkshopComment, utcnow,
)
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
    return str(nouns.get(register.category_sv(category), nouns["annan"]))


def sample_text(words_: dict, size: int | None, category: str | None) -> str | None:
    """A sample as the plan words it: "25 ärenden"."""
    return None if size is None else f"{size} {sample_noun(words_, category)}"


def control_step(words_: dict, title: str, category: str | None, method: str | None) -> str:
    """A proposed kontrollpunkt's kontrollmoment for a risk, in a sentence that quotes the risk (a
    risk is phrased as what goes wrong, so "kontrollera att rutinerna förhindrar: … inte …" read as
    a double negative)."""
    if title in words_["own"]:
        return words_["own"][title]
    templates = words_["kontrollmoment"]
    category = register.category_sv(category)
    text = str(words_.get("per_category", {}).get(category or "") or templates.get(method or "", templates["annan"]))
    return text.replace("{risk}", title).replace("{enhet}", sample_noun(words_, category))


def template(app: App, unit_code: str, year: int, out: Path | None = None, participants: int = 1,
             org_code: str | None = None) -> list[Path]:
    if participants < 1 or participants > 50:
        raise UserError("Antal deltagare ska vara 1–50.")
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        if not unit.active_in(year):
            raise UserError(f"{unit.name} finns inte från {unit.retired_from}; håll workshoppen i den enhet som "
                            "tagit över dess risker.")
        m = app.matrix_for(org, year)
        prev = previous_scores(s, org, unit, year)
        procs = {p.id: p.name for p in unit.processes}
        # a row's key is the risk's code, not a database id: the same register gives the same file
        risks = [{"id": r.code, "code": r.code, "process": procs.get(r.process_id), "title": r.title,
                  "category": register.category_sv(r.category), "description": r.description, "prev": prev.get(r.id)}
                 for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id, Risk.status == "active").order_by(Risk.code))]
        meta = {"org": org.code, "unit": unit.code, "unit_name": unit.name, "year": year}
        processes = [p.name for p in unit.processes]
        cats = register.categories(org)
    base = output_path(out, f"workshop-{unit.code}-{year}.xlsx")
    cat = catalogue(app)
    if participants == 1:
        return [wbw.write_template(base, meta, m, processes, risks, cat, cats)]
    return [wbw.write_template(base.with_name(f"{base.stem}-deltagare-{i}{base.suffix}"), meta, m, processes, risks, cat, cats)
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
    comments: int = 0
    single: int = 0  # risks only one participant assessed ("en bedömare")
    duplicates: list[tuple[str, str, str, str]] = field(default_factory=list)  # new code, title, similar code, title
    after_decision: str | None = None


def import_files(app: App, files: list[Path], unit_code: str | None = None, year: int | None = None,
                 org_code: str | None = None, held_on: str | dt.date | None = None,
                 after_decision: str | None = None) -> WorkshopReport:
    """Validate every file first (same workshop, known risks, scores on the matrix, a participant's
    name, an assessment actually made); then one transaction. `held_on` is the day the workshop was
    held, when the files are read in later (default: today). A workshop for a year whose plan is
    decided is read in only with `after_decision`, the reason, which is recorded."""
    day = parse_date(held_on, "Workshopdagen") if held_on else None
    if day and day > today():
        raise UserError(f"Workshopdagen {day} ligger i framtiden; ange dagen då workshoppen hölls.")
    reason = " ".join((after_decision or "").split()) or None
    with paused_gc():
        return _import(app, reader.files_of(files), unit_code, year, org_code, day, reason)


def previous_scores(s, org: Organisation, unit: Unit, year: int) -> dict[int, tuple[int, int]]:
    """Last year's agreed scores of the unit's risks, by risk id: a risk continued from another unit
    at a reorganisation has the scores its predecessor got there."""
    own = dict(s.execute(select(Risk.id, Risk.continues_id).where(Risk.unit_id == unit.id)).all())
    wanted = set(own) | {c for c in own.values() if c}
    prev = {r.id: (ra.likelihood, ra.impact) for r, ra in register.current_assessments(s, org.id, year - 1)
            if r.id in wanted} if any(own.values()) else \
        {r.id: (ra.likelihood, ra.impact) for r, ra in register.current_assessments(s, org.id, year - 1, unit.id)}
    return {rid: prev[rid] if rid in prev else prev[cont] for rid, cont in own.items() if rid in prev or cont in prev}


def similar(a: str, b: str) -> bool:
    """Two risk titles that probably say the same thing in different words: most of their words
    agree (ignoring case, punctuation and short words), or the texts are nearly the same."""
    import difflib

    def words_of(t: str) -> set[str]:
        return {w[:6] for w in re.findall(r"[\wåäö]+", t.lower()) if len(w) > 3}

    wa, wb = words_of(a), words_of(b)
    if wa and wb and len(wa & wb) / min(len(wa), len(wb)) >= 0.6:
        return True
    return difflib.SequenceMatcher(None, wbw.title_key(a), wbw.title_key(b)).ratio() >= 0.8


def _import(app: App, files: list[Path], unit_code: str | None, year: int | None,
            org_code: str | None, held_on: dt.date | None, after_decision: str | None = None) -> WorkshopReport:
    report = WorkshopReport()
    with app.session(write=True) as s:
        org = app.org(s, org_code)
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
        unit, year = which_workshop(app, s, org, tables, unit_code, year, problems)
        if unit is None:
            raise ValidationFailed("Workshopfilerna kunde inte läsas; ingenting har sparats.", problems)
        m = app.matrix_for(org, year)
        # keys: the risk's code; "R<id>" in templates made before the code was the key
        risks = {}
        for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id)):
            risks[r.code] = risks[f"R{r.id}"] = r
        processes = {p.name.lower(): p for p in unit.processes} | {p.code.lower(): p for p in unit.processes}
        from ikcheck import planning  # (planning uses this module's wording: imported here)

        decided = planning.decided_plan(s, unit, year)  # a workshop for a decided year comes too late
        if decided is not None and not after_decision:
            problems.append(Problem(
                f"planen för {unit.name} {year} är redan beslutad ({decided.decision_date or 'beslutad'}); en ny "
                "riskbedömning ändrar inte det beslutade", file=tables[0][0].name if tables else None,
                expected="en workshop inför ett år utan beslutad plan, eller ett skäl att registrera "
                         "bedömningen ändå"))
        last_year = previous_scores(s, org, unit, year)
        cats = register.categories(org)
        scored: dict[str, list[dict]] = defaultdict(list)   # risk key -> participants' scores
        remarks: dict[str, list[dict]] = defaultdict(list)  # risk key -> comments without scores
        new: dict[str, dict] = {}                            # normalised title -> new risk
        for n, (path, _digest, table) in enumerate(tables):
            name = wbw.participant(table)
            if not name:
                problems.append(Problem("deltagarens namn saknas", file=path.name, sheet=wbw.SHEET, row=2,
                                        column=wbw.NAME_CELL[0],
                                        expected=f"namnet på den som bedömt, i cell {wbw.NAME_CELL} (Deltagare:)"))
                name = path.stem
            report.participants.append(name)
            rows, errs = wbw.parse_rows(table.rows, m, cats, register.CATEGORY_ALIASES)
            problems += errs
            changed = False
            for r in rows:
                entry = {"name": name, "file": path.name, "likelihood": r.likelihood, "impact": r.impact,
                         "res_l": r.res_l, "res_i": r.res_i, "comment": r.comment, "batch": n}
                changed = changed or bool(r.comment) or r.res_l is not None
                if r.id is not None:
                    risk = risks.get(r.id)
                    if risk is None:
                        problems.append(r.row.problem("id", f"risken {r.id} hör inte till {unit.name}",
                                                      f"rader ur {unit.name}s mall"))
                    elif risk.status != "active":
                        problems.append(r.row.problem("id", f"risken {risk.code} är avslutad", "aktiva risker"))
                    elif r.likelihood is None:
                        remarks[risk.code].append(entry)
                    else:
                        changed = changed or last_year.get(risk.id) != (r.likelihood, r.impact)
                        scored[risk.code].append(entry)
                    continue
                changed = True
                proc = processes.get((r.process or "").lower())
                if r.process and proc is None:
                    problems.append(r.row.problem("process", f"processen {r.process!r} finns inte i {unit.name}",
                                                  ", ".join(p.name for p in unit.processes)))
                    continue
                key = " ".join(r.title.lower().split())
                item = new.setdefault(key, {"title": r.title, "process": proc, "category": r.category,
                                            "description": r.description, "scores": []})
                item["scores"].append(entry)
            if rows and not changed and not wbw.agrees_with_last_year(table):
                problems.append(Problem(
                    "ingen bedömning är ändrad från förra årets (mallen är ifylld med dem)", file=path.name,
                    sheet=wbw.SHEET, row=3, column=wbw.AGREE_CELL[0],
                    expected=f"deltagarens egna bedömningar, eller ”ja” i cell {wbw.AGREE_CELL} om deltagaren har gått igenom "
                             "riskerna och instämmer i förra årets"))
        if problems:
            raise ValidationFailed(
                f"Workshopimporten avbröts: {len(problems)} fel. Ingenting har sparats; rätta filerna och läs in igen.",
                sorted(problems, key=lambda p: (p.file or "", p.sheet or "", p.row or 0, p.column or "")),
                cli="Skälet anges med --after-decision \"skäl\"." if decided is not None and not after_decision
                else None)
        report.unit, report.year = unit.code, year
        if not tables:
            return report
        sources = [Source(path.name, digest, len(table.rows), wbw.participant(table) or path.stem)
                   for path, digest, table in tables]
        store(app, s, org, unit, year, m, sources, risks, scored, new, report, held_on,
              remarks=remarks, after_decision=after_decision if decided is not None else None)
        return report


@dataclass
class Source:
    """Where a participant's scores came from: a file (its name and content hash), or a live workshop
    in the browser (ikcheck/live.py: the scores' own hash). One import batch each."""

    filename: str
    content_hash: str
    rows: int
    participant: str


def which_workshop(app: App, s, org: Organisation, tables, unit_code, year, problems):
    """All files must be templates of the same unit and year, made with the matrix in force that year."""
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
        m = app.matrix_for(org, key[1])
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
          new, report: WorkshopReport, held_on: dt.date | None, agreed: dict | None = None,
          remarks: dict | None = None, after_decision: str | None = None) -> None:
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
    if after_decision:
        workshop.after_decision = after_decision
        report.after_decision = after_decision
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
            "legal_requirement": item["category"] == register.LEGAL, "created_at": now} for k, item in enumerate(new.values())])
        codes = [f"{unit.code}-R{start + k:03d}" for k in range(len(new))]
        by_code = {r.code: r for r in s.scalars(select(Risk).where(Risk.org_id == org.id, Risk.code.in_(codes)))}
        for code, (key, item) in zip(codes, new.items()):
            risk = by_code[code]
            risks[risk.code] = risk
            scored[risk.code] = item["scores"]
            if f"ny:{key}" in agreed:
                agreed[risk.code] = agreed.pop(f"ny:{key}")
        report.new_risks = len(new)
        # a new risk that says what another of the unit's risks says: flagged for the facilitator
        others = list(s.scalars(select(Risk).where(Risk.unit_id == unit.id, Risk.status == "active",
                                                   Risk.code.not_in(codes))))
        for i, code in enumerate(codes):
            risk = by_code[code]
            for other in others + [by_code[c] for c in codes[:i]]:
                if similar(risk.title, other.title):
                    report.duplicates.append((risk.code, risk.title, other.code, other.title))
                    break
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
    comments = [{"org_id": org.id, "workshop_id": workshop.id, "risk_id": risks[key].id, "participant": e["name"],
                 "comment": e["comment"], "scored": scored_, "import_batch_id": batches[e["batch"]].id,
                 "created_at": now}
                for source, scored_ in ((scored, True), (remarks or {}, False))
                for key, entries in source.items() for e in entries if e.get("comment")]
    if comments:
        bulk_insert(s, WorkshopComment, comments)
    report.comments = len(comments)
    report.assessed = len(rows)
    report.single = sum(1 for r in rows if len({p.get("name") for p in r["participants"]}) == 1)
    report.flagged = sum(1 for r in rows if r["flagged"])
    report.files = [b.filename for b in batches]
    app.audit(s, "importera workshop", "workshop", workshop.id, after={
        "unit": unit.code, "year": year, "files": [{"file": b.filename, "hash": b.content_hash,
                                                    "participant": b.participant} for b in batches],
        "assessments": len(rows), "new_risks": report.new_risks, "flagged": report.flagged,
        "superseded": superseded[:1000], "comments": len(comments),
        "possible_duplicates": [f"{a} ~ {c}" for a, _, c, _ in report.duplicates],
        **({"after_decision": after_decision} if after_decision else {})}, org_id=org.id)
    s.flush()


def list_catalogue(app: App) -> list[dict]:
    return [{"område": r.get("area"), "kategori": r.get("category"), "risk": r.get("title")} for r in catalogue(app)]





def merge_risks(app: App, code: str, into_code: str, org_code: str | None = None) -> list[str]:
    """Merge a risk into another of the same unit (two participants' words for the same risk). The
    merged risk is retired and points at the other; its own history stays with it and is shown with
    the other's. For each year both were assessed in the same workshop, the other's assessment is
    agreed again over everyone's scores (one person who scored both counts once, with the score given
    to the risk that remains); a year only the merged risk had is carried over. One audit event per
    change, as always."""
    said: list[str] = []
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        risk, into = register.find_risk(s, org, code), register.find_risk(s, org, into_code)
        if risk.id == into.id:
            raise UserError("En risk kan inte slås ihop med sig själv.")
        if risk.unit_id != into.unit_id:
            raise UserError(f"{risk.code} och {into.code} hör till olika enheter; bara risker i samma enhet slås ihop.")
        for r in (risk, into):
            if r.status != "active":
                raise UserError(f"{r.code} är redan avslutad{' (sammanslagen)' if r.merged_into_id else ''}.")
        now = utcnow()
        mine = {ra.year: ra for ra in risk.assessments if ra.is_current}
        theirs = {ra.year: ra for ra in into.assessments if ra.is_current}
        for year, ra in sorted(mine.items()):
            other = theirs.get(year)
            keep = {p.get("name") for p in (other.participants if other else [])}
            entries = [dict(p) for p in (other.participants if other else [])] + \
                      [dict(p) for p in ra.participants if p.get("name") not in keep]
            if other is not None and len(entries) == len(other.participants):
                continue  # nobody new: the remaining risk's assessment stands
            m = app.matrix_for(org, year)
            if not entries:
                entries = [{"name": ra.assessed_by, "likelihood": ra.likelihood, "impact": ra.impact,
                            "res_l": ra.residual_likelihood, "res_i": ra.residual_impact}]
            a = _agree(m, entries)
            res = a["residual_likelihood"] is not None
            if other is not None:
                other.is_current = False
            s.add(RiskAssessment(
                org_id=org.id, risk_id=into.id, year=year, matrix_id=app.matrix_row(s, m).id,
                likelihood=a["likelihood"], impact=a["impact"], score=a["likelihood"] * a["impact"],
                level=m.level(a["likelihood"], a["impact"]).name,
                residual_likelihood=a["residual_likelihood"], residual_impact=a["residual_impact"],
                residual_score=a["residual_likelihood"] * a["residual_impact"] if res else None,
                residual_level=m.level(a["residual_likelihood"], a["residual_impact"]).name if res else None,
                spread=a["spread"], flagged=a["spread"] >= FLAG_SPREAD, participants=entries,
                assessed_by=f"Sammanslagning av {risk.code} och {into.code}", assessed_at=now,
                workshop_id=(other.workshop_id if other else ra.workshop_id), import_batch_id=None,
                supersedes_id=other.id if other else None, is_current=True))
            said.append(f"{year}: {into.code} bedöms nu av {len(entries)} deltagare "
                        f"(sannolikhet {a['likelihood']}, konsekvens {a['impact']})")
        before = snapshot(risk)
        risk.status, risk.merged_into_id = "retired", into.id
        s.flush()
        app.audit(s, "slå ihop", "risk", risk.code, before=before, after=snapshot(risk) | {"merged_into": into.code},
                  org_id=org.id)
        from ikcheck.store.models import ControlPlan, ControlPoint

        drafts = sorted({f"{plan.year} v{plan.version}" for plan in s.scalars(  # no DISTINCT: JSON columns on PostgreSQL
            select(ControlPlan).join(ControlPoint, ControlPoint.plan_id == ControlPlan.id)
            .where(ControlPoint.risk_id == risk.id, ControlPlan.status == "draft"))})
        if drafts:
            said.append(f"Planutkastet {', '.join(drafts)} har en kontrollpunkt för {risk.code}: ta fram det på nytt "
                        f"(`ikcheck plan derive --replace`).")
        return said


def summary(app: App, unit_code: str, year: int, org_code: str | None = None) -> dict:
    """What the facilitator holds the discussion from: per risk everyone's scores, the agreed score
    (median, or what the group agreed), the spread and the comments; the risks to discuss first
    (participants ≥ 2 steps apart, or a possible duplicate of another risk)."""
    from ikcheck.store.models import WorkshopComment

    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        w = s.scalar(select(Workshop).where(Workshop.unit_id == unit.id, Workshop.year == year))
        if w is None:
            raise UserError(f"{unit.name} har ingen riskworkshop för {year}. Läs in deltagarnas filer först.",
                            cli="Kör `ikcheck workshop import`.")
        rows = [(r, ra) for r, ra in register.current_assessments(s, org.id, year, unit.id) if ra.workshop_id == w.id]
        notes = defaultdict(list)
        for c in s.scalars(select(WorkshopComment).where(WorkshopComment.workshop_id == w.id).order_by(WorkshopComment.id)):
            notes[c.risk_id].append({"name": c.participant, "text": c.comment, "scored": c.scored})
        m = app.matrix_for(org, year)
        all_risks = [r for r, _ in rows]
        out = []
        for risk, ra in rows:
            twin = next((o for o in all_risks if o.id != risk.id and similar(risk.title, o.title)), None)
            lvl = m.level_by_name(ra.level) if ra.level in {x.name for x in m.levels} else None
            out.append({
                "code": risk.code, "title": risk.title, "category": register.category_sv(risk.category),
                "new": not any(a.year < year for a in risk.assessments),
                "scores": [{"name": p.get("name", ""), "likelihood": p.get("likelihood"), "impact": p.get("impact"),
                            "score": (p.get("likelihood") or 0) * (p.get("impact") or 0)} for p in ra.participants],
                "likelihood": ra.likelihood, "impact": ra.impact, "score": ra.score,
                "level": lvl.label if lvl else ra.level, "colour": lvl.colour if lvl else "#cccccc",
                "spread": ra.spread, "assessors": register.assessors(ra), "flagged": ra.flagged,
                "agreed_reason": ra.agreed_reason, "duplicate_of": f"{twin.code} {twin.title}" if twin else None,
                "comments": notes.get(risk.id, []),
            })
        out.sort(key=lambda x: (not (x["flagged"] or x["duplicate_of"]), -x["spread"], -x["score"], x["code"]))
        people = sorted({p["name"] for x in out for p in x["scores"]})
        return {"org": org.name, "unit": unit.name, "unit_code": unit.code, "year": year,
                "held_on": w.held_on, "after_decision": w.after_decision, "participants": people,
                "risks": out, "to_discuss": sum(1 for x in out if x["flagged"] or x["duplicate_of"]),
                "comments": sum(len(x["comments"]) for x in out), "matrix": m.title}


def write_summary(app: App, unit_code: str, year: int, out: Path | None = None,
                  org_code: str | None = None) -> list[Path]:
    """`workshop summary`: the discussion document as PDF and xlsx."""
    from ikcheck.reporting import render
    from ikcheck.workbooks.layout import sheet
    from ikcheck.workbooks.save import save_reproducibly

    d = summary(app, unit_code, year, org_code)
    base = output_path(out, f"workshop-sammanstallning-{d['unit_code']}-{year}.pdf")
    pdf, xlsx = base.with_suffix(".pdf"), base.with_suffix(".xlsx")
    reports_dir = app.settings.reports_dir
    render.write_pdf(render.render_html(reports_dir, "workshop.html.j2", w=d), pdf, reports_dir)
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    sheet(wb, "Sammanställning", ["Risk-id", "Risk", "Kategori", "Diskutera", "Sannolikhet", "Konsekvens",
                                  "Riskvärde", "Nivå", "Spridning", "Bedömare", "Möjlig dubblett av", "Kommentarer"],
          [[x["code"], x["title"], x["category"], x["flagged"] or bool(x["duplicate_of"]), x["likelihood"],
            x["impact"], x["score"], x["level"], x["spread"], x["assessors"], x["duplicate_of"] or "",
            "\n".join(f"{c['name']}: {c['text']}" for c in x["comments"])] for x in d["risks"]],
          [11, 40, 12, 10, 11, 11, 10, 10, 10, 12, 30, 50])
    sheet(wb, "Bedömningar", ["Risk-id", "Risk", "Deltagare", "Sannolikhet", "Konsekvens", "Riskvärde"],
          [[x["code"], x["title"], p["name"], p["likelihood"], p["impact"], p["score"]]
           for x in d["risks"] for p in x["scores"]], [11, 40, 24, 11, 11, 10])
    save_reproducibly(wb, xlsx, None)
    return [pdf, xlsx]
