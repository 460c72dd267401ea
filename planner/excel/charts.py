"""Native Excel charts over placed table columns: line and column charts, a secondary axis.

Categories (months, scenarios) are text references; every chart has titled axes, a number format
on its value axis and the legend at the bottom. Category labels sit at the bottom of the plot
("low"), below negative columns (credits) instead of on the zero line.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.chart._chart import ChartBase
from openpyxl.chart.data_source import AxDataSource, StrRef

CHART_WIDTH_CM, CHART_HEIGHT_CM = 22.0, 10.0
SECONDARY_AXIS_ID = 200
SECONDARY_CATEGORY_AXIS_ID = 201


def style_chart(chart: ChartBase, title: str, y_title: str, y_format: str, *, x_title: str = "Month") -> None:
    """Title, size, axis titles and value format; both axes shown, legend at the bottom."""
    chart.title = title
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    chart.y_axis.title = y_title
    chart.y_axis.number_format = y_format
    chart.x_axis.title = x_title
    chart.x_axis.axPos = "b"
    chart.x_axis.tickLblPos = "low"
    chart.x_axis.delete = False  # openpyxl >= 3.1 hides axes unless told otherwise
    chart.y_axis.delete = False
    chart.legend.position = "b"


def set_categories(chart: ChartBase, categories: Reference) -> None:
    """Text categories (months, scenarios) as a string reference on every series."""
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))


def line(values: Reference, title: str, *, dashed: bool = False) -> Series:
    """A line series without markers, optionally dashed."""
    series = Series(values, title=title)
    series.smooth = False
    series.marker.symbol = "none"
    if dashed:
        series.graphicalProperties.line.dashStyle = "dash"
    return series


def column_chart(series: list[tuple[Reference, str]], categories: Reference, *, title: str, y_title: str,
                 y_format: str, stacked: bool, x_title: str = "Month") -> BarChart:
    """Vertical columns, stacked (parts of a total) or clustered (side by side), one series each."""
    chart = BarChart()
    chart.type = "col"
    if stacked:
        chart.grouping, chart.overlap = "stacked", 100
    else:
        chart.grouping = "clustered"
    style_chart(chart, title, y_title, y_format, x_title=x_title)
    for values, name in series:
        chart.series.append(Series(values, title=name))
    set_categories(chart, categories)
    return chart


def line_chart(series: list[Series], categories: Reference, *, title: str, y_title: str, y_format: str,
               y_range: tuple[float, float] | None = None) -> LineChart:
    """Lines over text categories, with an optional fixed value range."""
    chart = LineChart()
    style_chart(chart, title, y_title, y_format)
    if y_range is not None:
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = y_range
    chart.series.extend(series)
    set_categories(chart, categories)
    return chart


def add_secondary_axis(chart: LineChart, series: list[Series], categories: Reference, *, y_title: str,
                       y_format: str) -> LineChart:
    """``chart`` with more lines on a second value axis on the right (a quantity in other units).

    The second value axis crosses a hidden category axis of its own: sharing the first one makes
    spreadsheet programs draw the categories (and their title) a second time.
    """
    secondary = LineChart()
    secondary.series.extend(series)
    secondary.x_axis.axId = SECONDARY_CATEGORY_AXIS_ID
    secondary.x_axis.delete = True
    secondary.x_axis.title = None
    secondary.x_axis.crossAx = SECONDARY_AXIS_ID
    secondary.y_axis.crossAx = SECONDARY_CATEGORY_AXIS_ID
    secondary.y_axis.axId = SECONDARY_AXIS_ID
    secondary.y_axis.title = y_title
    secondary.y_axis.number_format = y_format
    secondary.y_axis.crosses = "max"
    secondary.y_axis.delete = False
    secondary.y_axis.majorGridlines = None
    secondary.y_axis.axPos = "r"
    set_categories(secondary, categories)
    chart += secondary
    return chart
