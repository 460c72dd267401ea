"""The input data model: one pydantic v2 class per workbook table, plus the validated ``Problem``.

This module is the single source of truth for the input. Table names are sheet names, field names
are column headers (units in every name), field descriptions become the template's notes, and
``ref=`` / ``Literal`` metadata become the template's dropdowns. The workbook reader and the template
writer both read these classes; nothing here knows about Excel.
"""

from __future__ import annotations

from planner.schema.checks import cross_table_issues
from planner.schema.fields import (
    HOURS_PER_MONTH_DEFAULT,
    MAX_LEAD_TIME_MONTHS,
    MAX_TOKENS_PER_MONTH,
    PROBABILITY_TOLERANCE,
    SCHEMA_VERSION,
    Month,
    Name,
    NameList,
    Record,
    YesNo,
    add_months,
    month_offset,
    parse_month,
    ref,
)
from planner.schema.problem import Problem
from planner.schema.settings import Settings
from planner.schema.tables import (
    TABLE_FIELD,
    TABLES,
    Commitment,
    Credit,
    DemandRow,
    EfficiencyProgram,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Scenario,
    Site,
    SitePower,
    Throughput,
    Workload,
)

__all__ = [
    "HOURS_PER_MONTH_DEFAULT", "MAX_LEAD_TIME_MONTHS", "MAX_TOKENS_PER_MONTH", "PROBABILITY_TOLERANCE",
    "SCHEMA_VERSION", "TABLES", "TABLE_FIELD", "Commitment", "Credit", "DemandRow", "EfficiencyProgram",
    "GpuType", "LeaseOffer", "Month", "Name", "NameList", "OnDemand", "Policy", "PolicyEffect", "Problem",
    "Record", "Scenario", "Settings", "Site", "SitePower", "Throughput", "Workload", "YesNo", "add_months",
    "cross_table_issues", "month_offset", "parse_month", "ref"
]
