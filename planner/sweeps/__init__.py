"""Sensitivity sweeps: vary inputs over values, solve every point warm, compare the plans.

``planner.sweep(problem, spec)`` is the entry point (:mod:`planner.sweeps.engine` lists its steps):

* :mod:`~planner.sweeps.spec`: the typed spec (:class:`Sweep`, :class:`Target`) and the ``--vary`` parser;
* :mod:`~planner.sweeps.apply`: targets against a problem; a point's changes applied and validated;
* :mod:`~planner.sweeps.points`: the points of each design, ordered nearest neighbour first;
* :mod:`~planner.sweeps.worker`: one point on one worker, on a model kept between points;
* :mod:`~planner.sweeps.runners`: in this process or on Dask distributed;
* :mod:`~planner.sweeps.result` and :mod:`~planner.sweeps.analysis`: the runs table, tornado,
  curves, grid tables and the lease decisions that change;
* :mod:`~planner.sweeps.sheet`: the workbook's Sweeps sheet (read cell by cell; its columns for the template);
* :mod:`~planner.sweeps.command` and :mod:`~planner.sweeps.console`: ``planner sweep``'s choice of sweeps,
  its ``--json`` document, its progress bar and summary.

The spec is imported eagerly (reading a workbook's Sweeps sheet needs no solver); the engine,
which imports Pyomo and HiGHS, on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from planner.sweeps.spec import (
    MAX_GRID_POINTS,
    Sweep,
    Target,
    as_sweeps,
    build_sweep,
    parse_vary,
    sweep_from_vary,
    sweeps_from_rows,
)

_LAZY = {
    "sweep": "planner.sweeps.engine",
    "SweepProgress": "planner.sweeps.engine",
    "SweepResult": "planner.sweeps.result",
    "local_cluster": "planner.sweeps.runners",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'planner.sweeps' has no attribute {name!r}")


__all__ = ["MAX_GRID_POINTS", "Sweep", "SweepProgress", "SweepResult", "Target", "as_sweeps", "build_sweep",
           "local_cluster", "parse_vary", "sweep", "sweep_from_vary", "sweeps_from_rows"]
