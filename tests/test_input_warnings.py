"""Input that is valid but suspicious is warned about by cell, never refused; a report given as input is
named as such; the template's README says when Throughput is needed."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from factory import cloud, commitment, lease, tiny
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.errors import InputError
from planner.plausibility import SuspiciousValueWarning, suspicious_values
from planner.schema import Problem, Scenario, Site
from planner.template import write_template
from planner.workbook import load_details, write_problem


def with_slips() -> Problem:
    """Three H100 prices near $2-5 and one of $26 (a per-GPU-month or per-server price?), a site cap of
    0.04 MW below one 1,024-GPU block (kW typed as MW?), a scenario of probability 0.001."""
    base = tiny({"likely": [10.0, 10.0], "rare": [20.0, 20.0]}, probabilities={"likely": 0.999, "rare": 0.001},
                offers=[lease("cheap", price=2.0, block=1024), lease("odd", price=26.0, block=1024)],
                on_demand=[cloud(price=5.0)], commitments=[commitment(gpus=2, start=0, end=1, price=3.0)])
    return base.model_copy(update={"sites": [Site(name="dc", power_cap_mw=0.04, pue=1.2)]})


def test_suspicious_values_are_named_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "slips.xlsx"
    write_problem(with_slips(), path)
    details = load_details(path)  # loads: nothing is refused
    found = {(issue.sheet, issue.cell, issue.column): issue for issue in details.suspicious_values}
    assert set(found) == {("Scenarios", "B3", "probability"), ("LeaseOffers", "F3", "price_usd_per_gpu_hour"),
                          ("Sites", "B2", "power_cap_mw")}
    price = found["LeaseOffers", "F3", "price_usd_per_gpu_hour"]
    assert price.found == "26 USD/GPU-hour, 9x the median of the other H100 prices ($3.00)"
    assert price.expected.startswith("a price near the others of its GPU type")
    cap = found["Sites", "B2", "power_cap_mw"]
    assert cap.found == "0.04 MW, less than one block of cheap draws (1.23 MW with PUE)"
    assert str(found["Scenarios", "B3", "probability"]).startswith("Scenarios!B3 (probability): found 0.001")
    assert details.warnings == details.suspicious_values  # no scaling warning here
    with pytest.warns(SuspiciousValueWarning, match=r"LeaseOffers!F3 \(price_usd_per_gpu_hour\): found 26"):
        assert planner.load(path) == details.problem


def test_a_cap_below_one_block_is_suspicious() -> None:
    problem = tiny([10.0], offers=[lease(block=1024)], power_kw_per_gpu=1.4, pue=1.2, power_cap_mw=1.5)
    (issue,) = suspicious_values(problem)
    assert (issue.sheet, issue.column, issue.row_index) == ("Sites", "power_cap_mw", 0)
    assert issue.found == "1.5 MW, less than one block of L draws (1.72 MW with PUE)"
    assert suspicious_values(tiny([10.0], offers=[lease(block=1024)], power_kw_per_gpu=1.4, pue=1.2,
                                  power_cap_mw=2.0)) == []


def test_an_outlier_does_not_make_its_neighbours_suspicious() -> None:
    """$26 among $2.6, $3.2 and $7: only $26 is named (the median of the others leaves it out)."""
    problem = tiny([1.0], offers=[lease("a", price=26.0), lease("b", price=2.6)], on_demand=[cloud(price=7.0)],
                   commitments=[commitment(gpus=1, start=0, end=0, price=3.2)])
    assert [(i.sheet, i.row_index) for i in suspicious_values(problem)] == [("LeaseOffers", 0)]


@pytest.mark.parametrize(("update", "column", "found"), [
    ({"scenarios": [Scenario(name="base", probability=1.0)]}, None, None),
    ({"settings": {"default_mfu": 0.95}}, "default_mfu", "0.95: more than any large model sustains (0.4 = 40%)"),
    ({"settings": {"discount_rate_per_year": 0.5}}, "discount_rate_per_year", "0.5: a high rate: 0.08 = 8% a year"),
])
def test_bands(update: dict, column: str | None, found: str | None) -> None:
    problem = tiny([1.0])
    if "settings" in update:
        problem = problem.model_copy(update={"settings": problem.settings.model_copy(update=update["settings"])})
    else:
        problem = problem.model_copy(update=update)
    issues = suspicious_values(problem)
    assert [(i.column, i.found) for i in issues] == ([] if column is None else [(column, found)])


def test_the_example_has_nothing_suspicious() -> None:
    details = load_details(Path(__file__).parent.parent / "inputs" / "colossus-2025.xlsx")
    assert details.warnings == ()


def test_validate_lists_suspicious_values_and_passes(tmp_path: Path) -> None:
    path = tmp_path / "slips.xlsx"
    write_problem(with_slips(), path)
    run = CliRunner().invoke(app, ["validate", str(path)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "3 suspicious values (valid, and used as typed)" in run.output
    assert "LeaseOffers!F3 (price_usd_per_gpu_hour): found 26 USD/GPU-hour" in run.output


def test_a_report_resaved_without_its_marker_is_still_recognised(tmp_path: Path) -> None:
    source = tmp_path / "in.xlsx"
    write_problem(tiny([1.0]), source)
    result = planner.solve(planner.load(source))
    report = planner.write_report(result, tmp_path / "plan.xlsx")
    wb = openpyxl.load_workbook(report)
    wb.properties.keywords = None
    wb.save(report)
    with pytest.raises(InputError) as caught:
        load_details(report)
    (issue,) = caught.value.issues
    assert issue.found == "'plan.xlsx': this is a planner report, not an input workbook"


def test_readme_says_throughput_is_needed_without_default_mfu(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    rows = {row[0]: row for row in openpyxl.load_workbook(path)["README"].iter_rows(values_only=True) if row[0]}
    _, required, description = rows["Throughput"]
    assert required == "unless default_mfu"
    assert "Needed unless Settings default_mfu is given" in description
    assert rows["Demand"][1] == "no"
