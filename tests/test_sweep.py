"""Sweeps run in this process: hand-computed optima along a price curve, break-even values, the
runs table, invalid and failing points, and warm in-place runs equal to rebuilding every point.

The tiny instance (see ``factory``): demand 10, 10, 20, 20 GPUs over four months, one 4-month lease
``L`` starting in month 0 at price p, on-demand at $5/GPU-hour ($3,650 per GPU-month). Keeping 10
GPUs all four months costs 10 x 4 x 730p leased against 10 x 4 x 3,650 on demand; the second ten,
needed two months, cost 10 x 4 x 730p leased against 10 x 2 x 3,650. So the optimum is
* p <= 2.5: lease 20: 58,400p;
* 2.5 <= p <= 5: lease 10 and rent 10 for two months: 29,200p + 73,000;
* p >= 5: rent everything: 60 GPU-months x 3,650 = 219,000;
with break-even prices 2.5 and 5.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

import pandas as pd
import pytest
from factory import cloud, lease, program, realistic, tiny

import planner
from planner.errors import InputError
from planner.sweeps import Sweep, SweepProgress, Target, parse_vary
from planner.sweeps import worker as sweep_worker


def hand_optimum(price: float) -> float:
    return min(58_400 * price, 29_200 * price + 73_000, 219_000.0)


@pytest.fixture(scope="module")
def price_problem() -> planner.Problem:
    return tiny([10, 10, 20, 20], offers=[lease("L", price=2.0, term=4)])


@pytest.fixture(scope="module")
def price_sweep(price_problem: planner.Problem) -> planner.sweeps.SweepResult:
    return planner.sweep(price_problem, "LeaseOffers[L].price_usd_per_gpu_hour=2:6:5", workers=0)


def test_price_curve_matches_the_hand_optimum(price_sweep: Any) -> None:
    runs = price_sweep.runs
    assert list(runs["status"]) == ["optimal"] * 6
    assert runs["objective_usd"].tolist() == pytest.approx([hand_optimum(p) for p in (2, 2, 3, 4, 5, 6)])
    assert runs["gpus_leased[H100]"].tolist() == [20, 20, 10, 10, 0, 0]
    # new lease commitment = GPUs x 4 months x 730 h x price
    assert runs["new_lease_commitment_usd"].tolist() == pytest.approx([116_800, 116_800, 87_600, 116_800, 0, 0])
    assert runs["share_served"].tolist() == pytest.approx([1.0] * 6)
    assert price_sweep.base.objective_usd == pytest.approx(116_800)
    assert price_sweep.base.model is None  # the built model stays with its worker


def test_runs_table_columns_and_changes(price_sweep: Any) -> None:
    runs = price_sweep.runs
    target = "LeaseOffers[L].price_usd_per_gpu_hour"
    assert list(runs.columns) == [
        "run", "sweep", "point", "design", "target", "value", target, "changes", "refinement", "status", "has_plan",
        "reason", "mip_gap", "objective_usd", "expected_cost_usd", "best_bound_usd", "cost_usd[base]",
        "new_lease_commitment_usd", "gpus_leased[H100]", "share_served", "seconds", "cpu_seconds", "solve_seconds",
        "rebuilt", "warm_start", "worker"]
    assert runs.loc[0, ["sweep", "target", "changes"]].tolist() == ["base", "base", "base"]
    assert math.isnan(runs.loc[0, target])
    assert runs.loc[3, ["sweep", "point", "target", "value", target, "changes"]].tolist() == [
        "vary", 3, target, 4.0, 4.0, f"{target} = 4"]
    # one model, changed in place: every point after the base starts warm from its neighbour
    assert runs["warm_start"].tolist() == [False] + [True] * 5
    assert not runs["rebuilt"].any()
    assert set(runs["worker"]) == {"local"}


def test_overview_has_the_change_against_base(price_sweep: Any) -> None:
    overview = price_sweep.overview()
    assert overview["change_vs_base_usd"].tolist() == pytest.approx([0, 0, 43_800, 73_000, 102_200, 102_200])
    assert list(overview.columns) == ["run", "sweep", "changes", "status", "expected_cost_usd", "change_vs_base_usd",
                                      "new_lease_commitment_usd", "share_served", "seconds", "reason"]


def test_leases_of_every_point_in_long_format(price_sweep: Any) -> None:
    leases = price_sweep.leases()
    assert leases[["run", "offer_id", "start_month", "blocks"]].values.tolist() == [
        [0, "L", "2025-01", 20], [1, "L", "2025-01", 20], [2, "L", "2025-01", 10], [3, "L", "2025-01", 10]]
    assert leases["price_usd_per_gpu_hour"].tolist() == [2.0, 2.0, 3.0, 4.0]


def test_tornado_and_curves(price_sweep: Any) -> None:
    tornado = price_sweep.tornado()
    assert tornado.iloc[0][["low_value", "high_value", "base_expected_cost_usd", "low_expected_cost_usd",
                            "high_expected_cost_usd", "swing"]].tolist() == pytest.approx(
        [2.0, 6.0, 116_800, 116_800, 219_000, 102_200])
    curves = price_sweep.curves()
    assert curves["value"].tolist() == [2.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert curves["is_base"].tolist() == [True, False, False, False, False, False]


def test_a_single_value_swings_from_the_base(price_problem: planner.Problem) -> None:
    tornado = planner.sweep(price_problem, "LeaseOffers[L].price_usd_per_gpu_hour=3", workers=0).tornado()
    assert tornado.loc[0, ["low_value", "high_value", "high_change", "swing"]].tolist() == pytest.approx(
        [3.0, 3.0, 43_800, 43_800])


def test_decisions_that_change_with_break_even_brackets(price_sweep: Any) -> None:
    decisions = price_sweep.decisions()
    assert decisions[["from_value", "to_value", "break_even_value", "offer_id", "change", "blocks_before",
                      "blocks_after", "gpus_after"]].values.tolist() == [
        [2.0, 3.0, 2.5, "L", "shrinks", 20, 10, 10],
        [4.0, 5.0, 4.5, "L", "disappears", 10, 0, 0]]


def test_decisions_by_offer_add_up_the_start_months() -> None:
    problem = tiny([10, 10, 20, 20], offers=[lease("L", price=2.0, term=2, earliest=0, latest=2)])
    result = planner.sweep(problem, "LeaseOffers[L].price_usd_per_gpu_hour=9", workers=0)
    # base: lease 10 from month 0 and 20 from month 2 (2-month terms); at $9 rent everything
    lines = result.decisions()
    assert lines[["start_month", "change", "blocks_before", "blocks_after"]].values.tolist() == [
        ["2025-01", "disappears", 10, 0], ["2025-03", "disappears", 20, 0]]
    offers = result.decisions(level="offer")
    assert offers[["offer_id", "start_month", "change", "blocks_before", "blocks_after", "gpus_before"]
                  ].values.tolist() == [["L", "", "disappears", 30, 0, 30]]


def test_refinement_bisects_to_the_break_even_prices(price_problem: planner.Problem) -> None:
    result = planner.sweep(price_problem, "LeaseOffers[L].price_usd_per_gpu_hour=2:6:5", workers=0, refine=3)
    decisions = result.decisions()
    assert len(decisions) == 2
    first, second = decisions.iloc[0], decisions.iloc[1]
    assert first["from_value"] <= 2.5 <= first["to_value"] and first["to_value"] - first["from_value"] == 0.125
    assert (second["from_value"], second["to_value"]) == (4.875, 5.0)  # at exactly 5 renting ties; 4.875 leases
    refined = result.runs[result.runs["refinement"]]
    assert len(refined) == 6 and refined["status"].eq("optimal").all()
    assert refined["objective_usd"].tolist() == pytest.approx([hand_optimum(p) for p in refined["value"]])


def test_share_served_and_cost_per_scenario() -> None:
    problem = tiny({"low": [10, 10], "high": [20, 20]}, on_demand=[cloud(max_gpus=30)])
    result = planner.sweep(problem, ["OnDemand[cloud].max_gpus=5,15", Target.probability("high", [0.8])], workers=0)
    runs = result.runs.set_index("changes")
    # base: everything on demand, low 20 GPU-months, high 40, at $3,650
    assert runs.loc["base", ["cost_usd[low]", "cost_usd[high]", "expected_cost_usd"]].tolist() == pytest.approx(
        [73_000, 146_000, 109_500])
    # expected served / expected demand; 5 GPUs at most serve 10 of 20 (low) and 10 of 40 (high) GPU-months
    assert runs.loc["OnDemand[cloud].max_gpus = 5", "share_served"] == pytest.approx((10 + 10) / (20 + 40))
    assert runs.loc["OnDemand[cloud].max_gpus = 15", "share_served"] == pytest.approx((20 + 30) / (20 + 40))
    # probability of high 0.8: expected cost 0.2 x 73,000 + 0.8 x 146,000; a structural change (rebuilt)
    probability = runs.loc["Scenarios[high].probability = 0.8"]
    assert probability["expected_cost_usd"] == pytest.approx(131_400)
    assert bool(probability["rebuilt"]) and not bool(probability["warm_start"])


def test_invalid_points_are_reported_and_the_rest_run(price_problem: planner.Problem) -> None:
    spec = ["LeaseOffers[L].price_usd_per_gpu_hour=-1,3", "LeaseOffers[L].min_blocks=5000"]
    result = planner.sweep(price_problem, spec, workers=0)
    runs = result.runs.set_index("changes")
    assert runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = -1", ["status", "has_plan", "reason"]].tolist() == [
        "invalid", False, "LeaseOffers[L] (price_usd_per_gpu_hour): found -1; expected a number >= 0 and <= 1000"]
    assert runs.loc["LeaseOffers[L].min_blocks = 5000", "reason"] == (
        "LeaseOffers[L] (min_blocks): found 5000; expected at most max_blocks (1000)")
    assert runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = 3", "objective_usd"] == pytest.approx(160_600)
    assert result.status_counts() == {"optimal": 2, "invalid": 2} and not result.all_planned


def test_a_point_that_raises_gets_an_error_row(price_problem: planner.Problem,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    solve = sweep_worker.Planner.solve

    def failing(self: planner.Planner, **kwargs: Any) -> Any:
        if self.problem.lease_offers[0].price_usd_per_gpu_hour == 3.0:
            raise RuntimeError("solver exploded")
        return solve(self, **kwargs)

    monkeypatch.setattr(sweep_worker.Planner, "solve", failing)
    result = planner.sweep(price_problem, "LeaseOffers[L].price_usd_per_gpu_hour=3,4", workers=0)
    runs = result.runs.set_index("changes")
    failed = runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = 3"]
    assert failed["status"] == "error" and failed["reason"].startswith("RuntimeError: solver exploded (at failing")
    after = runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = 4"]
    assert after["status"] == "optimal" and after["objective_usd"] == pytest.approx(189_800)
    assert not after["warm_start"]  # the failed model is dropped; the next point builds afresh


def test_infeasible_points_say_which_constraints_bind() -> None:
    problem = tiny([10, 10], on_demand=[cloud(max_gpus=20)], unserved_allowed=False)
    result = planner.sweep(problem, "OnDemand[cloud].max_gpus=5", workers=0)
    row = result.runs.iloc[1]
    assert row["status"] == "infeasible" and not row["has_plan"]
    assert row["reason"].startswith("infeasible: ") and "chat" in row["reason"]


def test_time_limit_rows_say_so() -> None:
    """A millisecond is far too little for the 12-month realistic instance (it needs about half a second)."""
    result = planner.sweep(realistic(12, mip_gap=0.0), "Settings.default_mfu=0.2", workers=0, time_limit_seconds=0.001)
    for row in result.runs.itertuples():
        assert row.status == "time_limit"
        if row.has_plan:
            assert row.reason == f"stopped at the time limit with a gap of {row.mip_gap:.2%}"
        else:
            assert row.reason == "stopped at the time limit before any plan was found"


def test_grid_table_of_two_targets() -> None:
    problem = tiny([10, 10, 20, 20], offers=[lease("L", price=2.0, term=4)])
    spec = Sweep(name="prices", design="grid", targets=[parse_vary("LeaseOffers[L].price_usd_per_gpu_hour=2,3"),
                                                        parse_vary("OnDemand[cloud].price_usd_per_gpu_hour=4.5,7")])
    result = planner.sweep(problem, spec, workers=0)
    grid = result.grid("prices")
    # p=3 with cloud at $4.50 (3,285/GPU-month): lease 10, rent the peak: 87,600 + 65,700; at $7 lease all 20
    assert grid.values.ravel().tolist() == pytest.approx([116_800, 116_800, 153_300, 175_200])
    assert list(grid.index) == [2.0, 3.0] and list(grid.columns) == [4.5, 7.0]
    assert list(result.grids()) == ["prices"]
    assert result.runs["target"].iloc[1] == ("LeaseOffers[L].price_usd_per_gpu_hour x "
                                             "OnDemand[cloud].price_usd_per_gpu_hour")
    with pytest.raises(KeyError, match="no sweep named 'nope'"):
        result.grid("nope")


def test_progress_reports_every_point(price_problem: planner.Problem) -> None:
    seen: list[SweepProgress] = []
    planner.sweep(price_problem, "LeaseOffers[L].price_usd_per_gpu_hour=3,4,-1", workers=0, progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4] and {p.total for p in seen} == {4}
    assert seen[-1].remaining_seconds == 0.0
    assert seen[0].outcome.status == "invalid"  # invalid points are known before any solve


def test_a_bad_sweep_is_an_input_error(price_problem: planner.Problem) -> None:
    with pytest.raises(InputError) as error:
        planner.sweep(price_problem, "LeaseOffers[M].price_usd_per_gpu_hour=3", workers=0)
    assert [str(issue) for issue in error.value.issues] == [
        "LeaseOffers[M].price_usd_per_gpu_hour (rows): found 'M'; expected one of the LeaseOffers ids (L), several "
        "separated by commas, * or a filter such as provider=..."]


def test_in_place_warm_runs_equal_rebuilding_every_point() -> None:
    problem = realistic(4, mip_gap=1e-3)
    spec = [
        "LeaseOffers[abilene-gb200].price_usd_per_gpu_hour*=1.3",
        "Settings.default_mfu=0.2",
        Target.demand([1.4], scenario="80x"),
        "Sites[Memphis].power_cap_mw=100",
        "Scenarios[80x].probability=0.4",
    ]
    warm = planner.sweep(problem, spec, workers=0).runs
    cold = planner.sweep(problem, spec, workers=0, reuse_model=False).runs
    assert warm["status"].eq("optimal").all() and cold["status"].eq("optimal").all()
    pd.testing.assert_series_equal(warm["changes"], cold["changes"])
    gap = problem.settings.mip_gap
    for a, b in zip(warm["objective_usd"], cold["objective_usd"], strict=True):
        assert abs(a - b) <= gap * max(abs(a), abs(b)) * 1.0001
    assert not cold["warm_start"].any() and not cold["rebuilt"].any()
    later = warm.iloc[1:]
    assert (later["warm_start"] ^ later["rebuilt"]).all()
    assert later.loc[later["target"] == "Scenarios[80x].probability", "rebuilt"].all()
    assert later["warm_start"].sum() >= 3  # the numbers-only changes ran in place


def test_sweep_is_exported_lazily_from_the_package() -> None:
    importlib.import_module("planner.sweeps.engine")  # a submodule must not shadow the function
    assert planner.sweep.__module__ == "planner.sweeps.engine" and callable(planner.sweep)
    assert planner.sweeps.sweep is planner.sweep


# ---- which inputs change in place (the table in models/procurement.md) --------------------------

IN_PLACE = [
    "LeaseOffers[*].price_usd_per_gpu_hour*=1.1", "OnDemand[*].price_usd_per_gpu_hour*=1.1",
    "OnDemand[*].max_gpus*=1.1", "Throughput[*].tokens_per_second_per_gpu*=1.1", "Throughput[*].mfu*=1.1",
    "Settings.default_mfu*=1.1", "Workloads[*].flops_per_token*=1.1", "GPUTypes[*].peak_dense_bf16_tflops*=1.1",
    "Demand[*].tokens_per_month*=1.1", "Workloads[*].base_tokens_per_month*=1.1",
    "Scenarios[*].growth_multiple_per_year*=1.1", "Sites[*].power_cap_mw*=1.1", "SitePower[*].power_cap_mw*=1.1",
    "Credits[*].amount_usd*=1.1", "Settings.max_total_commitment_usd*=1.1", "Settings.time_limit_seconds=5",
    "Settings.mip_gap=0.01", "Settings.max_cash_spend_usd*=1.1",
    "EfficiencyPrograms[*].one_off_cost_usd+=1e6", "EfficiencyPrograms[*].cost_usd_per_month+=1e5",
    "EfficiencyPrograms[batching].mfu_multiplier=1.5", "EfficiencyPrograms[rewrite].new_mfu=0.3",
]
REBUILD = [
    "Scenarios[80x].probability=0.3", "Settings.discount_rate_per_year=0.05", "LeaseOffers[*].term_months+=1",
    "LeaseOffers[*].max_blocks+=1", "GPUTypes[*].power_kw_per_gpu*=1.1", "Sites[*].pue=1.2",
    "GPUTypes[*].availability_factor=0.9", "Workloads[*].revenue_usd_per_million_tokens*=1.1",
    "LeaseOffers[abilene-h100].earliest_start_month=2025-02",
]


def test_the_ordering_hint_lists_exactly_the_in_place_columns() -> None:
    from planner.sweeps.points import IN_PLACE_COLUMNS, is_in_place

    assert {(t.table, t.column) for t in map(parse_vary, IN_PLACE)} == IN_PLACE_COLUMNS
    assert not any(is_in_place(parse_vary(text)) for text in REBUILD)


@pytest.fixture(scope="module")
def budget_planner() -> tuple[planner.Problem, planner.Planner]:
    programs = [program("batching", multiplier=1.3, earliest=1, one_off=5e6, monthly=1e6),
                program("rewrite", multiplier=None, new_mfu=0.25, earliest=2, delay=2, one_off=2e7)]
    problem = realistic(6, max_total_commitment_usd=1e11, max_cash_spend_usd=1e11)
    problem = planner.Problem.model_validate({**problem.model_dump(), "efficiency_programs": programs})
    return problem, planner.Planner(problem)


@pytest.mark.parametrize(("vary", "in_place"), [(v, True) for v in IN_PLACE] + [(v, False) for v in REBUILD])
def test_which_inputs_change_in_place(vary: str, in_place: bool,
                                      budget_planner: tuple[planner.Problem, planner.Planner]) -> None:
    from planner.sweeps.apply import apply_changes

    base, model = budget_planner
    target = parse_vary(vary)
    changed = apply_changes(base, [(target, target.values[0])])
    assert changed != base
    assert model.update(changed) is in_place
    assert model.update(base)  # back to base for the next case


def test_summary_is_json_ready(price_sweep: Any) -> None:
    summary = json.loads(json.dumps(price_sweep.summary()))
    assert summary["status_counts"] == {"optimal": 6} and summary["all_planned"] is True
    assert summary["runs"][0]["LeaseOffers[L].price_usd_per_gpu_hour"] is None  # NaN becomes null
    assert summary["sweeps"][0]["targets"][0]["values"] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert summary["workers"] == "this process"


# ---- which plan a warm point starts from -------------------------------------------------------

def test_separation_is_the_relative_change_of_each_target() -> None:
    from planner.sweeps.points import STRUCTURAL_WEIGHT, Point, separation

    problem = tiny([10.0, 10.0], offers=[lease(price=2.0)])
    price = parse_vary("LeaseOffers[L].price_usd_per_gpu_hour=1.5")
    term = parse_vary("LeaseOffers[L].term_months=3")

    def point(*changes: tuple[Target, Any]) -> Point:
        return Point(run=1, sweep="s", index=1, design="grid", changes=tuple(changes))

    cache: dict[tuple[str, str], float | None] = {}
    assert separation(problem, point((price, 1.5)), point((price, 3.0)), cache) == pytest.approx(0.5)
    assert separation(problem, point(), point((price, 1.5)), cache) == pytest.approx(0.25)  # base price 2.0
    assert separation(problem, point((price, 2.0)), point(), cache) == 0.0
    assert separation(problem, point((term, 3)), point((term, 4)), cache) == pytest.approx(STRUCTURAL_WEIGHT / 4)


def test_a_warm_point_starts_from_the_nearest_plan_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Base price 2.0, then 3.0, then 1.9 (in that order): 1.9 starts from the base plan, not from 3.0's."""
    problem = tiny([10.0, 10.0], offers=[lease(price=2.0)])
    starts: list[float] = []
    plans: dict[int, Any] = {}
    original_start_from, original_keep = planner.Planner.start_from, sweep_worker._keep_plan

    def start_from(self: planner.Planner, plan: Any) -> None:
        starts.append(next(run for run, kept in plans.items() if kept is plan))
        original_start_from(self, plan)

    def keep(sweep_id: str, kept: planner.Planner, point: Any) -> None:
        plans[point.run] = kept.last_plan
        original_keep(sweep_id, kept, point)

    monkeypatch.setattr(planner.Planner, "start_from", start_from)
    monkeypatch.setattr(sweep_worker, "_keep_plan", keep)
    runs = planner.sweep(problem, "LeaseOffers[L].price_usd_per_gpu_hour=3.0,1.9", workers=0, order="given").runs
    assert runs["status"].eq("optimal").all() and runs["warm_start"].iloc[1:].all()
    assert starts == [0]  # 3.0 starts from the last plan (the base), 1.9 from the base plan: nearer than 3.0
