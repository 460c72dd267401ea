"""The sweep report's charts: the tornado of expected cost, and cost and demand served against
each one-at-a-time target's value."""

from __future__ import annotations

from openpyxl.chart import Reference
from openpyxl.chart._chart import ChartBase

from planner.excel.charts import scatter_chart, xy_line
from planner.excel.charts import tornado_chart as bars_chart
from planner.excel.formats import MONEY
from planner.excel.layout import Placed, Table
from planner.report.sweep_tables import target_unit
from planner.sweeps import Target

BASE_COLOUR = "C00000"


def tornado_chart(tornado: Placed, bars: int) -> ChartBase:
    """The first ``bars`` rows of the tornado table (widest first) as horizontal bars of the change
    in expected cost at the low and the high value."""
    return bars_chart(tornado.ref("low_change", 0, bars), tornado.ref("high_change", 0, bars),
                      tornado.ref("bar", 0, bars), title="Change in expected cost against the base run (NPV)",
                      value_title="Change in expected cost (USD)", value_format=MONEY,
                      low_name="At the lowest value", high_name="At the highest value")


def curve_charts(curve: Placed, target: Target) -> list[ChartBase]:
    """Expected cost, and demand served, against the target's value: a line through every point with
    the base run marked."""
    block = curve.block
    assert isinstance(block, Table)
    unit, number_format = target_unit(target)
    x_title = f"{target.name} ({unit})" if unit else target.name
    base_rows = [i for i, is_base in enumerate(block.frame["is_base"]) if is_base]
    charts: list[ChartBase] = []
    for metric, title, y_title, y_format, y_range in (
            ("expected_cost_usd", "Expected cost (NPV)", "Expected cost (USD)", MONEY, None),
            ("share_served", "Share of demand served", "Demand served (%)", "0%", (0.0, 1.0))):
        series = [xy_line(curve.ref("value"), curve.ref(metric), title)]
        series += [xy_line(_cell(curve, "value", i), _cell(curve, metric, i), "Base run", markers_only=True,
                           colour=BASE_COLOUR) for i in base_rows[:1]]
        charts.append(scatter_chart(series, title=f"{title} against {target.name}", x_title=x_title,
                                    x_format=number_format or "General", y_title=y_title, y_format=y_format,
                                    y_range=y_range))
    return charts


def _cell(placed: Placed, column: str, row: int) -> Reference:
    return placed.ref(column, row, 1)
