"""`signoff report annual`: the year's figures (art. 30) written as report.md, CSV files and PNG
charts, and the year's disclosure catalogue (art. 9) as catalogue.csv.

Every file is written beside its final name and renamed into place, so a failure leaves no
half-written file; CSV files are UTF-8 with a BOM, so Excel opens the Chinese correctly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from approvals.figures import CatalogueQuery
from approvals.present import charts
from approvals.present.reports import (
    annual_markdown,
    catalogue_header,
    catalogue_row,
    csv_text,
    tables,
)
from approvals.rules.errors import InvalidInput, Text
from approvals.services import Service

CHART_DIR = "charts"


@dataclass(frozen=True)
class Written:
    """What `write_annual` wrote, relative to `folder`."""

    folder: Path
    year: int
    files: tuple[str, ...]


def csv_bytes(rows: Iterable[list[str]]) -> bytes:
    """Rows as CSV, UTF-8 with a BOM (Excel reads the Chinese correctly)."""
    return csv_text(rows).encode("utf-8")


def _unwritable(path: Path, exc: OSError) -> InvalidInput:
    reason = exc.strerror or type(exc).__name__
    return InvalidInput(Text(f"无法写入 {path}：{reason}。请用 --out 指定一个可写的目录。",
                             f"Cannot write to {path}: {reason}. Give a writable folder with "
                             "--out."))


def _prepare(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(Text(f"{folder} 已存在且不是目录。请用 --out 指定一个目录。",
                                f"{folder} exists and is not a folder. Give a folder with --out."))
    try:
        (folder / CHART_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(folder, exc) from None


def _write(folder: Path, name: str, data: bytes) -> None:
    target = folder / name
    try:
        temp = str(target.with_name(f".{target.name}.{secrets.token_hex(6)}"))
        # Created as any new file is (0666 less the umask): a report is for reading.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _unwritable(target, exc) from None


def write_annual(svc: Service, year: str | int, folder: Path | None, lang: str) -> Written:
    """Compute the year's figures once and write every file of the report into `folder`
    (default: ./report-YEAR).

    Raises:
        InvalidInput: a bad year (checked before anything is written), or a folder that cannot be
            written.
    """
    figures = svc.annual_figures(year)
    folder = folder if folder is not None else Path(f"report-{figures.year}")
    _prepare(folder)
    files: list[str] = []
    for name, rows in tables(figures, svc.org, lang).items():
        _write(folder, f"{name}.csv", csv_bytes(rows))
        files.append(f"{name}.csv")
    entries = svc.catalogue_all(CatalogueQuery(year=figures.year))
    _write(folder, "catalogue.csv", csv_bytes([catalogue_header(lang),
                                               *(catalogue_row(e, svc.org, lang) for e in entries)]))
    files.append("catalogue.csv")
    images = {}
    for name, png in charts.render(figures, svc.org, lang, "png").items():
        images[name] = f"{CHART_DIR}/{name}.png"
        _write(folder, images[name], png)
    english = charts.chart_language(lang) != lang
    _write(folder, "report.md", annual_markdown(figures, svc.org, lang, images, files,
                                                charts_in_english=english).encode("utf-8"))
    return Written(folder, figures.year, ("report.md", *files, *images.values()))
