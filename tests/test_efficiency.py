"""Efficiency programs as decisions: hand-computed funding, break-even, the exact linearisation and its
big-M, how two programs combine, first-stage vs per-scenario starts, sweeps without a rebuild, what a
program saves against a plan without it, the uncertainty analysis, and the input cells.

The factory's numbers: one GPU serves 2.628e9 tokens a month, a leased GPU-month costs $1,460 (1-month
terms here, so each month is bought on its own), demand is in GPUs worth of tokens. A program with
multiplier 2 halves the GPUs a month needs once it is in service.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyomo.environ as pyo
import pytest
from factory import CLOUD_GPU_MONTH, HOURS, LEASE_GPU_MONTH, TOKENS_PER_SECOND, lease, month, program, tiny
from typer.testing import CliRunner
from workbook_helpers import by_cell, edit, issues

import planner
from planner.cli import app
from planner.efficiency import compare_without_programs
from planner.model import build_model
from planner.programs import program_columns
from planner.report import write_report
from planner.schema import Throughput
from planner.solver import Planner
from planner.template import write_template
from planner.workbook import load, write_problem

DEMAND = [10.0] * 4
"""10 GPUs a month for 4 months: 40 GPU-months, $58,400 leased without a program."""
SAVED_GPU_MONTHS = 3 * 5
"""A doubling program started in month 0 and in service from month 1 halves months 1-3: 5 GPUs x 3."""
BREAK_EVEN_USD = SAVED_GPU_MONTHS * LEASE_GPU_MONTH
"""$21,900: the one-off cost at which funding the program and buying the GPUs cost the same."""


def monthly_leases(**kwargs) -> planner.Problem:
    """DEMAND, 1-month leases startable every month, no on-demand, one program (kwargs)."""
    return tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)], on_demand=(),
                programs=[program(delay=1, **kwargs)])


# ---- funded or not, and the break-even -----------------------------------------------------------------


def test_a_program_that_pays_for_itself_is_funded() -> None:
    """$1,000 against $21,900 of GPUs saved: funded from month 0, 25 GPU-months leased."""
    result = planner.solve(monthly_leases(one_off=1_000.0))
    assert result.program_plan() == {("ROOT", "P", 0): 1}
    assert result.objective_usd == pytest.approx(25 * LEASE_GPU_MONTH + 1_000.0, rel=1e-9)
    used = result.capacity().groupby("month")["gpus_used"].sum()
    assert used.tolist() == pytest.approx([10.0, 5.0, 5.0, 5.0])


def test_a_program_that_does_not_pay_is_not_funded() -> None:
    result = planner.solve(monthly_leases(one_off=30_000.0))
    assert result.program_plan() == {}
    assert result.objective_usd == pytest.approx(40 * LEASE_GPU_MONTH, rel=1e-9)
    assert result.programs().empty and result.headline_programs() == [
        "fund no efficiency program: buying GPUs is cheaper"]


@pytest.mark.parametrize("offset, funded", [(-1.0, True), (1.0, False)])
def test_break_even_cost_is_the_gpus_it_saves(offset: float, funded: bool) -> None:
    """Just below $21,900 the program is funded, just above it is not; the cost moves by the dollar."""
    result = planner.solve(monthly_leases(one_off=BREAK_EVEN_USD + offset))
    assert bool(result.program_plan()) is funded
    assert result.objective_usd == pytest.approx(40 * LEASE_GPU_MONTH + min(offset, 0.0), rel=1e-12)


def test_monthly_cost_runs_to_the_horizon_end_and_sets_the_start() -> None:
    """$100 a month plus $1,000: started in month 0 it pays 4 months ($1,400); the report and the cost
    tables say the same."""
    result = planner.solve(monthly_leases(one_off=1_000.0, monthly=100.0))
    [row] = result.programs().itertuples()
    assert (row.start_month, row.in_service_month, row.cost_in_horizon_usd) == (month(0), month(1), 1_400.0)
    costs = result.costs()
    assert costs.loc[costs["category"] == "efficiency", "cost_usd"].tolist() == [1_100.0, 100.0, 100.0, 100.0]


# ---- the linearisation ---------------------------------------------------------------------------------


def test_big_m_is_the_smaller_of_capacity_and_need() -> None:
    """Need: 10 GPUs at twice the rate is 5; capacity: 1,000 leasable, or 4 under a 4 kW power cap."""
    assert set(program_columns(monthly_leases()).values()) == {5.0}
    capped = tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)], on_demand=(), power_cap_mw=0.004,
                  unserved_allowed=True, programs=[program(delay=1)])
    assert set(program_columns(capped).values()) == {4.0}
    m = build_model(capped)
    assert set(m.gpus_improved) == {("P", "base", t, "chat", "H100") for t in (1, 2, 3)}
    assert {pyo.value(v) for v in m.program_bigm_kgpu.values()} == {0.004}


def two_gpu_types(**program_options: float) -> planner.Problem:
    """monthly_leases with an identical second GPU type (its own 1-month leases) serving the workload."""
    base = monthly_leases(**program_options).model_dump()
    twin = {**base["gpu_types"][0], "name": "H200"}
    return planner.Problem.model_validate({
        **base, "gpu_types": [*base["gpu_types"], twin],
        "throughput": [*base["throughput"], {**base["throughput"][0], "gpu_type": "H200"}],
        "lease_offers": [*base["lease_offers"],
                         lease("L2", term=1, earliest=0, latest=3, gpu_type="H200").model_dump()],
    })


def test_program_peak_bounds_the_improved_gpus_of_every_type_together() -> None:
    """Row: the improved rate (2 x 2.628 Ttok per kGPU-month) on each type's improved GPUs, at most the
    peak (10 GPUs worth: 0.02628 Ttok) times the program in effect. Relaxation, by hand: without the row
    each type's big-M (5 GPUs) lets a start of 1/2 improve 2.5 GPUs of each type, the whole need, for half
    the $1,000: 25 GPU-months ($36,500) + $500 = $37,000. With it, a start x improves 5x GPUs in all, so
    the LP pays for the program in full: $37,500, the MILP's optimum (no gap left to close)."""
    problem = two_gpu_types(one_off=1_000.0)
    m = build_model(problem)
    rate = 2 * TOKENS_PER_SECOND * HOURS * 3600 * 1e3 / 1e12
    assert set(m.program_peak) == {("P", "base", t, "chat") for t in (1, 2, 3)}
    assert [pyo.value(v) for v in m.program_rate_ttok_per_kgpu_month.values()] == pytest.approx([rate, rate])
    assert [pyo.value(v) for v in m.program_peak_ttok.values()] == pytest.approx([10 * rate / 2 / 1e3] * 3)
    optimum = 25 * LEASE_GPU_MONTH + 1_000.0
    assert planner.solve(problem).objective_usd == pytest.approx(optimum)
    tight = Planner(problem).solve(relax=True, marginal_values=False)
    assert tight.objective_usd == pytest.approx(optimum)
    loose = Planner(problem)
    loose.model.program_peak.deactivate()
    assert loose.solve(relax=True, marginal_values=False).objective_usd == pytest.approx(25 * LEASE_GPU_MONTH + 500.0)


def test_improved_gpus_are_zero_until_the_program_is_in_service() -> None:
    """Started in month 1 (forced by its window), in service from month 2: month 1 still needs 10 GPUs."""
    problem = tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)], on_demand=(),
                   programs=[program(earliest=1, latest=1, delay=1, one_off=10.0)])
    result = planner.solve(problem)
    assert result.program_plan() == {("ROOT", "P", 1): 1}
    used = result.capacity().groupby("month")["gpus_used"].sum()
    assert used.tolist() == pytest.approx([10.0, 10.0, 5.0, 5.0])


def test_two_programs_on_one_pair_do_not_stack() -> None:
    """Two doublings at $100 each: the best rate applies, so the second buys nothing and is not funded
    (stacked they would quarter the GPUs and both pay for themselves)."""
    problem = tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)], on_demand=(),
                   programs=[program("A", delay=1, one_off=100.0), program("B", delay=1, one_off=100.0)])
    result = planner.solve(problem)
    assert len(result.program_plan()) == 1
    assert result.objective_usd == pytest.approx(25 * LEASE_GPU_MONTH + 100.0, rel=1e-9)


def test_new_mfu_raises_lower_pairs_only() -> None:
    """A 22% target doubles a pair at 11% and leaves a pair at 40% alone (factor 1, no gain)."""
    base = tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)], default_mfu=0.11)
    workload = base.workloads[0].model_copy(update={"flops_per_token": 1e9})
    problem = base.model_validate({**base.model_dump(), "workloads": [workload.model_dump()],
                                   "throughput": [Throughput(gpu_type="H100", workload="chat", mfu=0.40).model_dump()],
                                   "efficiency_programs": [program(new_mfu=0.22).model_dump()]})
    effects = planner.solve(problem).program_effects()
    assert effects[["today_mfu", "program_mfu", "throughput_multiplier"]].values.tolist() == [[0.40, 0.40, 1.0]]
    problem = problem.model_validate({**problem.model_dump(), "throughput": []})
    [row] = planner.solve(problem).program_effects().itertuples()
    assert (row.today_mfu, row.program_mfu, row.throughput_multiplier) == pytest.approx((0.11, 0.22, 2.0))


# ---- who decides -----------------------------------------------------------------------------------------


def two_worlds(decided: str = "first_stage", **settings) -> planner.Problem:
    """low needs 2 GPUs, high 40, for 4 months, on demand only (per scenario, $3,650 a GPU-month); a doubling
    program startable from month 1, in service at once, $30,000: it saves 1 x 3 x $3,650 = $10,950 in low
    and 20 x 3 x $3,650 = $219,000 in high."""
    return tiny({"low": [2.0] * 4, "high": [40.0] * 4},
                programs=[program(earliest=1, one_off=30_000.0, decided=decided)], **settings)


def test_first_stage_program_is_one_decision_for_every_scenario() -> None:
    """Without a reveal month: funding it for both worlds, 0.5 x (5 GPU-months + $30,000) + 0.5 x (100
    GPU-months + $30,000) = $221,625, beats funding neither ($306,600): low pays for a program it does not
    need."""
    result = planner.solve(two_worlds())
    assert result.program_plan() == {("ROOT", "P", 1): 1}
    assert result.objective_usd == pytest.approx(0.5 * (5 * CLOUD_GPU_MONTH + 30_000) + 0.5 * (100 * CLOUD_GPU_MONTH
                                                                                             + 30_000), rel=1e-9)
    assert result.programs_by_scenario()["funded"].tolist() == [True, True]


def test_after_the_reveal_each_world_decides_its_own() -> None:
    """Known from month 1, the month it can start: only high funds it ("later", in its world)."""
    result = planner.solve(two_worlds(reveal_month=month(1)))
    assert result.program_plan() == {("ROOT_1", "P", 1): 1}
    by_scenario = result.programs_by_scenario().set_index("scenario")
    assert by_scenario["funded"].to_dict() == {"low": False, "high": True}
    assert by_scenario.loc["high", "decided"] == "later"
    assert result.objective_usd == pytest.approx(0.5 * 8 * CLOUD_GPU_MONTH + 0.5 * (100 * CLOUD_GPU_MONTH + 30_000),
                                                 rel=1e-9)


def test_per_scenario_program_is_recourse() -> None:
    result = planner.solve(two_worlds("per_scenario"))
    assert result.program_plan() == {("high", "P", 1): 1}
    assert result.programs()["decided"].tolist() == ["per scenario"]


# ---- sweeps: cost and effect are parameters ---------------------------------------------------------------


@pytest.mark.parametrize("change", [{"one_off": 25_000.0}, {"multiplier": 1.25}, {"one_off": 500.0, "monthly": 5e3}])
def test_update_in_place_equals_a_fresh_solve(change: dict) -> None:
    """Cost and effect change by Planner.update (no rebuild) and give the fresh model's optimum."""
    start = dict(one_off=1_000.0)
    planner_ = Planner(monthly_leases(**start))
    planner_.solve()
    changed = monthly_leases(**{**start, **change})
    assert planner_.update(changed) is True
    updated = planner_.solve()
    fresh = planner.solve(changed)
    assert updated.objective_usd == pytest.approx(fresh.objective_usd, rel=1e-9)
    assert updated.program_plan() == fresh.program_plan()


def test_a_new_window_needs_a_rebuild() -> None:
    planner_ = Planner(monthly_leases())
    assert planner_.update(monthly_leases(earliest=1)) is False


# ---- what programs save -----------------------------------------------------------------------------------


def test_saving_against_the_plan_without_programs() -> None:
    """$58,400 without, 25 x $1,460 + $1,000 with: a $20,900 saving, 15 GPUs fewer."""
    result = planner.solve(monthly_leases(one_off=1_000.0))
    assert result.program_savings().empty and result.programs_summary()["program_savings"] is None
    off = compare_without_programs(result)
    assert off.program_plan() == {} and off.objective_usd == pytest.approx(40 * LEASE_GPU_MONTH)
    expected = result.program_savings().set_index("scenario").loc["expected"]
    assert expected["saving_usd"] == pytest.approx(40 * LEASE_GPU_MONTH - 25 * LEASE_GPU_MONTH - 1_000.0)
    assert expected["gpus_not_leased"] == 15
    assert "save $20,900" in result.program_saving_in_words()


def test_without_programs_there_may_be_no_plan() -> None:
    """Demand that must be served and 5 leasable GPUs: only the doubling program makes it feasible."""
    problem = tiny(DEMAND, offers=[lease(term=4, max_blocks=5)], on_demand=(), unserved_allowed=False,
                   programs=[program(delay=0, one_off=1.0)])
    result = planner.solve(problem)
    assert result.status == "optimal"
    compare_without_programs(result)
    assert result.without_programs.status == "infeasible"
    assert "they are needed" in result.program_saving_in_words()


# ---- planning under uncertainty ---------------------------------------------------------------------------


def test_expected_value_plan_keeps_its_programs_in_every_scenario() -> None:
    """The expected-value problem (21 GPUs a month) funds the program (it saves 10.5 x 3 x $1,460); met with
    low demand its leases (21, 11, 11, 11) and its program are fixed: 54 GPU-months and $30,000."""
    problem = tiny({"low": [2.0] * 4, "high": [40.0] * 4}, offers=[lease(term=1, earliest=0, latest=3)],
                   on_demand=(), programs=[program(delay=1, one_off=30_000.0)])
    analysis = planner.analyse(problem)
    assert analysis.plans["expected value"].programs == {("P", 0): 1}
    costs = analysis.costs.set_index(["plan", "scenario"])["cost_usd"]
    assert costs["expected value", "low"] == pytest.approx(54 * LEASE_GPU_MONTH + 30_000.0, rel=1e-9)
    assert any("first-stage efficiency programs" in note for note in analysis.notes)


# ---- input ------------------------------------------------------------------------------------------------


def test_template_has_the_programs_sheet(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "template.xlsx"
    write_template(path)
    book = openpyxl.load_workbook(path)
    headers = [cell.value for cell in book["EfficiencyPrograms"][1]]
    assert headers[:4] == ["program_id", "gpu_types", "workloads", "mfu_multiplier"]
    readme = [row[0] for row in book["README"].iter_rows(values_only=True)]
    assert "EfficiencyPrograms" in readme


def test_programs_round_trip_through_the_workbook(tmp_path: Path) -> None:
    problem = monthly_leases(one_off=1_000.0, monthly=10.0, latest=2)
    path = tmp_path / "programs.xlsx"
    write_problem(problem, path)
    assert load(path) == problem


def test_bad_program_cells_are_named(tmp_path: Path) -> None:
    """Row 2: an unknown workload (C2) and both effects (E2: new_mfu); row 3: a start too late for its
    2-month delay to take effect inside the 4-month horizon (F3)."""
    problem = tiny(DEMAND, offers=[lease(term=1, earliest=0, latest=3)],
                   programs=[program("A", delay=1), program("B", delay=2)])
    path = tmp_path / "bad.xlsx"
    write_problem(problem, path)
    found = by_cell(issues(edit(path, {"EfficiencyPrograms!C2": "chat, coding", "EfficiencyPrograms!E2": 0.3,
                                       "EfficiencyPrograms!F3": month(2)})))
    assert set(found) == {"EfficiencyPrograms!C2", "EfficiencyPrograms!E2", "EfficiencyPrograms!F3"}
    assert found["EfficiencyPrograms!C2"].found == "'coding'"
    assert found["EfficiencyPrograms!E2"].expected.startswith("exactly one of mfu_multiplier and new_mfu")
    assert "falls after the horizon" in found["EfficiencyPrograms!F3"].expected


def test_new_mfu_needs_a_known_mfu(tmp_path: Path) -> None:
    """The tiny pair's throughput is measured (1,000 tokens/s) and chat has no flops_per_token."""
    problem = tiny(DEMAND, offers=[lease(term=1)], programs=[program(multiplier=1.5)])
    path = tmp_path / "mfu.xlsx"
    write_problem(problem, path)
    found = by_cell(issues(edit(path, {"EfficiencyPrograms!D2": None, "EfficiencyPrograms!E2": 0.25})))
    assert list(found) == ["EfficiencyPrograms!E2"]
    assert found["EfficiencyPrograms!E2"].expected.startswith("mfu_multiplier instead: today's MFU of (H100, chat)")


def test_multiplier_past_full_mfu_is_refused() -> None:
    """Today's MFU 0.5 (Settings default_mfu, FLOPs per token known): a multiplier of 2.5 would pass 100%."""
    from planner.errors import InputError

    base = tiny(DEMAND, offers=[lease(term=1)], default_mfu=0.5)
    with pytest.raises(InputError) as caught:
        base.model_validate({**base.model_dump(), "throughput": [],
                             "workloads": [{**base.workloads[0].model_dump(), "flops_per_token": 1e9}],
                             "efficiency_programs": [program(multiplier=2.5).model_dump()]})
    [issue] = caught.value.issues
    assert (issue.sheet, issue.column, issue.row_index) == ("EfficiencyPrograms", "mfu_multiplier", 0)
    assert issue.expected.startswith("at most 2: today's MFU of (H100, chat) is 0.5")


# ---- outputs ----------------------------------------------------------------------------------------------


def test_cli_states_funded_programs_and_the_saving(tmp_path: Path) -> None:
    path = tmp_path / "programs.xlsx"
    write_problem(monthly_leases(one_off=1_000.0), path)
    report = tmp_path / "report.xlsx"
    result = CliRunner().invoke(app, ["solve", str(path), "--json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [(p["program_id"], p["start_month"], p["decided"]) for p in payload["efficiency_programs"]] == [
        ("P", month(0), "now")]
    expected = payload["program_savings"]["rows"][-1]
    assert expected["scenario"] == "expected" and expected["saving_usd"] == pytest.approx(20_900.0)
    text = CliRunner().invoke(app, ["solve", str(path), "--no-report"])
    words = " ".join(text.stdout.split())  # the summary wraps to the terminal's width
    assert f"fund P now, in every scenario: start {month(0)}, in service {month(1)}" in words
    assert "The programs save $20,900 of expected cost (NPV) against the same plan without them" in words
    skipped = CliRunner().invoke(app, ["solve", str(path), "--json", "--no-report", "--no-program-savings"])
    assert json.loads(skipped.stdout)["program_savings"] is None
    skipped_text = CliRunner().invoke(app, ["solve", str(path), "--no-report", "--no-program-savings"])
    assert "Saving against buying GPUs not computed" in skipped_text.stdout


def test_report_has_the_efficiency_sheet(tmp_path: Path) -> None:
    import openpyxl

    result = planner.solve(monthly_leases(one_off=1_000.0))
    compare_without_programs(result)
    path = write_report(result, tmp_path / "report.xlsx")
    book = openpyxl.load_workbook(path)
    assert "Efficiency & budget" in book.sheetnames
    tables = {name for sheet in book.worksheets for name in sheet.tables}
    assert {"Efficiency_Programs", "Efficiency_Savings", "Efficiency_Effects"} <= tables
    summary = [cell for row in book["Summary"].iter_rows(values_only=True) for cell in row if isinstance(cell, str)]
    assert any(cell.startswith("Efficiency & budget:") for cell in summary)
    plain = planner.solve(tiny(DEMAND, offers=[lease(term=1)]))
    assert "Efficiency & budget" not in openpyxl.load_workbook(write_report(plain, tmp_path / "plain.xlsx")).sheetnames
