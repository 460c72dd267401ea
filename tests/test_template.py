"""The blank template: generated from the schema, re-readable, with Tables, notes and dropdowns."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.columns import columns
from planner.errors import InputError
from planner.schema import SCHEMA_VERSION, TABLES, Settings
from planner.template import SPARE_ROWS, write_template
from planner.workbook import load


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    path = tmp_path_factory.mktemp("template") / "blank.xlsx"
    write_template(path)
    return openpyxl.load_workbook(path)


def _validations(sheet: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, tuple[str, bool]]:
    """Cell range -> (list formula, whether a wrong value is refused)."""
    return {str(v.sqref): (v.formula1, bool(v.showErrorMessage)) for v in sheet.data_validations.dataValidation}


def test_sheets_in_schema_order(template: openpyxl.Workbook) -> None:
    assert template.sheetnames == ["README", "Settings", *(cls.TABLE for cls in TABLES), "Sweeps", "SweepColumns"]
    assert all(len(name) <= 31 for name in template.sheetnames)


def test_one_table_per_sheet_named_as_the_sheet_at_a1(template: openpyxl.Workbook) -> None:
    for cls in TABLES:
        sheet = template[cls.TABLE]
        assert list(sheet.tables) == [cls.TABLE]
        table = sheet.tables[cls.TABLE]
        headers = [column.name for column in columns(cls)]
        last = openpyxl.utils.get_column_letter(len(headers))
        assert table.ref == f"A1:{last}{SPARE_ROWS + 1}"
        assert [cell.value for cell in sheet[1]] == headers
        assert headers[-1] == "notes"


def test_headers_carry_descriptions_as_notes(template: openpyxl.Workbook) -> None:
    header = template["LeaseOffers"]["F1"]
    assert header.value == "price_usd_per_gpu_hour"
    assert header.comment is not None
    text = header.comment.text
    assert "Lease price per GPU-hour." in text
    assert "Unit: USD/GPU-hour" in text and "Required." in text
    assert "Optional; blank = 0" in template["LeaseOffers"]["J1"].comment.text  # min_blocks


def test_dropdowns_for_references_choices_and_yes_no(template: openpyxl.Workbook) -> None:
    last = SPARE_ROWS + 1
    offers = _validations(template["LeaseOffers"])
    assert offers[f"C2:C{last}"] == (f"'Sites'!$A$2:$A${last}", True)
    assert offers[f"D2:D{last}"] == (f"'GPUTypes'!$A$2:$A${last}", True)
    workloads = _validations(template["Workloads"])
    # allowed_gpu_types takes a comma-separated list: the dropdown helps but does not refuse.
    assert workloads[f"E2:E{last}"] == (f"'GPUTypes'!$A$2:$A${last}", False)
    assert workloads[f"F2:F{last}"] == ('"yes,no"', True)
    assert _validations(template["Credits"])[f"F2:F{last}"] == ('"on_demand,leases,all"', True)
    assert _validations(template["Demand"])[f"A2:A{last}"] == (f"'Scenarios'!$A$2:$A${last}", True)


def test_settings_sheet_has_defaults_and_units(template: openpyxl.Workbook) -> None:
    sheet = template["Settings"]
    assert sheet.tables["Settings"].ref == f"A1:D{len(Settings.model_fields) + 1}"
    rows = {row[0]: row[1:] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == list(Settings.model_fields)
    assert rows["first_month"][0] is None and rows["months"][0] is None
    assert rows["discount_rate_per_year"][:2] == (0.08, "fraction per year")
    assert rows["count_payments_beyond_horizon"][0] == "yes"
    assert rows["time_limit_seconds"][1] == "seconds"


def test_readme_lists_version_and_sheets(template: openpyxl.Workbook) -> None:
    text = "\n".join(str(v) for row in template["README"].iter_rows(values_only=True) for v in row if v)
    assert f"Schema version {SCHEMA_VERSION}" in text
    for cls in TABLES:
        assert cls.DESCRIPTION in text
    assert "input cell" in text and "required column" in text


def test_input_cells_are_filled(template: openpyxl.Workbook) -> None:
    sheet = template["GPUTypes"]
    assert sheet["B2"].fill.fgColor.rgb.endswith("FFF2CC")
    assert sheet[f"B{SPARE_ROWS + 1}"].fill.fgColor.rgb.endswith("FFF2CC")


def test_blank_template_is_reported_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "blank.xlsx"
    write_template(path)
    with pytest.raises(InputError) as caught:
        load(path)
    where = {issue.where for issue in caught.value.issues}
    assert {"Settings!B2", "Settings!B3", "Workloads!A1", "Scenarios!A1", "GPUTypes!A1"} <= where


def test_template_filled_by_hand_loads(tmp_path: Path) -> None:
    """Type into the template as an analyst would: dates, whole floats, yes/no, comma lists."""
    path = tmp_path / "mine.xlsx"
    write_template(path)
    book = openpyxl.load_workbook(path)
    values = {
        "Settings": {"B2": dt.datetime(2025, 1, 1), "B3": 12.0, "B6": 0.11},
        "Workloads": {"A2": "chat", "B2": 5, "D2": 3e11, "E2": "H100", "F2": "yes", "H2": 1e12},
        "Scenarios": {"A2": "base", "B2": 1, "C2": 10},
        "GPUTypes": {"A2": "H100", "B2": 989, "C2": 80, "D2": 1.0},
        "Sites": {"A2": "dc", "B2": 50},
        "LeaseOffers": {"A2": "L1", "B2": "xAI", "C2": "dc", "D2": "H100", "E2": 1024, "F2": 2.6, "G2": 12,
                        "H2": "2025-02", "I2": dt.date(2025, 6, 1), "K2": 10.0},
    }
    for sheet, cells in values.items():
        for cell, value in cells.items():
            book[sheet][cell] = value
    book.save(path)
    problem = load(path)
    assert problem.settings.months == 12
    assert problem.lease_offers[0].latest_start_month == "2025-06"
    assert problem.lease_offers[0].min_blocks == 0  # blank cell: the default
    assert problem.workloads[0].allowed_gpu_types == ["H100"]


def test_refuses_non_xlsx_path_and_leaves_it_alone(tmp_path: Path) -> None:
    precious = tmp_path / "budget.csv"
    precious.write_text("keep me")
    with pytest.raises(InputError) as caught:
        write_template(precious)
    issue = caught.value.issues[0]
    assert issue.sheet == "file" and "ending in .xlsx" in issue.expected
    assert precious.read_text() == "keep me"


def test_missing_folder_or_file_in_the_way(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        write_template(tmp_path / "no" / "such" / "folder.xlsx")
    assert "does not exist" in caught.value.issues[0].expected
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError):
        write_template(blocker / "x.xlsx")
    (tmp_path / "dir.xlsx").mkdir()
    with pytest.raises(InputError):
        write_template(tmp_path / "dir.xlsx")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError) as caught:
            write_template(folder / "x.xlsx")
        assert "read-only" in caught.value.issues[0].expected
    finally:
        folder.chmod(0o700)


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path)
    write_template(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]
    assert path.stat().st_mode & 0o777 != 0o600  # not left private like a mkstemp file


def test_cli_template(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    result = CliRunner().invoke(app, ["template", str(path)])
    assert result.exit_code == 0, result.output
    assert path.exists()
    bad = CliRunner().invoke(app, ["template", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
