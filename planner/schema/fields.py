"""Building blocks of the input schema: constants, months, cell parsers and the row base class."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

SCHEMA_VERSION = "1.0"
HOURS_PER_MONTH_DEFAULT = 730.0
PROBABILITY_TOLERANCE = 1e-6
MAX_TOKENS_PER_MONTH = 1e19
"""Most tokens a month one cell may hold. The model counts tokens in trillions (Ttok), and demand sits
in the same row as the unit coefficient of served tokens: 1e19 tokens is 1e7 Ttok, the widest range
the solver handles well (see ``planner/numerics.py``), and a million times any lab's demand today."""
MAX_LEAD_TIME_MONTHS = 60
"""Longest lead time from signing to first service an offer may state: five years covers a new build."""

_MONTH_TEXT = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T].*)?\s*$")


def parse_month(value: Any) -> str:
    """Normalise a month given as ``YYYY-MM``, ``YYYY-MM-DD``, a date or a datetime to ``YYYY-MM``."""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        match = _MONTH_TEXT.match(value)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    raise ValueError("a month as YYYY-MM (e.g. 2025-03) or an Excel date")


def month_offset(month: str, first_month: str) -> int:
    """Whole months from ``first_month`` to ``month`` (both ``YYYY-MM``); negative if before."""
    year, mon = (int(part) for part in month.split("-"))
    year0, mon0 = (int(part) for part in first_month.split("-"))
    return (year - year0) * 12 + (mon - mon0)


def add_months(first_month: str, offset: int) -> str:
    """The ``YYYY-MM`` label ``offset`` months after ``first_month``."""
    year0, mon0 = (int(part) for part in first_month.split("-"))
    total = year0 * 12 + (mon0 - 1) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _split_names(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _yes_no(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"yes", "y", "true", "1"}:
            return True
        if text in {"no", "n", "false", "0"}:
            return False
    return value


Month = Annotated[str, BeforeValidator(parse_month)]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\s].*$")]
NameList = Annotated[list[str], BeforeValidator(_split_names)]
YesNo = Annotated[bool, BeforeValidator(_yes_no)]


def ref(table: str) -> dict[str, str]:
    """Field metadata: this column refers to the ``name``/id column of ``table`` (a dropdown)."""
    return {"ref": table}


class Record(BaseModel):
    """A row of an input table. ``TABLE`` is the sheet name, ``KEY`` the id column (or None)."""

    # allow_inf_nan=False: "inf" or "nan" typed in a number cell is an input error, not a number.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)
    TABLE: ClassVar[str] = ""
    KEY: ClassVar[str | None] = "name"
    REQUIRED_ROWS: ClassVar[bool] = False
    DESCRIPTION: ClassVar[str] = ""

    notes: str | None = Field(None, description="Free text: source, assumption, reasoning.")

    @model_validator(mode="before")
    @classmethod
    def _blank_cells_are_missing(cls, data: Any) -> Any:
        # A blank Excel cell means "not given": let the field default apply.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if _blank_to_none(value) is not None}
        return data




def derived_throughput(tflops: float, mfu: float | None, flops_per_token: float | None) -> float | None:
    if mfu is None or flops_per_token is None:
        return None
    return tflops * 1e12 * mfu / flops_per_token


