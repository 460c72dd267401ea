"""Command line: ``planner template | validate | solve``. Exit codes: 0 ok, 1 no plan, 2 bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Procurement planner for AI compute.")
console = Console()
err_console = Console(stderr=True)

EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT = 0, 1, 2


def _print_input_error(error: InputError) -> None:
    err_console.print(f"[bold red]{error.report().splitlines()[0]}[/]", soft_wrap=True)
    for sheet, issues in error.by_sheet().items():
        err_console.print(f"[bold]{sheet}[/] ({len(issues)})", highlight=False)
        for issue in issues:
            err_console.print(f"  {issue}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def template(path: Annotated[Path, typer.Argument(help="Where to write the blank input workbook.")]) -> None:
    """Write a blank input workbook with instructions, tables and dropdowns."""
    from planner.template import write_template

    try:
        write_template(path)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(f"Template written to {path}")


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="Input workbook (.xlsx).")]) -> None:
    """Check a workbook; list every problem as Sheet!Cell (column): found X; expected Y."""
    from planner.workbook import load

    try:
        problem = load(path)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(
        f"[green]valid[/]: {len(problem.workloads)} workloads, {len(problem.scenarios)} scenarios, "
        f"{len(problem.lease_offers)} lease offers, {problem.settings.months} months from "
        f"{problem.settings.first_month}"
    )


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


def _print_summary(result: Any, report_path: Path | None, analysis: Any) -> None:
    table = Table(title="Plan", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    gap = result.mip_gap
    table.add_row("status", result.status + (f" ({result.message})" if result.status != "optimal" else ""))
    table.add_row("objective (NPV)", _money(result.objective_usd))
    table.add_row("MIP gap", "-" if gap is None or math.isnan(gap) else f"{gap:.4%}")
    table.add_row("solve time", f"{result.timings.get('solve_seconds', 0.0):.1f} s")
    if result.has_plan:
        for row in result.scenario_costs().itertuples():
            table.add_row(f"cost in {row.scenario} (p={row.probability:.2f})", _money(row.npv_usd))
    if analysis is not None:
        for key, label in (("vss_usd", "VSS (value of hedging)"), ("evpi_usd", "EVPI (value of foresight)")):
            table.add_row(label, _money(analysis.figures.get(key)))
        if analysis.multi_stage is not None:
            table.add_row("value of learning", _money(analysis.figures.get("value_of_learning_usd")))
    if report_path is not None:
        table.add_row("report", str(report_path))
    console.print(table)
    if result.has_plan:
        _print_signings(result)
    for line in result.diagnosis:
        console.print(f"  - {line}", style="red", highlight=False, markup=False, soft_wrap=True)


def _print_signings(result: Any) -> None:
    """"Sign now" (the decisions common to every scenario), then, for a plan that learns, what each
    world signs once it is known (totals; every signing is in --json and the report)."""
    decisions = result.headline_decisions(later=False)
    heading = "Sign now (in every scenario)" if result.is_multi_stage else "Leases to sign"
    console.print(f"[bold]{heading}[/]" if decisions else
                  "No new leases to sign now." if result.is_multi_stage else "No new leases to sign.")
    for line in decisions:
        console.print(f"  - {line}", highlight=False, markup=False, soft_wrap=True)
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
        console.print("No more signings in: " + ", ".join(idle), highlight=False, markup=False, soft_wrap=True)


@app.command()
def solve(
    path: Annotated[Path, typer.Argument(help="Input workbook (.xlsx).")],
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative MIP gap at which to stop.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Solver threads (default: HiGHS).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Report path (.xlsx).")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write the Excel report.")] = False,
    uncertainty: Annotated[bool, typer.Option("--uncertainty", help="Also compute VSS, EVPI, regret.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Solve the plan; print a summary and write an Excel report under reports/.

    Exit 0 with a plan, 1 without one (infeasible, or time limit without a plan), 2 for bad input.
    """
    from planner.solver import solve as solve_problem
    from planner.workbook import load

    def fail_input(error: InputError) -> None:
        if as_json:
            _print_json({"status": "invalid_input", "issues": [i.as_dict() for i in error.issues]})
        else:
            _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT)

    try:
        problem = load(path)
    except InputError as error:
        fail_input(error)
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
    with err_console.status("reading", spinner="dots") as status:

        def progress(stage: str) -> None:
            status.update(f"{stage}...")

        result = solve_problem(problem, time_limit_seconds=time_limit, mip_gap=mip_gap, threads=threads,
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
            except InputError as error:
                status.stop()
                fail_input(error)
    if as_json:
        payload = result.summary()
        payload["report"] = None if report_path is None else str(report_path)
        payload["input"] = str(path)
        if analysis is not None:
            payload["uncertainty"] = analysis.summary()
        _print_json(payload)
    else:
        _print_summary(result, report_path, analysis)
    raise typer.Exit(EXIT_OK if result.has_plan else EXIT_NO_PLAN)


if __name__ == "__main__":  # pragma: no cover
    app()
