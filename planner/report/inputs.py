"""What a report was made from: the validated inputs, table by table, and the run's provenance."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from planner.excel.formats import COUNT, DECIMAL, GAP, PERCENT
from planner.excel.layout import Table, plain
from planner.report.labels import PERCENT_COLUMNS, column_format, table
from planner.schema import TABLE_FIELD, TABLES, Problem, Record, Settings


def input_tables(problem: Problem) -> list[Table]:
    """The validated Problem, table by table, as the model saw it (Settings as parameter/value)."""
    settings = problem.settings
    rows, formats = [], []
    for name, info in Settings.model_fields.items():
        rows.append({"parameter": name, "value": plain(getattr(settings, name)), "unit": Settings.UNITS.get(name, ""),
                     "description": info.description or ""})
        formats.append(_settings_format(name, getattr(settings, name)))
    blocks = [table("Input_Settings", "Settings", pd.DataFrame(rows, columns=["parameter", "value", "unit",
                                                                                "description"]),
                    row_formats={"value": formats})]
    for cls in TABLES:
        records: list[Record] = getattr(problem, TABLE_FIELD[cls.TABLE])
        columns = [c for c in cls.model_fields if c != "notes"] + ["notes"]
        frame = pd.DataFrame([{c: plain(getattr(r, c)) for c in columns} for r in records], columns=columns)
        title = f"{cls.TABLE}: {cls.DESCRIPTION}" if cls.DESCRIPTION else cls.TABLE
        blocks.append(table(f"Input_{cls.TABLE}", title, frame, empty="No rows."))
    return blocks


def _settings_format(name: str, value: object) -> str | None:
    """A Settings value's format: its unit's (fractions as percentages), else a plain number's."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if name in PERCENT_COLUMNS or name == "mip_gap":
        return GAP if name == "mip_gap" else PERCENT
    return column_format(name) or (COUNT if float(value).is_integer() else DECIMAL)


def provenance(problem: Problem, input_path: Path | None, timestamp: str) -> pd.DataFrame:
    """Where the numbers came from: input file and hashes, run time, software versions (item, value, unit)."""
    rows = [
        ("Input file", input_path.name if input_path else "none (problem built in Python)", ""),
        ("Input file SHA-256", _sha256(input_path) if input_path and input_path.is_file() else "n/a", ""),
        ("Validated input SHA-256 (JSON)", hashlib.sha256(problem.model_dump_json().encode("utf-8")).hexdigest(), ""),
        ("Optional tables not in the input", ", ".join(problem.absent_tables()) or "none", ""),
        ("Run timestamp", timestamp, "UTC"),
        *((f"{name} version", version, "") for name, version in versions()),
    ]
    return pd.DataFrame([{"item": i, "value": v, "unit": u} for i, v, u in rows], columns=["item", "value", "unit"])


def versions() -> list[tuple[str, str]]:
    """(software, version) of the planner, its solver stack and Python."""
    from planner import __version__

    out = [("planner", __version__)]
    for label, dist in (("Pyomo", "pyomo"), ("HiGHS (highspy)", "highspy"), ("openpyxl", "openpyxl"),
                        ("pandas", "pandas")):
        try:
            out.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((label, "not installed"))
    out.append(("Python", platform.python_version()))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
