"""The public Python API and code hygiene."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parent.parent


def test_package_level_functions_stay_functions_after_submodule_imports() -> None:
    importlib.import_module("planner.solver")  # the submodule must not shadow the function
    assert callable(planner.solve) and planner.solve.__module__ == "planner.solver"
    assert planner.solve is planner.solve
    assert planner.analyse.__module__ == "planner.uncertainty"
    assert planner.load.__module__ == "planner.workbook"
    with pytest.raises(AttributeError):
        planner.no_such_thing  # noqa: B018


def test_validate_does_not_import_the_solver_stack() -> None:
    code = "import sys, planner; planner.load; print('pyomo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_repository_is_ruff_clean() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is part of the test extra)")
    out = subprocess.run([ruff, "check", "planner", "tests", "inputs", "benchmarks"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
