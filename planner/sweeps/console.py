"""What a person reads in the terminal during and after ``planner sweep``.

:class:`SweepProgressBar` shows the points done, the time elapsed and the time left (on a terminal
a live bar on stderr; otherwise one line per point, for logs). The summary is a list of sections,
each made by one function and printed in order (:func:`summary_sections`): the outcome of the runs,
what each one-at-a-time target does to expected cost, demand served and the lease plan (with the
values between which the plan switches), each two-target grid, and the runs that found no plan.
Every number comes from :class:`~planner.sweeps.result.SweepResult`; text from the input (sweep,
target and offer names) is always plain text, never rich markup.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from planner.model.tree import ALL_SCENARIOS
from planner.terminal import LiveDisplay, bullets, share, short_money
from planner.units import gap_text

if TYPE_CHECKING:

    from planner.sweeps.engine import SweepProgress
    from planner.sweeps.result import SweepResult

MAX_LISTED_VALUES = 6
"""A target with more values shows its range and count instead of the list."""
MAX_SWITCHES_SHOWN = 3
"""Plan switches listed per target in the terminal (all are in --json and the report)."""
MAX_OFFERS_PER_SWITCH = 4


def number(value: Any) -> str:
    """A swept value as typed: 0.15, 2.6, 450, 2025-03."""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) >= 1e4 else f"{value:.4g}"
    return str(value)


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ---- progress -------------------------------------------------------------------------------------

class SweepProgressBar(LiveDisplay):
    """The points done against the total, elapsed and estimated time left, the latest point.

    Use as a context manager and pass :meth:`update` as ``planner.sweep``'s ``progress`` hook. On a
    terminal: a live bar on ``console`` (stderr), gone when the sweep ends. Otherwise one plain line
    per point, so a log shows how far a long sweep got.
    """

    REFRESH_PER_SECOND = 4

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.remaining_seconds: float | None = None
        self.latest = ""
        self.started = time.perf_counter()
        self.live: Live | None = None

    def update(self, progress: SweepProgress) -> None:
        """One more point finished (refinement points raise the total as they are added)."""
        self.done, self.total = progress.done, progress.total
        self.remaining_seconds = progress.remaining_seconds
        self.latest = f"{progress.point.description}: {progress.outcome.status}"
        if self.live is None:
            left = "" if progress.remaining_seconds is None else f"; about {duration(progress.remaining_seconds)} left"
            self.console.print(Text(f"[{progress.done}/{progress.total}] {self.latest} "
                                    f"({duration(progress.outcome.seconds)}; {duration(progress.elapsed_seconds)} "
                                    f"elapsed{left})"), soft_wrap=True, highlight=False)

    def __rich__(self) -> RenderableType:
        elapsed = time.perf_counter() - self.started
        left = "" if self.remaining_seconds is None or self.done >= self.total else \
            f", about {duration(self.remaining_seconds)} left"
        grid = Table.grid(padding=(0, 1))
        bar = ProgressBar(total=max(self.total, 1), completed=self.done, width=30)
        counts = Text(f"{self.done}/{self.total} points, {duration(elapsed)} elapsed{left}")
        grid.add_row(Text("sweeping", style="bold"), bar, counts)
        if not self.latest:
            return grid
        return Group(grid, Text(f"latest: {self.latest}", style="dim", overflow="ellipsis", no_wrap=True))


# ---- the summary, section by section ------------------------------------------------------------

STATUS_WORDS = {"optimal": "optimal", "time_limit": "stopped at the time limit with a plan",
                "infeasible": "infeasible", "invalid": "invalid input", "error": "failed"}
"""Run statuses as the summary says them (others as they are)."""


def outcome_section(result: SweepResult) -> RenderableType:
    """How many runs, how long, where, and how they ended (with the widest gap left by a run stopped
    at its time limit); the base run's figures."""
    counts = ", ".join(f"{count} {STATUS_WORDS.get(status, status)}"
                       for status, count in result.status_counts().items())
    runs = result.runs
    stopped = runs.loc[runs["status"] == "time_limit", "mip_gap"].dropna()
    widest = f", gap up to {gap_text(float(stopped.max()))}" if len(stopped) else ""
    style = "green" if result.all_planned else "yellow"
    head = Text.assemble(("Sweep: ", "bold"), f"{len(runs)} run{'s' if len(runs) != 1 else ''} (",
                         (counts, style), f"{widest}) in {duration(result.seconds)} on {result.workers}")
    base = runs.iloc[0]
    if not base["has_plan"]:
        return Group(head, Text(f"Base run: no plan ({base['status']}). {base['reason']}".strip(), style="bold red"))
    return Group(head, Text(f"Base run: expected cost {short_money(base['expected_cost_usd'])}, demand served "
                            f"{_share(base['share_served'])}, new lease commitment "
                            f"{short_money(base['new_lease_commitment_usd'])}"))


def targets_section(result: SweepResult) -> RenderableType | None:
    """One row per one-at-a-time target: its values, and expected cost and demand served at its lowest
    and highest value against base (widest swing first)."""
    tornado = result.tornado()
    if tornado.empty:
        return None
    curves = result.curves()
    table = Table(title="What each target changes (one at a time, the others at base)", title_justify="left",
                  title_style="bold",
                  caption="Cost = the expected total the plan minimises (cash and demand not served, NPV) at the "
                  "target's lowest and highest value; Served = expected share of demand served, lowest→highest.",
                  caption_justify="left")
    table.add_column("Target / sweep", min_width=12, overflow="fold")
    table.add_column("Values", max_width=24)
    for header in ("Cost low", "Base", "Cost high", "Served"):
        table.add_column(header, justify="right", no_wrap=True)
    values = {(sweep.name, target.name): target.values for sweep in result.sweeps for target in sweep.targets}
    for row in tornado.itertuples(index=False):
        line = curves[(curves["sweep"] == row.sweep) & (curves["target"] == row.target) & curves["has_plan"]
                      & ~curves["is_base"]]
        served = (f"{_share(line['share_served'].iloc[0])}→{_share(line['share_served'].iloc[-1])}"
                  if len(line) else "-")
        named = Text(str(row.target)) if row.target == row.sweep else Text.assemble(str(row.target), "\n",
                                                                                  (str(row.sweep), "dim"))
        table.add_row(named,
                      Text(_values_text(values.get((row.sweep, row.target), []))),
                      short_money(row.low_expected_cost_usd), short_money(row.base_expected_cost_usd),
                      short_money(row.high_expected_cost_usd), served)
    return table


def _values_text(values: list[Any]) -> str:
    if len(values) <= MAX_LISTED_VALUES:
        return ", ".join(number(v) for v in values)
    return f"{number(values[0])} .. {number(values[-1])} ({len(values)} values)"


def switches_section(result: SweepResult) -> RenderableType | None:
    """Per one-at-a-time target, the neighbouring values between which what to sign now changes
    (the break-even lies between them), offer by offer, and where the signings a world makes once it
    is known change (listed in full in the report)."""
    tornado = result.tornado()
    if tornado.empty:
        return None
    decisions = result.decisions(level="offer")
    lines = []
    for row in tornado.itertuples(index=False):
        switches = decisions[(decisions["sweep"] == row.sweep) & (decisions["target"] == row.target)]
        lines.append(f"{row.target}: {_switches_text(switches)}")
    note = Text("The break-even lies between the two values: planner sweep --refine N narrows it; the report's "
                "Decisions sheet lists every lease line that changes.", style="dim")
    return Group(Text("Where the lease plan switches", style="bold"), bullets(lines), note)


def _switches_text(switches: pd.DataFrame) -> str:
    """What to sign now, bracket by bracket (offer: blocks before -> after), then the brackets where
    only later signings (per world) change."""
    if switches.empty:
        return "the same leases at every value"
    now = switches[switches["scenario"] == ALL_SCENARIOS]
    parts = []
    if now.empty:
        parts.append("what to sign now is the same at every value")
    else:
        brackets = list(now.groupby(["from_value", "to_value"], sort=False))
        shown = []
        for (low, high), changes in brackets[:MAX_SWITCHES_SHOWN]:
            offers = [f"{row.offer_id} {row.blocks_before}→{row.blocks_after} blocks"
                      for row in changes.itertuples(index=False)]
            more = f", +{len(offers) - MAX_OFFERS_PER_SWITCH} more" if len(offers) > MAX_OFFERS_PER_SWITCH else ""
            shown.append(f"{_bracket(low, high)}: {', '.join(offers[:MAX_OFFERS_PER_SWITCH])}{more}")
        more = f"; +{len(brackets) - MAX_SWITCHES_SHOWN} more" if len(brackets) > MAX_SWITCHES_SHOWN else ""
        parts.append("what to sign now changes at " + "; ".join(shown) + more)
    later = switches[switches["scenario"] != ALL_SCENARIOS]
    if not later.empty:
        pairs = dict.fromkeys(zip(later["from_value"], later["to_value"], strict=True))
        parts.append("Signings once the scenario is known change at " + ", ".join(_bracket(*p) for p in pairs))
    return ". ".join(parts) + "."


def _bracket(low: Any, high: Any) -> str:
    return f"{number(low)}–{number(high)}"


def grid_sections(result: SweepResult) -> list[RenderableType]:
    """Each two-target grid's expected cost: the first target down, the second across."""
    sections: list[RenderableType] = []
    for name, grid in result.grids().items():
        sweep = next(s for s in result.sweeps if s.name == name)
        first, second = (target.name for target in sweep.targets)
        table = Table(title=f"{name}: expected cost", title_justify="left", title_style="bold")
        table.add_column(Text(f"{first} \\ {second}"), justify="left")
        for column in grid.columns:
            table.add_column(number(column), justify="right")
        for value, row in grid.iterrows():
            table.add_row(number(value), *(short_money(cell) for cell in row))
        sections.append(table)
    return sections


def failures_section(result: SweepResult) -> RenderableType | None:
    """The runs without a plan: what was changed, how it ended and why."""
    runs = result.runs[~result.runs["has_plan"]]
    if runs.empty:
        return None
    lines = [f"run {row.run} ({row.sweep}: {row.changes}): {row.status}" + (f": {row.reason}" if row.reason else "")
             for row in runs.itertuples(index=False)]
    plural = "s" if len(lines) != 1 else ""
    return Group(Text(f"{len(lines)} run{plural} without a plan", style="bold red"), bullets(lines, "red"))


def summary_sections(result: SweepResult) -> list[RenderableType]:
    """The summary, in the order it is printed."""
    sections = [outcome_section(result), targets_section(result), switches_section(result), *grid_sections(result),
                failures_section(result)]
    return [section for section in sections if section is not None]


def print_sweep_summary(console: Console, result: SweepResult) -> None:
    """Print :func:`summary_sections`, a blank line between sections."""
    for k, section in enumerate(summary_sections(result)):
        if k:
            console.print()
        console.print(section, soft_wrap=False, highlight=False)


def _share(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else share(float(value))
