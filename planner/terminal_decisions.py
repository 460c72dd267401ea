"""The terminal block of ``planner solve`` for efficiency programs and budgets.

One function, :func:`print_efficiency_and_budget`, called from the CLI's summary: which programs the
plan funds (and what they save against buying GPUs), and what the budget buys. Every figure comes from
a :class:`~planner.results.PlanResult` method; user text (ids, scenario names) is printed as plain text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.analytics import money

if TYPE_CHECKING:
    from planner.results import PlanResult


def _share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.0%}"


def print_efficiency_and_budget(console: Console, result: PlanResult) -> None:
    """Funded efficiency programs and their saving; the budget's tokens served, cash, value and the value
    of one more dollar. Prints nothing for a plan with neither programs nor a budget."""
    if not result.has_plan:
        return
    if result.data.has_programs:
        funded = result.programs()
        if funded.empty:
            console.print(Text("Efficiency programs: none funded (buying GPUs is cheaper)", style="bold"))
        else:
            table = Table(title="Efficiency programs funded", title_justify="left")
            for column in ("program", "decided", "start", "in service", "effect", "cost in horizon"):
                table.add_column(column, justify="right" if column == "cost in horizon" else "left")
            for row in funded.itertuples():
                who = {"now": "now, in every scenario", "later": f"in {row.scenario}, once known",
                       "per scenario": f"in {row.scenario}"}[row.decided]
                effect = Text(f"{row.effect} on {row.workloads} x {row.gpu_types}")
                table.add_row(Text(row.program_id), Text(who), row.start_month, row.in_service_month, effect,
                              money(row.cost_in_horizon_usd))
            console.print(table)
        saving = result.program_saving_in_words()
        if saving:
            console.print(Text(f"{saving[0].upper()}{saving[1:]}."), soft_wrap=True, highlight=False)
    if result.has_budget_view:
        outcomes = result.budget_outcomes()
        table = Table(title=Text(result.headline_budget()[0].capitalize()), title_justify="left")
        for column in ("scenario", "tokens served", "of demand", "cash in horizon", "value (NPV)", "$1 more is worth"):
            table.add_column(column, justify="left" if column == "scenario" else "right")
        for row in outcomes.itertuples():
            more = row.value_of_one_more_usd
            table.add_row(Text(str(row.scenario)), f"{row.served_tokens:,.3g}", _share(row.served_share),
                          money(row.cash_spend_usd), money(row.value_npv_usd),
                          "-" if not math.isfinite(more) else f"${more:,.2f}")
        console.print(table)
