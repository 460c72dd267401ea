"""planner: optimization-based procurement planning for AI compute.

The Python API: ``load`` a workbook into a validated ``Problem``, ``solve`` it into a ``PlanResult``
(pandas DataFrames: what to sign now, what each scenario signs once it is known), keep a ``Planner`` to
change numbers and re-solve in place, ``analyse`` the value of hedging and of learning across
scenarios (VSS, EVPI, value of learning, regret), and ``sweep`` inputs over values (``planner.sweeps``:
one row per run, tornado, break-even values; fanned out on Dask).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from planner.errors import InputError, InputIssue
from planner.workbook import load, load_details, load_sweeps

__version__ = "0.1.0"

# The solver stack (Pyomo, HiGHS) is imported on first use so that `planner validate` stays fast.
_LAZY = {
    "solve": "planner.solver",
    "Planner": "planner.solver",
    "PlanResult": "planner.results",
    "analyse": "planner.uncertainty",
    "UncertaintyAnalysis": "planner.uncertainty",
    "write_report": "planner.report",
    "Problem": "planner.schema",
    "sweep": "planner.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")


__all__ = ["InputError", "InputIssue", "PlanResult", "Planner", "Problem", "UncertaintyAnalysis", "__version__",
           "analyse", "load", "load_details", "load_sweeps", "solve", "sweep", "write_report"]
