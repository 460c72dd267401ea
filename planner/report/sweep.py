"""The sweep report, sheet by sheet: which :class:`SweepResult` tables go where.

``write_sweep_report(result, path)`` writes one workbook: Read me (what was swept, counts, the base
run, the widest swing, where the plan switches), Runs (every point), Tornado, one Curve sheet per
one-at-a-time target (cost and demand served against the swept value), one Grid sheet per
two-target grid (heat maps), Decisions (lease lines that appear, disappear or change size, with
break-even values), Leases (the lease plan of every point) and Sweep spec (the targets as run and
the provenance). Every number comes from a :class:`SweepResult` method; layout, formats, cell
safety and the atomic save are :mod:`planner.excel`'s.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart._chart import ChartBase

from planner.excel import REPORT_MARKER
from planner.excel.files import check_writable, save_atomically
from planner.excel.formats import COUNT, DECIMAL, MONEY, PERCENT
from planner.excel.layout import CHART_ROWS, Block, Placed, Sheet, Slot, Text
from planner.excel.printing import landscape_pages_wide
from planner.excel.writer import write_workbook
from planner.model.tree import ALL_SCENARIOS
from planner.report.inputs import provenance
from planner.report.labels import table
from planner.report.sweep_charts import curve_charts, tornado_chart
from planner.report.sweep_tables import (
    SPEC_LABELS,
    curve_table,
    decisions_table,
    figures,
    grid_tables,
    runs_table,
    shown,
    spec_frame,
    target_unit,
    targets_by_name,
    tornado_table,
)
from planner.sweeps import Sweep, Target

if TYPE_CHECKING:
    from planner.sweeps.result import SweepResult

SHEET_NAME_LIMIT = 31
"""Excel's longest sheet name."""
FIGURE_FORMATS = {"USD": MONEY, "%": PERCENT, "points": COUNT, "seconds": DECIMAL}
RUNS_TITLE_COLUMNS = "A:C"
"""Run, sweep and changes: repeated at the left of every printed page of the Runs sheet."""
MAX_SWITCH_LINES = 12
"""Lines of "where the plan switches" on the Read me sheet (the Decisions sheet has them all)."""
MAX_CHANGES_PER_LINE = 4
"""Offers named per world in one such line (the Decisions sheet has them all)."""


@dataclass
class Context:
    result: SweepResult
    source: Path | None
    timestamp: str
    curves: list[tuple[str, str, Target]] = field(default_factory=list)
    """(sheet name, sweep, target) of every one-at-a-time curve."""
    grids: list[tuple[str, Sweep]] = field(default_factory=list)
    """(sheet name, sweep) of every two-target grid."""


def sheets(ctx: Context) -> list[Sheet]:
    """The report's sheets, in order: the overview, every run, then each view of them."""
    r = ctx.result
    out = [read_me(ctx), runs(r)]
    if ctx.curves:
        out.append(tornado(r))
        out += [curve(r, name, sweep, target, k) for k, (name, sweep, target) in enumerate(ctx.curves, start=1)]
    out += [grid(r, name, sweep, k) for k, (name, sweep) in enumerate(ctx.grids, start=1)]
    if ctx.curves:
        out.append(decisions(r))
    return [*out, leases(r), spec(ctx)]


def contents(ctx: Context) -> list[str]:
    """How to read the sheets, one line each (only the sheets the report has)."""
    lines = ["Runs: every point (base first) with status and reason, expected cost and its change against the "
             "base, demand served, new lease commitment, GPUs leased, cost per scenario and timings; filter any "
             "column"]
    if ctx.curves:
        lines.append("Tornado: expected cost at each target's lowest and highest value against the base run, "
                     "widest swing first")
        lines += [f"{name}: expected cost and demand served against {target.name}" for name, _, target in ctx.curves]
    lines += [f"{name}: {sweep.name}, expected cost, demand served and new commitment for every combination "
              "(green = better)" for name, sweep in ctx.grids]
    if ctx.curves:
        lines.append("Decisions: lease lines that appear, disappear or change size between neighbouring values, "
                     "with the break-even value where the plan switches")
    lines += ["Leases: the lease plan of every point with a plan (long format, for pivot tables)",
              "Sweep spec: the targets as run, the input file's hash and software versions"]
    return lines


# ---- sheets -------------------------------------------------------------------------------------

def read_me(ctx: Context) -> Sheet:
    r = ctx.result
    runs = r.runs
    counts = _counts(runs)
    source = ctx.source.name if ctx.source else "problem built in Python"
    notes = [f"Run {ctx.timestamp} UTC on {r.workers or 'this process'}: {len(runs)} points "
             f"(the base run and {len(runs) - 1} changed inputs) in {r.seconds:,.1f} s."]
    no_plan = len(runs) - counts["with a plan"]
    alert = (f"{no_plan} of {len(runs)} points have no plan ({_in_words(counts)}): see 'Points without a plan' "
             "below and the Status and Reason columns of the Runs sheet.") if no_plan else ""
    blocks: list[Block] = [Text("What was swept", [_sweep_line(sweep) for sweep in r.sweeps]),
                           figures(_key_figures(r, counts), FIGURE_FORMATS)]
    if no_plan:
        missing = runs.loc[~runs["has_plan"], ["run", "sweep", "changes", "status", "reason"]]
        blocks.append(table("Sweep_NoPlan", "Points without a plan", missing.reset_index(drop=True),
                            labels={"run": "Run", "changes": "Changes", "status": "Status", "reason": "Reason"}))
    if ctx.curves:
        blocks.append(Text("Where the plan switches (Decisions sheet: every lease line)",
                           _switch_lines(r) or ["The lease plan is the same at every value of every target."]))
    blocks.append(Text("How to read the sheets", contents(ctx)))
    solve = f"planner solve {ctx.source.name}" if ctx.source else "planner.solve(problem) in Python"
    pointer = (f"This report compares the points; for the base run's full plan (leases, capacity, costs by month, "
               f"policies, power) solve the base input: {solve}."
               if r.base is not None and r.base.has_plan else
               f"The base run has no plan: solve the base input ({solve}) for the diagnosis.")
    blocks.append(Text("The full plan", [pointer]))
    return Sheet("Read me", f"Sensitivity sweep: {source}", notes, blocks, across=False, alert=alert)


def runs(r: SweepResult) -> Sheet:
    counts = _counts(r.runs)
    notes = [f"{len(r.runs)} points: {_in_words(counts)}. A point without a plan has blank figures and says why "
             "in Reason.",
             "Change vs base = expected cost minus the base run's; cost per scenario is its NPV.",
             "Demand served = expected tokens served / expected tokens demanded."]
    return Sheet("Runs", "Every run of the sweep", notes, [runs_table(r)],
                 print_setup=landscape_pages_wide(RUNS_TITLE_COLUMNS))


MAX_TORNADO_BARS = 12


def tornado(r: SweepResult) -> Sheet:
    block = tornado_table(r)
    bars = min(block.rows, MAX_TORNADO_BARS)
    notes = ["Each bar spans a target's lowest and highest value with the other inputs at base: the change in "
             "expected cost (NPV, USD) against the base run, left for savings and right for extra cost. "
             "Only points with a plan count."]
    if block.rows > bars:
        notes.append(f"The chart shows the {bars} widest of {block.rows} targets; the table holds all of them.")

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return [tornado_chart(placed["Sweep_Tornado"], bars)] if bars else []

    blocks: list[Block] = [block, Slot(columns=1, rows=CHART_ROWS)] if bars else [block]
    return Sheet("Tornado", "Tornado: which input moves the expected cost most", notes, blocks, across=False,
                 charts=charts)


def curve(r: SweepResult, name: str, sweep: str, target: Target, k: int) -> Sheet:
    key = f"Sweep_Curve{k}"
    block = curve_table(r, key, sweep, target)
    frame = block.frame
    notes = [f"Sweep {sweep}: {target.name} from {shown(frame['value'].min(), target)} to "
             f"{shown(frame['value'].max(), target)}, the other inputs at base. The base run is the highlighted "
             "point; a point without a plan leaves a gap in the lines (its status says why)."]
    notes += _switch_lines(r, sweep, target.name) or ["The lease plan is the same at every value."]

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return curve_charts(placed[key], target)

    return Sheet(name, f"Expected cost and demand served against {target.name}", notes, [block, Slot()],
                 charts=charts)


def grid(r: SweepResult, name: str, sweep: Sweep, k: int) -> Sheet:
    first, second = sweep.targets
    notes = [f"Sweep {sweep.name}: every combination of two inputs, the others at base.",
             f"  down: {first.name} ({target_unit(first)[0]})",
             f"  across: {second.name} ({target_unit(second)[0]})",
             "Green is better (lower cost, more demand served). A blank cell: no plan at that point (Runs sheet: "
             "Status and Reason)."]
    return Sheet(name, f"Grid: {sweep.name}", notes, list(grid_tables(r, sweep, f"Sweep_Grid{k}")), across=False)


def decisions(r: SweepResult) -> Sheet:
    notes = ["Where the lease plan switches: between two neighbouring values of a target (both with a plan), a "
             "lease line appears, disappears, grows or shrinks.",
             "The break-even lies between From and To (the midpoint is shown; sweep with refine to narrow it). "
             "Values are in the target's unit (%, a multiple x, USD).",
             "Signed in 'all' = signed now, in every scenario; a scenario's name = signed later, in that world, "
             "once it is known."]
    return Sheet("Decisions", "Decisions that change across the points", notes, [
        decisions_table(r, "Sweep_DecisionsByOffer", "offer"), decisions_table(r, "Sweep_Decisions", "line")],
                 print_setup=landscape_pages_wide())


def leases(r: SweepResult) -> Sheet:
    notes = ["The lease plan of every point with a plan: one row per lease line (run, then the columns of the plan "
             "report's Leases sheet). Pivot on Changes and Offer to compare the plans."]
    return Sheet("Leases", "Leases of every point", notes, [
        table("Sweep_Leases", "Leases per point", r.leases(), empty="No point signs a lease.")])


def spec(ctx: Context) -> Sheet:
    r = ctx.result
    run = provenance(r.problem, ctx.source, ctx.timestamp)
    run = pd.concat([run, pd.DataFrame([{"item": "Workers", "value": r.workers or "this process", "unit": ""}])],
                    ignore_index=True)
    notes = ["Values are in the target's own terms: set = the value, scale = a multiple of the input, add = added "
             "to it. Scenario probabilities are renormalised."]
    return Sheet("Sweep spec", "What was swept and how it ran", notes, [
        table("Sweep_Spec", "Targets", spec_frame(r), labels=SPEC_LABELS),
        table("Sweep_Provenance", "Run: input file, hashes, software versions", run),
    ], across=False)


# ---- words --------------------------------------------------------------------------------------

def _counts(runs: pd.DataFrame) -> dict[str, int]:
    status = runs["status"]
    with_plan = int(runs["has_plan"].sum())
    invalid, error = int((status == "invalid").sum()), int((status == "error").sum())
    return {"with a plan": with_plan, "no plan (infeasible or stopped)": len(runs) - with_plan - invalid - error,
            "invalid input": invalid, "error": error}


def _in_words(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n or what == "with a plan")


def _sweep_line(sweep: Sweep) -> str:
    design = "one at a time" if sweep.design == "one_at_a_time" else "full grid"
    targets = "; ".join(f"{t.name} = {', '.join(shown(v, t) for v in t.values)}" for t in sweep.targets)
    return f"{sweep.name} ({design}, {sweep.size} points): {targets}"


def _key_figures(r: SweepResult, counts: dict[str, int]) -> list[tuple[str, object, str]]:
    runs = r.runs
    base = runs.iloc[0]
    items: list[tuple[str, object, str]] = [("Points run (base included)", len(runs), "points"),
                                            *((f"Points: {what}", n, "points") for what, n in counts.items()),
                                            ("Base run: status", base["status"], ""),
                                            ("Base run: expected cost (NPV)", base["expected_cost_usd"], "USD"),
                                            ("Base run: new lease commitment", base["new_lease_commitment_usd"], "USD"),
                                            ("Base run: demand served", base["share_served"], "%")]
    swings = r.tornado()
    if not swings.empty:
        top = swings.iloc[0]
        target = targets_by_name(r)[(top["sweep"], top["target"])]
        items += [("Widest swing: target", top["target"], ""),
                  ("Widest swing: values", f"{shown(top['low_value'], target)} to {shown(top['high_value'], target)}",
                   ""),
                  ("Widest swing: expected cost from low to high", top["swing"], "USD")]
    items.append(("Sweep time", r.seconds, "seconds"))
    return items


def _switch_lines(r: SweepResult, sweep: str | None = None, target: str | None = None) -> list[str]:
    """Where the plan switches, one line per pair of neighbouring values: the offers that change,
    signed now and, for a plan that learns, in each world once it is known."""
    frame = r.decisions(level="offer")
    if sweep is not None:
        frame = frame[(frame["sweep"] == sweep) & (frame["target"] == target)]
    targets = targets_by_name(r)
    lines = []
    for (s, name, low, high), group in frame.groupby(["sweep", "target", "from_value", "to_value"], sort=False):
        t = targets[(s, name)]
        parts = []
        for scenario, changes in group.groupby("scenario", sort=False):
            words = [f"{row.offer_id} {row.change} ({row.blocks_before:,} to {row.blocks_after:,} blocks)"
                     for row in changes.itertuples()]
            if len(words) > MAX_CHANGES_PER_LINE:
                words = [*words[:MAX_CHANGES_PER_LINE], f"{len(words) - MAX_CHANGES_PER_LINE} more"]
            where = "signed now" if scenario == ALL_SCENARIOS else f"in {scenario} once known"
            parts.append(f"{where}: {', '.join(words)}")
        prefix = "" if sweep is not None else f"{name} "
        lines.append(f"{prefix}between {shown(low, t)} and {shown(high, t)} (break-even about "
                     f"{shown((low + high) / 2, t)}): {'; '.join(parts)}.")
    if sweep is None and len(lines) > MAX_SWITCH_LINES:
        lines = [*lines[:MAX_SWITCH_LINES], f"... and {len(lines) - MAX_SWITCH_LINES} more (Decisions sheet)."]
    return lines


# ---- workbook -----------------------------------------------------------------------------------

def sheet_name(text: str, used: set[str]) -> str:
    """A valid, unique sheet name: no []:*?/\\ characters, at most 31 long."""
    name = re.sub(r"[\[\]:*?/\\']", " ", text).strip()[:SHEET_NAME_LIMIT].strip()
    candidate, n = name, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = name[: SHEET_NAME_LIMIT - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def context(result: SweepResult, source: Path | None) -> Context:
    ctx = Context(result, source, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))
    used = {"read me", "runs", "tornado", "decisions", "leases", "sweep spec"}
    targets = targets_by_name(result)
    curves = result.curves()
    for sweep, name in dict.fromkeys(zip(curves["sweep"], curves["target"], strict=True)):
        target = targets[(sweep, name)]
        ctx.curves.append((sheet_name(f"Curve {len(ctx.curves) + 1} {target.label or target.column}", used),
                           sweep, target))
    for sweep in result.sweeps:
        if sweep.design == "grid" and len(sweep.targets) == 2:
            ctx.grids.append((sheet_name(f"Grid {sweep.name}", used), sweep))
    return ctx


def build_sweep_workbook(result: SweepResult, *, source: Path | None = None) -> Workbook:
    """The sweep report as an unsaved (write-only) workbook; :func:`write_sweep_report` saves it."""
    return write_workbook(sheets(context(result, source)), title="Sensitivity sweep", marker=REPORT_MARKER)


def default_sweep_report_path(source: str | Path, reports_dir: str | Path = "reports") -> Path:
    """``reports/<input-stem>-sweep.xlsx``: where ``planner sweep`` writes when ``-o`` is not given."""
    return Path(reports_dir) / f"{Path(source).stem}-sweep.xlsx"


def write_sweep_report(result: SweepResult, path: str | Path, *, source: str | Path | None = None) -> Path:
    """Write the Excel report of a sweep to ``path`` atomically; return the path written.

    Raises :class:`InputError` (sheet "file") when ``path`` is the input workbook (``source``), a
    folder, in a missing or unwritable folder, or not an .xlsx name. On any failure no report and no
    temporary file remain (a report already at ``path`` is kept).
    """
    path = Path(path)
    source = Path(source) if source is not None else None
    check_writable(path, column="report path", keep=source)  # before building: a bad path must not cost the build
    workbook = build_sweep_workbook(result, source=source)
    return save_atomically(workbook, path, column="report path", keep=source)


__all__ = ["build_sweep_workbook", "default_sweep_report_path", "write_sweep_report"]
