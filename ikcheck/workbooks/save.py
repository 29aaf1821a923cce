"""Saving a workbook reproducibly: the same content gives the same bytes, whenever it is written."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook


def save_reproducibly(wb: Workbook, path: Path, at: dt.datetime | None) -> Path:
    """openpyxl stamps the file with 'now' (document properties and zip entries); pin both to `at`."""
    stamp = (at or dt.datetime(2000, 1, 1)).replace(microsecond=0)
    wb.properties.created = wb.properties.modified = stamp
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.xlsx"
        wb.save(raw)
        iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(Path(tmp) / "out.xlsx", "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", lambda m: m.group(1) + iso.encode(), body)
                fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(fixed, body)
        shutil.move(str(Path(tmp) / "out.xlsx"), path)
    return Path(path)
