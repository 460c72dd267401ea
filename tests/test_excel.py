"""planner.excel: cell safety, the writable-path check, atomic saves and crash leftovers, print setup."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import planner.excel.files as files
from planner.errors import InputError
from planner.excel.cells import MAX_CELL_TEXT, write_cell
from planner.excel.layout import Sheet, Table
from planner.excel.printing import PrintLayout
from planner.excel.writer import write_workbook

ROOT = Path(__file__).resolve().parent.parent
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and file ownership")


def small_workbook() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "new report"
    return wb


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- cells ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", '=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-1", "#N/A", "#DIV/0!"])
def test_risky_text_stays_text_in_a_saved_workbook(tmp_path: Path, text: str) -> None:
    wb = openpyxl.Workbook()
    write_cell(wb.active["A1"], text)
    write_cell(wb.active["A2"], "plain words")
    write_cell(wb.active["A3"], 42.5)
    wb.save(tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert ws["A1"].value == text and ws["A1"].data_type == "s" and ws["A1"].quotePrefix
    assert ws["A2"].value == "plain words" and not ws["A2"].quotePrefix
    assert ws["A3"].value == 42.5


def test_text_is_cleaned_and_cut_to_one_cell() -> None:
    wb = openpyxl.Workbook()
    write_cell(wb.active["A1"], "bell\x07 and nul\x00 gone")
    write_cell(wb.active["A2"], "x" * (MAX_CELL_TEXT + 10))
    assert wb.active["A1"].value == "bell and nul gone"
    assert len(wb.active["A2"].value) == MAX_CELL_TEXT and wb.active["A2"].value.endswith("…")


# ---- layout and print setup ---------------------------------------------------------------------

def test_print_setup_hook_reaches_the_sheet(tmp_path: Path) -> None:
    seen: list[PrintLayout] = []

    def portrait(ws: object, layout: PrintLayout) -> None:
        seen.append(layout)
        ws.page_setup.orientation = "portrait"
        ws.print_title_rows = "1:1"

    frame = pd.DataFrame({"name": ["a", "b"], "amount": [1.5, 2.0]})
    sheets = [Sheet("Printed", "Heading", blocks=[Table("T", "A table", frame, formats={"amount": "0.00"})],
                    print_setup=portrait),
              Sheet("Default", "Heading")]
    path = tmp_path / "p.xlsx"
    files.save_atomically(write_workbook(sheets, title="t"), path)
    wb = openpyxl.load_workbook(path)
    printed, default = wb["Printed"], wb["Default"]
    assert seen == [PrintLayout(("A1:B6",), "3:4")]  # heading, blank, table title, header, 2 rows
    assert printed.page_setup.orientation == "portrait" and printed.print_title_rows == "$1:$1"
    assert default.page_setup.orientation == "landscape" and default.sheet_properties.pageSetUpPr.fitToPage
    assert printed.tables["T"].ref == "A4:B6" and printed["B5"].number_format == "0.00"


# ---- the writable-path check --------------------------------------------------------------------

def test_check_refuses_what_must_not_be_written(tmp_path: Path) -> None:
    source = tmp_path / "input.xlsx"
    source.write_bytes(b"the analyst's workbook")
    (tmp_path / "folder.xlsx").mkdir()
    (tmp_path / "a file").write_text("")
    cases = {
        source: "different from the input workbook",
        tmp_path / "folder.xlsx": "not a folder",
        tmp_path / "notes.csv": "ending in .xlsx",
        tmp_path / "missing" / "r.xlsx": "does not exist",
        tmp_path / "a file" / "r.xlsx": "is a file",
    }
    for path, expected in cases.items():
        with pytest.raises(InputError) as caught:
            files.check_writable(path, column="report path", keep=source)
        issue = caught.value.issues[0]
        assert (issue.sheet, issue.column) == ("file", "report path") and expected in issue.expected, path
    assert names(tmp_path) == ["a file", "folder.xlsx", "input.xlsx"]  # the probe left nothing


def test_probe_catches_what_permission_bits_do_not_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A root-squashed network folder: access() says writable, creating a file fails."""
    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    assert os.access(tmp_path, os.W_OK)
    monkeypatch.setattr(files, "open", refused, raising=False)
    with pytest.raises(InputError) as caught:
        files.check_writable(tmp_path / "r.xlsx")
    issue = caught.value.issues[0]
    assert "Permission denied" in issue.found and "read-only" in issue.expected


@contextlib.contextmanager
def read_only_mount(folder: Path):
    """A read-only tmpfs at ``folder`` (needs root with mount rights), unmounted afterwards."""
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only filesystem here (needs root with mount rights)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mounting needs root")
def test_read_only_mount_is_refused_even_for_root(tmp_path: Path) -> None:
    from planner.report import check_report_path

    with read_only_mount(tmp_path / "ro") as folder:
        with pytest.raises(InputError) as caught:
            check_report_path(folder / "plan.xlsx", None)
        assert "Read-only file system" in caught.value.issues[0].found
        assert "read-only" in caught.value.issues[0].expected


# ---- atomic saves and what a crash leaves -------------------------------------------------------

def test_save_replaces_whole_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")
    assert files.save_atomically(small_workbook(), target) == target
    assert openpyxl.load_workbook(target).active["A1"].value == "new report"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert names(tmp_path) == ["r.xlsx"]


@pytest.mark.skipif(files._unnamed_file(Path(__file__).parent) is None, reason="no O_TMPFILE on this system")
def test_no_temporary_name_exists_while_the_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real_save = openpyxl.Workbook.save

    def save(self: openpyxl.Workbook, target: str) -> None:
        real_save(self, target)
        seen.append(names(tmp_path))

    monkeypatch.setattr(openpyxl.Workbook, "save", save)
    files.save_atomically(small_workbook(), tmp_path / "r.xlsx")
    assert seen == [[]]  # written in full while the folder showed nothing
    assert names(tmp_path) == ["r.xlsx"]


def test_named_temporary_file_when_unnamed_ones_are_not_available(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real_save = openpyxl.Workbook.save

    def save(self: openpyxl.Workbook, target: str) -> None:
        real_save(self, target)
        seen.append(names(tmp_path))

    monkeypatch.setattr(files, "_unnamed_file", lambda folder: None)
    monkeypatch.setattr(openpyxl.Workbook, "save", save)
    files.save_atomically(small_workbook(), tmp_path / "r.xlsx")
    (during,) = seen
    assert len(during) == 1 and files.TEMP_NAME.match(during[0]) and during[0].startswith(".r.xlsx.")
    assert names(tmp_path) == ["r.xlsx"]


CRASHING_WRITER = """
import sys, time
from pathlib import Path
import openpyxl
import planner.excel.files as files

if sys.argv[2] == "named":
    files._unnamed_file = lambda folder: None

def slow_save(self, target):
    with open(target, "wb") as stream:
        stream.write(b"PK half a zip")
    print("writing", flush=True)
    time.sleep(60)

openpyxl.Workbook.save = slow_save
wb = openpyxl.Workbook()
files.save_atomically(wb, Path(sys.argv[1]))
"""


def killed_during_the_write(target: Path, mode: str) -> None:
    """Run a save in a child process and kill -9 it while the file is being written."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(target), mode], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


@POSIX_ONLY
@pytest.mark.skipif(files._unnamed_file(Path(__file__).parent) is None, reason="no O_TMPFILE on this system")
def test_kill_during_the_write_leaves_nothing_beside_the_report(tmp_path: Path) -> None:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"previous report")
    killed_during_the_write(target, "unnamed")
    assert names(tmp_path) == ["plan.xlsx"] and target.read_bytes() == b"previous report"


@POSIX_ONLY
def test_temporary_file_left_by_a_kill_is_cleaned_by_the_next_run(tmp_path: Path) -> None:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"previous report")
    killed_during_the_write(target, "named")
    (left,) = [p for p in tmp_path.iterdir() if p.name != "plan.xlsx"]
    assert files.TEMP_NAME.match(left.name) and target.read_bytes() == b"previous report"

    files.check_writable(target)  # a run right after: the file may belong to a write still going on
    assert left.exists()
    old = time.time() - files.STALE_AFTER_SECONDS - 60
    os.utime(left, (old, old))
    files.check_writable(target)  # the next run once it is stale
    assert names(tmp_path) == ["plan.xlsx"]


@POSIX_ONLY
def test_cleanup_removes_only_our_stale_temporary_files(tmp_path: Path) -> None:
    old = time.time() - files.STALE_AFTER_SECONDS - 60
    ours = [".plan.xlsx.0123456789abcdef.planner-tmp", ".q3 plan.xlsx.fedcba9876543210.planner-tmp",
            ".plan.1a2b3c4d.tmp.xlsx"]  # the last: the name earlier versions used
    kept = ["plan.xlsx", ".plan.xlsx.0123456789ABCDEF.planner-tmp", ".plan.xlsx.0123.planner-tmp",
            "plan.xlsx.0123456789abcdef.planner-tmp", ".plan.xlsx.0123456789abcdef.planner-tmp.bak",
            "budget.tmp", ".~lock.plan.xlsx#"]
    for name in ours + kept:
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (old, old))
    young = tmp_path / ".other.xlsx.00000000000000aa.planner-tmp"
    young.write_bytes(b"a write going on")
    folder = tmp_path / ".dir.xlsx.00000000000000bb.planner-tmp"
    folder.mkdir()
    link = tmp_path / ".link.xlsx.00000000000000cc.planner-tmp"
    link.symlink_to(tmp_path / "plan.xlsx")
    os.utime(link, (old, old), follow_symlinks=False)
    removed = files.remove_stale_temporary_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted(ours)
    assert names(tmp_path) == sorted([*kept, young.name, folder.name, link.name])


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="chown needs root")
def test_cleanup_leaves_other_users_files_alone(tmp_path: Path) -> None:
    theirs = tmp_path / ".plan.xlsx.0123456789abcdef.planner-tmp"
    theirs.write_bytes(b"another user's write")
    os.chown(theirs, 65534, 65534)
    old = time.time() - files.STALE_AFTER_SECONDS - 60
    os.utime(theirs, (old, old))
    assert files.remove_stale_temporary_files(tmp_path) == []
    assert theirs.exists()


def test_solve_refuses_an_unwritable_report_folder_before_solving(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe runs before the solve: a folder where no file can be created costs no solve."""
    from factory import tiny
    from typer.testing import CliRunner

    import planner.solver
    from planner.cli import app
    from planner.workbook import write_problem

    source = tmp_path / "in.xlsx"
    write_problem(tiny([1.0]), source)
    (tmp_path / "out").mkdir()

    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    solves: list[object] = []
    monkeypatch.setattr(planner.solver, "solve", lambda problem, **_: solves.append(problem))
    monkeypatch.setattr(files, "open", refused, raising=False)
    run = CliRunner().invoke(app, ["solve", str(source), "-o", str(tmp_path / "out" / "plan.xlsx")])
    assert run.exit_code == 2, run.output
    assert "Permission denied" in run.output and solves == []
    assert names(tmp_path / "out") == []
