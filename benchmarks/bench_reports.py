"""Report rendering against the queries it needs, for the demo kommun (8 units).

For one unit's årsrapport and for KS's summary: the time to build the dataset (every query), the time
to render it to HTML, and to PDF, in the same run. Target: HTML rendering ≤ 2× its queries.
Growth in the number of units is shown as KS-summary time per unit for the first 2, 4 and 8 units.
(A `--scale 290` run needs the whole cycle at scale; `demo --scale` builds registers only.)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import best_of, table

from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.demo import run_demo
from ikcheck.reporting import datasets, heatmap
from ikcheck.reporting.render import render_html, write_pdf


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = run_demo(load_settings(), Path(tmp) / "demo")
        print(f"Demokommunen byggd på {time.perf_counter() - t:.0f} s\n")
        app = App(load_settings(summary.database))
        rows = []
        with app.session() as s:
            org = app.org(s)
            sn = app.unit(s, org, "SN")
            t_q, data = best_of(3, datasets.unit_report, app, s, org, sn, 2025, "ar")
            t_h, html = best_of(3, lambda: render_html(app.settings.reports_dir, "rapport.html.j2", r=data,
                                                       heatmap_html=heatmap.html_table(data["heatmap"])))
            t_p, _ = best_of(1, write_pdf, html, Path(tmp) / "sn.pdf", app.settings.reports_dir)
            rows.append(["årsrapport SN", f"{t_q * 1000:.0f}", f"{t_h * 1000:.0f}", f"{t_p * 1000:.0f}", f"{t_h / t_q:.2f}×"])
            t_q, ks = best_of(3, datasets.ks_summary, app, s, org, 2025, "ar")
            t_h, html = best_of(3, lambda: render_html(app.settings.reports_dir, "ks.html.j2", k=ks))
            t_p, _ = best_of(1, write_pdf, html, Path(tmp) / "ks.pdf", app.settings.reports_dir)
            rows.append(["KS-sammanställning", f"{t_q * 1000:.0f}", f"{t_h * 1000:.0f}", f"{t_p * 1000:.0f}", f"{t_h / t_q:.2f}×"])
            print(table(["rapport", "frågor ms", "HTML ms", "PDF ms", "HTML / frågor"], rows))
            growth = []
            units = list(org.units)
            for n in (2, 4, 8):
                t_n, _ = best_of(3, datasets.ks_summary, app, s, org, 2025, "ar", units[:n])
                growth.append([n, f"{t_n * 1000:.0f}", f"{t_n * 1000 / n:.0f}"])
        print()
        print(table(["enheter", "KS-sammanställning ms", "ms per enhet"], growth))
        print("\nmål: HTML ≤ 2× frågorna; linjär tillväxt i antalet enheter")


if __name__ == "__main__":
    main()
