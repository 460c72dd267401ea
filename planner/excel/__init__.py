"""Excel layout, knowing nothing of GPUs: what every workbook the planner writes is made of.

* :mod:`~planner.excel.formats`: number formats, and how a number looks in one (for widths);
* :mod:`~planner.excel.cells`: cell safety: text stays text, never a formula, never an error value;
* :mod:`~planner.excel.layout`: sheets of titled blocks (tables, text, chart slots) and where they land;
* :mod:`~planner.excel.writer`: streams sheets into a write-only workbook (Excel Tables, widths,
  frozen headers, charts, print setup);
* :mod:`~planner.excel.charts`: line and column charts over table columns;
* :mod:`~planner.excel.printing`: print setup: landscape, one page wide, header rows repeated;
* :mod:`~planner.excel.files`: the writable-path check (with a probe file) and the atomic save.

The modules are imported one by one (nothing here), so reading a workbook never loads pandas.
"""

REPORT_MARKER = "planner report"
"""The keywords (document properties) of every workbook the planner writes as output: the input
reader recognises a report by it and says so, instead of listing the input tables it lacks."""
