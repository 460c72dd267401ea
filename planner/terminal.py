"""What a person reads in the terminal: the plan's summary, and the live progress of a solve.

The summary is a list of sections, each made by one function, printed in order: the outcome, the
leases to sign, the efficiency programs funded (with what they save against buying GPUs), the cost of
each scenario (cash apart from the cost of demand not served, and the share of demand served), what a
budget buys, the value of hedging, warnings, and why there is no plan when there is none. A
section that must come first (a decision to take today) goes at the head of
:func:`summary_sections`. Every
number comes from a :class:`~planner.results.PlanResult` method. Text from the input (scenario and
offer names, paths) is always plain text, never rich markup.

:class:`SolveProgress` draws one live line on stderr while a plan is solved (only on a terminal):
the stage, the time against the limit, and once the search runs, the best plan's cost, the lowest
cost possible and the gap between them, against the gap at which the search stops.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Self

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from planner.efficiency import scope_text
from planner.model.tree import ALL_SCENARIOS
from planner.units import gap_text, tokens_text

if TYPE_CHECKING:
    from types import TracebackType

    from planner.highs import MipProgress
    from planner.results import PlanResult

MONEY_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))
STAGE_WORDS = {"loading the model into HiGHS": "handing the model to the solver"}
"""Stages as the solver names them -> as the progress line says them (no solver names)."""
COST_CAPTION = ("Cash = leases, upfront, existing commitments and on-demand cloud, less credits. Demand not served = "
                "revenue lost to throttling, the unserved penalty and goodwill: a cost, not a payment.")
PROGRAMS_CASH = " Efficiency programs are cash too."
DECIDED_WORDS = {"now": "now, in every scenario", "later": "in {scenario} once it is known",
                 "per scenario": "in {scenario}"}
"""How the summary says who decides a funded program (see planner.efficiency)."""


def short_money(value: float | None) -> str:
    """Money as a person reads it in a table: ``$4.66B``, ``$319.6M``, ``$175,200``, ``-`` for none."""
    if value is None or not math.isfinite(value):
        return "-"
    sign = "-" if value < 0 else ""
    size = abs(value)
    for scale, letter in MONEY_SCALES:
        if size >= scale:
            return f"{sign}${size / scale:,.{2 if size / scale < 100 else 1}f}{letter}"
    return f"{sign}${size:,.0f}"


def share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


# ---- the summary, section by section ------------------------------------------------------------------

def outcome_section(result: PlanResult) -> RenderableType:
    """The outcome in plain words, with the solve time."""
    style = "green" if result.status == "optimal" else "yellow" if result.has_plan else "bold red"
    seconds = result.timings.get("solve_seconds")
    took = f"; solved in {seconds:.1f} s" if seconds is not None and result.has_plan else ""
    return Text.assemble(("Plan: ", "bold"), (result.status_in_words(), style), took)


def bullets(lines: list[str], style: str = "") -> Table:
    """Lines as a list, each wrapped under its own start (user text stays plain text)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3, justify="right")
    grid.add_column()
    for line in lines:
        grid.add_row(Text("-", style=style), Text(line, style=style))
    return grid


def decisions_section(result: PlanResult) -> RenderableType:
    """The leases to sign now (common to every scenario), with the total they commit to; for a plan that
    learns, what each world signs once it is known (totals; every signing is in --json and the report)."""
    now = result.sign_now()
    decisions = result.headline_decisions(later=False)
    if not result.is_multi_stage:
        if not decisions:
            return Text("No new leases to sign: existing commitments and on-demand cloud cover the plan.")
        head = Text.assemble(("Leases to sign", "bold"),
                             f" ({len(decisions)} signing{'s' if len(decisions) != 1 else ''}, "
                             f"{result.gpus_leased():,} GPUs; new commitment "
                             f"{short_money(result.lease_commitment_usd())}, all payments)")
        return Group(head, bullets(decisions))
    parts: list[RenderableType] = [
        Group(Text.assemble(("Sign now (in every scenario)", "bold"),
                            f": {len(decisions)} signing{'s' if len(decisions) != 1 else ''}, "
                            f"{int(now['gpus'].sum()):,} GPUs; commitment "
                            f"{short_money(float(now['total_commitment_usd'].sum()))}"), bullets(decisions))
        if decisions else Text("Nothing to sign now, before the scenario is known.")]
    later = result.signing_summary()
    later = later[later["scenario"] != ALL_SCENARIOS]
    if later.empty:
        parts.append(Text("Later: no scenario signs more once it is known."))
        return Group(*parts)
    table = Table(title="Later, once the scenario is known", title_justify="left", title_style="bold")
    for column in ("Scenario", "Known from", "Signings", "GPUs", "Commitment", "Signing months"):
        table.add_column(column, justify="right" if column in ("Signings", "GPUs", "Commitment") else "left")
    for row in later.itertuples():
        table.add_row(Text(str(row.scenario)), row.known_from_month, str(row.signings), f"{row.gpus:,}",
                      short_money(row.total_commitment_usd), f"{row.first_signing_month}..{row.last_signing_month}")
    parts.append(table)
    idle = sorted(set(result.data.scenarios) - set(result.lease_totals_by_scenario().query("gpus_signed_later > 0")
                                                  ["scenario"]), key=result.data.scenarios.index)
    if idle:
        parts.append(Text("No more signings in: " + ", ".join(idle)))
    return Group(*parts)


def cost_section(result: PlanResult) -> RenderableType:
    """Per scenario and expected: cash cost, cost of demand not served, their total, demand served."""
    caption = COST_CAPTION + (PROGRAMS_CASH if result.data.has_programs else "")
    table = Table(title="Cost per scenario (NPV)", title_justify="left", title_style="bold",
                  caption=caption, caption_justify="left")
    for header in ("Scenario", "Probability", "Cash cost", "Demand not served", "Total", "Demand served"):
        table.add_column(header, justify="left" if header == "Scenario" else "right")
    split = result.cash_and_economic_costs()
    for k, row in enumerate(split.itertuples()):
        expected = k == len(split) - 1
        table.add_row(Text(str(row.scenario)), share(row.probability), short_money(row.cash_npv_usd),
                      short_money(row.demand_not_served_npv_usd), short_money(row.npv_usd), share(row.served_share),
                      style="bold" if expected else None, end_section=k == len(split) - 2)
    cvar = ", with CVaR" if result.cvar_usd is not None else ""
    if result.data.maximises_value:  # budget mode: the objective is minus the value
        objective = Text(f"The plan maximises the expected value of tokens served less cash cost and goodwill "
                         f"within the budget (objective {short_money(result.objective_usd)}{cvar}, minus the value).",
                         style="dim")
    else:
        objective = Text(f"The plan minimises the expected total (objective {short_money(result.objective_usd)}"
                         f"{cvar}): it is not what is spent.", style="dim")
    return Group(table, objective)


def programs_section(result: PlanResult) -> RenderableType:
    """The efficiency programs to fund (who decides, start and in-service month, effect, cost in the
    horizon), then what they save against the same plan with programs switched off."""
    funded = result.programs()
    if funded.empty:
        parts: list[RenderableType] = [Text.assemble(("Efficiency programs: ", "bold"),
                                                     "none funded (buying GPUs is cheaper)")]
    else:
        lines = []
        for row in funded.itertuples():
            scope = scope_text(row.workloads, row.gpu_types)
            lines.append(f"fund {row.program_id} {DECIDED_WORDS[row.decided].format(scenario=row.scenario)}: start "
                         f"{row.start_month}, in service {row.in_service_month}, {row.effect}{scope}; "
                         f"{short_money(row.cost_in_horizon_usd)} in the horizon")
        head = Text.assemble(("Efficiency programs to fund", "bold"),
                             f" ({len(lines)} decision{'s' if len(lines) != 1 else ''})")
        parts = [Group(head, bullets(lines))]
    parts.append(savings_text(result))
    return Group(*parts)


def savings_text(result: PlanResult) -> Text:
    """What the programs save against the same plan with programs switched off (in budget mode: the
    value they add), in expectation; a note when that comparison was not run."""
    off = result.without_programs
    if off is None:
        return Text("Saving against buying GPUs not computed (--no-program-savings).", style="dim")
    if not off.has_plan:
        return Text(f"Without the programs the same problem has no plan ({off.status_in_words()}): they are "
                    "needed.")
    expected = result.program_savings().iloc[-1]
    verb = "add" if result.data.maximises_value else "save"
    commitment = expected["commitment_without_programs_usd"] - expected["commitment_with_programs_usd"]
    return Text.assemble(
        (f"The programs {verb} {short_money(expected['saving_usd'])}", "bold"),
        f" of expected {expected['measure']} against the same plan without them, which would lease "
        f"{expected['gpus_not_leased']:,.0f} more GPUs ({short_money(commitment)} more lease commitment) "
        "in expectation.")


def budget_section(result: PlanResult) -> RenderableType:
    """What the budget buys in each scenario: tokens served for the cash spent, the value, and what one
    more dollar of cash budget is worth (the dual of the cash budget with every integer decision fixed)."""
    lines = result.headline_budget()
    table = Table(title=f"{lines[0][0].upper()}{lines[0][1:]}", title_justify="left", title_style="bold")
    for header in ("Scenario", "Tokens served", "Of demand", "Cash in horizon", "Value (NPV)", "$1 more is worth"):
        table.add_column(header, justify="left" if header == "Scenario" else "right")
    outcomes = result.budget_outcomes()
    for k, row in enumerate(outcomes.itertuples()):
        more = row.value_of_one_more_usd
        table.add_row(Text(str(row.scenario)), tokens_text(row.served_tokens).removesuffix(" tokens"),
                      share(row.served_share), short_money(row.cash_spend_usd), short_money(row.value_npv_usd),
                      "-" if not math.isfinite(more) else f"${more:,.2f}",
                      style="bold" if k == len(outcomes) - 1 else None, end_section=k == len(outcomes) - 2)
    return table


def hedging_section(analysis: Any) -> RenderableType:
    """VSS and EVPI in words; with a plan that learns, the value of learning too."""
    figures = analysis.figures
    text = Text.assemble(("Value of hedging (VSS) ", "bold"), short_money(figures.get("vss_usd")),
                         ("; value of knowing the future (EVPI) ", "bold"), short_money(figures.get("evpi_usd")))
    if getattr(analysis, "multi_stage", None) is not None:
        text.append_text(Text.assemble(("; value of learning ", "bold"),
                                       short_money(figures.get("value_of_learning_usd"))))
    return text


def warnings_section(warnings: list[str]) -> RenderableType:
    """The plan's plain-language warnings (unserved demand, credits expiring, power caps...)."""
    return Group(Text("Warnings", style="bold yellow"), bullets(warnings, "yellow"))


def diagnosis_section(result: PlanResult) -> RenderableType:
    """Why there is no plan: each reason once."""
    return Group(Text("Why there is no plan", style="bold red"), bullets(result.diagnosis, "red"))


def summary_sections(result: PlanResult, analysis: Any = None) -> list[RenderableType]:
    """The summary, in the order it is printed (a section a reader needs first goes first)."""
    sections: list[RenderableType] = [outcome_section(result)]
    if result.has_plan:
        # What to sign today is the decision a reader acts on: it comes right after the outcome.
        sections.append(decisions_section(result))
        if result.data.has_programs:  # funding efficiency is a decision too: buy efficiency or buy GPUs
            sections.append(programs_section(result))
        sections.append(cost_section(result))
        if result.has_budget_view:
            sections.append(budget_section(result))
        if analysis is not None:
            sections.append(hedging_section(analysis))
    warnings = result.warnings(about_status=False) if result.has_plan else []
    if warnings:
        sections.append(warnings_section(warnings))
    if result.diagnosis:
        sections.append(diagnosis_section(result))
    return sections


def print_summary(console: Console, result: PlanResult, analysis: Any = None) -> None:
    """Print :func:`summary_sections`, a blank line between sections."""
    for k, section in enumerate(summary_sections(result, analysis)):
        if k:
            console.print()
        console.print(section, soft_wrap=False, highlight=False)


# ---- live progress ----------------------------------------------------------------------------------------

class LiveDisplay:
    """A context manager that keeps ``self`` (a rich renderable) live on ``self.console`` while in use,
    cleared at the end; nothing live when the console is not a terminal (``self.live`` stays None)."""

    console: Console
    live: Live | None = None
    started: float = 0.0
    REFRESH_PER_SECOND = 8

    def __enter__(self) -> Self:
        self.started = time.perf_counter()
        if self.console.is_terminal:
            self.live = Live(self, console=self.console, transient=True, refresh_per_second=self.REFRESH_PER_SECOND)
            self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.live is not None:
            self.live.__exit__(kind, error, trace)
            self.live = None


class SolveProgress(LiveDisplay):
    """One live line on stderr while a plan is solved; nothing when stderr is not a terminal.

    Use as a context manager; pass :meth:`stage` as the solver's ``progress`` hook and :meth:`mip`
    as its ``mip_progress`` hook. ``time_limit_seconds`` and ``mip_gap`` are the limits in force,
    shown from the start (the search reports them again once it runs).
    """

    def __init__(self, console: Console, *, time_limit_seconds: float, mip_gap: float) -> None:
        self.console = console
        self.time_limit_seconds = time_limit_seconds
        self.mip_gap = mip_gap
        self.stage_text = "reading"
        self.latest: MipProgress | None = None
        self.started = time.perf_counter()
        self.spinner = Spinner("dots")
        self.live: Live | None = None

    def stage(self, text: str) -> None:
        """The stage under way ("building model", "solving", ...)."""
        words = STAGE_WORDS.get(text, text)
        if words != self.stage_text:
            self.stage_text = words
            if words != "solving":
                self.latest = None  # a new solve (the uncertainty analysis runs several) starts afresh

    def mip(self, progress: MipProgress) -> None:
        """Where the search stands (from the solver's callbacks)."""
        self.latest = progress
        self.time_limit_seconds = progress.time_limit_seconds
        self.mip_gap = progress.mip_gap_target

    def lines(self) -> tuple[Text, Text | None]:
        """The progress as it reads now: the stage and time against the limits, then (once the search
        runs) the best plan's cost, the lowest cost possible and the gap between them."""
        elapsed = time.perf_counter() - self.started
        head = Text.assemble((self.stage_text, "bold"), f": {elapsed:,.0f} s of the {self.time_limit_seconds:,.0f} s "
                             f"limit; stops at a gap of {gap_text(self.mip_gap)}")
        latest = self.latest
        if latest is None:
            return head, None
        best = latest.objective_usd
        parts = ["no plan found yet" if best is None else f"best plan {short_money(best)}"]
        if latest.best_bound_usd is not None:
            parts.append(f"lowest possible {short_money(latest.best_bound_usd)}")
        if latest.mip_gap is not None:
            parts.append(f"gap {gap_text(latest.mip_gap)}")
        return head, Text(" · ".join(parts))

    def __rich__(self) -> RenderableType:
        head, detail = self.lines()
        grid = Table.grid(padding=(0, 1))
        grid.add_row(self.spinner, head)
        if detail is not None:
            grid.add_row("", detail)
        return grid
