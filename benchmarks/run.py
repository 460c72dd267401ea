"""Benchmark the planner against raw HiGHS on generated instances of sizes S, M, L, XL (and L100).

Per size (and mode: the MIP, plus its LP relaxation with ``--relax``), a fresh subprocess generates the
instance, times the planner (read, build, hand-off, HiGHS, extract, marginal values, write) and writes
the model HiGHS was given as MPS; a second fresh subprocess solves that MPS with highspy alone. Peak
memory is therefore per size, mode and side. See benchmarks/README.md for the columns.

    python benchmarks/run.py [--sizes S M L XL L100] [--relax] [--repeat 3] [--time-limit 600]
                             [--mip-gap G] [--threads N] [--out benchmarks/out/results.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make ``planner`` and ``generate`` importable
    sys.path[:0] = [str(HERE.parent), str(HERE)]

from generate import SIZES  # noqa: E402

SIZES.setdefault("L100", replace(SIZES["L"], scenarios=100))  # L's dimensions with 100 scenarios
MARKER = "@@BENCH "
COLUMNS: list[tuple[str, str]] = [  # (CSV field, table header); CSV-only fields follow in EXTRA
    ("size", "size"),
    ("mode", "mode"),
    ("status", "status"),
    ("variables", "vars"),
    ("constraints", "cons"),
    ("integer_variables", "ints"),
    ("read_s", "read s"),
    ("build_s", "build s"),
    ("load_s", "load s"),
    ("highs_s", "HiGHS s"),
    ("extract_s", "extract s"),
    ("duals_s", "duals s"),
    ("tool_s", "tool s"),
    ("ours_s", "ours s"),
    ("raw_highs_s", "raw HiGHS s"),
    ("overhead", "overhead"),
    ("peak_mb", "peak MB"),
    ("raw_peak_mb", "raw peak MB"),
    ("mip_gap", "gap"),
    ("raw_mip_gap", "raw gap"),
    ("write_s", "write s"),
]
EXTRA = ["run", "seed", "time_limit_s", "mip_gap_target", "threads", "generate_s", "mps_write_s", "raw_read_s",
         "raw_status", "objective_usd", "model_objective", "raw_objective", "error"]


def _peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _emit(record: dict[str, Any]) -> None:
    print(MARKER + json.dumps(record), flush=True)


def _ours(rec: dict[str, Any], size: str, seed: int, time_limit: float, mip_gap: float | None,
          threads: int | None, relax: bool, mps_path: Path) -> None:
    """Generate, read, solve, extract and write with the planner, filling ``rec`` as it goes; then
    write the model as HiGHS holds it (MPS) for the raw side."""
    from generate import make_problem

    from planner.solver import Planner

    rec.update(size=size, seed=seed, time_limit_s=time_limit, mode="lp" if relax else "mip", threads=threads)
    start = time.perf_counter()
    problem = make_problem(size, seed)
    rec["generate_s"] = time.perf_counter() - start
    gap = problem.settings.mip_gap if mip_gap is None else mip_gap
    rec["mip_gap_target"] = gap

    with tempfile.TemporaryDirectory() as tmp:
        from planner.workbook import load, write_problem

        workbook = Path(tmp) / f"{size}.xlsx"
        write_problem(problem, workbook)
        start = time.perf_counter()
        problem = load(workbook)
        rec["read_s"] = time.perf_counter() - start

        start = time.perf_counter()
        planner = Planner(problem, threads=threads)
        result = planner.solve(time_limit_seconds=time_limit, mip_gap=gap, relax=relax)
        rec["ours_s"] = time.perf_counter() - start
        timings = result.timings
        rec.update(
            status=str(result.status), objective_usd=result.objective_usd, mip_gap=result.mip_gap,
            build_s=timings.get("build_seconds"), load_s=timings.get("load_seconds"),
            highs_s=timings.get("solver_seconds"), extract_s=timings.get("extract_seconds"),
            duals_s=timings.get("duals_seconds"),
            tool_s=rec["ours_s"] - timings.get("solver_seconds", 0.0) - timings.get("duals_seconds", 0.0),
            variables=result.num_variables, constraints=result.num_constraints,
            integer_variables=result.num_integer_variables,
        )
        rec["peak_mb"] = _peak_mb()  # the solve's peak, before the report and the MPS file

        from planner.report import write_report

        start = time.perf_counter()
        write_report(result, Path(tmp) / f"{size}-report.xlsx")
        rec["write_s"] = time.perf_counter() - start

    if result.has_plan:
        import pyomo.environ as pyo

        rec["model_objective"] = pyo.value(result.model.total_cost, exception=False)
    start = time.perf_counter()
    planner.write_model(str(mps_path))
    rec["mps_write_s"] = time.perf_counter() - start


def _raw(mps_path: Path, time_limit: float, mip_gap: float, threads: int | None, relax: bool) -> dict[str, Any]:
    """Solve the MPS file with highspy alone."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    start = time.perf_counter()
    h.readModel(str(mps_path))
    read_s = time.perf_counter() - start
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("solve_relaxation", bool(relax))
    if threads:
        h.setOptionValue("threads", int(threads))
    h.run()
    info = h.getInfo()
    return {
        "raw_highs_s": h.getRunTime(),
        "raw_read_s": read_s,
        "raw_status": h.modelStatusToString(h.getModelStatus()),
        "raw_objective": info.objective_function_value,
        "raw_mip_gap": info.mip_gap if info.mip_node_count >= 0 else 0.0,
        "raw_peak_mb": _peak_mb(),
    }


def _subprocess(args: list[str], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Run this script in a fresh interpreter; return its result record and an error text."""
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    records = [line[len(MARKER):] for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if records:
        return json.loads(records[-1]), ""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
    return None, tail[0]


def bench_size(size: str, seed: int, time_limit: float, mip_gap: float | None, threads: int | None,
               relax: bool, keep_mps: Path | None) -> dict[str, Any]:
    """One row of the benchmark: the planner, then raw HiGHS on the same model."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
    mps = (keep_mps or tmp) / f"{size}-seed{seed}{'-lp' if relax else ''}.mps"
    mps.parent.mkdir(parents=True, exist_ok=True)
    common = ["--time-limit", str(time_limit)] + (["--threads", str(threads)] if threads else [])
    common += ["--relax"] if relax else []
    timeout = 3 * time_limit + 900
    try:
        ours, error = _subprocess(["--worker", size, "--seed", str(seed), "--mps", str(mps), *common]
                                  + (["--mip-gap", str(mip_gap)] if mip_gap is not None else []), timeout)
        row: dict[str, Any] = {"size": size, "seed": seed, "mode": "lp" if relax else "mip",
                               **(ours or {"status": "error", "error": error})}
        if ours and not ours.get("error") and mps.exists():
            raw, error = _subprocess(["--raw", str(mps), "--mip-gap", str(ours["mip_gap_target"]), *common],
                                     timeout)
            row.update(raw or {"raw_status": "error", "error": error})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours_s, raw_s = row.get("ours_s"), row.get("raw_highs_s")
    if ours_s is not None and raw_s:
        row["overhead"] = ours_s / raw_s
    return row


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 0.01 and value else f"{value:.2f}"


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (size, mode): the median of every numeric column over the repeated runs."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["size"], row.get("mode", "mip")), []).append(row)
    summary = []
    for (size, mode), group in groups.items():
        median: dict[str, Any] = {"size": size, "mode": f"{mode} median of {len(group)}",
                                  "status": "/".join(sorted({str(r.get("status")) for r in group}))}
        for key, _ in COLUMNS:
            values = [r[key] for r in group if isinstance(r.get(key), int | float) and not isinstance(r[key], bool)]
            if values and key not in median:
                median[key] = statistics.median(values)
        summary.append(median)
    return summary


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    """The results as a rich table (plain text when rich is missing)."""
    cells = [[_fmt(row.get(key)) for key, _ in COLUMNS] for row in rows]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(COLUMNS)]
        print(title)
        print("  ".join(h.rjust(w) for (_, h), w in zip(COLUMNS, widths, strict=True)))
        for c in cells:
            print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
    else:
        table = Table(title=title)
        for _, header in COLUMNS:
            table.add_column(header, justify="right")
        for c in cells:
            table.add_row(*c)
        console = Console()
        console.width = max(console.width, 220)  # a wide table, also when piped to a file
        console.print(table)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """All fields of every row, one row per size, mode and run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[key for key, _ in COLUMNS] + EXTRA, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the benchmark (or, internally, one side of one size)."""
    sizes = list(SIZES)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["S", "M", "L", "XL"], type=str.upper, choices=sizes)
    parser.add_argument("--relax", action="store_true", help="also run the LP relaxation of every size")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and mode (medians are printed)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds, for ours and raw HiGHS")
    parser.add_argument("--mip-gap", type=float, default=None, help="relative gap (default: the instance's)")
    parser.add_argument("--threads", type=int, default=None, help="solver threads (default: HiGHS's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "results.csv")
    parser.add_argument("--keep-mps", type=Path, default=None, help="directory to keep the MPS files in")
    parser.add_argument("--worker", choices=sizes, help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mps", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker or args.raw:
        rec: dict[str, Any] = {"size": args.worker, "seed": args.seed} if args.worker else {}
        try:
            if args.worker:
                _ours(rec, args.worker, args.seed, args.time_limit, args.mip_gap, args.threads, args.relax, args.mps)
            else:
                rec = _raw(args.raw, args.time_limit, args.mip_gap, args.threads, args.relax)
        except Exception as exc:
            traceback.print_exc()
            rec.setdefault("status" if args.worker else "raw_status", "error")
            rec["error"] = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
        _emit(rec)
        return 0

    rows = []
    for size in args.sizes:
        for relax in ([False, True] if args.relax else [False]):
            for run in range(1, args.repeat + 1):
                mode = "LP relaxation" if relax else "MIP"
                print(f"{size} {mode} run {run}/{args.repeat} (time limit {args.time_limit:g} s) ...",
                      file=sys.stderr, flush=True)
                row = bench_size(size, args.seed, args.time_limit, args.mip_gap, args.threads, relax, args.keep_mps)
                rows.append({**row, "run": run})
    title = "planner vs raw HiGHS (seconds wall clock; tool = ours - HiGHS; overhead = ours / raw HiGHS)"
    print_table(rows, title)
    if args.repeat > 1:
        print_table(medians(rows), "medians over the runs")
    for row in rows:
        if row.get("error"):
            print(f"{row['size']} {row.get('mode')}: {row['error']}", file=sys.stderr)
    write_csv(rows, args.out)
    print(f"wrote {args.out}")
    return 0 if all(not row.get("error") for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
