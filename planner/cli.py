"""Command line: ``planner template | validate | solve``. Exit codes: 0 ok, 1 no plan, 2 bad input."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from planner.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Procurement planner for AI compute.")
console = Console()
err_console = Console(stderr=True)

EXIT_OK, EXIT_NO_PLAN, EXIT_BAD_INPUT = 0, 1, 2


def _print_input_error(error: InputError) -> None:
    err_console.print(f"[bold red]{error.report().splitlines()[0]}[/]")
    for sheet, issues in error.by_sheet().items():
        err_console.print(f"[bold]{sheet}[/] ({len(issues)})", highlight=False)
        for issue in issues:
            err_console.print(f"  {issue}", highlight=False, markup=False)


@app.command()
def template(path: Path = typer.Argument(..., help="Where to write the blank input workbook.")) -> None:
    """Write a blank input workbook with instructions, tables and dropdowns."""
    from planner.template import write_template

    try:
        write_template(path)
    except InputError as error:
        _print_input_error(error)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(f"Template written to {path}")


@app.command()
def validate(path: Path = typer.Argument(..., help="Input workbook (.xlsx).")) -> None:
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


if __name__ == "__main__":  # pragma: no cover
    app()
