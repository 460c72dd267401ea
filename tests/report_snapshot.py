"""A report workbook as plain data (sheet -> cells, tables, charts, layout), for golden comparisons.

Everything a reader of the report sees is kept: every non-empty cell with its value, type, number
format, font and quote prefix; every Excel Table with its range and headers; every chart with its
kind, titles, axis formats, anchor and the cell ranges of its series; column widths, frozen panes and
print setup (print area, repeated rows, orientation, fit to pages). What changes from run to run
(timestamps, versions, timings, the solver log) is masked.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.chart._chart import ChartBase

MASK = "<varies>"
VOLATILE_FIGURES = ("Solve time", "Model build time", "Run timestamp")
"""Key-figure rows whose value differs from run to run (plus every '... version' row)."""
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
SOLVER_LOG_TITLE = "Solver log (last "


def _text(title: Any) -> str | None:
    """The plain text of a chart or axis title (rich text runs joined)."""
    if title is None:
        return None
    rich = getattr(getattr(title, "tx", None), "rich", None)
    if rich is None:
        return str(title)
    return "".join(run.t for paragraph in rich.p for run in (paragraph.r or []))


def _series(series: Any) -> dict[str, Any]:
    title = series.tx.strRef.f if series.tx is not None and series.tx.strRef is not None else (
        series.tx.v if series.tx is not None else None)
    category = None
    if series.cat is not None:
        reference = series.cat.strRef or series.cat.numRef
        category = reference.f if reference is not None else None
    line = getattr(getattr(series, "graphicalProperties", None), "line", None)
    return {"title": title, "values": series.val.numRef.f if series.val is not None else None,
            "categories": category, "dash": getattr(getattr(line, "prstDash", None), "val", None)
            if line is not None else None}


def _axis(axis: Any) -> dict[str, Any]:
    scaling = axis.scaling
    number_format = axis.number_format.formatCode if axis.number_format is not None else None
    return {"title": _text(axis.title), "format": number_format, "id": axis.axId,
            "min": scaling.min if scaling is not None else None, "max": scaling.max if scaling is not None else None}


def _chart(chart: ChartBase) -> dict[str, Any]:
    anchor = chart.anchor._from
    end = getattr(chart.anchor, "to", None)
    extent = getattr(chart.anchor, "ext", None)
    size = [end.col, end.row] if end is not None else [extent.width, extent.height] if extent is not None else None
    parts = [chart, *[part for part in getattr(chart, "_charts", []) if part is not chart]]
    return {
        "anchor": [anchor.col, anchor.row],
        "title": _text(chart.title),
        "extent": size,
        "legend": chart.legend.position if chart.legend is not None else None,
        "parts": [{"kind": part.tagname, "grouping": getattr(part, "grouping", None),
                   "type": getattr(part, "type", None), "x_axis": _axis(part.x_axis), "y_axis": _axis(part.y_axis),
                   "series": [_series(s) for s in part.series]} for part in parts],
    }


def _value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _style(cell: Any) -> list[Any]:
    font = cell.font
    color = font.color.rgb if font is not None and font.color is not None else None
    return [cell.data_type, cell.number_format, bool(font.b), font.sz, color if isinstance(color, str) else None,
            font.name, bool(cell.quotePrefix)]


def snapshot(path: Path) -> dict[str, Any]:
    """The report at ``path`` as JSON-ready data (see the module docstring)."""
    wb = openpyxl.load_workbook(path)
    sheets: dict[str, Any] = {}
    for ws in wb.worksheets:
        cells: list[list[Any]] = []
        in_log = False  # the solver log is the last block of its sheet: its lines vary by run
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None or in_log:
                    continue
                value = _value(cell.value)
                if isinstance(value, str) and value.startswith(SOLVER_LOG_TITLE):
                    in_log, value = True, SOLVER_LOG_TITLE + MASK
                if isinstance(value, str):
                    value = TIMESTAMP.sub(MASK, value)
                cells.append([cell.coordinate, value, *_style(cell)])
        sheets[ws.title] = {
            "cells": _mask_volatile_figures(cells),
            "tables": {name: {"ref": table.ref, "columns": table.column_names,
                              "style": table.tableStyleInfo.name if table.tableStyleInfo else None}
                       for name, table in ((name, ws.tables[name]) for name in ws.tables)},
            "charts": [_chart(chart) for chart in ws._charts],
            "widths": {key: dim.width for key, dim in sorted(ws.column_dimensions.items()) if dim.width},
            "freeze": ws.freeze_panes,
            "print": {"area": ws.print_area, "title_rows": ws.print_title_rows,
                      "orientation": ws.page_setup.orientation,
                      "fit": [ws.page_setup.fitToWidth, ws.page_setup.fitToHeight]},
        }
    return {"sheets": list(wb.sheetnames), "content": sheets}


def _mask_volatile_figures(cells: list[list[Any]]) -> list[list[Any]]:
    """Mask the value (next column, same row) of key figures and model-size rows that vary by run."""
    volatile_rows = set()
    for coordinate, value, *_ in cells:
        if isinstance(value, str) and (value in VOLATILE_FIGURES or value.endswith((" version", " time"))):
            volatile_rows.add((re.sub(r"\d", "", coordinate), int(re.sub(r"\D", "", coordinate))))
    out = []
    for cell in cells:
        letters, row = re.sub(r"\d", "", cell[0]), int(re.sub(r"\D", "", cell[0]))
        label_column = openpyxl.utils.get_column_letter(openpyxl.utils.column_index_from_string(letters) - 1) \
            if letters != "A" else None
        if label_column is not None and (label_column, row) in volatile_rows:
            cell = [cell[0], MASK, *cell[2:]]
        out.append(cell)
    return out


def differences(expected: Any, actual: Any, where: str = "", rel: float = 1e-7) -> list[str]:
    """Every place where two snapshots differ (numbers compared to a relative tolerance)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if expected == actual else [f"{where}: expected {expected!r}, found {actual!r}"]
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if math.isclose(expected, actual, rel_tol=rel, abs_tol=1e-6):
            return []
        return [f"{where}: expected {expected!r}, found {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}: missing {key!r}" for key in expected if key not in actual]
        out += [f"{where}: unexpected {key!r}" for key in actual if key not in expected]
        for key in expected:
            if key in actual:
                out += differences(expected[key], actual[key], f"{where}/{key}", rel)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            head = f"{where}: {len(expected)} entries expected, {len(actual)} found"
            return [head, *differences(expected[: len(actual)], actual[: len(expected)], where, rel)]
        out = []
        for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
            label = f"{where}[{a[0]}]" if isinstance(a, list) and a and isinstance(a[0], str) else f"{where}[{i}]"
            out += differences(a, b, label, rel)
        return out
    return [] if expected == actual else [f"{where}: expected {expected!r}, found {actual!r}"]


def dumps(data: Any, indent: int = 0) -> str:
    """JSON with one line per list of scalars (one cell, one header row): small, reviewable diffs."""
    pad = " " * indent
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f'{pad} {json.dumps(str(k))}: {dumps(v, indent + 1)}' for k, v in data.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list) and data and any(isinstance(v, dict | list) for v in data):
        return "[\n" + ",\n".join(f"{pad} {dumps(v, indent + 1)}" for v in data) + f"\n{pad}]"
    return json.dumps(data)
