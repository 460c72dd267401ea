"""The workbook's Sweeps sheet: read into sweeps with every bad cell named, written by the template
with dropdowns, filled in the example, checked by ``planner validate`` and never in the way of a solve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from factory import lease, tiny
from typer.testing import CliRunner
from workbook_helpers import edit

from planner.cli import app
from planner.errors import InputError
from planner.schema import Problem
from planner.sweeps.apply import apply_changes, check_sweeps
from planner.sweeps.sheet import COLUMNS_RANGE_PREFIX, HEADERS, sweep_tables, sweepable_columns
from planner.template import write_template
from planner.workbook import load, load_sweeps, write_problem

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parent.parent / "inputs" / "colossus-2025.xlsx"


def workbook(folder: Path, rows: list[dict[str, Any]], name: str = "sweeps.xlsx") -> Path:
    """A tiny input (offer L at $2, cloud at $5) with ``rows`` on its Sweeps sheet from row 2."""
    path = folder / name
    write_problem(tiny([10, 10], offers=[lease("L", term=2)]), path, sweeps=rows)
    return path


def problems(path: Path, names: list[str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_sweeps(path, names)
    return [str(issue) for issue in caught.value.issues]


# ---- good rows ----------------------------------------------------------------------------------

def test_rows_become_sweeps_in_sheet_order(tmp_path: Path) -> None:
    path = workbook(tmp_path, [
        {"sweep": "price", "table": "leaseoffers", "rows": "L", "column": "Price_USD_per_GPU_hour", "mode": "Scale",
         "values": "0.5:1.5:3", "label": "lease price"},
        {"notes": "a row holding only a note is a comment"},
        {"sweep": "grid", "table": "Settings", "column": "default_mfu", "values": "0.1, 0.2"},
        {"sweep": "grid", "design": "GRID", "table": "OnDemand", "rows": "*", "column": "price_usd_per_gpu_hour",
         "values": 4},
        {"sweep": 2025, "table": "Scenarios", "rows": "base", "column": "growth_multiple_per_year", "mode": "add",
         "values": "1,2"},
    ])
    price, grid, numbered = load_sweeps(path)
    assert (price.name, price.design, price.targets[0].address, price.targets[0].mode, price.targets[0].values) == (
        "price", "one_at_a_time", "LeaseOffers[L].price_usd_per_gpu_hour", "scale", [0.5, 1.0, 1.5])
    assert price.targets[0].name == "lease price"
    assert (grid.design, [t.address for t in grid.targets], grid.size) == (
        "grid", ["Settings.default_mfu", "OnDemand[*].price_usd_per_gpu_hour"], 2)
    assert grid.targets[1].values == [4.0]  # one number typed as a number
    assert numbered.name == "2025"  # a name typed as a number is still a name
    assert price.targets[0].cells["values"] == "Sweeps!G2" and numbered.targets[0].location == "Sweeps!A6"
    assert [s.name for s in load_sweeps(path, ["grid"])] == ["grid"]


def test_a_workbook_without_the_sheet_or_with_it_blank_has_no_sweeps(tmp_path: Path) -> None:
    blank = workbook(tmp_path, [])
    assert load_sweeps(blank) == []
    without = edit(workbook(tmp_path, [{"sweep": "s", "table": "Settings", "column": "mip_gap", "values": "x"}],
                            name="without.xlsx"), change=lambda book: book.remove(book["Sweeps"]))
    assert load_sweeps(without) == []
    assert problems(without, ["s"]) == [
        "Sweeps (sweep): found 's'; expected a sweep on a Sweeps sheet (the workbook has none; --vary varies "
        "inputs without one)"]


def test_the_sheet_is_found_by_its_table_name_too(tmp_path: Path) -> None:
    path = workbook(tmp_path, [{"sweep": "s", "table": "Settings", "column": "mip_gap", "values": 0.01}])
    edit(path, change=lambda book: setattr(book["Sweeps"], "title", "What if"))
    assert [s.name for s in load_sweeps(path)] == ["s"]


# ---- bad cells, each named --------------------------------------------------------------------------

def test_every_bad_cell_is_named(tmp_path: Path) -> None:
    path = workbook(tmp_path, [
        {"table": "Settings", "column": "mip_gap", "values": 0.1},                                    # row 2
        {"sweep": "a", "table": "Sheet9", "column": "mip_gap", "values": 0.1},                        # row 3
        {"sweep": "b", "table": "LeaseOffers", "rows": "L", "column": "colour", "values": 1},         # row 4
        {"sweep": "c", "table": "LeaseOffers", "rows": "L", "column": "price_usd_per_gpu_hour", "mode": "double",
         "values": 2},                                                                                # row 5
        {"sweep": "d", "table": "LeaseOffers", "rows": "L", "column": "price_usd_per_gpu_hour", "values": "1:2"},
        {"sweep": "e", "design": "tornado", "table": "Settings", "column": "mip_gap", "values": 0.1},  # row 7
        {"sweep": "f", "design": "grid", "table": "Settings", "column": "mip_gap", "values": 0.1},
        {"sweep": "f", "design": "one_at_a_time", "table": "Settings", "column": "default_mfu", "values": 0.2},
        {"sweep": "g", "table": "Settings", "rows": "x", "column": "mip_gap", "values": 0.1},          # row 10
        {"sweep": "h", "table": "LeaseOffers", "rows": "L", "column": "term_months", "values": 2.5},
        {"sweep": "i", "table": "LeaseOffers", "rows": "L", "column": "site", "mode": "scale", "values": 2},
        {"sweep": "j", "table": "Settings", "column": "mip_gap"},                                      # row 13
    ])
    assert problems(path) == [
        "Sweeps!A2 (sweep): found empty; expected a sweep name (rows with the same name form one sweep)",
        "Sweeps!B9 (design): found 'one_at_a_time'; expected grid (the design of sweep 'f' on an earlier row)",
        "Sweeps!C3 (table): found 'Sheet9'; expected one of Settings, " + ", ".join(sweep_tables()[1:]),
        "Sweeps!E4 (column): found 'colour'; expected a LeaseOffers column (provider, site, gpu_type, "
        "gpus_per_block, price_usd_per_gpu_hour, term_months, earliest_start_month, latest_start_month, min_blocks, "
        "max_blocks, upfront_usd_per_block, lead_time_months)",
        "Sweeps!F5 (mode): found 'double'; expected input should be 'set', 'scale' or 'add'",
        "Sweeps!G6 (values): found '1:2'; expected start:stop:count with numbers start and stop and a whole count "
        ">= 2 (e.g. 2.0:3.2:7)",
        "Sweeps!B7 (design): found 'tornado'; expected input should be 'one_at_a_time' or 'grid'",
        "Sweeps!D10 (rows): found 'x'; expected nothing (Settings has no rows)",
        "Sweeps!G11 (values): found 2.5; expected whole numbers for term_months",
        "Sweeps!F12 (mode): found scale; expected set (site is not a number)",
        "Sweeps!G13 (values): found empty; expected field required",
    ]


def test_asking_for_one_sweep_skips_the_problems_of_the_others(tmp_path: Path) -> None:
    path = workbook(tmp_path, [
        {"sweep": "good", "table": "Settings", "column": "mip_gap", "values": 0.01},
        {"sweep": "bad", "table": "Settings", "column": "mip_gap", "values": "x:y"},
    ])
    assert [s.name for s in load_sweeps(path, ["good"])] == ["good"]
    assert problems(path, ["good", "nope"]) == [
        "Sweeps (sweep): found 'nope'; expected one of the sweeps on the Sweeps sheet: good, bad"]


def test_rows_that_do_not_exist_in_the_input_name_their_cell(tmp_path: Path) -> None:
    path = workbook(tmp_path, [{"sweep": "s", "table": "LeaseOffers", "rows": "Z", "column": "price_usd_per_gpu_hour",
                                "values": 3}])
    assert [str(i) for i in check_sweeps(load(path), load_sweeps(path))] == [
        "Sweeps!D2 (rows): found 'Z'; expected one of the LeaseOffers ids (L), several separated by commas, * or a "
        "filter such as provider=..."]


def test_layout_problems_are_reported_like_any_input_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path, [{"sweep": "s", "table": "Settings", "column": "mip_gap", "values": 0.01}])

    def damage(book: openpyxl.Workbook) -> None:
        sheet = book["Sweeps"]
        sheet["J1"] = "owner"  # a header the sheet does not know
        sheet["G1"] = None  # the values header gone
        sheet.merge_cells("A3:B3")
        sheet["A3"] = "merged"

    edit(path, change=damage)
    assert problems(path) == [
        "Sweeps!J1 (owner): found 'owner'; expected one of the column names " + ", ".join(HEADERS),
        "Sweeps!K1 (values): found no such column; expected a column headed values (required)",
        "Sweeps!G1: found values under a blank header; expected a column name: " + ", ".join(HEADERS),
        "Sweeps!A3:B3 (sweep): found merged cells A3:B3; expected one value per cell (unmerge them)",
    ]


def test_a_formula_without_a_saved_value_is_named(tmp_path: Path) -> None:
    path = workbook(tmp_path, [{"sweep": "s", "table": "Settings", "column": "mip_gap", "values": "=0.5/10"}])
    edit(path, {"Sweeps!G2": "=0.5/10"})  # openpyxl saves a formula without its value
    assert problems(path) == ["Sweeps!G2 (values): found a formula with no saved value; expected a value (open and "
                              "save the file in Excel, or type the value)"]


# ---- never in the way of a solve; checked by validate ------------------------------------------------

def test_a_bad_sweeps_sheet_does_not_stop_load_or_solve(tmp_path: Path) -> None:
    path = workbook(tmp_path, [{"sweep": "bad", "table": "Nowhere", "column": "x", "values": "?"}])
    assert isinstance(load(path), Problem)
    result = runner.invoke(app, ["solve", str(path), "--no-report", "--json"])
    assert result.exit_code == 0, result.output


def test_validate_checks_the_sweeps(tmp_path: Path) -> None:
    good = workbook(tmp_path, [{"sweep": "price", "table": "LeaseOffers", "rows": "L",
                                "column": "price_usd_per_gpu_hour", "values": "2:4:3"}])
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 sweep (price): 3 runs and the base" in result.stdout
    bad = workbook(tmp_path, [{"sweep": "price", "table": "LeaseOffers", "rows": "Z",
                               "column": "price_usd_per_gpu_hour", "values": "2:4"}], name="bad.xlsx")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "valid" in result.stdout  # the input itself is fine: solve runs
    assert "Sweeps!G2 (values): found '2:4'" in result.stderr
    assert "Traceback" not in result.output


# ---- the template --------------------------------------------------------------------------------

def _validations(sheet: Any) -> dict[str, tuple[str, bool]]:
    return {str(v.sqref): (v.formula1, bool(v.showErrorMessage)) for v in sheet.data_validations.dataValidation}


def test_template_sheet_headers_notes_and_dropdowns(tmp_path: Path) -> None:
    path = tmp_path / "blank.xlsx"
    write_template(path)
    book = openpyxl.load_workbook(path)
    sheet = book["Sweeps"]
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert list(sheet.tables) == ["Sweeps"] and sheet.tables["Sweeps"].ref == "A1:I51"
    assert "start:stop:count" in sheet["G1"].comment.text and "Required." in sheet["G1"].comment.text
    assert sheet["G2"].number_format == "@"  # 2:3:7 stays text, not a time of day
    assert _validations(sheet) == {
        "C2:C51": ('"' + ",".join(sweep_tables()) + '"', True),
        "F2:F51": ('"set,scale,add"', True),
        "B2:B51": ('"one_at_a_time,grid"', True),
        "E2:E51": (f'INDIRECT("{COLUMNS_RANGE_PREFIX}"&$C2)', False),
    }
    # Each table's workbook name spans exactly the columns a sweep may vary in it.
    listed = book["SweepColumns"]
    for table in sweep_tables():
        reference = book.defined_names[f"{COLUMNS_RANGE_PREFIX}{table}"].attr_text
        cells = listed[reference.split("!")[1].replace("$", "")]
        assert [row[0].value for row in cells] == [c.name for c in sweepable_columns(table)]
    in_place = {(row[0], row[1]): row[3] for row in listed.iter_rows(min_row=2, values_only=True)}
    assert in_place["LeaseOffers", "price_usd_per_gpu_hour"] == "yes" and in_place["Sites", "pue"] == "no"
    readme = "\n".join(str(v) for row in book["README"].iter_rows(values_only=True) for v in row if v)
    assert "Sensitivity sweeps" in readme and "planner sweep --sweep NAME" in readme


def test_template_round_trips_with_no_sweeps(tmp_path: Path) -> None:
    path = tmp_path / "blank.xlsx"
    write_template(path)
    assert load_sweeps(path) == []


# ---- the example ---------------------------------------------------------------------------------

def test_example_sweeps_tell_the_story() -> None:
    problem = load(EXAMPLE)
    sweeps = load_sweeps(EXAMPLE)
    assert [s.name for s in sweeps] == ["inference-mfu", "h100-price", "80x-probability", "colossus-power"]
    assert check_sweeps(problem, sweeps) == []
    assert all(4 <= s.size <= 5 for s in sweeps)
    mfu, price, probability, power = (s.targets[0] for s in sweeps)
    assert min(mfu.values) > 0.11 and max(mfu.values) == 0.40
    # The MFU target moves inference throughput (no Throughput row for inference) and not training's.
    at_40 = apply_changes(problem, [(mfu, 0.40)])
    assert at_40.tokens_per_second_per_gpu("H100", "chat") == pytest.approx(
        problem.tokens_per_second_per_gpu("H100", "chat") * 0.40 / 0.11)
    assert at_40.tokens_per_second_per_gpu("H100", "training") == problem.tokens_per_second_per_gpu("H100", "training")
    cheap = apply_changes(problem, [(price, min(price.values))])
    assert {o.offer_id: o.price_usd_per_gpu_hour for o in cheap.lease_offers}["COL-H100-12"] == pytest.approx(1.82)
    assert (min(price.values), max(price.values)) == (0.7, 1.3)
    likely = apply_changes(problem, [(probability, 0.5)])
    assert [s.probability for s in likely.scenarios] == pytest.approx([0.3125, 0.1875, 0.5])
    assert (min(probability.values), max(probability.values)) == (0.1, 0.5)
    bigger = apply_changes(problem, [(power, 450.0)])
    assert {s.name: s.power_cap_mw for s in bigger.sites}["Colossus"] == 450.0


# ---- models/procurement.md says which numbers are mutable -------------------------------------------

def test_the_formulation_marks_exactly_the_mutable_parameters() -> None:
    """Every mutable Param of the model (what a sweep changes in place) is marked *(mutable)* in
    models/procurement.md, and nothing else is."""
    import re

    import pyomo.environ as pyo
    from factory import realistic

    from planner.model.build import build_model

    text = (Path(__file__).resolve().parent.parent / "models" / "procurement.md").read_text(encoding="utf-8")
    cells = [cell for line in text.splitlines() if line.startswith("|") for cell in line.split("|")]
    marked = {name for cell in cells if "*(mutable)*" in cell for name in re.findall(r"`(\w+)`", cell)}
    model = build_model(realistic(6, max_total_commitment_usd=1e10, max_cash_spend_usd=1e10))
    mutable = {param.name for param in model.component_objects(pyo.Param) if param.mutable}
    assert marked == mutable


def test_sweeps_written_from_python_read_back_the_same(tmp_path: Path) -> None:
    from planner.sweeps import Sweep, Target
    from planner.sweeps.sheet import sweep_rows

    sweeps = [
        Sweep(name="grid", design="grid", targets=[
            Target.setting("default_mfu", [0.1, 0.2 / 3]),
            Target(table="LeaseOffers", rows="gpu_type=H100, site!=x", column="price_usd_per_gpu_hour", mode="scale",
                   values=[0.7, 1.3], label="H100 price")]),
        Sweep(name="window", targets=[Target(table="LeaseOffers", rows="L", column="latest_start_month",
                                             values=["2025-02"])]),
    ]
    path = tmp_path / "saved.xlsx"
    write_problem(tiny([10, 10], offers=[lease("L", term=2)]), path, sweeps=sweep_rows(sweeps))

    def fields(found: list[Sweep]) -> list[tuple[Any, ...]]:
        return [(s.name, s.design, [(t.table, t.rows, t.column, t.mode, t.values, t.label) for t in s.targets])
                for s in found]

    assert fields(load_sweeps(path)) == fields(sweeps)
    assert load_sweeps(path)[0].targets[0].values[1] == 0.2 / 3  # floats written in full
