"""Command line: ``planner template | validate | solve``.

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
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from planner.errors import InputError, InputIssue, describe
from planner.terminal_decisions import print_efficiency_and_budget

if TYPE_CHECKING:
    from planner.workbook import LoadDetails

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Procurement planner for AI compute.")
console = Console()
err_console = Console(stderr=True)

EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_REPORT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_CODES_HELP = (
    "Exit 0 with a plan, 1 without one (infeasible, or time limit without a plan), 2 for bad input, "
    "3 when a plan was found but the report could not be written (the plan is still printed)."
)


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
    if details.warnings:
        err_console.print(Text(f"{len(details.warnings)} warning{'s' if len(details.warnings) != 1 else ''}: "
                               "the input's numbers may make the solve inaccurate or slow", style="bold yellow"),
                          soft_wrap=True, highlight=False)
        _print_issues(list(details.warnings), style="yellow")


@app.command()
def template(
    path: Annotated[Path, typer.Argument(help="Where to write the blank input workbook.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Write a blank input workbook with instructions, tables and dropdowns (never over an existing
    file unless --force)."""
    from planner.template import write_template

    try:
        write_template(path, overwrite=force)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _plain(f"Template written to {path}")


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="Input workbook (.xlsx).")]) -> None:
    """Check a workbook; list every problem as Sheet!Cell (column): found X; expected Y.

    Exit 0 if valid (warnings about the input's scaling do not fail it), 2 if not.
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


def _money(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"${value:,.0f}"


def _print_summary(result: Any, report_path: Path | None, analysis: Any, details: LoadDetails) -> None:
    table = Table(title="Plan", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")

    def row(item: str, value: str) -> None:
        table.add_row(Text(item), Text(value))  # Text: scenario names and paths are never markup

    gap = result.mip_gap
    row("status", result.status + (f" ({result.message})" if result.status != "optimal" else ""))
    row("objective (NPV)", _money(result.objective_usd))
    row("MIP gap", "-" if gap is None or math.isnan(gap) else f"{gap:.4%}")
    row("solve time", f"{result.timings.get('solve_seconds', 0.0):.1f} s")
    if result.has_plan:
        for cost in result.scenario_costs().itertuples():
            row(f"cost in {cost.scenario} (p={cost.probability:.2f})", _money(cost.npv_usd))
    if analysis is not None:
        for key, label in (("vss_usd", "VSS (value of hedging)"), ("evpi_usd", "EVPI (value of foresight)")):
            row(label, _money(analysis.figures.get(key)))
        if analysis.multi_stage is not None:
            row("value of learning", _money(analysis.figures.get("value_of_learning_usd")))
    if details.absent_tables:
        row("optional tables absent", ", ".join(details.absent_tables))
    console.print(table)
    if report_path is not None:
        _plain(f"report: {report_path}")  # on its own line: a path is copied whole, never wrapped
    if result.has_plan:
        _print_signings(result)
    print_efficiency_and_budget(console, result)
    for line in result.diagnosis:
        _plain(f"  - {line}", style="red")


def _report_failure(error: Exception, report_path: Path) -> InputError:
    """Any failure to write the report, as an input-style error naming the path."""
    if isinstance(error, InputError):
        return error
    reason = getattr(error, "strerror", None) or f"{type(error).__name__}: {error}"
    return InputError([InputIssue("file", "path", f"{describe(str(report_path))} ({reason})",
                                  "a report path that can be written")], source=str(report_path))


def _print_signings(result: Any) -> None:
    """"Sign now" (the decisions common to every scenario), then, for a plan that learns, what each
    world signs once it is known (totals; every signing is in --json and the report)."""
    decisions = result.headline_decisions(later=False)
    heading = "Sign now (in every scenario)" if result.is_multi_stage else "Leases to sign"
    console.print(f"[bold]{heading}[/]" if decisions else
                  "No new leases to sign now." if result.is_multi_stage else "No new leases to sign.")
    for line in decisions:
        _plain(f"  - {line}")
    if not result.is_multi_stage:
        return
    from planner.model.tree import ALL_SCENARIOS

    later = result.signing_summary()
    later = later[later["scenario"] != ALL_SCENARIOS]
    worlds = result.leases_by_scenario()
    signing = set(worlds.loc[worlds["decided"] == "later", "scenario"])
    idle = [s for s in result.data.scenarios if s not in signing]
    if later.empty:
        console.print("Later: no scenario signs more once it is known.")
        return
    table = Table(title="Later, once the scenario is known", title_justify="left")
    for column in ("scenario", "known from", "signings", "GPUs", "commitment", "signing months"):
        table.add_column(column, justify="right" if column in ("signings", "GPUs", "commitment") else "left")
    for row in later.itertuples():
        table.add_row(Text(row.scenario), row.known_from_month, str(row.signings), f"{row.gpus:,}",
                      _money(row.total_commitment_usd), f"{row.first_signing_month}..{row.last_signing_month}")
    console.print(table)
    if idle:
        _plain("No more signings in: " + ", ".join(idle))


@app.command(help=f"Solve the plan; print a summary and write an Excel report under reports/.\n\n{EXIT_CODES_HELP}")
def solve(
    path: Annotated[Path, typer.Argument(help="Input workbook (.xlsx).")],
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative MIP gap at which to stop.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Solver threads (default: HiGHS).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Report path (.xlsx).")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write the Excel report.")] = False,
    uncertainty: Annotated[bool, typer.Option("--uncertainty", help="Also compute VSS, EVPI, regret.")] = False,
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
    with err_console.status("reading", spinner="dots") as status:

        def progress(stage: str) -> None:
            status.update(escape(f"{stage}..."))

        result = solve_problem(problem, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                               progress=progress)
        if program_savings and result.has_plan and problem.efficiency_programs:
            from planner.efficiency import compare_without_programs

            compare_without_programs(result, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                                     progress=progress)
        if uncertainty and result.has_plan and len(problem.scenarios) > 1:
            from planner.uncertainty import analyse

            analysis = analyse(problem, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
                               progress=progress, stochastic=result)
        if report_path is not None:
            from planner.report import write_report

            progress("writing report")
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
        _print_summary(result, None if report_error else report_path, analysis, details)
    if report_error is not None:
        found = "The plan was found" if result.has_plan else "The solve finished"
        err_console.print(Text(f"{found}, but the report was not written:", style="bold red"), highlight=False)
        _print_issues(report_error.issues, style="red")
    if not result.has_plan:
        raise typer.Exit(EXIT_NO_PLAN)
    raise typer.Exit(EXIT_REPORT_NOT_WRITTEN if report_error is not None else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    app()
