"""The CLI speaks Swedish and never shows a traceback for a user's mistake."""

import subprocess
import sys


def test_help_is_swedish(cli):
    r = cli("--help")
    assert r.code == 0
    assert "intern kontroll" in r.out
    for group in ("org", "risk", "matrix", "audit", "db", "demo", "init"):
        assert group in r.out


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
