"""The CLI speaks Swedish and never shows a traceback for a user's mistake."""

import re
import subprocess
import sys


def test_help_is_swedish(cli):
    r = cli("--help")
    assert r.code == 0
    assert "intern kontroll" in r.out
    for group in ("org", "risk", "matrix", "audit", "db", "demo", "init"):
        assert group in r.out


def test_usage_errors_are_swedish_and_say_where_to_read_more(cli):
    """Click words its errors in English; each kind a user meets is said in Swedish, from its fields."""
    cases = [
        (["results", "template", "--unit", "SN", "--period", "halvar"], "Flaggan --year saknas.",
         "ikcheck results template --help"),
        (["results", "template", "--unit", "SN", "--year", "tjugo", "--period", "halvar"],
         "Ogiltigt värde för --year: 'tjugo'; förväntat ett heltal.", "ikcheck results template --help"),
        (["results", "imprt", "x.xlsx"], "Okänt kommando 'imprt'; menade du 'import'?", "ikcheck results --help"),
        (["risk", "list", "--enhet", "SN"], "Okänd flagga --enhet (möjliga: --help, --unit).", "ikcheck risk list --help"),
        (["risk", "list", "--unit"], "Flaggan --unit behöver ett värde.", "--help"),
        (["version", "extra"], "Oväntade argument: extra.", "ikcheck version --help"),
        (["results", "import"], "Argumentet FIL saknas.", "ikcheck results import --help"),
        (["audit", "verify", "--read-only"], "Flaggan --read-only anges före kommandot: ikcheck --read-only audit verify.",
         "ikcheck audit verify --help"),
    ]
    for args, said, see in cases:
        r = cli(*args, db=False)
        assert r.code == 2, args
        assert r.err.startswith(f"Fel: {said}\nSe '") and see in r.err, (args, r.err)
        assert not any(w in r.err for w in ("Missing", "Invalid", "No such", "Usage", "Try ")), r.err
    r = cli("results", db=False)  # a group without a command shows its help
    assert r.code == 0 and "Kommandon" in r.out and "template" in r.out and r.err == ""
    r = cli("risk", "--help", db=False)
    assert r.code == 0 and "Flaggor" in r.out and "Kommandon" in r.out


def test_every_command_option_and_argument_has_help():
    """`--help` is where a user learns a command: nothing in it may be left unexplained."""
    import typer

    from ikcheck.cli import app

    missing = []

    def walk(command, path):
        if not (command.help or "").strip():
            missing.append(path or "ikcheck")
        for param in command.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {param.opts[0]}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    assert missing == []


def test_help_names_every_value_in_swedish(cli):
    """Typer names values by their Python type (`--unit <str>`, `{files}...`, `<list[Path]>`) under an
    English usage line; every command's help names them in Swedish instead."""
    from ikcheck.cli import command

    def paths(cmd, path):
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from paths(sub, [*path, name])

    english = re.compile(r"<\w|\{[a-z_]+\}|Usage|Show this|OPTIONS|COMMAND|ARGS|TEXT\.\.\.")
    seen = 0
    for path in paths(command(), []):
        r = cli(*path, "--help", db=False)
        assert r.code == 0 and r.out.lstrip().startswith("Användning: ikcheck"), path
        assert not english.search(r.out), (path, english.search(r.out)[0])
        seen += 1
    assert seen > 60
    r = cli("results", "import", "--help", db=False)
    assert "{FIL}..." in r.out and "--reason        TEXT" in r.out and "Visa den här hjälpen." in r.out
    r = cli("--help", db=False)
    assert re.search(r"--read-only +Öppna", r.out) and re.search(r"--db +SÖKVÄG\|URL", r.out)


def test_a_groups_list_of_commands_shows_each_summary_as_one_flowing_line(cli, monkeypatch):
    """Where the screen is wide enough, a command's summary in its group's list is one line, not broken
    where its source text happened to end a line."""
    from ikcheck.cli import command

    monkeypatch.setenv("COLUMNS", "1000")  # the help's own console reads it
    groups = [([], command())]
    checked = 0
    while groups:
        path, group = groups.pop()
        out = cli(*path, "--help", db=False).out
        for name, sub in group.commands.items():
            summary = " ".join(sub.help.split("\n\n")[0].split())
            assert re.search(rf"│ {re.escape(name)} +{re.escape(summary)} *│", out), (path, name)
            checked += 1
            if getattr(sub, "commands", None):
                groups.append(([*path, name], sub))
    assert checked > 60


def test_unknown_org_is_a_user_error(cli):
    r = cli("org", "show")
    assert r.code == 2
    assert "ingen organisation" in r.err and "Traceback" not in r.text


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "ikcheck", "version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("ikcheck ")


def test_db_status(cli):
    r = cli("db", "status")
    assert r.code == 0 and "Schema: aktuellt" in r.out


def test_text_from_users_and_files_is_printed_as_it_is(cli, kommun, tmp_path, monkeypatch):
    """Square brackets are Rich markup: "[kopia]" used to vanish from messages and "[/obs]" made a
    listing crash. Piped output is whole, tab-separated values; a narrow terminal folds, never cuts."""
    from ikcheck.cli import common

    title = "Attest [kopia] av leverantörsfakturor [/obs] utan underlag\tenligt\nattestordningen"
    assert cli("risk", "edit", "SN-R001", "--title", title).code == 0
    bad = tmp_path / "resultat [kopia].xlsx"
    bad.write_bytes(b"PK\x03\x04 only the start of a zip")
    r = cli("results", "import", bad)
    assert r.code == 2 and "fil resultat [kopia].xlsx: filen är en trasig zip-fil" in r.err

    r = cli("risk", "list", "--unit", "SN", "--year", "2025")
    assert r.code == 0 and r.err.strip() == "Riskregister"  # the title, apart from the rows
    header, *rows = [line.split("\t") for line in r.out.splitlines()]
    row = next(dict(zip(header, x)) for x in rows if x[0] == "SN-R001")
    assert row["rubrik"] == "Attest [kopia] av leverantörsfakturor [/obs] utan underlag enligt attestordningen"
    assert {len(x) for x in rows} == {len(header)}

    monkeypatch.setattr(common.console, "_force_terminal", True)
    monkeypatch.setattr(common.console, "_color_system", None)
    common.console.width = 60
    r = cli("risk", "show", "SN-R001")
    assert r.code == 0 and r.out.startswith("SN-R001 Attest [kopia] av leverantörsfakturor [/obs]")
    r = cli("risk", "list", "--unit", "SN", "--year", "2025")
    assert r.code == 0 and "Riskregister" in r.out and "…" not in r.out
    first_column = "".join(line.split("│")[1].strip() for line in r.out.splitlines() if line.startswith("│"))
    assert "SN-R001SN-R002" in first_column  # folded onto more lines, not cut


def test_starting_the_cli_loads_no_workbook_or_dataframe_library():
    """Every command paid for openpyxl (with numpy) at start-up, about 0.3 s of 1.6 s, though most never
    touch a workbook: it is loaded where a workbook is read or written, and pandas where a query runs."""
    code = "import sys, ikcheck.cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'openpyxl', 'numpy', 'pandas'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_database_that_cannot_be_used_is_explained_in_swedish(cli, tmp_path):
    """Not a database, or a server that does not answer: what it means, not the driver's English."""
    import socket

    junk = tmp_path / "anteckningar.db"
    junk.write_text("inköpslista\n" * 200, encoding="utf-8")
    r = cli("org", "show", db=str(junk))
    assert r.code == 2 and f"Filen {junk} är ingen ikcheck-databas eller är skadad." in r.err, r.text
    with socket.socket() as s:  # a port on this machine that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli("org", "show", db=f"postgresql+psycopg://ikcheck:x@127.0.0.1:{port}/ikcheck")
    assert r.code == 2 and f"Databasservern 127.0.0.1:{port} svarar inte" in r.err, r.text
    assert "connection" not in r.text.lower() and "Traceback" not in r.text
