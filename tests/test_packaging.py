"""An installed ikcheck carries its rules, matrices and templates and works from any directory."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_data_folders_and_runs_outside_the_repo(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("ikcheck-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "ikcheck/_data/riskregister/matriser/kommun-4x4.yaml" in names
    assert "ikcheck/_data/riskregister/demo/exempelby.yaml" in names
    assert any(n.startswith("ikcheck/_data/rules/") for n in names)
    assert any(n.startswith("ikcheck/_data/reports/") for n in names)
    assert "ikcheck/store/migrations/versions/0001_initial_schema.py" in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "ikcheck", "--db", str(elsewhere / "x.db"), "init", "--org",
         str(target / "ikcheck/_data/riskregister/demo/exempelby.yaml")],
        cwd=elsewhere, capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import ikcheck.config as c; print(c.bundled('rules'))"],
        cwd=elsewhere, capture_output=True, text=True, env=env,
    )
    assert probe.stdout.strip() == str(target / "ikcheck" / "_data" / "rules")
