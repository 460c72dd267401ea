"""Benchmark sweeps: warm in place against rebuilding every point, and Dask 2 workers against 1.

Per size (generated instances, see generate.py) and per sweep (8 points by default):

* ``price``: the lease offer with the largest commitment in the base plan, its price x 0.7 .. x 1.3;
* ``demand``: every workload's demand in every scenario x 0.8 .. x 1.2.

Each sweep runs in this process with HiGHS on one thread: warm (one model changed in place, each
point started from the previous point's plan, points in nearest-neighbour order), and right after
each warm point the same point cold (built and solved from scratch, as a separate ``planner.solve``
would), interleaved so that load from elsewhere on the machine hits both sides alike. The ratio
compares the seconds of the swept points (the base run, cold in both, excluded); the objectives must
agree within the MIP gap. ``--repeat N`` runs the pair N times (ratio: median and min over the runs).
``--dask N`` also times the warm sweep (``--dask-points`` points) on local Dask clusters of 1 and 2
worker processes, alternately, N times each (ratio of each pair: median and min; cluster start-up
excluded, reported apart); ``--order given`` keeps the points in spec order instead of the
nearest-neighbour tour. Compare ratios, not seconds.

    python benchmarks/sweep.py [--sizes M L] [--sweeps price demand] [--points 8] [--repeat 3] [--dask 3]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make ``planner`` and ``generate`` importable
    sys.path[:0] = [str(HERE.parent), str(HERE)]

from generate import make_problem  # noqa: E402

import planner  # noqa: E402
from planner.schema import Problem  # noqa: E402
from planner.sweeps import SweepProgress, local_cluster  # noqa: E402
from planner.sweeps.worker import Outcome, RunOptions, run_point  # noqa: E402

COLUMNS: list[tuple[str, str]] = [
    ("size", "size"),
    ("sweep", "sweep"),
    ("points", "points"),
    ("base_s", "base s"),
    ("warm_s", "warm s"),
    ("cold_s", "cold s"),
    ("warm_ratio", "cold/warm med"),
    ("warm_ratio_min", "cold/warm min"),
    ("median_point_ratio", "median point ratio"),
    ("rebuilt", "rebuilt"),
    ("max_objective_gap", "max obj. diff"),
    ("mip_gap", "gap"),
    ("dask_points", "dask points"),
    ("dask1_s", "dask 1 s"),
    ("dask2_s", "dask 2 s"),
    ("dask_ratio", "1/2 wall med"),
    ("dask_ratio_min", "1/2 wall min"),
    ("dask_cpu_ratio", "1/2 CPU med"),
    ("dask_cpu_ratio_min", "1/2 CPU min"),
    ("cluster_start_s", "cluster start s"),
]


def price_target(problem: Problem, points: int) -> tuple[str, float]:
    """The ``--vary`` text of the price sweep, and the base solve's seconds (it picks the offer)."""
    started = time.perf_counter()
    base = planner.solve(problem, threads=1, marginal_values=False)
    seconds = time.perf_counter() - started
    leases = base.leases()
    by_offer = leases.groupby("offer_id")["total_commitment_usd"].sum().sort_values(ascending=False)
    offer = by_offer.index[0] if len(by_offer) else problem.lease_offers[0].offer_id
    return f"LeaseOffers[{offer}].price_usd_per_gpu_hour*=0.7:1.3:{points}", seconds


def demand_target(points: int) -> str:
    return f"Demand[*].tokens_per_month*=0.8:1.2:{points}"


def warm_and_cold(problem: Problem, spec: str, order: str) -> tuple[Any, dict[int, Outcome]]:
    """The warm sweep in this process and, right after each of its points, the same point built and
    solved from scratch (interleaved, so that a change in machine load hits both sides alike)."""
    cold: dict[int, Outcome] = {}
    sweep_id = uuid.uuid4().hex
    options = RunOptions(threads=1, reuse_model=False)

    def twin(progress: SweepProgress) -> None:
        if progress.point.run != 0 and progress.outcome.status != "invalid":
            cold[progress.point.run] = run_point(sweep_id, problem, progress.point, options)

    warm = planner.sweep(problem, spec, workers=0, threads=1, order=order, progress=twin)
    return warm, cold


def bench(size: str, sweep: str, points: int, seed: int, repeat: int, dask: int, dask_points: int,
          order: str) -> dict[str, Any]:
    problem = make_problem(size, seed)
    row: dict[str, Any] = {"size": size, "sweep": sweep, "points": points, "base_s": None}
    if sweep == "price":
        spec, row["base_s"] = price_target(problem, points)
    else:
        spec = demand_target(points)
    row["spec"] = spec
    print(f"{size} {sweep}: {spec}", file=sys.stderr, flush=True)
    warm_sums, cold_sums, ratios, point_ratios, objective_gaps = [], [], [], [], []
    statuses: set[str] = set()
    for _ in range(repeat):
        warm, cold = warm_and_cold(problem, spec, order)
        runs = warm.runs[warm.runs["run"].isin(list(cold))]
        warm_points = runs["seconds"].tolist()
        cold_points = [cold[run].seconds for run in runs["run"]]
        warm_sums.append(sum(warm_points))
        cold_sums.append(sum(cold_points))
        ratios.append(cold_sums[-1] / warm_sums[-1])
        point_ratios += [c / w for c, w in zip(cold_points, warm_points, strict=True)]
        row["rebuilt"] = int(warm.runs["rebuilt"].sum())
        pairs = [(a, cold[run].objective_usd) for run, a in zip(runs["run"], runs["objective_usd"], strict=True)]
        objective_gaps += [abs(a - b) / max(abs(a), abs(b), 1.0) for a, b in pairs]
        statuses |= set(runs["status"]) | {cold[run].status for run in runs["run"]}
        print(f"  warm {warm_sums[-1]:.1f} s, cold {cold_sums[-1]:.1f} s: {ratios[-1]:.2f}x", file=sys.stderr,
              flush=True)
    row["warm_s"], row["cold_s"] = statistics.median(warm_sums), statistics.median(cold_sums)
    row["warm_ratio"], row["warm_ratio_min"] = statistics.median(ratios), min(ratios)
    row["median_point_ratio"] = statistics.median(point_ratios)
    row["max_objective_gap"] = max(objective_gaps)
    row["mip_gap"] = problem.settings.mip_gap
    row["statuses"] = ",".join(sorted(statuses))
    row["ratios"] = " ".join(f"{r:.2f}" for r in ratios)
    if dask:
        row.update(bench_dask(problem, spec.rsplit(":", 1)[0] + f":{dask_points}", dask, order))
        row["dask_points"] = dask_points
    return row


def bench_dask(problem: Problem, spec: str, repeat: int, order: str) -> dict[str, Any]:
    """The sweep on local clusters of 1 and 2 workers, alternately: per pair the wall-clock ratio and the
    ratio of the busiest worker's CPU seconds; medians and minimums over the pairs."""
    row: dict[str, Any] = {}
    seconds: dict[int, list[float]] = {1: [], 2: []}
    busiest_cpu: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for workers in (1, 2):
            started = time.perf_counter()
            with local_cluster(workers) as client:
                row["cluster_start_s"] = time.perf_counter() - started
                started = time.perf_counter()
                result = planner.sweep(problem, spec, scheduler=client, threads=1, order=order)
                seconds[workers].append(time.perf_counter() - started)
                busiest_cpu[workers].append(float(result.runs.groupby("worker")["cpu_seconds"].sum().max()))
        print(f"  dask: 1 worker {seconds[1][-1]:.1f} s, 2 workers {seconds[2][-1]:.1f} s", file=sys.stderr, flush=True)
    row["dask1_s"], row["dask2_s"] = (statistics.median(seconds[w]) for w in (1, 2))
    wall = [one / two for one, two in zip(seconds[1], seconds[2], strict=True)]
    # CPU seconds of the busiest worker: the wall clock a machine with a free core per worker would show.
    cpu = [one / two for one, two in zip(busiest_cpu[1], busiest_cpu[2], strict=True)]
    row["dask_ratio"], row["dask_ratio_min"] = statistics.median(wall), min(wall)
    row["dask_cpu_ratio"], row["dask_cpu_ratio_min"] = statistics.median(cpu), min(cpu)
    row["dask_runs_s"] = " ".join(f"{w}:{s:.1f}" for w in (1, 2) for s in seconds[w])
    return row


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2e}" if 0 < abs(value) < 0.01 else f"{value:,.2f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["M", "L"], type=str.upper, choices=["S", "M", "L", "XL"])
    parser.add_argument("--sweeps", nargs="+", default=["price", "demand"], choices=["price", "demand"])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run each warm/cold pair N times")
    parser.add_argument("--dask", type=int, default=0, metavar="N",
                        help="also time local Dask clusters of 1 and 2 workers, alternately, N times each")
    parser.add_argument("--dask-points", type=int, default=8, help="points of the sweeps timed on Dask")
    parser.add_argument("--order", choices=["nearest", "given"], default="nearest")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "sweep.csv")
    args = parser.parse_args(argv)

    rows = [bench(size, sweep, args.points, args.seed, args.repeat, args.dask, args.dask_points, args.order)
            for size in args.sizes for sweep in args.sweeps]
    shown = [(key, header) for key, header in COLUMNS if any(row.get(key) is not None for row in rows)]
    widths = [max(len(header), *(len(_fmt(row.get(key))) for row in rows)) for key, header in shown]
    print("  ".join(header.rjust(w) for (_, header), w in zip(shown, widths, strict=True)))
    for row in rows:
        print("  ".join(_fmt(row.get(key)).rjust(w) for (key, _), w in zip(shown, widths, strict=True)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        fields = [key for key, _ in COLUMNS] + ["spec", "statuses", "ratios", "dask_runs_s"]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
