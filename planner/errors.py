"""The one exception type for bad input, carrying every problem found in one pass."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class InputIssue:
    """One problem in the input, located as precisely as the source allows.

    ``sheet`` is the table name (sheet names equal table names), ``column`` the field name
    (column headers equal field names). ``cell`` is filled in by the workbook reader; input
    built in Python has only ``row_index`` (0-based position of the record in its table).
    """

    sheet: str
    column: str
    found: str
    expected: str
    cell: str | None = None
    row_index: int | None = None

    def __post_init__(self) -> None:
        # Text from a workbook may hold characters that print as nothing (a zero-width space in an
        # id, a non-breaking space): every message shows them escaped, so two names that print the
        # same but differ are told apart.
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, str):
                object.__setattr__(self, item.name, visible(value))

    @property
    def where(self) -> str:
        if self.cell:
            return f"{self.sheet}!{self.cell}"
        if self.row_index is not None:
            return f"{self.sheet}[{self.row_index}]"
        return self.sheet

    def __str__(self) -> str:
        column = f" ({self.column})" if self.column else ""
        return f"{self.where}{column}: found {self.found}; expected {self.expected}"

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "sheet": self.sheet,
            "cell": self.cell,
            "row_index": self.row_index,
            "column": self.column,
            "found": self.found,
            "expected": self.expected,
            "message": str(self),
        }


class InputError(Exception):
    """Raised for any invalid input; ``issues`` holds every problem found, not only the first."""

    def __init__(self, issues: list[InputIssue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__(self.report())

    def by_sheet(self) -> dict[str, list[InputIssue]]:
        grouped: dict[str, list[InputIssue]] = defaultdict(list)
        for issue in self.issues:
            grouped[issue.sheet].append(issue)
        return dict(grouped)

    def report(self) -> str:
        """Human-readable list, grouped by sheet, with a count."""
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in {visible(self.source or 'the input')}"
        lines = [head]
        for sheet, issues in self.by_sheet().items():
            lines.append(f"  {sheet} ({len(issues)}):")
            lines.extend(f"    {issue}" for issue in issues)
        return "\n".join(lines)


def visible(text: str) -> str:
    """``text`` with every character that prints as nothing or as a blank escaped (``\\u200b``,
    ``\\xa0``, ``\\t``); plain spaces and printable characters are kept."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def describe(value: object) -> str:
    """Render a found value for an error message: short, quoted when text, 'empty' when blank.

    Text is quoted with its invisible characters escaped; a float shows at most 15 significant digits
    (1e+15, not 1000000000000000.0).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return "empty"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, float):
        return format(value, ".15g")
    return visible(str(value))
