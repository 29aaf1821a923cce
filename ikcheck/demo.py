"""The demo kommun ("Exempelby kommun") carried through every stage of the annual cycle, and beside it
(`--scale N`) N seeded kommuner of the same shape with registers, decided plans and results, for
benchmarks at national scale."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ikcheck import anchor, organisation, register, words, yamlsrc
from ikcheck.app import App
from ikcheck.calendar import clock_at, now, swedish_date
from ikcheck.config import Settings, database_url_for
from ikcheck.store.db import dispose
from ikcheck.store.models import Organisation
from ikcheck.store.signing import make_keys
from ikcheck.workbooks.save import save_reproducibly

DEMO_YEAR = 2025  # the plan year the demo runs through (workshops in autumn 2024)
DEMO_PASSWORD = "exempelby-demo"  # every demo account's password; demo accounts exist only in demo databases
DEMO_ACCOUNTS = [  # (username, full name, role, units, befattning)
    ("admin", "Alva Ahmadi", "admin", [], None),
    ("ks", "Karin Sjöberg", "ks", [], "Kommundirektör"),
    ("controller", "Anna Lind", "controller", ["SN"], "Controller"),
    ("sekreterare", "Sofia Berg", "sekreterare", ["SN"], "Nämndsekreterare"),
    ("kontrollansvarig", "Erik Holm", "kontrollansvarig", ["SN"], "Enhetschef barn och unga"),
    ("revisor", "Ingrid Ek", "revisor", [], None),
]
PARTICIPANTS = ["Anna Lind (controller)", "Erik Holm (verksamhetschef)"]


@dataclass
class DemoSummary:
    directory: Path
    database: str
    organisations: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def demo_settings(base: Settings, directory: Path, database: str | None) -> Settings:
    """The demo writes to its own database (in its directory) unless one is given explicitly."""
    url = database_url_for(database) or database_url_for(str(directory / "ikcheck.db"))
    return dataclasses.replace(base, database_url=url, signing_key=base.signing_key or demo_key(directory))


def demo_key(directory: Path) -> Path:
    """The demo's own signing key pair, in its directory (a kommun keeps the private key on the
    server, outside the database, and gives the public one to its revisorer)."""
    private = directory / "nycklar" / "ikcheck-signering.key"
    if not private.exists():
        make_keys(private.parent)
    return private


def _fresh_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        dispose(url)
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def at(day: str, hour: int = 10) -> dt.datetime:
    """A moment of the demo's story (UTC): every row and audit event written then carries it."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, 0))


def run_demo(base: Settings, directory: Path, database: str | None = None, scale: int = 0,
             progress: Callable[[str], None] | None = None, seed: int = 2025,
             kommun: tuple[str, str] | None = None, reminders: bool = False) -> DemoSummary:
    """The demo kommun through its year, each step on the story's own date (the clock follows the
    story: a workshop of September 2024 is logged in September 2024). `kommun` (code, name) runs the
    same story for another kommun beside it in the same database."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(base, directory, database)
    if database is None:
        _fresh_sqlite(settings.database_url)
    app = App(settings)
    summary = DemoSummary(directory, settings.database_url)
    say = progress or (lambda _msg: None)
    org_file = settings.riskregister_dir / "demo" / "exempelby.yaml"
    risk_file = settings.riskregister_dir / "demo" / "risker.yaml"
    with clock_at(at("2024-08-20")):
        org = build_kommun(app, org_file, risk_file, years=[DEMO_YEAR - 1],
                           code=kommun[0] if kommun else None, name=kommun[1] if kommun else None)
    summary.organisations.append(org.code)
    with clock_at(at("2024-08-20", 11)):
        names = demo_accounts(app, org.code, prefix="" if kommun is None else f"{org.code.lower()}-")
    say("Organisation och riskregister skapade")
    # the story's people: the controller prepares, the nämndsekreterare registers decisions and reports
    app = app.acting_as(DEMO_ACCOUNTS[2][1])
    with clock_at(at("2024-09-20")):
        run_workshops(app, org.code, risk_file, directory, summary, say)
    with app.session() as s:
        o = app.org(s, org.code)
        n_units = len(o.units)
        kinds = [u.kind for u in o.units]
        n_proc = sum(len(u.processes) for u in o.units)
        rows = register.current_assessments(s, o.id, DEMO_YEAR)
        levels: dict[str, int] = {}
        for _risk, ra in rows:
            levels[ra.level] = levels.get(ra.level, 0) + 1
    summary.lines.insert(0,
        f"{o.name}: {n_units} enheter (KS, {kinds.count('namnd')} nämnder, "
        f"{kinds.count('bolag')} bolag), {n_proc} processer."
    )
    summary.lines.append(
        f"Riskregister: {len(rows)} risker bedömda inför {DEMO_YEAR} "
        f"({', '.join(f'{v} {k}' for k, v in sorted(levels.items()))}), med historik från {DEMO_YEAR - 1}."
    )
    run_plans(app, org.code, directory, summary, say)
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    findings: dict[str, int] = {}
    with clock_at(at("2025-08-15")):
        run_results(app, org.code, directory, "halvar", rng, counts, findings, say)
    run_reports(app, org.code, directory, "halvar", say)
    run_follow_up(app, org.code, summary, say)
    with clock_at(at("2026-01-20")):
        run_results(app, org.code, directory, "helar", rng, counts, findings, say)
    with clock_at(at("2026-02-05")):
        run_correction(app, org.code, directory, counts)
    summary.lines.append(
        f"Kontrollresultat {DEMO_YEAR}: {counts['new']} resultat inlästa ur {2 * len(DECISIONS)} ifyllda Excel-mallar "
        f"(halvår i augusti, helår i januari), {counts['corrected']} rättat med skäl, {counts['not_reported']} ej "
        f"rapporterat, {counts['actions']} åtgärder. Iakttagelser enligt reglerna: " + words.findings(findings)
        + f". Filerna finns i {directory / 'resultat'}.")
    run_reports(app, org.code, directory, "ar", say)
    with clock_at(at("2026-03-10")):
        run_spring_follow_up(app, org.code)
    run_ks(app, org.code, directory, summary, say)
    if reminders:
        say("Påminnelser under året")
        run_reminders(app, org.code, summary)
    if scale:
        run_scale(app, org_file, risk_file, scale, directory, summary, say, seed)
    summary.lines.append(f"Webbappen (./dev serve): logga in som {', '.join(names)}, lösenord {DEMO_PASSWORD!r} "
                         "(en per roll, bara i demodatabasen).")
    receipt, body = anchor.receipt(app, directory / "kvitto-granskningslogg.json")
    summary.files.append(receipt)
    summary.lines.append(
        f"Granskningsloggen: {body['händelse']} händelser; huvudet signerat med nyckel {body.get('nyckel')} "
        f"({settings.signing_key.parent}), kvitto på händelse {body['händelse']} i {receipt.name}.")
    return summary


def run_reminders(app: App, org_code: str, summary: DemoSummary) -> None:
    """How many e-mails `ikcheck remind`, run every day of the demo's year, would have sent (nothing is
    sent: the demo has no mail server)."""
    from ikcheck import reminders

    start, end = dt.date(DEMO_YEAR, 1, 1), dt.date(DEMO_YEAR + 1, 3, 31)
    counts = reminders.simulate(app, start, end, org_code)
    roles = {"kontrollansvarig": "kontrollansvariga", "controller": "controllern", "sekreterare": "nämndsekreteraren",
             "ks": "KS"}
    summary.lines.append(
        f"Påminnelser: ikcheck remind varje dag {swedish_date(start)}–{swedish_date(end)} hade skickat "
        f"{words.n(sum(counts.values()), 'e-postmeddelande', 'e-postmeddelanden')} till demokontonas adresser ("
        + ", ".join(f"{label} {counts.get(role, 0)}" for role, label in roles.items()) + ").")


def secretary(app: App) -> App:
    """The demo's nämndsekreterare, who registers the nämnder's decisions and submits their reports."""
    return app.acting_as(DEMO_ACCOUNTS[3][1])


def demo_accounts(app: App, org_code: str, prefix: str = "") -> list[str]:
    """One account per role for the demo kommun, all with the demo password."""
    from ikcheck import accounts

    names = []
    for username, name, role, units, title in DEMO_ACCOUNTS:
        accounts.add_user(app, prefix + username, full_name=name, email=f"{username}@{org_code}.example",
                          role=role, units=units, password=DEMO_PASSWORD, title=title, demo=True, org_code=org_code)
        names.append(prefix + username)
    return names


def run_scale(app: App, org_file: Path, risk_file: Path, n: int, directory: Path, summary: DemoSummary, say,
              seed: int) -> None:
    """N more kommuner of Exempelby's shape beside the demo kommun (a national database for the
    benchmarks), through the same services: a register with two years of (jittered) workshop scores,
    every unit's plan derived by the rules and decided, and both periods' results imported from the
    semicolon CSV files a kontrollansvarig would send, evaluated by the rules."""
    from ikcheck import planning, results

    rng = random.Random(seed)
    out = directory / "skala"
    out.mkdir(parents=True, exist_ok=True)
    imported = 0
    for k in range(1, n + 1):
        code = f"exempelby-{k:03d}"
        build_kommun(app, org_file, risk_file, code=code, name=f"Exempelby {k:03d} kommun", rng=rng)
        for unit, (date, paragraph, dnr) in DECISIONS.items():
            planning.derive(app, unit, DEMO_YEAR, org_code=code)
            planning.accept(app, unit, DEMO_YEAR, org_code=code)
            planning.decide(app, unit, DEMO_YEAR, date, paragraph, dnr, org_code=code)
        for period in ("halvar", "helar"):
            path = results_csv(app, code, DEMO_YEAR, period, out / f"resultat-{code}-{period}.csv", rng)
            imported += results.import_files(app, [path], org_code=code, on=dt.date(DEMO_YEAR + 1, 1, 31)).new
        summary.organisations.append(code)
        if k % 10 == 0 or k == n:
            say(f"{k} av {n} kommuner till skapade")
    summary.lines.append(f"{n} kommuner till med samma struktur (frö {seed}): register, beslutade planer och "
                         f"{imported} kontrollresultat inlästa ur CSV-filer i {out}.")


def results_csv(app: App, org_code: str, year: int, period: str, path: Path, rng: random.Random) -> Path:
    """Every unit's results for a period in one semicolon CSV (UTF-8), as Swedish Excel saves it:
    most controls clean, one in ten with deviations and an åtgärd."""
    import csv

    from ikcheck.planning import decided_plan
    from ikcheck.results import due_points
    from ikcheck.workbooks.results import COLUMNS, PERIODS

    header = {c.key: c.header for c in COLUMNS}  # the template's own headers
    head = [header[k] for k in ("unit", "code", "period", "performed", "date", "examined", "deviations", "assessment",
                                "comment", "performed_by", "approved_by", "action", "action_owner", "action_due")]
    day = dt.date(year, 6, 12) if period == "halvar" else dt.date(year, 12, 10)
    with app.session() as s, open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(head)
        for unit in app.org(s, org_code).units:
            plan = decided_plan(s, unit, year)
            for i, p in enumerate(due_points(s, plan, period) if plan else []):
                examined = p.sample_size or 10
                dev = rng.choice([0] * 9 + [1])
                w.writerow([unit.code, p.code, PERIODS[period], "ja", (day + dt.timedelta(days=i % 9)).isoformat(), examined, dev,
                            "", f"{dev} av {examined} ärenden saknade dokumentation." if dev else "",
                            rng.choice(["Sara Ek", "Omar Nilsson", "Lena Berg"]), "Karin Ström (förvaltningschef)",
                            "Rutinen förtydligas." if dev else "", (p.owner or "Förvaltningschef") if dev else "",
                            dt.date(year + 1, 3, 31).isoformat() if dev else ""])
    return path


DECISIONS = {  # unit: (date, paragraph, dnr) – the nämnder meet in November the year before
    "KS": ("2024-11-18", "§ 187", "KS 2024/412"), "BUN": ("2024-11-20", "§ 96", "BUN 2024/88"),
    "SN": ("2024-11-21", "§ 134", "SN 2024/201"), "SBN": ("2024-11-19", "§ 77", "SBN 2024/150"),
    "KFN": ("2024-11-26", "§ 58", "KFN 2024/41"), "MBN": ("2024-11-27", "§ 112", "MBN 2024/309"),
    "EBO": ("2024-11-14", "§ 9", "EBO 2024/12"), "EEN": ("2024-11-28", "§ 11", "EEN 2024/19"),
}


def run_plans(app: App, org_code: str, directory: Path, summary: DemoSummary, say) -> None:
    """Every unit derives, adjusts and decides its plan; Socialnämnden revises it in March."""
    from ikcheck import planning
    from ikcheck.reporting import plan as plan_out

    year = DEMO_YEAR
    total = 0
    with clock_at(at("2024-10-28")):
        for unit in DECISIONS:
            say(f"Plan för {unit} {year}")
            r = planning.derive(app, unit, year, org_code=org_code)
            planning.accept(app, unit, year, org_code=org_code)
            total += r.points + r.ks_points
    for unit, (date, paragraph, dnr) in sorted(DECISIONS.items(), key=lambda kv: kv[1][0]):
        with clock_at(at(date, 15)):
            planning.decide(secretary(app), unit, year, date, paragraph, dnr, org_code=org_code)
    with clock_at(at("2025-03-03")):
        planning.revise(app, "SN", year, "Ny kontroll av hemtjänstens nyckelhantering efter incident i februari",
                        org_code=org_code)
        planning.add_point(app, "SN", year, "Kvittens vid utlämning av nycklar i hemtjänsten",
                           risk_code="SN-R010", fields={"method": "stickprov", "sample_size": 10,
                                                        "frequency": "halvår", "owner": "Enhetschef hemtjänst"},
                           org_code=org_code)
    with clock_at(at("2025-03-20", 15)):
        planning.decide(secretary(app), "SN", year, "2025-03-20", "§ 31", "SN 2025/44", org_code=org_code)
    out = directory / "planer"
    with clock_at(at("2025-03-21")):
        for unit in DECISIONS:
            for fmt in ("pdf", "html", "xlsx"):
                summary.files.append(plan_out.export(app, unit, year, fmt, out / f"plan-{unit}-{year}.{fmt}",
                                                     org_code=org_code))
    summary.lines.append(
        f"Planer för intern kontroll {year}: {len(DECISIONS)} beslutade med {total} kontrollpunkter; "
        f"Socialnämnden reviderade sin plan i mars (version 2). Exporterade som PDF, HTML och Excel i {out}."
    )


def build_kommun(app: App, org_file: Path, risk_file: Path, code: str | None = None,
                 name: str | None = None, rng: random.Random | None = None,
                 years: list[int] | None = None) -> Organisation:
    """Create the demo organisation and its register: the workshop assessments of `years` (default:
    every year in the risk file) recorded as they were agreed."""
    if code:
        spec = organisation.parse_org_file(org_file, app)
        spec.code, spec.name = code, name or code
        org = organisation.create_org(app, spec)
    else:
        org = organisation.init_org(app, org_file)
    data = yamlsrc.load(risk_file)
    years = list(years or data["years"])
    m = app.load_matrix(org.matrix_name)
    with app.session(write=True) as s:
        org = app.org(s, org.code)
        units = {u.code: u for u in org.units}
        for item in data["risks"]:
            unit = units[item["unit"]]
            risk = register.create_risk(
                app, s, org, unit, item["title"],
                process=register.find_process(s, unit, item.get("process")),
                category=item.get("category", "verksamhet"), owner=item.get("owner"),
                legal=bool(item.get("legal", False)),
            )
            for year in years:
                li, im = item["scores"][year]
                if rng is not None:
                    li = _jitter(rng, li, m.likelihood_values())
                    im = _jitter(rng, im, m.impact_values())
                # Two participants: one agrees with the agreed score, one differs by a step at most
                other = (max(1, li - 1), im) if (year + len(risk.title)) % 3 == 0 else (li, im)
                participants = [
                    {"name": PARTICIPANTS[0], "likelihood": li, "impact": im},
                    {"name": PARTICIPANTS[1], "likelihood": other[0], "impact": other[1]},
                ]
                register.record_assessment(
                    app, s, org, risk, year, m,
                    register.Scores(li, im, max(1, li - 1), im),
                    assessed_by=f"Riskworkshop {unit.code} hösten {year - 1}",
                    participants=participants,
                    spread=m.steps_between((li, im), other),
                    assessed_at=dt.datetime(year - 1, 9, 15, 9, 0),
                )
        return org


WORKSHOP_DAY = dt.date(DEMO_YEAR - 1, 9, 15)
THIRD_PARTICIPANT = "Maria Sund (handläggare)"


def run_workshops(app: App, org_code: str, risk_file: Path, directory: Path, summary: DemoSummary, say) -> None:
    """The autumn's risk workshops through Excel, as a förvaltning holds them: a template per
    participant, filled in, and read in together dated the day of the workshop. The agreed scores are
    the risk file's: two participants give them, the third now and then a step off, and two steps off on
    one risk per unit, which the import flags for discussion."""
    from ikcheck import workshop

    agreed = {(item["unit"], item["title"]): item["scores"][DEMO_YEAR] for item in yamlsrc.load(risk_file)["risks"]}
    out = directory / "workshop"
    files = flagged = 0
    for unit in DECISIONS:
        say(f"Riskworkshop {unit}")
        blanks = workshop.template(app, unit, DEMO_YEAR, out / f"workshop-{unit}-{DEMO_YEAR}.xlsx", participants=3,
                                   org_code=org_code)
        for k, (path, name) in enumerate(zip(blanks, [*PARTICIPANTS, THIRD_PARTICIPANT])):
            fill_workshop(path, unit, name, agreed, off=k == 2)
        r = workshop.import_files(app, blanks, org_code=org_code, held_on=WORKSHOP_DAY)
        files += len(r.files)
        flagged += r.flagged
    summary.lines.append(
        f"Riskworkshoppar hösten {DEMO_YEAR - 1}: {files} ifyllda Excel-mallar (3 deltagare per enhet) inlästa; "
        f"medianen blev enhetens bedömning, {flagged} risker att diskutera (deltagarna skilde sig två steg). "
        f"Filerna finns i {out}."
    )


def fill_workshop(path: Path, unit: str, name: str, agreed: dict, off: bool) -> Path:
    """Fill a workshop template in place as participant `name` would: the agreed scores, or with `off`
    a step lower likelihood on every third risk and two steps other impact on the first."""
    from openpyxl import load_workbook

    from ikcheck.workbooks import workshop as wbw

    wb = load_workbook(path)
    ws = wb[wbw.SHEET]
    ws[wbw.NAME_CELL] = name
    col = {ws.cell(wbw.HEADER_ROW, c).value: c for c in range(1, ws.max_column + 1)}
    for i, r in enumerate(range(wbw.HEADER_ROW + 1, ws.max_row + 1)):
        title = ws.cell(r, col["Risk"]).value
        if not title:
            continue
        li, im = agreed[(unit, title)]
        if off and i % 3 == 1:
            li = max(1, li - 1)
        if off and i == 0:
            im = im + 2 if im <= 2 else im - 2
        for header, value in (("Sannolikhet", li), ("Konsekvens", im), ("Kvarvarande sannolikhet", max(1, li - 1)),
                              ("Kvarvarande konsekvens", im)):
            ws.cell(r, col[header], value)
    save_reproducibly(wb, path, now())
    return path


def _jitter(rng: random.Random, value: int, allowed: list[int]) -> int:
    v = value + rng.choice([-1, 0, 0, 0, 1])
    return min(max(v, allowed[0]), allowed[-1])


def fill_results(template: Path, out: Path, rng: random.Random, period: str, year: int,
                 skip: int | None = None, not_done: int | None = None, bad: set[int] | frozenset = frozenset()) -> Path:
    """Fill a results template as a kontrollansvarig would (seeded): most controls clean, some with
    deviations and an åtgärd; row `skip` left empty (not reported), row `not_done` not performed,
    rows in `bad` with clear deficiencies."""
    from openpyxl import load_workbook

    wb = load_workbook(template)
    ws = wb["Resultat"]
    col = {c.value: c.column for c in ws[1]}
    day = dt.date(year, 6, 12) if period == "halvar" else dt.date(year, 12, 10)
    for i, r in enumerate(range(2, ws.max_row + 1)):
        if i == skip:
            continue
        put = lambda header, value: ws.cell(r, col[header], value)  # noqa: E731
        if i == not_done:
            put("Utförd (ja/nej)", "nej")
            put("Kommentar", "Kontrollen hann inte genomföras på grund av vakanser.")
            continue
        examined = int(ws.cell(r, col["Omfattning"]).value or 10)
        deviations = rng.choice([0] * 9 + [1]) if i not in bad else max(2, examined // 5)
        put("Utförd (ja/nej)", "ja")
        put("Datum", day + dt.timedelta(days=i % 9))
        put("Antal granskade", examined)
        put("Antal avvikelser", deviations)
        put("Utförd av", rng.choice(["Sara Ek", "Omar Nilsson", "Lena Berg"]))
        put("Godkänd av", "Karin Ström (förvaltningschef)")
        if deviations:
            put("Kommentar", f"{deviations} av {examined} ärenden saknade fullständig dokumentation.")
            put("Åtgärd", "Rutinen förtydligas och berörd personal utbildas.")
            put("Åtgärd ansvarig", ws.cell(r, col["Kontrollansvarig"]).value or "Förvaltningschef")
            put("Åtgärd klart senast", dt.date(year + (period == "helar"), 3 if period == "helar" else 10, 31))
    save_reproducibly(wb, out, now())
    return out


def run_results(app: App, org_code: str, directory: Path, period: str, rng: random.Random, totals: dict,
                findings: dict, say) -> None:
    """One period's results from filled templates, all units in one import: Socialnämnden has clear
    deficiencies twice (escalated), Miljö- och byggnadsnämnden leaves one control unperformed and one
    unreported at helår, and now and then a control finds a deviation or two."""
    from ikcheck import results

    year = DEMO_YEAR
    out = directory / "resultat"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for unit in DECISIONS:
        say(f"Resultat {unit} {period}")
        blank = out / f"mall-{unit}-{year}-{period}.xlsx"
        results.template(app, unit, year, period, blank, org_code=org_code)
        special = unit == "MBN" and period == "helar"
        files.append(fill_results(blank, out / f"resultat-{unit}-{year}-{period}.xlsx", rng, period, year,
                                  skip=1 if special else None, not_done=2 if special else None,
                                  bad={0, 1} if unit == "SN" else frozenset()))
    r = results.import_files(app, files, org_code=org_code)
    for k in ("new", "corrected", "actions", "not_reported"):
        totals[k] = totals.get(k, 0) + getattr(r, k)
    for k, v in r.findings.items():
        findings[k] = findings.get(k, 0) + v


def run_correction(app: App, org_code: str, directory: Path, totals: dict) -> None:
    """KFN's first half-year file is re-sent with one count fixed, with the reason."""
    from openpyxl import load_workbook

    from ikcheck import results

    out = directory / "resultat"
    path = out / f"resultat-KFN-{DEMO_YEAR}-halvar.xlsx"
    wb = load_workbook(path)
    ws = wb["Resultat"]
    col = {c.value: c.column for c in ws[1]}
    ws.cell(2, col["Antal granskade"], int(ws.cell(2, col["Antal granskade"]).value) + 5)
    fixed = out / f"resultat-KFN-{DEMO_YEAR}-halvar-rättad.xlsx"
    save_reproducibly(wb, fixed, now())
    r = results.import_files(app, [fixed], reason="Fem ärenden till granskades efter påpekande från revisorerna",
                             org_code=org_code)
    totals["corrected"] = totals.get("corrected", 0) + r.corrected


def run_follow_up(app: App, org_code: str, summary: DemoSummary, say) -> None:
    """The autumn's follow-up of the halvår åtgärder (due 31 October): every other one is started in
    September; of those, some are closed on time and one late, in November; the rest stay open and
    are late when the year is reported."""
    from ikcheck import actions

    say("Uppföljning av åtgärder")
    codes = [a["kod"] for a in actions.list_actions(app, org_code=org_code) if a["kod"].startswith("Å-")]
    started = codes[::2]
    closed = late = 0
    for k, code in enumerate(started):
        with clock_at(at("2025-09-22")):
            actions.update(app, code, status="pågår", comment="Arbetet har påbörjats.", org_code=org_code)
        if k % 3 == 2:
            continue  # started, never finished
        day = "2025-11-14" if k == 1 else f"2025-10-{14 + k % 10:02d}"
        with clock_at(at(day)):
            actions.close(app, code, "Rutinen är uppdaterad och berörd personal har gått igenom den.", date=day,
                          org_code=org_code)
        closed += 1
        late += day > "2025-10-31"
    summary.lines.append(
        f"Uppföljning hösten {DEMO_YEAR}: {words.n(len(codes), 'åtgärd', 'åtgärder')} från halvårets resultat; "
        f"{closed} klara ({late} efter sitt datum), {len(started) - closed} påbörjade men inte klara, "
        f"{len(codes) - len(started)} inte påbörjade.")


def run_spring_follow_up(app: App, org_code: str) -> None:
    """In March every other åtgärd from the helår results (due 31 March) is done; the rest are late by
    April."""
    from ikcheck import actions

    spring = [a["kod"] for a in actions.list_actions(app, org_code=org_code)
              if a["kod"].startswith("Å-") and a["klart senast"] > dt.date(DEMO_YEAR, 12, 31)]
    for code in spring[1::2]:
        actions.close(app, code, "Åtgärden är genomförd och följd upp av förvaltningschefen.", org_code=org_code)


SUBMITTED = {"halvar": "2025-09-{day:02d}", "ar": "2026-02-{day:02d}"}
OWN_TEXT = ("Förvaltningen delar bedömningen. Bristerna i dokumentationen har åtgärdats genom utbildning av "
            "handläggarna och en ny checklista som används sedan december.")


def run_reports(app: App, org_code: str, directory: Path, kind: str, say) -> None:
    """Every unit's halvårs- or årsrapport submitted to KS on its day, on time except Kultur- och
    fritidsnämndens årsrapport (late on purpose)."""
    from ikcheck.reporting import reports

    out = directory / "rapporter"
    own = out / "forvaltningens-text.txt"
    out.mkdir(parents=True, exist_ok=True)
    own.write_text(OWN_TEXT, encoding="utf-8")
    for i, unit in enumerate(DECISIONS, start=1):
        say(f"Rapporter {unit}")
        day = "2026-03-20" if kind == "ar" and unit == "KFN" else SUBMITTED[kind].format(day=10 + i)
        with clock_at(at(day)):
            reports.submit(secretary(app), unit, DEMO_YEAR, kind, out_dir=out, date=day,
                           own_text=own if unit == "SN" and kind == "ar" else None, org_code=org_code)
            if unit == "SN":  # Socialnämnden's decision on its report, registered the same day
                reports.record_decision(secretary(app), unit, DEMO_YEAR, kind, day, "§ 88" if kind == "halvar" else "§ 14",
                                        org_code=org_code, dnr=f"SN {day[:4]}/{'101' if kind == 'halvar' else '12'}")


def run_ks(app: App, org_code: str, directory: Path, summary: DemoSummary, say) -> None:
    """KS's summary in every format, and SN's årsrapport as the nämnd reads it, in March 2026."""
    from ikcheck.reporting import reports

    year = DEMO_YEAR
    out = directory / "rapporter"
    say("KS-sammanställning")
    colours: dict = {}
    with clock_at(at("2026-03-25")):
        for fmt in ("pdf", "html", "xlsx"):
            summary.files.append(reports.unit_report(app, "SN", year, "ar", fmt, out / f"arsrapport-SN-{year}.{fmt}",
                                                     own_text=out / "forvaltningens-text.txt", org_code=org_code)[0])
        for fmt in ("pdf", "html", "xlsx"):
            path, data = reports.ks_report(app, year, "ar", fmt, out / f"ks-sammanstallning-{year}.{fmt}",
                                           org_code=org_code)
            summary.files.append(path)
            colours = data["colours"]
    summary.lines.append(
        f"Rapporter {year}: {2 * len(DECISIONS)} halvårs- och årsrapporter inlämnade till KS (Kultur- och "
        f"fritidsnämndens årsrapport för sent); KS-sammanställningen bedömer "
        f"{words.n(colours.get('grön', 0), 'enhet som grön', 'enheter som gröna')}, {words.n(colours.get('gul', 0), 'som gul', 'som gula')} "
        f"och {words.n(colours.get('röd', 0), 'som röd', 'som röda')}. Filerna finns i {out}."
    )
