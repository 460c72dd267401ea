"""Native Excel charts over placed table columns: line and column charts, a secondary axis, a
tornado (horizontal bars of the change against a base) and lines over a numeric x axis (scatter).

Categories (months, scenarios) are text references; every chart has titled axes, a number format
on its value axis and the legend at the bottom. Category labels sit at the bottom of the plot
("low"), below negative columns (credits) instead of on the zero line.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference, ScatterChart, Series
from openpyxl.chart._chart import ChartBase
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.chart.shapes import GraphicalProperties

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


def tornado_chart(low: Reference, high: Reference, categories: Reference, *, title: str, value_title: str,
                  value_format: str, low_name: str = "Low value", high_name: str = "High value") -> BarChart:
    """Horizontal bars of the change against a base, one row per category (first row on top): the
    low and the high value's change overlap on one bar, left and right of zero."""
    chart = BarChart()
    chart.type = "bar"
    chart.grouping, chart.overlap, chart.gapWidth = "clustered", 100, 40
    style_chart(chart, title, value_title, value_format, x_title="")
    chart.x_axis.title = None
    chart.x_axis.axPos = "l"
    chart.x_axis.scaling.orientation = "maxMin"  # the table's first (widest) row at the top
    chart.y_axis.axPos = "b"
    chart.y_axis.crosses = "max"  # with the categories reversed, keeps the value axis at the bottom
    chart.series.append(Series(low, title=low_name))
    chart.series.append(Series(high, title=high_name))
    set_categories(chart, categories)
    return chart


def xy_line(x: Reference, y: Reference, title: str, *, markers_only: bool = False,
            colour: str | None = None) -> Series:
    """A scatter series: a line through (x, y) with markers, or markers alone (a highlighted point)."""
    series = Series(y, x, title=title)
    series.smooth = False
    series.marker.symbol = "diamond" if markers_only else "circle"
    series.marker.size = 10 if markers_only else 5
    if colour is not None:
        series.marker.graphicalProperties = GraphicalProperties(solidFill=colour)
        series.marker.graphicalProperties.line.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    if markers_only:
        series.graphicalProperties.line.noFill = True
    return series


def scatter_chart(series: list[Series], *, title: str, x_title: str, x_format: str, y_title: str, y_format: str,
                  y_range: tuple[float, float] | None = None) -> ScatterChart:
    """Lines over a numeric x axis (values spaced as they are, unlike text categories)."""
    chart = ScatterChart()
    chart.scatterStyle = "lineMarker"
    style_chart(chart, title, y_title, y_format, x_title=x_title)
    chart.x_axis.number_format = x_format
    chart.x_axis.majorGridlines = None
    if y_range is not None:
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = y_range
    chart.series.extend(series)
    return chart
