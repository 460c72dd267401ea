"""The work behind ``planner sweep``: which sweeps to run, and the JSON document it prints.

The command itself (:mod:`planner.cli`) loads the input, checks the report path, runs
``planner.sweep`` under a progress bar, writes the report and sets the exit code; this module
chooses the sweeps (the workbook's Sweeps sheet, ``--sweep`` names, ``--vary`` texts) and shapes
the result for scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError, InputIssue
from planner.sweeps.result import SweepResult
from planner.sweeps.sheet import SWEEPS_SHEET
from planner.sweeps.spec import Sweep, sweep_from_vary

VARY_SWEEP = "vary"
"""The name of the sweep the ``--vary`` targets form."""


def select_sweeps(path: Path, names: Sequence[str], vary: Sequence[str], grid: bool = False) -> list[Sweep]:
    """The sweeps ``planner sweep`` runs: every sweep on the workbook's Sweeps sheet when neither
    ``names`` nor ``vary`` is given; the sheet's sweeps called ``names``; and the ``vary`` targets as one
    more sweep named ``vary`` (over their full grid when ``grid``). Raises :class:`InputError` naming the
    bad cell or the bad option text, or saying there is nothing to run."""
    from planner.workbook import load_sweeps

    sweeps: list[Sweep] = []
    if names or not vary:  # with --vary alone the sheet is not read: a bad row must not stop it
        sweeps = load_sweeps(path, names or None)
        if not sweeps and not vary:
            raise InputError([InputIssue(SWEEPS_SHEET, "sweep", "no sweeps in the workbook",
                                         "rows on its Sweeps sheet (planner template writes one), or --vary "
                                         "'Table[rows].column=values'")], source=Path(path).name)
    if vary:
        try:
            sweeps.append(sweep_from_vary(vary, name=VARY_SWEEP, design="grid" if grid else "one_at_a_time"))
        except InputError as error:
            raise InputError(error.issues, source="the --vary options") from None
    return sweeps


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records (NaN as None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def sweep_document(result: SweepResult, *, input_path: Path, report: Path | None,
                   report_issues: Sequence[InputIssue] = ()) -> dict[str, Any]:
    """What ``planner sweep --json`` prints: counts and time, the sweeps, every run, the tornado,
    the lease decisions that change (by line), each two-target grid, and where the report went."""
    document: dict[str, Any] = {"input": str(input_path), **result.summary()}
    document["tornado"] = records(result.tornado())
    document["decisions"] = records(result.decisions())
    document["grids"] = [
        {"sweep": name, "rows": sweep.targets[0].name, "columns": sweep.targets[1].name,
         "row_values": list(grid.index), "column_values": list(grid.columns),
         "expected_cost_usd": [[None if pd.isna(v) else float(v) for v in row] for row in grid.to_numpy()]}
        for name, grid in result.grids().items()
        for sweep in result.sweeps if sweep.name == name
    ]
    document["report"] = str(report) if report is not None and not report_issues else None
    if report_issues:
        document["report_error"] = [issue.as_dict() for issue in report_issues]
    return document
