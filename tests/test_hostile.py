"""Hostile files and faults, as an adversarial user would try them: each gets a clear error (exit 2) or a
sensible success, never a traceback, a hang or a memory blow-up, and a plan found is never lost.

Cases that could hang run in a subprocess with a timeout, so that a regression fails instead of
freezing the suite; those that could blow up memory report the child's peak RSS.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from factory import lease, tiny
from openpyxl.styles import PatternFill
from openpyxl.worksheet.table import Table
from typer.testing import CliRunner
from workbook_helpers import by_cell, edit, issues, rewrite_member, sheet_member, small_problem, small_workbook

import planner.solver
from planner import xlsx_reader
from planner.cli import EXIT_BAD_INPUT, EXIT_NO_PLAN, EXIT_OK, EXIT_REPORT_NOT_WRITTEN, app
from planner.errors import InputError
from planner.template import write_template
from planner.workbook import absent_tables, load, load_details, write_problem

ROOT = Path(__file__).resolve().parent.parent
HANG_SECONDS = 10
"""The issue's bound: no case may take longer (a subprocess taking longer fails the test)."""
MEMORY_LIMIT_MB = 1024
runner = CliRunner()
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX only (symlinks to devices, FIFOs)")


def _child(code: str, timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter with this checkout importable; fail on a hang."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


def _cli(*args: str, timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess[str]:
    code = f"import sys; from planner.cli import app; sys.argv = ['planner', *{list(args)!r}]; app()"
    return _child(code, timeout)


def _load_in_child(path: Path) -> tuple[str, float]:
    """(what loading ``path`` gave: 'ok' or the error report, peak RSS in MB) in a fresh interpreter.

    The peak is the process's own high-water mark (VmHWM): ru_maxrss would include the parent's
    memory at fork on Linux.
    """
    code = (
        "import re, resource\n"
        "from pathlib import Path\n"
        "from planner.errors import InputError\n"
        "from planner.workbook import load\n"
        "try:\n"
        f"    load({str(path)!r}); outcome = 'ok'\n"
        "except InputError as error:\n"
        "    outcome = str(error)\n"
        "status = Path('/proc/self/status')\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', status.read_text()) if status.exists() else None\n"
        "print(outcome); print(hwm.group(1) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = _child(code)
    assert done.returncode == 0, done.stderr
    *lines, peak_kb = done.stdout.strip().splitlines()
    return "\n".join(lines), int(peak_kb) / 1024


def _only_file_issue(path: Path) -> str:
    found = issues(path)
    assert len(found) == 1 and found[0].sheet == "file", found
    return f"{found[0].found}; {found[0].expected}"


# ---- 1, 2: devices and FIFOs ------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_symlink_to_a_device_is_refused_without_reading(tmp_path: Path, device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    link = tmp_path / "x.xlsx"
    link.symlink_to(device)
    done = _cli("validate", str(link))  # first in a child: a regression must not eat this process's memory
    assert done.returncode == EXIT_BAD_INPUT
    assert "character device" in done.stderr and "Traceback" not in done.stderr
    assert _only_file_issue(link).startswith(f"a character device at {link}; a regular .xlsx file")


@posix_only
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_fifo_is_refused_without_waiting(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "x.xlsx"
    os.mkfifo(fifo)
    done = _cli(command, str(fifo), *(["--no-report"] if command == "solve" else []))
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert "FIFO" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc (Linux)")
def test_reads_are_capped_while_reading_not_by_the_reported_size() -> None:
    """A /proc file is a regular file that reports 0 bytes and holds more: the cap still applies."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    with pytest.raises(InputError) as caught:
        xlsx_reader.read_file(status, limit=10)
    assert caught.value.issues[0].found == "a file of more than 0 MB"


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = small_workbook(tmp_path)
    monkeypatch.setattr(xlsx_reader, "MAX_FILE_BYTES", 1000)
    assert "at most 0 MB" in _only_file_issue(path)


def test_uncompressed_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_reader, "MAX_UNCOMPRESSED_BYTES", 10_000)
    assert "refused as unsafe" in _only_file_issue(small_workbook(tmp_path))


# ---- 3: rich markup in user strings ---------------------------------------------------------------


def test_markup_in_paths_is_printed_verbatim_and_the_run_exits_0(tmp_path: Path) -> None:
    source = tmp_path / "[bold]plan.xlsx"
    write_problem(tiny([10.0] * 4, offers=[lease(term=4)]), source)
    folder = tmp_path / "a["
    folder.mkdir()
    report = tmp_path / "a[/]b.xlsx"  # the folder "a[" and the file "]b.xlsx"
    result = runner.invoke(app, ["solve", str(source), "-o", str(report)])
    assert result.exit_code == EXIT_OK, result.output
    assert (folder / "]b.xlsx").is_file()
    assert f"report: {report}" in result.stdout
    assert "sign 10 blocks of L" in result.stdout


def test_markup_in_a_file_name_and_a_cell_is_not_interpreted(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path, name="[red]in[bold].xlsx"), {"LeaseOffers!F3": "[bold]cheap"})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "1 problem in [red]in[bold].xlsx" in result.stderr
    assert "found '[bold]cheap'" in result.stderr
    template = runner.invoke(app, ["template", str(tmp_path / "[x]t.xlsx")])
    assert template.exit_code == EXIT_OK and f"Template written to {tmp_path / '[x]t.xlsx'}" in template.stdout


# ---- 4: a plan found is never lost to an output error -----------------------------------------------


@pytest.fixture
def tiny_workbook(tmp_path: Path) -> Path:
    """Ten GPUs for four months: the hand optimum leases 10 blocks of L (see test_cli)."""
    path = tmp_path / "tiny.xlsx"
    write_problem(tiny([10.0] * 4, offers=[lease(term=4)]), path)
    return path


def _remove_folder_while_solving(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    solve = planner.solver.solve

    def solve_then_remove(*args: object, **kwargs: object) -> object:
        result = solve(*args, **kwargs)
        shutil.rmtree(folder)  # the report folder goes away during a long solve
        return result

    monkeypatch.setattr(planner.solver, "solve", solve_then_remove)


def test_report_folder_gone_after_the_solve_still_emits_the_plan(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    _remove_folder_while_solving(monkeypatch, folder)
    result = runner.invoke(app, ["solve", str(tiny_workbook), "--json", "-o", str(folder / "r.xlsx")])
    assert result.exit_code == EXIT_REPORT_NOT_WRITTEN, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "optimal" and payload["report"] is None
    assert [(row["offer_id"], row["blocks"]) for row in payload["leases"]] == [("L", 10)]
    assert "in a folder that does not exist" in payload["report_error"][0]["found"]
    assert "The plan was found, but the report was not written" in result.stderr


def test_report_failure_prints_the_summary_then_says_so(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("planner.report.write_report", broken)
    result = runner.invoke(app, ["solve", str(tiny_workbook), "-o", str(tmp_path / "r.xlsx")])
    assert result.exit_code == EXIT_REPORT_NOT_WRITTEN
    assert "sign 10 blocks of L" in result.stdout
    assert "report not written" not in result.stdout and "RuntimeError: disk on fire" in result.stderr
    assert not (tmp_path / "r.xlsx").exists()


def test_no_plan_and_no_report_is_still_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "infeasible.xlsx"
    write_problem(tiny([10.0, 10.0], on_demand=(), offers=[lease(earliest=1, term=1)], unserved_allowed=False),
                  path)
    folder = tmp_path / "out"
    folder.mkdir()
    _remove_folder_while_solving(monkeypatch, folder)
    result = runner.invoke(app, ["solve", str(path), "-o", str(folder / "r.xlsx")])
    assert result.exit_code == EXIT_NO_PLAN
    assert "The solve finished, but the report was not written" in result.stderr


def test_exit_codes_are_documented_in_help_and_readme() -> None:
    help_text = " ".join(runner.invoke(app, ["solve", "--help"]).stdout.split())
    assert ("Exit 0 with a plan, 1 without one (infeasible, or time limit without a plan), 2 for bad input, "
            "3 when a plan was found but the report could not be written (the plan is still printed).") in help_text
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert ("Exit codes: 0 a plan was found, 1 no plan (infeasible, or time limit before any plan), 2 bad input, "
            "3 a plan was found but the report was not written") in readme
    assert (EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_REPORT_NOT_WRITTEN) == (0, 1, 2, 3)


# ---- 5: absurd magnitudes ---------------------------------------------------------------------------


def test_absurd_demand_and_revenue_are_refused_at_their_cells(tmp_path: Path) -> None:
    path = edit(small_workbook(tmp_path), {"Workloads!H2": 1e30, "Workloads!B3": 1e300})
    found = by_cell(issues(path))
    assert set(found) == {"Workloads!B3", "Workloads!H2"}
    assert found["Workloads!H2"].expected == "a number >= 0 and <= 1e+19"
    assert found["Workloads!B3"].expected == "a number >= 0 and <= 10000"
    result = runner.invoke(app, ["solve", str(path), "--no-report", "--json"])
    assert result.exit_code == EXIT_BAD_INPUT  # not "no plan", and no advice about settings never set
    assert {i["cell"] for i in json.loads(result.stdout)["issues"]} == {"B3", "H2"}


# ---- 6: tables renamed or taken over ----------------------------------------------------------------


def test_renamed_sheet_and_table_are_an_error_not_an_empty_table(tmp_path: Path) -> None:
    def rename(book: openpyxl.Workbook) -> None:
        sheet = book["LeaseOffers"]
        sheet.title = "Leases"
        table = sheet.tables["LeaseOffers"]
        table.name = table.displayName = "Leases"

    found = issues(edit(small_workbook(tmp_path), change=rename))
    assert [(i.where, i.found, i.expected) for i in found] == [(
        "Leases!A1", "the LeaseOffers columns on a sheet named 'Leases' and a Table named Leases",
        "the sheet or its Table named LeaseOffers: tables are found by name (rename it back)")]


def test_renamed_sheet_with_its_table_intact_is_read(tmp_path: Path) -> None:
    def rename(book: openpyxl.Workbook) -> None:
        book["LeaseOffers"].title = "Offers 2025"

    problem = load(edit(small_workbook(tmp_path), change=rename))
    assert [o.offer_id for o in problem.lease_offers] == ["L1", "L2"]


def test_a_table_named_like_an_input_elsewhere_does_not_take_over(tmp_path: Path) -> None:
    def hijack(book: openpyxl.Workbook) -> None:
        del book["Scenarios"].tables["Scenarios"]  # the real sheet keeps its data, without a Table
        readme = book["README"]
        readme["E1"], readme["F1"], readme["E2"], readme["F2"] = "name", "probability", "only", 1.0
        readme.add_table(Table(displayName="Scenarios", ref="E1:F2"))

    found = issues(edit(small_workbook(tmp_path), change=hijack))
    assert [(i.where, i.expected) for i in found] == [
        ("README!E1", "the Scenarios table only on the Scenarios sheet (rename or delete this Table)")]
    assert found[0].found == "a Table named Scenarios (E1:F2) as well as the Scenarios sheet"


def test_absent_optional_tables_are_stated(tmp_path: Path) -> None:
    def drop(book: openpyxl.Workbook) -> None:
        del book["Commitments"], book["SitePower"]

    path = edit(small_workbook(tmp_path), change=drop)
    details = load_details(path)
    assert details.absent_tables == ["SitePower", "Commitments"] == absent_tables(details.problem)
    assert absent_tables(load(small_workbook(tmp_path, name="full.xlsx"))) == []
    assert load(path) == details.problem  # absence does not change the problem's content
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_OK
    assert "Not in the workbook (optional, taken as empty): SitePower, Commitments" in result.stderr


def test_absent_tables_reach_the_json(tiny_workbook: Path, tmp_path: Path) -> None:
    def drop(book: openpyxl.Workbook) -> None:
        del book["Credits"]

    result = runner.invoke(app, ["solve", str(edit(tiny_workbook, change=drop)), "--json", "--no-report"])
    assert result.exit_code == EXIT_OK, result.output
    assert json.loads(result.stdout)["absent_tables"] == ["Credits"]


def test_absent_tables_reach_the_report(tiny_workbook: Path, tmp_path: Path) -> None:
    def drop(book: openpyxl.Workbook) -> None:
        del book["Credits"]

    report = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(edit(tiny_workbook, change=drop)), "-o", str(report)])
    assert result.exit_code == EXIT_OK, result.output
    assert "Optional tables not in the workbook (taken as empty): Credits" in result.stdout
    book = openpyxl.load_workbook(report)
    values = [str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
              for cell in row if cell is not None]
    assert "Optional tables not in the input (taken as empty): Credits." in values
    assert values[values.index("Optional tables not in the input") + 1] == "Credits"


# ---- 7: formatting far away, a million blank rows, too many values -------------------------------


def test_one_formatted_cell_at_xfd1048576_is_fine(tmp_path: Path) -> None:
    def drag_formatting(book: openpyxl.Workbook) -> None:
        book["LeaseOffers"]["XFD1048576"].fill = PatternFill("solid", fgColor="FFFF00")
        book["Sites"]["XFD1048576"] = "a stray note far away"

    path = edit(small_workbook(tmp_path), change=drag_formatting)
    assert load(path) == small_problem()


def test_a_million_blank_rows_are_skipped_quickly_and_lightly(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    blank = b"".join(b'<row r="%d" ht="15" customHeight="1"><c r="A%d" s="5" t="n" /></row>' % (i, i)
                     for i in range(100, 1_000_100))
    rewrite_member(path, sheet_member(path, "Sites"), lambda xml: xml.replace(b"</sheetData>", blank + b"</sheetData>"))
    outcome, peak_mb = _load_in_child(path)  # times out (fails) past HANG_SECONDS
    assert outcome == "ok"
    assert peak_mb < MEMORY_LIMIT_MB / 4


def test_too_many_cells_with_values_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_reader, "MAX_CELLS", 50)
    assert "more than 50 cells holding values" in _only_file_issue(small_workbook(tmp_path))


def test_a_merged_range_over_the_whole_sheet_is_named_not_expanded(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    rewrite_member(path, sheet_member(path, "Policies"), lambda xml: xml.replace(
        b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>'))
    found = by_cell(issues(path))
    assert found["Policies!A1:XFD1048576"].found == "merged cells A1:XFD1048576"


def test_cells_without_addresses_are_placed_in_order(tmp_path: Path) -> None:
    """Some non-Excel writers leave out r="A1": a blank cell still takes its place in the row."""
    path = small_workbook(tmp_path)

    def strip_cell_addresses(xml: bytes) -> bytes:
        import re

        return re.sub(rb'(<c) r="[A-Z]+\d+"', rb"\1", xml)

    rewrite_member(path, sheet_member(path, "Sites"), strip_cell_addresses)
    assert load(path) == small_problem()


def test_a_totals_row_is_not_data(tmp_path: Path) -> None:
    def add_totals(book: openpyxl.Workbook) -> None:
        sheet = book["Policies"]
        table = sheet.tables["Policies"]
        table.ref, table.totalsRowCount = "A1:C4", 1
        sheet["A4"], sheet["B4"] = "Total", 1e5

    assert [p.name for p in load(edit(small_workbook(tmp_path, spare_rows=0), change=add_totals)).policies] == [
        "open", "tight"]


# ---- 8: damaged cells and invisible characters ------------------------------------------------------


def test_nan_stored_in_a_number_cell_is_named(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    rewrite_member(path, sheet_member(path, "LeaseOffers"),
                   lambda xml: xml.replace(b'<c r="F2" s="5" t="n"><v>2.6</v>', b'<c r="F2" s="5" t="n"><v>NaN</v>'))
    found = issues(path)
    assert [(i.where, i.column, i.found) for i in found] == [("LeaseOffers!F2", "price_usd_per_gpu_hour", "nan")]
    assert found[0].expected.startswith("a finite number")


def test_a_shared_string_out_of_range_is_a_damaged_cell(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    rewrite_member(path, sheet_member(path, "LeaseOffers"), lambda xml: xml.replace(
        b'<c r="B2" s="5" t="inlineStr"><is><t>lessor</t></is></c>', b'<c r="B2" s="5" t="s"><v>99</v></c>'))
    found = issues(path)
    assert [(i.where, i.column) for i in found] == [("LeaseOffers!B2", "provider")]
    assert found[0].found == "a damaged cell ('s' value '99': IndexError: shared string 99 of 0)"


def test_damage_without_a_cell_says_damaged_file(tmp_path: Path) -> None:
    path = small_workbook(tmp_path)
    rewrite_member(path, "xl/styles.xml", lambda xml: xml[: len(xml) // 2])
    assert _only_file_issue(path).startswith("a damaged file (part xl/styles.xml: ParseError")
    unbalanced = small_workbook(tmp_path, name="cut.xlsx")
    rewrite_member(unbalanced, sheet_member(unbalanced, "Sites"), lambda xml: xml.replace(b"</c>", b"", 1))
    assert _only_file_issue(unbalanced).startswith("a damaged file (sheet 'Sites': ParseError")


def test_invisible_characters_are_shown_escaped(tmp_path: Path) -> None:
    found = issues(edit(small_workbook(tmp_path), {"GPUTypes!A3": "H200\u200b"}))
    assert {i.expected for i in found} == {"one of the GPUTypes names (H100, H200\\u200b)"}
    assert {i.found for i in found} == {"'H200'"}


def test_input_that_cannot_be_read_never_gives_a_traceback(tmp_path: Path) -> None:
    """A grab bag of broken archives: each a file-level error with exit 2."""
    good = small_workbook(tmp_path).read_bytes()
    cases = {
        "empty.xlsx": b"",
        "text.xlsx": b"name,probability\nbase,1\n",
        "half.xlsx": good[: len(good) // 2],
        "ole.xlsx": bytes.fromhex("d0cf11e0a1b11ae1") + bytes(512),  # an encrypted or old .xls
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = runner.invoke(app, ["validate", str(tmp_path / name)])
        assert result.exit_code == EXIT_BAD_INPUT, (name, result.output)
        assert "Traceback" not in result.output and "file (path)" in result.stderr
    no_workbook = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(no_workbook, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    assert "no workbook part" in _only_file_issue(no_workbook)
    strict = small_workbook(tmp_path, name="strict.xlsx")
    rewrite_member(strict, "xl/workbook.xml", lambda xml: xml.replace(
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main"))
    assert _only_file_issue(strict).startswith("a workbook saved as Strict Open XML")


# ---- 10: the template never overwrites silently ----------------------------------------------------


def test_template_refuses_an_existing_file_unless_forced(tmp_path: Path) -> None:
    filled = small_workbook(tmp_path, name="mine.xlsx")
    before = filled.read_bytes()
    with pytest.raises(InputError) as caught:
        write_template(filled)
    assert caught.value.issues[0].expected == "a new file name (or --force to replace the file)"
    result = runner.invoke(app, ["template", str(filled)])
    assert result.exit_code == EXIT_BAD_INPUT and "already exists" in result.stderr
    assert filled.read_bytes() == before
    forced = runner.invoke(app, ["template", str(filled), "--force"])
    assert forced.exit_code == EXIT_OK
    assert openpyxl.load_workbook(filled, read_only=True)["Workloads"]["A2"].value is None
    assert stat.S_ISREG(filled.stat().st_mode)
