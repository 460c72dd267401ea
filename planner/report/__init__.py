"""Excel reports: tables of contents over result tables, laid out by :mod:`planner.excel`.

:mod:`planner.report.plan` is the plan report (``write_report``) and :mod:`planner.report.sweep` the
sweep report (``write_sweep_report``); each sheet is a short function naming the result tables it
shows. :mod:`~planner.report.labels` turns column names into headers with units and number formats;
:mod:`~planner.report.charts` draws the plan's charts and :mod:`~planner.report.sweep_charts` the
sweep's; :mod:`~planner.report.sweep_tables` labels the sweep's tables; :mod:`~planner.report.inputs`
echoes the validated inputs and the run's provenance.
"""

from planner.report.labels import column_format, column_label
from planner.report.plan import build_workbook, check_report_path, default_report_path, write_report
from planner.report.sweep import default_sweep_report_path, write_sweep_report

__all__ = ["build_workbook", "check_report_path", "column_format", "column_label", "default_report_path",
           "default_sweep_report_path", "write_report", "write_sweep_report"]
