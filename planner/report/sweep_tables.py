"""The sweep report's tables: :class:`SweepResult` frames with headers, units and number formats.

Each function takes one result table (``runs``, ``tornado()``, ``curves()``, ``grid()``,
``decisions()``) and only chooses, orders and labels its columns; nothing is computed here that
the API does not already return. A swept value is in its target's own unit: a price in USD/GPU-hour,
a probability or MFU in %, a ``scale`` target as a multiple (x1.3); a column mixing targets formats
each row in its target's unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from planner.excel.formats import COUNT, DECIMAL, GAP, MONEY, PERCENT, TRILLIONS
from planner.excel.layout import ColourScale, Table, plain
from planner.report.labels import PERCENT_COLUMNS, column_format, column_label, table
from planner.sweeps import Sweep, Target

if TYPE_CHECKING:
    from planner.sweeps.result import SweepResult

MULTIPLE = '0.00"x"'
"""A ``scale`` target's value: a multiple of the input (1.30x)."""
VALUE_UNIT = "target's unit"

RUN_LABELS = {
    "run": "Run", "sweep": "Sweep", "point": "Point", "design": "Design", "target": "Target varied",
    "value": f"Value ({VALUE_UNIT})", "changes": "Changes", "refinement": "Refinement (yes/no)", "status": "Status",
    "has_plan": "Has a plan (yes/no)", "reason": "Reason", "best_bound_usd": "Best bound (USD)",
    "change_vs_base_usd": "Change vs base (USD)", "new_lease_commitment_usd": "New lease commitment (USD)",
    "share_served": "Demand served (%)", "seconds": "Wall clock (seconds)", "cpu_seconds": "CPU (seconds)",
    "solve_seconds": "Solve (seconds)", "rebuilt": "Rebuilt (yes/no)", "warm_start": "Warm start (yes/no)",
    "worker": "Worker", "is_base": "Base run (yes/no)",
}
RUN_FORMATS = {
    "run": COUNT, "point": COUNT, "value": None, "mip_gap": GAP, "objective_usd": MONEY, "expected_cost_usd": MONEY,
    "best_bound_usd": MONEY, "change_vs_base_usd": MONEY, "new_lease_commitment_usd": MONEY,
    "share_served": PERCENT, "seconds": DECIMAL, "cpu_seconds": DECIMAL, "solve_seconds": DECIMAL,
}
FIRST_RUN_COLUMNS = ["run", "sweep", "changes", "status", "expected_cost_usd", "change_vs_base_usd", "share_served",
                     "new_lease_commitment_usd", "reason"]
"""What a reader looks at first; the per-scenario costs, GPUs, solver figures and timings follow."""
LAST_RUN_COLUMNS = ["target", "value", "point", "design", "refinement", "has_plan", "seconds", "cpu_seconds",
                    "solve_seconds", "rebuilt", "warm_start", "worker"]


# ---- targets ------------------------------------------------------------------------------------

def target_unit(target: Target) -> tuple[str, str | None]:
    """(unit text, number format) of a target's swept values."""
    if target.mode == "scale":
        return "x", MULTIPLE
    if target.kind == "probability" or target.column in PERCENT_COLUMNS:
        return "%", PERCENT
    label = column_label(target.column)
    unit = label[label.rfind("(") + 1:-1] if label.endswith(")") else ""
    return unit, column_format(target.column) or DECIMAL


def shown(value: object, target: Target) -> str:
    """A swept value in words, in its unit: ``11%``, ``x1.3``, ``$2.10``, ``450 MW``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    unit, number_format = target_unit(target)
    if number_format == PERCENT:
        return f"{value * 100:.4g}%"
    if number_format == MULTIPLE:
        return f"x{value:.4g}"
    if number_format == TRILLIONS:
        return f"{value / 1e12:,.4g}T tokens"
    if unit.startswith("USD"):
        return f"${value:,.2f}" if abs(value) < 1000 else f"${value:,.0f}"
    return f"{value:,.4g}" + (f" {unit}" if unit and unit not in ("count", "ratio") else "")


def targets_by_name(result: SweepResult) -> dict[tuple[str, str], Target]:
    """(sweep, target name) -> the target."""
    return {(sweep.name, target.name): target for sweep in result.sweeps for target in sweep.targets}


def first_target(result: SweepResult) -> dict[str, Target]:
    """Target name -> the first target of that name (a name means the same cells in every sweep)."""
    found: dict[str, Target] = {}
    for sweep in result.sweeps:
        for target in sweep.targets:
            found.setdefault(target.name, target)
    return found


def _value_header(name: str, target: Target) -> str:
    unit, _ = target_unit(target)
    return f"{name} ({unit})" if unit else name


def _row_formats(targets: list[Target | None]) -> list[str | None]:
    return [target_unit(target)[1] if target is not None else None for target in targets]


# ---- tables -------------------------------------------------------------------------------------

def runs_table(result: SweepResult) -> Table:
    """Every run: what changed, status and reason, the plan's figures, the swept values, timings."""
    runs = result.runs.copy()
    runs.insert(runs.columns.get_loc("expected_cost_usd") + 1, "change_vs_base_usd",
                result.overview()["change_vs_base_usd"].to_numpy())
    targets = first_target(result)
    scenario_costs = [f"cost_usd[{s}]" for s in result.scenarios]
    gpus = [f"gpus_leased[{g}]" for g in result.gpu_types]
    middle = [*gpus, *scenario_costs, "objective_usd", "mip_gap", "best_bound_usd", *targets]
    frame = runs[[*FIRST_RUN_COLUMNS, *middle, *LAST_RUN_COLUMNS]]
    labels = {**RUN_LABELS, **{f"cost_usd[{s}]": f"Cost in {s} (USD, NPV)" for s in result.scenarios},
              **{f"gpus_leased[{g}]": f"GPUs leased: {g} (count)" for g in result.gpu_types},
              **{name: _value_header(name, target) for name, target in targets.items()}}
    formats = {**RUN_FORMATS, **dict.fromkeys(scenario_costs, MONEY), **dict.fromkeys(gpus, COUNT),
               **{name: target_unit(target)[1] for name, target in targets.items()}}
    by_run = {point.run: point for point in result.points}
    value_targets = [by_run[run].changes[0][0] if by_run[run].varied else None for run in frame["run"]]
    return table("Sweep_Runs", "Every run (base first; filter Status for the points without a plan)", frame,
                 labels=labels, formats=formats, row_formats={"value": _row_formats(value_targets)})


def tornado_table(result: SweepResult) -> Table:
    """The tornado's bars: expected cost at each target's low and high value against the base run."""
    frame = result.tornado()
    targets = targets_by_name(result)
    chosen = [targets[(sweep, name)] for sweep, name in zip(frame["sweep"], frame["target"], strict=True)]
    repeated = frame["target"].duplicated(keep=False)
    bars = [f"{sweep}: {name}" if twice else name
            for sweep, name, twice in zip(frame["sweep"], frame["target"], repeated, strict=True)]
    frame.insert(0, "bar", [f"{bar}: {shown(low, t)} to {shown(high, t)}" for bar, low, high, t
                            in zip(bars, frame["low_value"], frame["high_value"], chosen, strict=True)])
    frame = frame.drop(columns=["target"])  # it heads the bar's label
    labels = {"bar": "Target: lowest to highest value", "sweep": "Sweep",
              "base_value": "Base value", "low_value": "Low value", "high_value": "High value",
              "base_expected_cost_usd": "Cost at base (USD)", "low_expected_cost_usd": "Cost at low (USD)",
              "high_expected_cost_usd": "Cost at high (USD)", "low_change": "Change at low (USD)",
              "high_change": "Change at high (USD)", "swing": "Swing (USD)"}
    formats = {"low_change": MONEY, "high_change": MONEY, "swing": MONEY}
    value_formats = _row_formats(list(chosen))
    return table("Sweep_Tornado", "Expected cost at each target's lowest and highest value (widest swing first)",
                 frame, labels=labels, formats=formats, empty="No one-at-a-time target has a planned point.",
                 row_formats=dict.fromkeys(("base_value", "low_value", "high_value"), value_formats))


def curve_frame(result: SweepResult, sweep: str, target: str) -> pd.DataFrame:
    """One target's curve in value order (base included), the columns a curve sheet shows."""
    curves = result.curves()
    frame = curves[(curves["sweep"] == sweep) & (curves["target"] == target)]
    gpus = [f"gpus_leased[{g}]" for g in result.gpu_types]
    return frame[["value", "is_base", "run", "status", "expected_cost_usd", "share_served",
                  "new_lease_commitment_usd", "objective_usd", *gpus]].reset_index(drop=True)


def curve_table(result: SweepResult, key: str, sweep: str, target: Target) -> Table:
    number_format = target_unit(target)[1]
    labels = {**RUN_LABELS, "value": _value_header(target.name, target),
              **{f"gpus_leased[{g}]": f"GPUs leased: {g} (count)" for g in result.gpu_types}}
    formats = {**RUN_FORMATS, "value": number_format,
               **{f"gpus_leased[{g}]": COUNT for g in result.gpu_types}}
    return table(key, f"{target.name}: every value, the base run included", curve_frame(result, sweep, target.name),
                 labels=labels, formats=formats)


GRID_METRICS = {
    "expected_cost_usd": ("Expected cost (USD)", MONEY, True),
    "share_served": ("Demand served (%)", PERCENT, False),
    "new_lease_commitment_usd": ("New lease commitment (USD)", MONEY, True),
}
"""Metric -> (title, number format, low is good) of the matrices a grid sheet shows."""


def grid_tables(result: SweepResult, sweep: Sweep, key: str) -> list[Table]:
    """A two-target grid as matrices (first target down, second across), shaded as heat maps."""
    first, second = sweep.targets
    blocks = []
    for metric, (title, number_format, low_is_good) in GRID_METRICS.items():
        grid = result.grid(sweep.name, metric)
        columns = [f"v{j}" for j in range(len(grid.columns))]
        frame = pd.DataFrame(grid.to_numpy(dtype=float), columns=columns)
        frame.insert(0, "row_value", [plain(v) for v in grid.index])
        labels = {"row_value": _value_header(first.name, first),
                  **{c: shown(v, second) for c, v in zip(columns, grid.columns, strict=True)}}
        formats = {"row_value": target_unit(first)[1], **dict.fromkeys(columns, number_format)}
        shade = ColourScale(tuple(columns), low_is_good) if frame[columns].notna().to_numpy().sum() > 1 else None
        blocks.append(Table(f"{key}_{metric.removesuffix('_usd')}", title, frame, labels=labels, formats=formats,
                            colour_scale=shade))
    return blocks


def decisions_table(result: SweepResult, key: str, level: str) -> Table:
    """Lease lines (or offers) that appear, disappear or change size between neighbouring values."""
    frame = result.decisions(level=level)  # type: ignore[arg-type]
    if level == "offer":
        frame = frame.drop(columns=["start_month"])
    targets = targets_by_name(result)
    value_formats = _row_formats([targets.get((s, t)) for s, t in zip(frame["sweep"], frame["target"], strict=True)])
    labels = {"sweep": "Sweep", "target": "Target", "from_value": "From (value)", "to_value": "To (value)",
              "break_even_value": "Break-even (value)",
              "scenario": "Signed in (all = now)", "change": "Change", "blocks_before": "Blocks before (count)",
              "blocks_after": "Blocks after (count)", "gpus_before": "GPUs before (count)",
              "gpus_after": "GPUs after (count)", "from_run": "From run", "to_run": "To run"}
    formats = {"from_run": COUNT, "to_run": COUNT}
    title = ("Lease lines that change between neighbouring values" if level == "line"
             else "Offers that change (start months added up)")
    return table(key, title, frame, labels=labels, formats=formats, empty="The lease plan is the same at every value.",
                 row_formats=dict.fromkeys(("from_value", "to_value", "break_even_value"), value_formats))


def spec_frame(result: SweepResult) -> pd.DataFrame:
    """The sweeps as run: one row per target, values in the target's own terms."""
    rows = []
    for sweep in result.sweeps:
        for target in sweep.targets:
            unit, _ = target_unit(target)
            rows.append({"sweep": sweep.name, "design": sweep.design.replace("_", " "), "target": target.name,
                         "table": target.table, "rows": target.rows, "column": target.column, "mode": target.mode,
                         "values": ", ".join(shown(v, target) for v in target.values), "unit": unit,
                         "count": len(target.values), "written_at": target.location or ""})
    return pd.DataFrame(rows, columns=["sweep", "design", "target", "table", "rows", "column", "mode", "values",
                                       "unit", "count", "written_at"])


SPEC_LABELS = {"sweep": "Sweep", "design": "Design", "target": "Target", "table": "Table", "rows": "Rows",
               "column": "Column", "mode": "Mode", "values": "Values", "unit": "Unit", "count": "Values (count)",
               "written_at": "Written at"}


def figures(items: list[tuple[str, object, str]], formats: Mapping[str, str]) -> Table:
    """An item/value/unit table, each value formatted by its unit."""
    frame = pd.DataFrame([{"item": i, "value": plain(v), "unit": u} for i, v, u in items],
                         columns=["item", "value", "unit"])
    frame["value"] = frame["value"].astype(object)
    return table("Sweep_Figures", "Key figures", frame,
                 row_formats={"value": [formats.get(u) if isinstance(v, int | float) and not (
                     isinstance(v, float) and math.isnan(v)) else None for _, v, u in items]})
