"""Plans that learn: the scenario tree, one lease decision per (node, offer, start), lead times, the value
of learning on a hand-computed instance, and the two-stage model kept exactly when no reveal month is
given (pinned on the example and on generated instances).

Generated-instance properties (non-anticipativity, WS <= MS <= RP <= EEV) are in test_properties.py.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import openpyxl
import pyomo.environ as pyo
import pytest
from factory import LEASE_GPU_MONTH, credit, lease, month, tiny
from pyomo.repn.standard_repn import generate_standard_repn
from typer.testing import CliRunner
from workbook_helpers import by_cell, edit, issues, small_workbook

import planner
from planner.cli import app
from planner.efficiency import without_programs
from planner.model import build_model
from planner.model.tree import ROOT, ScenarioTree
from planner.schema import LeaseOffer, Problem
from planner.template import write_template
from planner.uncertainty import MULTI_STAGE, analyse, two_stage
from planner.workbook import load, write_problem

ROOT_DIR = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT_DIR / "inputs" / "colossus-2025.xlsx"
EVEN = {"low": 0.5, "high": 0.5}


# ---- the scenario tree --------------------------------------------------------------------------------


def test_no_reveal_is_one_node_for_the_whole_horizon() -> None:
    tree = ScenarioTree.from_reveal_month(["a", "b"], {"a": 0.5, "b": 0.5}, 4, None)
    assert [n.node_id for n in tree.nodes] == [ROOT]
    assert tree.is_two_stage and tree.first_branch_month is None
    assert all(tree.groups(t) == (ROOT,) for t in range(4))
    assert tree.node_of("b", 9) == ROOT  # past the horizon: the last month's group
    assert tree.root.probability == 1.0 and tree.label(ROOT) == "all"


def test_reveal_splits_every_scenario_from_the_reveal_month() -> None:
    probability = {"10x": 0.5, "30x": 0.3, "80x": 0.2}
    tree = ScenarioTree.from_reveal_month(list(probability), probability, 6, 2)
    assert [(n.node_id, n.parent, n.first_month, n.scenarios) for n in tree.nodes] == [
        (ROOT, None, 0, ("10x", "30x", "80x")), ("ROOT_0", ROOT, 2, ("10x",)), ("ROOT_1", ROOT, 2, ("30x",)),
        ("ROOT_2", ROOT, 2, ("80x",))]
    assert [tree.node(n).probability for n in ("ROOT_0", "ROOT_1", "ROOT_2")] == [0.5, 0.3, 0.2]
    assert tree.groups(1) == (ROOT,) and tree.groups(2) == ("ROOT_0", "ROOT_1", "ROOT_2")
    assert [tree.node_of("30x", t) for t in range(4)] == [ROOT, ROOT, "ROOT_1", "ROOT_1"]
    assert tree.ancestor_at("ROOT_2", 1) == ROOT and tree.ancestor_at("ROOT_2", 5) == "ROOT_2"
    assert tree.lineage("ROOT_2") == (ROOT, "ROOT_2") and tree.path("80x") == (ROOT, "ROOT_2")
    assert tree.first_branch_month == 2 and tree.label("ROOT_1") == "30x"


def test_reveal_in_the_first_month_leaves_nothing_in_common() -> None:
    """Known from the start (perfect foresight): the root is in force in no month."""
    tree = ScenarioTree.from_reveal_month(["a", "b"], {"a": 0.5, "b": 0.5}, 3, 0)
    assert tree.groups(0) == ("ROOT_0", "ROOT_1")
    assert tree.first_branch_month == 0


def test_later_branch_points_are_a_list_of_partitions() -> None:
    """a is told apart in month 2, b from c only in month 4: a three-level tree, mpi-sppy numbering."""
    probability = {"a": 0.2, "b": 0.3, "c": 0.5}
    together, a_apart, apart = [["a", "b", "c"]], [["a"], ["c", "b"]], [["c"], ["b"], ["a"]]
    tree = ScenarioTree.from_partitions(list(probability), probability,
                                        [together] * 2 + [a_apart] * 2 + [apart] * 2)
    assert [(n.node_id, n.parent, n.first_month, n.scenarios) for n in tree.nodes] == [
        (ROOT, None, 0, ("a", "b", "c")), ("ROOT_0", ROOT, 2, ("a",)), ("ROOT_1", ROOT, 2, ("b", "c")),
        ("ROOT_1_0", "ROOT_1", 4, ("b",)), ("ROOT_1_1", "ROOT_1", 4, ("c",))]
    assert tree.node("ROOT_1").probability == pytest.approx(0.8)
    assert tree.groups(3) == ("ROOT_0", "ROOT_1") and tree.groups(4) == ("ROOT_0", "ROOT_1_0", "ROOT_1_1")
    assert tree.lineage("ROOT_1_1") == (ROOT, "ROOT_1", "ROOT_1_1")
    assert tree.ancestor_at("ROOT_1_0", 3) == "ROOT_1" and tree.label("ROOT_1") == "b, c"


def test_partitions_must_cover_the_scenarios_and_never_forget() -> None:
    probability = {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError, match="not a partition"):
        ScenarioTree.from_partitions(["a", "b"], probability, [[["a"]]])
    with pytest.raises(ValueError, match="never forgotten"):
        ScenarioTree.from_partitions(["a", "b"], probability, [[["a"], ["b"]], [["a", "b"]]])


def test_one_scenario_never_branches() -> None:
    tree = ScenarioTree.from_reveal_month(["only"], {"only": 1.0}, 5, 2)
    assert tree.is_two_stage


# ---- lead times and the signing node ----------------------------------------------------------------


def coefficients(expr) -> dict[str, float]:
    repn = generate_standard_repn(expr, compute_values=True)
    return {var.name: coef for var, coef in zip(repn.linear_vars, repn.linear_coefs, strict=True) if coef}


def test_lead_time_sets_the_signing_month_and_drops_starts_signed_before_the_horizon() -> None:
    """Starts 0..3 with a 2-month lead time: starts 0 and 1 would be signed before the first month (a
    commitment, not a decision): only 2 and 3 are offered, signed in months 0 and 1."""
    m = build_model(tiny([1.0] * 4, offers=[lease(earliest=0, latest=3, lead_time=2)]))
    assert set(m.LEASE_STARTS) == {("L", 2), ("L", 3)}
    assert m.data.lease_signing_month == {("L", 2): 0, ("L", 3): 1}


def test_lead_time_decides_which_node_signs() -> None:
    """Reveal in month 1: the start in month 2 (signed in month 0) is one decision for both scenarios,
    the start in month 3 (signed in month 1) one per scenario; GPUs of month 3 read the scenario's node."""
    problem = tiny({"low": [1.0] * 4, "high": [2.0] * 4}, offers=[lease(earliest=2, latest=3, lead_time=2)],
                   reveal_month=month(1))
    m = build_model(problem)
    assert set(m.lease_blocks) == {(ROOT, "L", 2), ("ROOT_0", "L", 3), ("ROOT_1", "L", 3)}
    assert set(m.installed_kgpu) == {(n, "H100", "dc", t) for n in ("ROOT_0", "ROOT_1") for t in (2, 3)}
    # Month 3 in the high world counts the common start-2 blocks and its own start-3 blocks.
    assert {var.name for var in pyo.expr.identify_variables(m.installed_kgpu["ROOT_1", "H100", "dc", 3].expr)} == {
        "lease_blocks[ROOT,L,2]", "lease_blocks[ROOT_1,L,3]"}
    # The offer limit holds per world (its last signing month is after the reveal).
    assert set(m.offer_max_blocks) == {("ROOT_0", "L"), ("ROOT_1", "L")}


def test_budget_credits_and_share_read_each_worlds_signings() -> None:
    """Reveal in month 1; 'early' (start 1, signed 0) is common, 'late' (start 1, signed 1) per world.
    One budget row per world, over the common and its own blocks; a leases credit and the share cap of
    the high world count the high world's blocks only (1,000 GPU-hours x price per GPU = 1.46 / 2.19
    thousand USD, in MUSD per block: 0.00146 early, 0.00219 late)."""
    problem = tiny({"low": [0.0, 10.0], "high": [0.0, 30.0]}, probabilities=EVEN, offers=learning_offers(),
                   credits=[credit(amount=1_000.0, expiry=1, provider="lessor", applies_to="leases")],
                   reveal_month=month(1), max_total_commitment_usd=1e5, max_provider_share=0.9)
    m = build_model(problem)
    assert set(m.budget) == {"ROOT_0", "ROOT_1"}
    assert coefficients(m.budget["ROOT_1"].body) == pytest.approx(
        {"lease_blocks[ROOT,early,1]": 0.00146, "lease_blocks[ROOT_1,late,1]": 0.00219})
    assert coefficients(m.credit_eligible["high", 1, "lessor", "leases"].body) == pytest.approx(
        {"credit_used[high,C,1]": 1, "lease_blocks[ROOT,early,1]": -0.00146, "lease_blocks[ROOT_1,late,1]": -0.00219})
    share = coefficients(m.provider_share["high", "lessor"].body)
    assert "lease_blocks[ROOT_1,late,1]" in share and "lease_blocks[ROOT_0,late,1]" not in share


def test_upfront_is_paid_at_signing() -> None:
    """A 3-month lead time and $500 upfront per block: the deposit falls in the signing month, the
    monthly payments from the start."""
    result = planner.solve(tiny([0.0, 0.0, 0.0, 10.0], offers=[lease(earliest=3, term=1, lead_time=3, upfront=500.0,
                                                                      block=10)], on_demand=[]))
    assert result.lease_plan() == {("L", 3): 1}
    payments = result.lease_payments()
    assert payments[["month", "payment_usd"]].values.tolist() == [[month(0), 500.0], [month(3), 10 * LEASE_GPU_MONTH]]
    costs = result.costs().set_index(["month", "category"])["cost_usd"]
    assert costs[month(0), "upfront"] == 500.0 and costs[month(3), "leases"] == 10 * LEASE_GPU_MONTH
    assert result.leases().loc[0, ["signing_month", "start_month"]].tolist() == [month(0), month(3)]


# ---- learning is worth a hand-computed amount -------------------------------------------------------------


def learning_problem(reveal_month: str | None) -> Problem:
    """Two months, 50/50 worlds needing 10 or 30 GPUs in month 1 (none in month 0). 'early' starts in
    month 1 with a 1-month lead time (signed in month 0) at $2/GPU-hour ($1,460 a GPU-month); 'late'
    starts in month 1 with no lead time (signed in month 1) at $3 ($2,190); on demand costs $5 ($3,650)."""
    return tiny({"low": [0.0, 10.0], "high": [0.0, 30.0]}, probabilities=EVEN, offers=learning_offers(),
                reveal_month=reveal_month)


def learning_offers() -> list[LeaseOffer]:
    return [lease("early", earliest=1, term=1, lead_time=1), lease("late", earliest=1, term=1, price=3.0)]


def test_learning_is_worth_a_hand_computed_amount() -> None:
    """Two-stage: 'late' is dearer than 'early' for the same month, so only 'early' is used: the
    newsvendor leases 30 (a 2nd tranche of 20 saves 0.5 x 3,650 > 1,460): RP = 30 x 1,460 = 43,800.
    Known from month 1: 'early' (signed in month 0) is common, 'late' per world. Leasing x early,
    the high world adds 30 - x late: cost 1,460 x + 0.5 x 2,190 (10 - x)+ + 0.5 x 2,190 (30 - x)+,
    slope -730 below 10 and +365 above: x = 10, MS = 14,600 + 0.5 x 20 x 2,190 = 36,500.
    Value of learning = 7,300. WS = 0.5 x 14,600 + 0.5 x 43,800 = 29,200. The EV plan leases 20 early:
    29,200 in low, 29,200 + 10 x 3,650 in high: EEV = 47,450."""
    analysis = analyse(learning_problem(month(1)))
    figures = analysis.figures
    assert figures["rp_usd"] == pytest.approx(43_800.0, rel=1e-9)
    assert figures["multi_stage_usd"] == pytest.approx(36_500.0, rel=1e-9)
    assert figures["value_of_learning_usd"] == pytest.approx(7_300.0, rel=1e-9)
    assert figures["ws_usd"] == pytest.approx(29_200.0, rel=1e-9)
    assert figures["eev_usd"] == pytest.approx(47_450.0, rel=1e-9)
    assert figures["evpi_usd"] == pytest.approx(14_600.0, rel=1e-9)

    learned = analysis.multi_stage
    assert learned is not None and learned.is_multi_stage
    assert learned.lease_plan_by_node() == {(ROOT, "early", 1): 10, ("ROOT_1", "late", 1): 20}
    assert learned.lease_plan("low") == {("early", 1): 10}
    assert learned.lease_plan("high") == {("early", 1): 10, ("late", 1): 20}
    assert learned.sign_now()[["scenario", "offer_id", "blocks", "signing_month"]].values.tolist() == [
        ["all", "early", 10, month(0)]]
    assert learned.sign_later()[["scenario", "offer_id", "blocks"]].values.tolist() == [["high", "late", 20]]
    assert learned.headline_decisions()[1].startswith(f"in high (known from {month(1)}): sign 20 blocks of late")
    # Each world pays what it signs.
    assert learned.scenario_costs().set_index("scenario")["npv_usd"].to_dict() == pytest.approx(
        {"low": 14_600.0, "high": 14_600.0 + 43_800.0})
    totals = learned.lease_totals_by_scenario().set_index("scenario")
    assert totals[["gpus_signed_now", "gpus_signed_later"]].values.tolist() == [[10, 0], [10, 20]]
    assert totals.loc["high", "total_commitment_usd"] == pytest.approx(14_600.0 + 43_800.0)
    assert analysis.plans["stochastic"] == {("early", 1): 30}
    regret = analysis.regret_table().set_index(["plan", "scenario"])["regret_usd"]
    assert regret[MULTI_STAGE, "low"] == pytest.approx(0.0, abs=1e-6)
    assert regret[MULTI_STAGE, "high"] == pytest.approx(14_600.0)
    by_plan = analysis.expected_cost_by_plan().set_index("plan")
    assert by_plan.loc[MULTI_STAGE, "expected_cost_usd"] == pytest.approx(36_500.0)
    plans = analysis.lease_plans()
    assert plans[plans["plan"] == MULTI_STAGE][["scenario", "offer_id", "blocks"]].values.tolist() == [
        ["all", "early", 10], ["high", "late", 20]]


def test_without_reveal_the_plan_is_two_stage() -> None:
    result = planner.solve(learning_problem(None))
    assert not result.is_multi_stage
    assert result.objective_usd == pytest.approx(43_800.0, rel=1e-9)
    assert result.sign_later().empty and len(result.sign_now()) == len(result.leases()) == 1
    analysis = analyse(learning_problem(None))
    assert analysis.multi_stage is None and analysis.figures["value_of_learning_usd"] == 0.0


def test_fixing_a_plan_by_start_applies_it_in_every_world() -> None:
    """fix_leases with (offer, start) keys holds every world to that plan: the two-stage plan in the
    multi-stage model costs RP; with (node, offer, start) keys it holds each node's decision."""
    kept = planner.Planner(learning_problem(month(1)))
    kept.fix_leases({("early", 1): 30})
    assert kept.solve(marginal_values=False).objective_usd == pytest.approx(43_800.0, rel=1e-9)
    kept.fix_leases({(ROOT, "early", 1): 10, ("ROOT_1", "late", 1): 20})
    assert kept.solve(marginal_values=False).objective_usd == pytest.approx(36_500.0, rel=1e-9)
    with pytest.raises(ValueError, match="all be"):
        kept.fix_leases({("early", 1): 1, (ROOT, "late", 1): 1})


def test_update_in_place_keeps_the_tree() -> None:
    """A price change is a numbers-only update of the multi-stage model: 'late' at $2.50 ($1,825 a
    GPU-month) keeps x = 10 early (slopes -365 and +547.5): 14,600 + 0.5 x 20 x 1,825 = 32,850. Another
    reveal month is another tree: a rebuild."""
    kept = planner.Planner(learning_problem(month(1)))
    kept.solve(marginal_values=False)
    cheaper = learning_problem(month(1))
    cheaper = cheaper.model_copy(update={"lease_offers": [
        o.model_copy(update={"price_usd_per_gpu_hour": 2.5}) if o.offer_id == "late" else o
        for o in cheaper.lease_offers]})
    assert kept.update(cheaper)
    assert kept.solve(marginal_values=False).objective_usd == pytest.approx(32_850.0, rel=1e-9)
    assert not kept.update(learning_problem(None))


def test_semi_continuous_offer_decided_after_the_reveal() -> None:
    """min_blocks 20 if used, at $4/GPU-hour ($2,920 a GPU-month) against $3,650 on demand: the low world
    (10 GPUs) rents 10 on demand (36,500) rather than lease 20 (58,400); the high world (30) leases 30
    (87,600 < 109,500). Signed once known, so the binary is per world."""
    problem = tiny({"low": [0.0, 10.0], "high": [0.0, 30.0]}, probabilities=EVEN,
                   offers=[lease("big", price=4.0, earliest=1, term=1, min_blocks=20, max_blocks=40)],
                   reveal_month=month(1))
    m = build_model(problem)
    assert set(m.offer_used) == {("ROOT_0", "big"), ("ROOT_1", "big")}
    result = planner.solve(problem)
    assert result.lease_plan("low") == {} and result.lease_plan("high") == {("big", 1): 30}
    assert result.objective_usd == pytest.approx(0.5 * 36_500.0 + 0.5 * 87_600.0, rel=1e-9)


# ---- no reveal month: today's model, exactly -------------------------------------------------------------


def model_size(problem: Problem) -> tuple[int, int, int]:
    """(variables, constraints, integer variables) of the built model."""
    m = build_model(problem)
    integers = sum(1 for var in m.component_data_objects(pyo.Var) if var.is_integer())
    return m.nvariables(), m.nconstraints(), integers


def todays_example() -> Problem:
    """The example as it was before plans learned: no reveal month, no lead times (and no efficiency
    programs, which came later)."""
    problem = load(EXAMPLE)
    return problem.model_copy(update={
        "settings": problem.settings.model_copy(update={"reveal_month": None}),
        "lease_offers": [o.model_copy(update={"lead_time_months": 0}) for o in problem.lease_offers],
        "efficiency_programs": []})


def generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT_DIR / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    return module


# Recorded on main before the model changed (variables, constraints, integers; objective in USD at the
# instance's MIP gap). A change here must be explained in the commit that makes it.
TODAY_SIZES = {"example": (4475, 3173, 422), "M0": (3550, 2392, 283), "M1": (3428, 2338, 284),
               "L0": (30870, 17313, 1609)}
SLOW_BUILDS = {"L0"}
TODAY_OBJECTIVES = {"example": 23_402_904_649.48, "M0": 5_280_068_418.25, "M1": 7_140_269_418.81}


def todays(name: str) -> Problem:
    if name == "example":
        return todays_example()
    return generator().make_problem(name[0], int(name[1:]))


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_BUILDS else name
                                  for name in sorted(TODAY_SIZES)])
def test_blank_reveal_builds_todays_model(name: str) -> None:
    """Same variables, constraints and integers as before plans could learn."""
    assert model_size(todays(name)) == TODAY_SIZES[name]


def test_lead_times_keep_the_two_stage_example() -> None:
    """The example's lead times remove no start (each window opens no earlier than its lead time), so
    without a reveal month it has today's size."""
    assert model_size(without_programs(two_stage(load(EXAMPLE)))) == TODAY_SIZES["example"]


def test_blank_reveal_finds_todays_optimum() -> None:
    """The generated M instance (seed 0) solves to today's optimum, within twice its MIP gap."""
    result = planner.solve(todays("M0"), marginal_values=False)
    assert result.objective_usd == pytest.approx(TODAY_OBJECTIVES["M0"], rel=2 * result.problem.settings.mip_gap)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["example", "M1"])
def test_blank_reveal_finds_todays_optimum_on_larger_instances(name: str) -> None:
    result = planner.solve(todays(name), marginal_values=False)
    assert result.status == "optimal"
    assert result.objective_usd == pytest.approx(TODAY_OBJECTIVES[name], rel=2 * result.problem.settings.mip_gap)


# ---- input: lead times and the reveal month -----------------------------------------------------------------
# small_workbook: a 6-month horizon from 2025-01; offer L1 (row 2) may start 2025-01..2025-04. LeaseOffers
# column M is lead_time_months; Settings row 14 is reveal_month.


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_workbook(tmp_path_factory.mktemp("small"))


def copy_of(small: Path, folder: Path) -> Path:
    target = folder / small.name
    shutil.copy(small, target)
    return target


def test_reveal_month_and_lead_time_round_trip(small: Path, tmp_path: Path) -> None:
    blank = load(small)
    assert blank.settings.reveal_month is None and blank.lease_offers[0].lead_time_months == 0
    problem = load(edit(copy_of(small, tmp_path), {"Settings!B14": "2025-03", "LeaseOffers!M2": 2}))
    assert problem.settings.reveal_month == "2025-03" and problem.lease_offers[0].lead_time_months == 2


def test_template_offers_both_with_their_notes(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    book = openpyxl.load_workbook(path)
    header = book["LeaseOffers"]["M1"]
    assert header.value == "lead_time_months" and "signed in month k - lead time" in header.comment.text
    settings = {row[0].value: row for row in book["Settings"].iter_rows(min_row=2)}
    assert settings["reveal_month"][1].value is None and "Blank = never" in settings["reveal_month"][3].value


def test_reveal_month_outside_the_horizon_names_its_cell(small: Path, tmp_path: Path) -> None:
    found = by_cell(issues(edit(copy_of(small, tmp_path), {"Settings!B14": "2025-07"})))
    assert found["Settings!B14"].expected == "a month from 2025-01 to 2025-06 (the horizon), or blank for never"
    # An invalid horizon is reported once, not again through the reveal month.
    found = by_cell(issues(edit(copy_of(small, tmp_path), {"Settings!B14": "2025-03", "Settings!B3": "many"})))
    assert set(found) == {"Settings!B3"}


def test_lead_time_leaving_no_start_in_the_horizon_names_its_cell(small: Path, tmp_path: Path) -> None:
    """L1's latest start is 2025-04 (3 months after the first month): a 4-month lead time would sign every
    block before the horizon."""
    found = by_cell(issues(edit(copy_of(small, tmp_path), {"LeaseOffers!M2": 4})))
    assert set(found) == {"LeaseOffers!M2"}
    assert found["LeaseOffers!M2"].found == "4"
    assert found["LeaseOffers!M2"].expected.startswith(
        "at most 3 months (latest_start_month 2025-04 less lead_time_months must be 2025-01 or later)")
    found = by_cell(issues(edit(copy_of(small, tmp_path), {"LeaseOffers!M2": 61})))
    assert found["LeaseOffers!M2"].expected == "a whole number >= 0 and <= 60"


# ---- what the terminal and --json say ------------------------------------------------------------------------


@pytest.fixture
def learning_workbook(tmp_path: Path) -> Path:
    path = tmp_path / "learning.xlsx"
    write_problem(learning_problem(month(1)), path)
    return path


def test_cli_shows_sign_now_first_then_each_world(learning_workbook: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(learning_workbook), "--no-report"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    now, later = out.index("Sign now (in every scenario)"), out.index("Later, once the scenario is known")
    assert now < out.index("sign 10 blocks of early") < later
    assert "high" in out[later:] and "$43,800" in out[later:]
    assert "No more signings in: low" in out[later:]


def test_cli_json_has_sign_now_and_the_world_of_every_signing(learning_workbook: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(learning_workbook), "--no-report", "--json", "--uncertainty"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["reveal_month"] == month(1)
    assert [(row["offer_id"], row["blocks"], row["signing_month"]) for row in payload["sign_now"]] == [
        ("early", 10, month(0))]
    assert [(row["scenario"], row["offer_id"], row["blocks"]) for row in payload["leases"]] == [
        ("all", "early", 10), ("high", "late", 20)]
    figures = payload["uncertainty"]["figures"]
    assert figures["value_of_learning_usd"] == pytest.approx(7_300.0, rel=1e-9)
    assert figures["multi_stage_usd"] == pytest.approx(36_500.0, rel=1e-9)
