"""Report rendering against the queries it needs: the demo kommun alone, then the same kommun in a
national database (`demo --scale N`, default 290 more kommuner with registers, plans and results).

For one unit's årsrapport and for KS's summary: the time to build the dataset (every query), the time
to render it to HTML, and to PDF, in the same run. Target: HTML rendering ≤ 2× its queries.
Growth in the number of units is shown as KS-summary time per unit for the first 2, 4 and 8 units.

    python benchmarks/bench_reports.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import best_of, table

from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.demo import run_demo
from ikcheck.reporting import datasets, heatmap
from ikcheck.reporting.render import render_html, write_pdf


def measure(label: str, database: str, tmp: Path, rows: list, growth: list) -> None:
    app = App(load_settings(database))
    with app.session(write=True) as s:
        org = app.org(s, "exempelby")
        sn = app.unit(s, org, "SN")
        t_q, data = best_of(3, datasets.unit_report, app, s, org, sn, 2025, "ar")
        t_h, html = best_of(3, lambda: render_html(app.settings.reports_dir, "rapport.html.j2", r=data,
                                                   heatmap_html=heatmap.html_table(data["heatmap"])))
        t_p, _ = best_of(1, write_pdf, html, tmp / "sn.pdf", app.settings.reports_dir)
        rows.append([label, "årsrapport SN", f"{t_q * 1000:.0f}", f"{t_h * 1000:.0f}", f"{t_p * 1000:.0f}",
                     f"{t_h / t_q:.2f}×"])
        t_q, ks = best_of(3, datasets.ks_summary, app, s, org, 2025, "ar")
        t_h, html = best_of(3, lambda: render_html(app.settings.reports_dir, "ks.html.j2", k=ks))
        t_p, _ = best_of(1, write_pdf, html, tmp / "ks.pdf", app.settings.reports_dir)
        rows.append([label, "KS-sammanställning", f"{t_q * 1000:.0f}", f"{t_h * 1000:.0f}", f"{t_p * 1000:.0f}",
                     f"{t_h / t_q:.2f}×"])
        units = list(org.units)
        for n in (2, 4, 8):
            t_n, _ = best_of(3, datasets.ks_summary, app, s, org, 2025, "ar", units[:n])
            growth.append([label, n, f"{t_n * 1000:.0f}", f"{t_n * 1000 / n:.0f}"])


def main(scale: int) -> None:
    rows: list = []
    growth: list = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in (0, scale):
            t = time.perf_counter()
            summary = run_demo(load_settings(), tmp / f"demo-{n}", scale=n)
            label = "demokommunen" if n == 0 else f"bland {n} kommuner till"
            print(f"Databasen för {label} byggd på {time.perf_counter() - t:.0f} s")
            measure(label, summary.database, tmp, rows, growth)
    print()
    print(table(["databas", "rapport", "frågor ms", "HTML ms", "PDF ms", "HTML / frågor"], rows))
    print()
    print(table(["databas", "enheter", "KS-sammanställning ms", "ms per enhet"], growth))
    print("\nmål: HTML ≤ 2× frågorna; linjär tillväxt i antalet enheter")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 290)
