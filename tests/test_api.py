"""The public Python API and code hygiene."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parent.parent


def test_package_level_functions_stay_functions_after_submodule_imports() -> None:
    """Importing a submodule sets it as an attribute of the package: none may shadow a public name
    (a ``planner/solve.py`` would replace ``planner.solve`` once imported)."""
    for module in pkgutil.walk_packages(planner.__path__, "planner."):
        importlib.import_module(module.name)
    for name in planner.__all__:
        value = getattr(planner, name)
        assert not isinstance(value, types.ModuleType), name
    assert planner.solve is importlib.import_module("planner.solver").solve
    assert planner.Planner is importlib.import_module("planner.solver").Planner
    assert planner.analyse is importlib.import_module("planner.uncertainty").analyse
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
