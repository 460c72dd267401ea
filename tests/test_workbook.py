"""Reading workbooks: round trip, every kind of bad input located by its exact cell, unsafe files."""

from __future__ import annotations

import datetime as dt
import importlib.util
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.table import Table
from typer.testing import CliRunner
from workbook_helpers import by_cell, edit, issues, rewrite_member, sheet_member, small_problem, small_workbook

import planner
from planner.cli import app
from planner.errors import InputError
from planner.schema import TABLES, Problem
from planner.workbook import load, problem_to_tables, read_tables, write_problem

ROOT = Path(__file__).resolve().parent.parent


def _example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_colossus", ROOT / "inputs" / "build_colossus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- round trip ---------------------------------------------------------------------------------


def test_round_trip_small(tmp_path: Path) -> None:
    problem = small_problem()
    path = tmp_path / "small.xlsx"
    write_problem(problem, path)
    assert load(path) == problem


def test_round_trip_example_with_every_table(tmp_path: Path) -> None:
    problem = _example_module().build()
    path = tmp_path / "example.xlsx"
    write_problem(problem, path, spare_rows=0)
    loaded = load(path)
    assert loaded == problem
    assert len(loaded.demand) == 3 * 4 * 36


def test_public_load_is_exported() -> None:
    assert planner.load is load


def test_problem_to_tables_uses_sheet_layout() -> None:
    tables = problem_to_tables(small_problem())
    assert list(tables) == ["Settings", *(cls.TABLE for cls in TABLES)]
    assert tables["Settings"][0] == {
        "parameter": "first_month", "value": "2025-01", "unit": "YYYY-MM", "notes": "First planning month (YYYY-MM)."
    }
    coding = tables["Workloads"][1]
    assert coding["allowed_gpu_types"] == "H100, H200"
    assert coding["unserved_allowed"] == "no"
    assert list(coding)[-1] == "notes"


def test_read_tables_gives_raw_rows(tmp_path: Path) -> None:
    tables = read_tables(small_workbook(tmp_path))
    assert [row["offer_id"] for row in tables["LeaseOffers"]] == ["L1", "L2"]
    assert tables["LeaseOffers"][0]["price_usd_per_gpu_hour"] == 2.6
    assert tables["Commitments"] == []


def test_defusedxml_is_active() -> None:
    assert openpyxl.xml.DEFUSEDXML is True


# ---- values a user types ------------------------------------------------------------------------


def test_excel_dates_whole_floats_and_yes_no_are_accepted(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {
        "Settings!B2": dt.datetime(2025, 1, 1),
        "Settings!B3": 6.0,
        "LeaseOffers!H2": dt.datetime(2025, 2, 15),
        "LeaseOffers!E2": 8.0,
        "Workloads!F2": "No",
        "LeaseOffers!A3": 7,  # a number typed as an id is read as the name "7"
    })
    problem = load(path)
    assert problem.settings.first_month == "2025-01" and problem.settings.months == 6
    offer = problem.lease_offers[0]
    assert offer.earliest_start_month == "2025-02"
    assert offer.gpus_per_block == 8 and isinstance(offer.gpus_per_block, int)
    assert problem.workloads[0].unserved_allowed is False
    assert problem.lease_offers[1].offer_id == "7"


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    problem = small_problem()
    tricky = problem.workloads[0].model_copy(update={"notes": '=HYPERLINK("http://evil","x")'})
    problem = Problem(**{**dict(problem), "workloads": [tricky, problem.workloads[1]]})
    path = tmp_path / "tricky.xlsx"
    write_problem(problem, path)
    cell = openpyxl.load_workbook(path)["Workloads"]["I2"]
    assert cell.data_type == "s"
    assert load(path) == problem


def test_a_date_or_number_in_notes_is_still_a_note(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"Workloads!I2": dt.datetime(2025, 3, 1), "Sites!D2": 42})
    problem = load(path)
    assert problem.workloads[0].notes == "2025-03-01 00:00:00"
    assert problem.sites[0].notes == "42"


def test_blank_rows_and_rows_typed_below_the_table_are_handled(tmp_path: Path) -> None:
    path = small_workbook(tmp_path, spare_rows=0)

    def append_below_table(book: openpyxl.Workbook) -> None:
        sheet = book["Policies"]
        assert sheet.tables["Policies"].ref == "A1:C3"
        sheet["A4"], sheet["B4"] = "strict", 2e5

    problem = load(edit(path, change=append_below_table))
    assert [p.name for p in problem.policies] == ["open", "tight", "strict"]


def test_sheet_without_excel_table_is_read_from_row_one(tmp_path: Path) -> None:
    def drop_table(book: openpyxl.Workbook) -> None:
        del book["LeaseOffers"].tables["LeaseOffers"]

    problem = load(edit(small_workbook(tmp_path), change=drop_table))
    assert [o.offer_id for o in problem.lease_offers] == ["L1", "L2"]


def test_missing_optional_sheets_are_empty_tables(tmp_path: Path) -> None:
    def drop(book: openpyxl.Workbook) -> None:
        for name in ("Commitments", "SitePower", "Demand", "PolicyEffects"):
            del book[name]

    problem = load(edit(small_workbook(tmp_path), change=drop))
    assert problem.commitments == [] and problem.policy_effects == []


def test_formula_with_saved_value_is_read_through_its_value(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"LeaseOffers!F2": "=2*1.25"})
    rewrite_member(path, sheet_member(path, "LeaseOffers"),
                   lambda xml: xml.replace(b"<f>2*1.25</f><v />", b"<f>2*1.25</f><v>2.5</v>"))
    assert load(path).lease_offers[0].price_usd_per_gpu_hour == 2.5


# ---- bad cells, each at its exact cell ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value", "column", "found", "expected"),
    [
        ("LeaseOffers!F3", "cheap", "price_usd_per_gpu_hour", "'cheap'", "a number >= 0 and <= 1000"),
        ("LeaseOffers!F3", -1.5, "price_usd_per_gpu_hour", "-1.5", "a number >= 0 and <= 1000"),
        ("LeaseOffers!F2", True, "price_usd_per_gpu_hour", "True", "a number >= 0 and <= 1000"),
        ("LeaseOffers!E2", 3.5, "gpus_per_block", "3.5", "a whole number > 0 and <= 1e+06"),
        ("LeaseOffers!H3", "next spring", "earliest_start_month", "'next spring'",
         "a month as YYYY-MM (e.g. 2025-03) or an Excel date"),
        ("Credits!F2", "everything", "applies_to", "'everything'", "one of on_demand, leases, all"),
        ("Workloads!F3", "maybe", "unserved_allowed", "'maybe'", "yes or no"),
        ("Workloads!B2", "inf", "revenue_usd_per_million_tokens", "'inf'", "a finite number >= 0 and <= 10000"),
        ("GPUTypes!E3", 1.2, "availability_factor", "1.2", "a number >= 0.01 and <= 1"),
        ("Sites!B2", None, "power_cap_mw", "empty", "a number > 0 and <= 100000 (required)"),
        ("Settings!B4", "eight percent", "discount_rate_per_year", "'eight percent'", "a number >= 0 and < 1"),
    ],
)
def test_bad_cell_is_reported_at_its_cell(
    tmp_path: Path, cell: str, value: object, column: str, found: str, expected: str
) -> None:
    found_issues = issues(edit(small_workbook(tmp_path), {cell: value}))
    assert [issue.where for issue in found_issues] == [cell]
    issue = found_issues[0]
    assert (issue.column, issue.found, issue.expected) == (column, found, expected)


def test_probability_above_one_is_one_issue_without_knock_on_sum(tmp_path: Path) -> None:
    found = issues(edit(small_workbook(tmp_path), {"Scenarios!B3": 1.3}))
    assert [(i.where, i.expected) for i in found] == [("Scenarios!B3", "a number > 0 and <= 1")]


def test_probabilities_not_summing_to_one_point_at_last_row(tmp_path: Path) -> None:
    found = by_cell(issues(edit(small_workbook(tmp_path), {"Scenarios!B3": 0.6})))
    assert list(found) == ["Scenarios!B3"]
    assert found["Scenarios!B3"].expected == "probabilities summing to 1"
    assert "1.1" in found["Scenarios!B3"].found


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    found = by_cell(issues(edit(small_workbook(tmp_path), {"LeaseOffers!A3": "L1"})))
    assert set(found) == {"LeaseOffers!A2", "LeaseOffers!A3"}
    assert "unique offer_id" in found["LeaseOffers!A3"].expected


def test_unknown_reference_lists_known_names(tmp_path: Path) -> None:
    found = by_cell(issues(edit(small_workbook(tmp_path), {"LeaseOffers!D3": "H900"})))
    assert list(found) == ["LeaseOffers!D3"]
    assert found["LeaseOffers!D3"].expected == "one of the GPUTypes names (H100, H200)"


def test_reference_to_an_invalid_row_is_not_reported_twice(tmp_path: Path) -> None:
    # H200's own row is invalid; offers, throughput and workloads that name H200 are not blamed.
    found = issues(edit(small_workbook(tmp_path), {"GPUTypes!B3": "fast"}))
    assert [issue.where for issue in found] == ["GPUTypes!B3"]


def test_every_problem_in_every_sheet_is_collected_in_one_pass(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {
        "Settings!B3": "six", "Workloads!C2": 0.5, "LeaseOffers!F3": "cheap", "Credits!B2": "nobody",
        "PolicyEffects!C2": 0,
    })
    found = by_cell(issues(path))
    assert set(found) == {"Settings!B3", "Workloads!C2", "LeaseOffers!F3", "Credits!B2", "PolicyEffects!C2"}
    assert found["Credits!B2"].expected.startswith("a provider of a lease offer")


def test_latest_before_earliest_start(tmp_path: Path) -> None:
    found = by_cell(issues(edit(small_workbook(tmp_path), {"LeaseOffers!I3": "2025-01"})))
    assert found["LeaseOffers!I3"].expected == "a month on or after earliest_start_month 2025-02"


def test_month_outside_horizon(tmp_path: Path) -> None:
    found = by_cell(issues(edit(small_workbook(tmp_path), {"LeaseOffers!I2": "2026-01"})))
    assert found["LeaseOffers!I2"].expected == "a month from 2025-01 to 2025-06 (the horizon)"


def test_table_level_issue_points_at_the_header(tmp_path: Path) -> None:
    # Demand rows for one month only: the whole (scenario, workload) series is incomplete.
    path = edit(small_workbook(tmp_path), {"Demand!A2": "slow", "Demand!B2": "chat", "Demand!C2": "2025-01",
                                           "Demand!D2": 1e12})
    found = by_cell(issues(path))
    assert list(found) == ["Demand!C1"]
    assert found["Demand!C1"].expected.startswith("all 6 months of the horizon")


def test_empty_required_table(tmp_path: Path) -> None:
    def clear(book: openpyxl.Workbook) -> None:
        for row in book["GPUTypes"].iter_rows(min_row=2):
            for cell in row:
                cell.value = None

    found = by_cell(issues(edit(small_workbook(tmp_path), change=clear)))
    assert found["GPUTypes!A1"].found == "'an empty table'"
    # The references to the now missing GPU types are real problems, located at their cells.
    assert found["LeaseOffers!D2"].expected == "one of the GPUTypes names (none defined)"


def test_missing_required_sheet(tmp_path: Path) -> None:
    def drop(book: openpyxl.Workbook) -> None:
        del book["Scenarios"]

    found = issues(edit(small_workbook(tmp_path), change=drop))
    assert [(i.sheet, i.cell, i.found, i.expected) for i in found] == [
        ("Scenarios", None, "no sheet or Table named Scenarios", "a sheet named Scenarios (required)")
    ]


def test_unknown_and_missing_columns_are_reported_once_at_the_header(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"LeaseOffers!F1": "price", "LeaseOffers!N1": "source",
                                           "LeaseOffers!N2": "broker"})
    found = by_cell(issues(path))
    assert set(found) == {"LeaseOffers!F1", "LeaseOffers!N1", "LeaseOffers!O1"}
    assert found["LeaseOffers!F1"].found == "'price'"
    assert found["LeaseOffers!F1"].expected.startswith("one of the column names offer_id, provider, site")
    assert found["LeaseOffers!N1"].column == "source"
    missing = found["LeaseOffers!O1"]
    assert (missing.column, missing.found) == ("price_usd_per_gpu_hour", "no such column")


def test_merged_cells_are_named(tmp_path: Path) -> None:
    def merge(book: openpyxl.Workbook) -> None:
        book["LeaseOffers"].merge_cells("B2:C2")

    found = by_cell(issues(edit(small_workbook(tmp_path), change=merge)))
    assert list(found) == ["LeaseOffers!B2:C2"]
    assert found["LeaseOffers!B2:C2"].found == "merged cells B2:C2"


def test_formula_without_saved_value(tmp_path: Path) -> None:
    found = issues(edit(small_workbook(tmp_path), {"LeaseOffers!F3": "=F2*1.1"}))
    assert [(i.where, i.found) for i in found] == [("LeaseOffers!F3", "a formula with no saved value")]
    assert "open and save the file in Excel" in found[0].expected


def test_settings_unknown_repeated_and_missing_parameters(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {
        "Settings!A3": None, "Settings!B3": None,  # months row emptied
        "Settings!A14": "solver", "Settings!B14": "highs",
        "Settings!A15": "mip_gap", "Settings!B15": 0.01,
    })
    found = by_cell(issues(path))
    # A missing parameter is reported below the table's last row (16: max_cash_spend_usd).
    assert set(found) == {"Settings!A14", "Settings!A15", "Settings!A17"}
    assert found["Settings!A14"].expected.startswith("one of the parameters first_month, months")
    assert found["Settings!A15"].expected == "each parameter once (mip_gap is also at B13)"
    assert found["Settings!A17"].found == "no months row"


# ---- unsafe or broken files ---------------------------------------------------------------------


def _file_issue(path: Path) -> str:
    found = issues(path)
    assert len(found) == 1 and found[0].sheet == "file"
    return f"{found[0].found}; {found[0].expected}"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no file at" in _file_issue(tmp_path / "nothing.xlsx")
    assert "a folder" in _file_issue(tmp_path)


def test_csv_renamed_and_truncated_file(tmp_path: Path) -> None:
    csv = tmp_path / "data.xlsx"
    csv.write_text("name,probability\nbase,1\n")
    assert "not a valid .xlsx" in _file_issue(csv)
    good = small_workbook(tmp_path)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(good.read_bytes()[:2000])
    assert "not a valid .xlsx" in _file_issue(broken)


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not an Excel workbook" in _file_issue(path)


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (4 * 1024**2))
    assert "zip bomb" in _file_issue(path)


def test_xml_entities_are_refused(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    rewrite_member(path, sheet_member(path, "Sites"),
                   lambda xml: xml.replace(b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet', 1))
    assert "XML entity or DTD declarations" in _file_issue(path)


def test_error_report_lists_cells(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"LeaseOffers!F3": "cheap"})
    with pytest.raises(InputError) as caught:
        load(path)
    assert caught.value.source == "small.xlsx"
    assert "LeaseOffers!F3 (price_usd_per_gpu_hour): found 'cheap'; expected a number" in str(caught.value)


def test_cli_validate_invalid_workbook_exits_2_with_cell(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"LeaseOffers!F3": "cheap"})
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "LeaseOffers!F3" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_non_workbook_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("just text")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


# ---- fuzzing: corrupt random cells of the example -----------------------------------------------

_TABLE_SHEETS = ["Settings", *(cls.TABLE for cls in TABLES)]
_cell_values = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(["=1+", "=SUM(A1:A3)", "=A2", "#N/A", "yes", "2025-13", "-1", "1e400", "nan", " ", "H100"]),
)


@pytest.fixture(scope="module")
def example_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[openpyxl.Workbook, dict[str, tuple[int, int]]]:
    """The example as an openpyxl workbook, loaded once (each fuzz case edits cells and puts them back),
    and the (last table row, last column) of each table sheet as first loaded."""
    path = tmp_path_factory.mktemp("fuzz") / "example.xlsx"
    write_problem(_example_module().build(), path, spare_rows=2)
    book = openpyxl.load_workbook(path)
    size = {}
    for name in _TABLE_SHEETS:
        table: Table = next(iter(book[name].tables.values()))
        size[name] = (int(table.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")), book[name].max_column)
    return book, size


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_cells_give_input_error_or_problem(
    example_book: tuple[openpyxl.Workbook, dict[str, tuple[int, int]]], data: st.DataObject
) -> None:
    book, size = example_book
    originals: list[tuple[Any, object]] = []
    try:
        for _ in range(data.draw(st.integers(1, 3), label="cells")):
            name = data.draw(st.sampled_from(_TABLE_SHEETS), label="sheet")
            last_row, last_column = size[name]
            row = data.draw(st.integers(1, min(last_row + 1, 60)), label="row")
            column = data.draw(st.integers(1, last_column + 1), label="column")
            cell = book[name].cell(row=row, column=column)
            originals.append((cell, cell.value))
            cell.value = data.draw(_cell_values, label="value")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "corrupted.xlsx"
            book.save(path)
            try:
                assert isinstance(load(path), Problem)
            except InputError as error:
                assert error.issues
                assert all(issue.found and issue.expected for issue in error.issues)
    finally:
        for cell, value in reversed(originals):
            cell.value = value
