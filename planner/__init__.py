"""planner: optimization-based procurement planning for AI compute."""

from planner.errors import InputError, InputIssue
from planner.workbook import load

__version__ = "0.1.0"

__all__ = ["InputError", "InputIssue", "__version__", "load"]
