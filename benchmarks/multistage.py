"""Two-stage beside multi-stage: model size and solve time of one instance with and without a reveal month.

Each size is generated once with lead times (``make_problem(..., lead_times=True)``) and solved in two forms:
two-stage (no reveal month: every signing is one decision for all scenarios) and multi-stage (the scenario is
known from ``--reveal-month``: later signings are per scenario). The forms alternate run by run, so a busy
machine slows both alike; times are reported as min and median of ``--runs`` runs, and as the ratio of the
medians measured in the same invocation.

```
python benchmarks/multistage.py                             # M and L, seed 0, reveal in month index 3, 3 runs
python benchmarks/multistage.py --sizes M --runs 5 --reveal-month 6 --time-limit 600 --threads 2
```

Columns: vars / cons / ints (model size as HiGHS sees it), build s (the Pyomo model), HiGHS s (the search),
total s (build + hand-off + search + extraction), status and MIP gap, objective (USD). Per size, the
multi-stage / two-stage ratios and the value of learning (two-stage objective - multi-stage objective).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``planner`` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import SIZES, make_problem
from planner.schema import Problem
from planner.solver import Planner

FORMS = ("two-stage", "multi-stage")


@dataclass
class Run:
    """One solve of one form."""

    variables: int
    constraints: int
    integers: int
    build_s: float
    highs_s: float
    total_s: float
    status: str
    mip_gap: float
    objective_usd: float


def solve_once(problem: Problem, time_limit: float, threads: int | None) -> Run:
    started = time.perf_counter()
    planner = Planner(problem, threads=threads)
    result = planner.solve(time_limit_seconds=time_limit, marginal_values=False, diagnose=False)
    total = time.perf_counter() - started
    return Run(result.num_variables, result.num_constraints, result.num_integer_variables,
               result.timings.get("build_seconds", float("nan")), result.timings.get("solver_seconds", float("nan")),
               total, result.status, float(result.mip_gap or 0.0),
               float("nan") if result.objective_usd is None else result.objective_usd)


def bench_size(size: str, seed: int, reveal_month: int, runs: int, time_limit: float,
               threads: int | None) -> dict[str, list[Run]]:
    problems = {"two-stage": make_problem(size, seed, lead_times=True),
                "multi-stage": make_problem(size, seed, lead_times=True, reveal_month=reveal_month)}
    results: dict[str, list[Run]] = {form: [] for form in FORMS}
    for i in range(runs):
        for form in FORMS if i % 2 == 0 else reversed(FORMS):
            results[form].append(solve_once(problems[form], time_limit, threads))
            print(f"  {size} {form} run {i + 1}/{runs}: {results[form][-1].total_s:.1f} s", file=sys.stderr)
    return results


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def report(size: str, reveal_label: str, results: dict[str, list[Run]]) -> list[str]:
    header = (f"{'form':<12} {'vars':>8} {'cons':>8} {'ints':>7} {'build s':>15} {'HiGHS s':>17} {'total s':>17} "
              f"{'status':>10} {'gap':>9} {'objective USD':>18}")
    lines = [f"{size} (scenario known from {reveal_label}, {len(results['two-stage'])} runs each; min / median)",
             header, "-" * len(header)]
    for form in FORMS:
        runs = results[form]
        first = runs[0]

        def spread(field: str, runs: list[Run] = runs) -> str:
            values = [getattr(r, field) for r in runs]
            return f"{min(values):7.2f} / {statistics.median(values):7.2f}"

        statuses = "/".join(sorted({r.status for r in runs}))
        lines.append(f"{form:<12} {first.variables:>8,} {first.constraints:>8,} {first.integers:>7,} "
                     f"{spread('build_s'):>15} {spread('highs_s'):>17} {spread('total_s'):>17} {statuses:>10} "
                     f"{max(r.mip_gap for r in runs):>9.2e} {min(r.objective_usd for r in runs):>18,.0f}")
    two, multi = results["two-stage"], results["multi-stage"]
    learning = min(r.objective_usd for r in two) - min(r.objective_usd for r in multi)
    lines.append(
        f"multi / two: vars {multi[0].variables / two[0].variables:.2f}x, cons "
        f"{multi[0].constraints / two[0].constraints:.2f}x, ints {multi[0].integers / two[0].integers:.2f}x, "
        f"HiGHS time {_median(multi, 'highs_s') / _median(two, 'highs_s'):.2f}x, total time "
        f"{_median(multi, 'total_s') / _median(two, 'total_s'):.2f}x; value of learning {learning:,.0f} USD "
        f"({learning / min(r.objective_usd for r in two):.2%} of the two-stage objective)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["M", "L"], type=str.upper, choices=list(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reveal-month", type=int, default=3, help="month index the scenario is known from")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    lines: list[str] = []
    for size in args.sizes:
        results = bench_size(size, args.seed, args.reveal_month, args.runs, args.time_limit, args.threads)
        label = make_problem(size, args.seed, reveal_month=args.reveal_month).settings.reveal_month or ""
        lines += [*report(size, label, results), ""]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
