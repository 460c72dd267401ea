"""Command line: ``planner template | validate | solve | sweep``.

Exit codes: 0 a plan was found, 1 no plan, 2 bad input, 3 a plan was found but the report was not
written. Every string that comes from the user (paths, sheet and scenario names, cell values) is
printed as plain text, never as rich markup.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from planner import __version__
from planner.errors import InputError, InputIssue, describe
from planner.schema import Settings

if TYPE_CHECKING:
    from planner.workbook import LoadDetails


class _PlainHelp:
    """Help without type noise: no ``<bool>`` beside flags, ``WORKBOOK`` rather than ``{path}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:  # type: ignore[attr-defined]
            _quiet_flag(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _quiet_flag(option)
        return option

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]  # type: ignore[misc]


def _quiet_flag(param: Any) -> None:
    """An on/off flag shows no value type in the help (typer would print ``<bool>``)."""
    if getattr(param, "param_type_name", "") == "option" and getattr(param, "is_flag", False) \
            and param.metavar is None:
        param.metavar = ""


class _Command(_PlainHelp, TyperCommand):
    pass


class _Group(_PlainHelp, TyperGroup):
    pass


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Procurement planner for AI compute.",
                  cls=_Group)
console = Console()
err_console = Console(stderr=True)

EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_REPORT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_CODES_HELP = (
    "Exit 0 with a plan, 1 without one (infeasible, or time limit without a plan), 2 for bad input, "
    "3 when a plan was found but the report could not be written (the plan is still printed)."
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"planner {__version__}")
        raise typer.Exit()


def _plain(text: str, **style: Any) -> None:
    """Print user-supplied text on stdout exactly as it is (no markup, no highlighting)."""
    console.print(Text(text, **style), soft_wrap=True, highlight=False)


def _print_issues(issues: list[InputIssue], style: str = "") -> None:
    by_sheet: dict[str, list[InputIssue]] = {}
    for issue in issues:
        by_sheet.setdefault(issue.sheet, []).append(issue)
    for sheet, found in by_sheet.items():
        err_console.print(Text(sheet, style=f"bold {style}".strip()), Text(f"({len(found)})"), highlight=False)
        for issue in found:
            err_console.print(Text(f"  {issue}", style=style), highlight=False, soft_wrap=True)


def _print_input_error(error: InputError) -> None:
    err_console.print(Text(error.report().splitlines()[0], style="bold red"), soft_wrap=True, highlight=False)
    _print_issues(error.issues)


def _print_notes(details: LoadDetails, *, absent: bool = True) -> None:
    """What the input leaves out and what may spoil the solve, on stderr (stdout may be JSON)."""
    if absent and details.absent_tables:
        err_console.print(Text("Not in the workbook (optional, taken as empty): " + ", ".join(details.absent_tables),
                               style="yellow"), soft_wrap=True, highlight=False)
    for found, noun, what in ((details.suspicious_values, "suspicious value", " (valid, and used as typed)"),
                              (details.scaling_warnings, "warning",
                               ": the input's numbers may make the solve inaccurate or slow")):
        if found:
            plural = "s" if len(found) != 1 else ""
            err_console.print(Text(f"{len(found)} {noun}{plural}{what}", style="bold yellow"), soft_wrap=True,
                              highlight=False)
            _print_issues(list(found), style="yellow")


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                         help="Show the version and exit.")] = False,
) -> None:
    """Procurement planner for AI compute."""


@app.command(cls=_Command, help="Write a blank input workbook with instructions, tables and dropdowns "
                                 "(never over an existing file unless --force).")
def template(
    path: Annotated[Path, typer.Argument(metavar="WORKBOOK", help="Where to write the blank input workbook.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Write a blank input workbook (see the command's help)."""
    from planner.template import write_template

    try:
        write_template(path, overwrite=force)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _plain(f"Template written to {path}")


@app.command(cls=_Command)
def validate(path: Annotated[Path, typer.Argument(metavar="WORKBOOK", help="Input workbook (.xlsx).")]) -> None:
    """Check a workbook; list every problem as Sheet!Cell (column): found X; expected Y.

    Exit 0 if valid (warnings about suspicious values or the input's scaling do not fail it), 2 if not
    (also for a planner report given instead of an input workbook).
    """
    from planner.workbook import load_details

    try:
        details = load_details(path)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    problem = details.problem
    console.print(
        Text("valid", style="green"),
        Text(f": {len(problem.workloads)} workloads, {len(problem.scenarios)} scenarios, "
             f"{len(problem.lease_offers)} lease offers, {problem.settings.months} months from "
             f"{problem.settings.first_month}"),
        sep="", soft_wrap=True, highlight=False,
    )
    _print_notes(details)
    _validate_sweeps(path, problem)


def _validate_sweeps(path: Path, problem: Any) -> None:
    """The Sweeps sheet, checked cell by cell and against the input; exit 2 when it is bad (the input
    itself is valid, and solve does not read the sheet)."""
    from planner.sweeps.apply import check_sweeps
    from planner.workbook import load_sweeps

    try:
        sweeps = load_sweeps(path)
        issues = check_sweeps(problem, sweeps)
        if issues:
            raise InputError(issues, source=f"the Sweeps sheet of {path.name}")
    except InputError as error:
        err_console.print(Text(error.report().splitlines()[0] + " (planner solve does not read it; planner sweep "
                               "stops on it)", style="bold red"), soft_wrap=True, highlight=False)
        _print_issues(error.issues)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if sweeps:
        runs = sum(sweep.size for sweep in sweeps)
        _plain(f"{len(sweeps)} sweep{'s' if len(sweeps) != 1 else ''} ({', '.join(s.name for s in sweeps)}): "
               f"{runs} run{'s' if runs != 1 else ''} and the base run")


def _clean(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) with null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(_clean(payload), default=str, indent=2))


def _report_failure(error: Exception, report_path: Path) -> InputError:
    """Any failure to write the report, as an input-style error naming the path."""
    if isinstance(error, InputError):
        return error
    reason = getattr(error, "strerror", None) or f"{type(error).__name__}: {error}"
    return InputError([InputIssue("file", "path", f"{describe(str(report_path))} ({reason})",
                                  "a report path that can be written")], source=str(report_path))


_SETTINGS_TIME_LIMIT = Settings.model_fields["time_limit_seconds"].default
_SETTINGS_GAP = Settings.model_fields["mip_gap"].default


@app.command(cls=_Command, help="Solve the plan; print a summary and write an Excel report under reports/.\n\n"
             f"{EXIT_CODES_HELP}")
def solve(
    path: Annotated[Path, typer.Argument(metavar="WORKBOOK", help="Input workbook (.xlsx).")],
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", metavar="SECONDS", show_default=False,
        help="Stop after this many seconds and keep the best plan found. "
             f"(default: the workbook's time_limit_seconds, else {_SETTINGS_TIME_LIMIT:g})")] = None,
    mip_gap: Annotated[float | None, typer.Option(
        "--mip-gap", metavar="FRACTION",
        show_default=False,
        help="Stop once the plan is proven within this fraction of the lowest possible cost (0.01 = 1%). "
             f"(default: the workbook's mip_gap, else {_SETTINGS_GAP:g})")] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", metavar="N", help="Solver threads. (default: as many as the solver chooses)")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="REPORT",
        help="Report path (.xlsx). (default: reports/<workbook name>-plan.xlsx)")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write the Excel report.")] = False,
    uncertainty: Annotated[bool, typer.Option(
        "--uncertainty", help="Also weigh the plan against planning for one scenario or knowing the future: "
                              "VSS, EVPI, regret.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    objective: Annotated[str | None, typer.Option(
        "--objective", help="min_cost or max_value_within_budget (overrides Settings objective).")] = None,
    max_cash_spend: Annotated[float | None, typer.Option(
        "--max-cash-spend", help="Cash budget per scenario, USD in the horizon (overrides Settings "
        "max_cash_spend_usd).")] = None,
    program_savings: Annotated[bool, typer.Option(
        "--program-savings/--no-program-savings",
        help="With efficiency programs, also solve without them to state what they save.")] = True,
) -> None:
    from planner.solver import solve as solve_problem
    from planner.terminal import SolveProgress, print_summary
    from planner.workbook import load_details

    def fail_input(error: InputError) -> None:
        if as_json:
            _print_json({"status": "invalid_input", "issues": [i.as_dict() for i in error.issues]})
        else:
            _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT)

    try:
        details = load_details(path)
    except InputError as error:
        fail_input(error)
    problem = details.problem
    if objective is not None or max_cash_spend is not None:
        from planner.budget import with_budget

        try:
            problem = with_budget(problem, objective=objective, max_cash_spend_usd=max_cash_spend)
        except InputError as error:
            fail_input(error)
    _print_notes(details, absent=False)  # the summary and the JSON list the absent tables
    report_path = None if no_report else (output or Path("reports") / f"{path.stem}-plan.xlsx")
    if report_path is not None:
        from planner.report import check_report_path

        if output is None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
        try:  # before solving: a bad report path must not cost a long solve
            check_report_path(report_path, path)
        except InputError as error:
            fail_input(error)
    analysis = None
    report_error: InputError | None = None
    settings = problem.settings
    display = SolveProgress(err_console, time_limit_seconds=time_limit or settings.time_limit_seconds,
                            mip_gap=settings.mip_gap if mip_gap is None else mip_gap)
    with display:
        result = solve_problem(problem, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                               progress=display.stage, mip_progress=display.mip)
        if program_savings and result.has_plan and problem.efficiency_programs:
            from planner.efficiency import compare_without_programs

            compare_without_programs(result, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                                     progress=display.stage)
        if uncertainty and result.has_plan and len(problem.scenarios) > 1:
            from planner.uncertainty import analyse

            analysis = analyse(problem, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                               progress=display.stage, stochastic=result)
        if report_path is not None:
            from planner.report import write_report

            display.stage("writing report")
            try:
                write_report(result, report_path, input_path=path, uncertainty=analysis)
            except Exception as error:  # a plan found is never lost to an output error
                report_error = _report_failure(error, report_path)
    if as_json:
        payload = result.summary()
        payload["report"] = None if report_path is None or report_error else str(report_path)
        payload["input"] = str(path)
        payload["absent_tables"] = details.absent_tables
        payload["input_warnings"] = [issue.as_dict() for issue in details.warnings]
        if report_error is not None:
            payload["report_error"] = [issue.as_dict() for issue in report_error.issues]
        if analysis is not None:
            payload["uncertainty"] = analysis.summary()
        _print_json(payload)
    else:
        print_summary(console, result, analysis)
        if details.absent_tables:
            _plain("Optional tables not in the workbook (taken as empty): " + ", ".join(details.absent_tables))
        if report_path is not None and report_error is None:
            _plain(f"report: {report_path}")  # on its own line: a path is copied whole, never wrapped
    if report_error is not None:
        found = "The plan was found" if result.has_plan else "The solve finished"
        err_console.print(Text(f"{found}, but the report was not written:", style="bold red"), highlight=False)
        _print_issues(report_error.issues, style="red")
    if not result.has_plan:
        raise typer.Exit(EXIT_NO_PLAN)
    raise typer.Exit(EXIT_REPORT_NOT_WRITTEN if report_error is not None else EXIT_OK)


# ---- planner sweep --------------------------------------------------------------------------------

SWEEP_HELP = (
    "Solve the plan at every point of sensitivity sweeps; print what changes and write an Excel sweep report "
    "under reports/.\n\n"
    "Without --sweep or --vary, runs every sweep on the workbook's Sweeps sheet. A --vary target is "
    "Table\\[rows].column=values, rows an id, ids separated by commas, * or a filter such as gpu_type=GB200; "
    "Settings.parameter=values for a setting; *= scales and += adds instead of setting; values a list "
    "(2.0,2.6,3.2) or start:stop:count (2.0:3.2:7). For example:\n\n"
    "planner sweep inputs/colossus-2025.xlsx --sweep inference-mfu\n\n"
    "planner sweep inputs/colossus-2025.xlsx --vary 'LeaseOffers\\[COL-H100-12].price_usd_per_gpu_hour=2.0:3.2:7' "
    "--vary 'Scenarios\\[80x].probability=0.1,0.3,0.5'\n\n"
    "Exit 0 when every run has a plan, 1 when some have none (the others are still reported), 2 for bad input or "
    "a bad sweep (a Sweeps cell or --vary text, named in the message), 3 when the runs finished but the report "
    "could not be written."
)


def _exit_bad_input(error: InputError, as_json: bool) -> typer.Exit:
    """Report bad input (as JSON with --json) and return the exit to raise."""
    if as_json:
        _print_json({"status": "invalid_input", "issues": [i.as_dict() for i in error.issues]})
    else:
        _print_input_error(error)
    return typer.Exit(EXIT_BAD_INPUT)


def _check_limits(time_limit: float | None, mip_gap: float | None) -> None:
    """The per-run limits, checked as the Settings they stand in for are."""
    issues = []
    if time_limit is not None and not 0 < time_limit < math.inf:
        issues.append(InputIssue("--time-limit", "time_limit_seconds", describe(time_limit),
                                 "a number of seconds above 0"))
    if mip_gap is not None and not 0 <= mip_gap < 1:
        issues.append(InputIssue("--mip-gap", "mip_gap", describe(mip_gap), "a fraction >= 0 and below 1"))
    if issues:
        raise InputError(issues, source="the options")


@app.command(cls=_Command, help=SWEEP_HELP)
def sweep(
    path: Annotated[Path, typer.Argument(metavar="WORKBOOK", help="Input workbook (.xlsx).")],
    names: Annotated[list[str] | None, typer.Option(
        "--sweep", metavar="NAME", show_default=False,
        help="Run this sweep of the Sweeps sheet (repeat for several). (default: every sweep on the sheet)")] = None,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", metavar="TARGET=VALUES", show_default=False,
        help="Vary one input, one run per value; repeat for several targets, varied one at a time with the "
             "others at base (the Sweeps sheet is then not read unless --sweep is given too).")] = None,
    grid: Annotated[bool, typer.Option("--grid", help="Vary the --vary targets over every combination of their "
                                                      "values instead of one at a time.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", metavar="N", min=0, show_default=False,
        help="Local worker processes; 0 runs every point in this process. (default: one per CPU core)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="ADDRESS", show_default=False,
        help="Run on an existing Dask cluster, e.g. tcp://host:8786, instead of local workers.")] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", metavar="SECONDS", show_default=False,
        help="Time limit of each run; a run stopped by it keeps its best plan. "
             f"(default: the workbook's time_limit_seconds, else {_SETTINGS_TIME_LIMIT:g})")] = None,
    mip_gap: Annotated[float | None, typer.Option(
        "--mip-gap", metavar="FRACTION", show_default=False,
        help=f"Gap at which each run stops (0.01 = 1%). (default: the workbook's mip_gap, else {_SETTINGS_GAP:g})")
    ] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", metavar="N", min=1, show_default=False,
        help="Solver threads per run. (default: 1 on workers, as many as the solver chooses with --workers 0)")
    ] = None,
    refine: Annotated[int, typer.Option(
        "--refine", metavar="ROUNDS", min=0,
        help="Rounds of extra runs halfway between neighbouring values where the lease plan switches, to pin "
             "the break-even value.")] = 0,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="REPORT",
        help="Report path (.xlsx). (default: reports/<workbook name>-sweep.xlsx)")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write the Excel report.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout: every run, the tornado, the lease decisions that "
                       "change, the grids.")] = False,
) -> None:
    import planner.sweeps
    from planner.sweeps.apply import check_sweeps
    from planner.sweeps.command import select_sweeps, sweep_document
    from planner.sweeps.console import SweepProgressBar, print_sweep_summary
    from planner.workbook import load_details

    try:
        _check_limits(time_limit, mip_gap)
        details = load_details(path)
        problem = details.problem
        sweeps = select_sweeps(path, names or [], vary or [], grid)
        issues = check_sweeps(problem, sweeps)
        if issues:
            raise InputError(issues, source="the sweeps")
    except InputError as error:
        raise _exit_bad_input(error, as_json) from None
    _print_notes(details, absent=False)
    report_path = None
    if not no_report:
        from planner.report import check_report_path
        from planner.report.sweep import default_sweep_report_path

        report_path = output or default_sweep_report_path(path)
        if output is None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
        try:  # before the runs: a bad report path must not cost a long sweep
            check_report_path(report_path, path)
        except InputError as error:
            raise _exit_bad_input(error, as_json) from None
    total = 1 + sum(s.size for s in sweeps)
    try:
        with SweepProgressBar(err_console, total) as bar:
            result = planner.sweeps.sweep(problem, sweeps, workers=workers, scheduler=scheduler,
                                          time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                                          refine=refine, progress=bar.update)
    except (OSError, TimeoutError, RuntimeError) as error:
        if scheduler is None:
            raise
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _exit_bad_input(InputError([InputIssue(
            "--scheduler", "scheduler", f"{describe(scheduler)} ({reason})",
            "the address of a running Dask scheduler with workers, e.g. tcp://host:8786")]), as_json) from None
    report_error: InputError | None = None
    if report_path is not None:
        from planner.report.sweep import write_sweep_report

        try:
            write_sweep_report(result, report_path, source=path)
        except Exception as error:  # the runs are never lost to an output error
            report_error = _report_failure(error, report_path)
    if as_json:
        _print_json(sweep_document(result, input_path=path, report=report_path,
                                   report_issues=report_error.issues if report_error else ()))
    else:
        print_sweep_summary(console, result)
        if report_path is not None and report_error is None:
            _plain(f"report: {report_path}")
    if report_error is not None:
        err_console.print(Text("The runs finished, but the report was not written:", style="bold red"),
                          highlight=False)
        _print_issues(report_error.issues, style="red")
    if not result.all_planned:
        raise typer.Exit(EXIT_NO_PLAN)
    raise typer.Exit(EXIT_REPORT_NOT_WRITTEN if report_error is not None else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="planner")
