"""The plan report's charts: cash cost and cost of demand not served, utilisation, capacity against
demand, regret."""

from __future__ import annotations

from openpyxl.chart import BarChart
from openpyxl.chart._chart import ChartBase

from planner.analytics import DEMAND_NOT_SERVED_CATEGORIES, SPEND_CATEGORIES
from planner.excel.charts import add_secondary_axis, column_chart, line, line_chart
from planner.excel.formats import COUNT, MONEY, TRILLIONS
from planner.excel.layout import Placed, Table
from planner.report.labels import CATEGORY_LABELS
from planner.results import PlanResult

MAX_SCENARIO_CHARTS = 12
"""Capacity-vs-demand charts (and utilisation lines) are drawn for at most this many scenarios."""
MAX_REGRET_SERIES = 12


def cost_charts(by_month: Placed) -> list[BarChart]:
    """Stacked columns of the probability-weighted nominal cost per month, one series per non-zero
    category: cash (what is paid, credits below zero) and, in a chart of its own, the cost of demand
    not served (no payment; often far larger, it would dwarf the cash)."""
    block = by_month.block
    assert isinstance(block, Table)
    charts = []
    for categories, title in ((SPEND_CATEGORIES, "Expected cash cost per month (nominal, probability-weighted)"),
                              (DEMAND_NOT_SERVED_CATEGORIES, "Expected cost of demand not served per month "
                                                             "(nominal, probability-weighted; not paid)")):
        # efficiency has a column only when the input has efficiency programs
        series = [(by_month.ref(f"{category}_usd"), CATEGORY_LABELS[category]) for category in categories
                  if f"{category}_usd" in block.frame and (block.frame[f"{category}_usd"].abs() > 0.5).any()]
        if series:
            charts.append(column_chart(series, by_month.ref("month"), stacked=True, y_title="USD", y_format=MONEY,
                                       title=title))
    return charts


def chart_scenarios(result: PlanResult) -> list[str]:
    """The scenarios that get their own chart or line: the most probable, in input order."""
    d = result.data
    ranked = sorted(d.scenarios, key=lambda s: -d.probability[s])[:MAX_SCENARIO_CHARTS]
    return [s for s in d.scenarios if s in ranked]


def capacity_charts(result: PlanResult, by_month: Placed) -> list[ChartBase]:
    """Utilisation lines for every charted scenario, then capacity vs demand per scenario."""
    months = len(result.problem.month_labels)
    position = {s: i for i, s in enumerate(result.data.scenarios)}
    chosen = chart_scenarios(result)
    utilisation = line_chart([line(by_month.ref("utilisation", position[s] * months, months), s) for s in chosen],
                             by_month.ref("month", 0, months), title="Utilisation of committed GPUs (used / installed)",
                             y_title="Utilisation", y_format="0%", y_range=(0.0, 1.0))
    charts: list[ChartBase] = [utilisation]
    for s in chosen:
        first = position[s] * months
        categories = by_month.ref("month", first, months)
        gpus = line_chart([line(by_month.ref("committed_gpus", first, months), "Committed GPUs"),
                           line(by_month.ref("in_use_gpus", first, months), "GPUs in use incl. on-demand")],
                          categories, title=f"Capacity vs demand: {s}", y_title="GPUs", y_format=COUNT)
        tokens = [line(by_month.ref("demand_tokens", first, months), "Token demand", dashed=True),
                  line(by_month.ref("served_tokens", first, months), "Tokens served", dashed=True)]
        charts.append(add_secondary_axis(gpus, tokens, categories, y_title="Tokens per month (T)", y_format=TRILLIONS))
    return charts


def regret_chart(regret: Placed, plans: list[str], scenarios: int) -> BarChart:
    """Clustered columns: regret per scenario (categories), one series per plan."""
    series = [(regret.ref("regret_usd", k * scenarios, scenarios), plan)
              for k, plan in enumerate(plans[:MAX_REGRET_SERIES])]
    return column_chart(series, regret.ref("scenario", 0, scenarios), stacked=False, x_title="Scenario",
                        title="Regret per plan and scenario (NPV)", y_title="Regret (USD)", y_format=MONEY)
