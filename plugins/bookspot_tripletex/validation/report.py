"""The validation report of one tenant-day: the model (validation/model.py), its HTML page
(validation/page.py) and PDF (validation/pdf.py), and the optional export of JSON and HTML files.

Reports live in the staging database (validation/store.py); files on disk are an export for those who
want them (settings.reports_export_dir).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from bookspot_tripletex.validation.model import build_report, report_status
from bookspot_tripletex.validation.page import render_html
from bookspot_tripletex.validation.pdf import latin1, render_pdf

__all__ = ["build_report", "latin1", "render_html", "render_pdf", "report_status", "write_report"]

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _safe(part: str) -> str:
    cleaned = SAFE_NAME.sub("_", part)
    return "_" + cleaned if cleaned.startswith(".") or not cleaned else cleaned


def report_paths(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    folder = Path(out_dir) / _safe(str(report["tenant"])) / _safe(str(report["date"]))
    stem = f"v{int(report.get('version') or 1)}"
    return folder / f"{stem}.json", folder / f"{stem}.html"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: dict[str, Any], out_dir: Path, html: str | None = None) -> tuple[Path, Path]:
    """Write <out_dir>/<tenant>/<date>/v<version>.json and .html (each replaced atomically)."""
    json_path, html_path = report_paths(report, out_dir)
    _write(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write(html_path, html if html is not None else render_html(report))
    return json_path, html_path
