"""The sweep spec: the --vary grammar, spec validation with plain messages, and each target kind
applied to a problem (through full validation)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from factory import lease, realistic, tiny

from planner.errors import InputError
from planner.sweeps import MAX_GRID_POINTS, Sweep, Target, as_sweeps, parse_vary, sweep_from_vary, sweeps_from_rows
from planner.sweeps.apply import PointError, apply_changes, base_value, check_sweeps, select_rows
from planner.sweeps.points import coordinates, expand, nearest_neighbour_order, split_chains
from planner.sweeps.spec import build_sweep, parse_values


def issues_of(error: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(issue) for issue in error.value.issues]


# ---- the --vary grammar -------------------------------------------------------------------------

def test_vary_string_with_an_id_and_a_range() -> None:
    target = parse_vary("LeaseOffers[COL-H100-12].price_usd_per_gpu_hour=2.0:3.2:7")
    assert (target.table, target.rows, target.column, target.mode) == (
        "LeaseOffers", "COL-H100-12", "price_usd_per_gpu_hour", "set")
    assert target.values == [2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2]  # rounded: no 2.2000000000000002
    assert target.kind == "column"
    assert target.address == "LeaseOffers[COL-H100-12].price_usd_per_gpu_hour"


def test_vary_operators_select_the_mode_and_lists_parse() -> None:
    scale = parse_vary("Scenarios[80x].probability *= 0.5, 1, 2")
    add = parse_vary("Sites[*].power_cap_mw+=-50,0,150")
    assert (scale.mode, scale.values, scale.kind) == ("scale", [0.5, 1.0, 2.0], "probability")
    assert (add.mode, add.values, add.rows) == ("add", [-50.0, 0.0, 150.0], "*")
    assert scale.name == "Scenarios[80x].probability (scale)"


def test_vary_settings_with_or_without_the_table_name() -> None:
    assert parse_vary("Settings.default_mfu=0.11:0.41:4").values == [0.11, 0.21, 0.31, 0.41]
    bare = parse_vary("discount_rate_per_year=0.05,0.1")
    assert (bare.table, bare.column, bare.kind) == ("Settings", "discount_rate_per_year", "setting")


def test_vary_filters_and_demand_targets() -> None:
    mfu = parse_vary("Throughput[workload!=training & gpu_type=H100|H200].mfu*=1.5")
    assert mfu.rows == "workload!=training & gpu_type=H100|H200"
    demand = parse_vary("Demand[scenario=80x,workload=chat].tokens_per_month*=0.8:1.2:3")
    assert demand.kind == "demand" and demand.values == [0.8, 1.0, 1.2]
    assert Target.demand([2.0], scenario="80x").rows == "scenario=80x"


def test_vary_month_values_stay_text() -> None:
    target = parse_vary("LeaseOffers[L].latest_start_month=2025-03,2025-06")
    assert target.values == ["2025-03", "2025-06"]


@pytest.mark.parametrize(("text", "message"), [
    ("price=2", "--vary (column): found 'price'; expected a Settings column"),
    ("LeaseOffers[L]price_usd_per_gpu_hour=2", "--vary (vary): found 'LeaseOffers[L]price_usd_per_gpu_hour=2'; "
                                               "expected Table[rows].column=values"),
    ("LeaseOffers[L].price_usd_per_gpu_hour=", "expected Table[rows].column=values"),
    ("Leases[L].price_usd_per_gpu_hour=2", "--vary (table): found 'Leases'; expected one of Settings, Workloads"),
    ("LeaseOffers[L].price=2", "--vary (column): found 'price'; expected a LeaseOffers column (provider, site"),
    ("LeaseOffers[L].offer_id=X", "--vary (column): found 'offer_id'; expected a value column (the id cannot vary)"),
    ("LeaseOffers[L].price_usd_per_gpu_hour=2.0:3.2:1",
     "--vary (values): found '2.0:3.2:1'; expected start:stop:count"),
    ("LeaseOffers[L].price_usd_per_gpu_hour=2.0:3.2:2.5", "expected start:stop:count"),
    ("LeaseOffers[L].price_usd_per_gpu_hour=cheap", "--vary (values): found 'cheap'; expected numbers for "
                                                    "price_usd_per_gpu_hour"),
    ("LeaseOffers[L].max_blocks=4.5", "--vary (values): found 4.5; expected whole numbers for max_blocks"),
    ("LeaseOffers[L].gpu_type*=2", "--vary (mode): found scale; expected set (gpu_type is not a number)"),
    ("Settings[x].default_mfu=0.2", "--vary (rows): found 'x'; expected no rows for a Settings parameter"),
    ("Throughput[H100].mfu=0.2", "--vary (rows): found 'H100'; expected * or a filter such as gpu_type=..."),
    ("Scenarios[*].probability=0.2", "--vary (rows): found *; expected the scenarios to change"),
    ("LeaseOffers[L].price_usd_per_gpu_hour=1,,2", "expected values separated by commas, without empty entries"),
])
def test_vary_errors_name_the_offending_part(text: str, message: str) -> None:
    with pytest.raises(InputError) as error:
        parse_vary(text)
    assert any(message in issue for issue in issues_of(error)), issues_of(error)


def test_a_label_may_not_shadow_a_runs_column() -> None:
    with pytest.raises(InputError) as error:
        parse_vary("Settings.mip_gap=0.01", label="status")
    assert issues_of(error) == ["--vary (label): found 'status'; expected a name that is not a column of the runs "
                                "table"]


def test_several_vary_strings_report_every_error_with_its_position() -> None:
    with pytest.raises(InputError) as error:
        sweep_from_vary(["Settings.default_mfu=0.2", "Sites[*].power=1", "Bogus.x=1"])
    found = issues_of(error)
    assert len(found) == 2
    assert found[0].startswith("--vary 2 (column): found 'power'")
    assert found[1].startswith("--vary 3 (table): found 'Bogus'")


# ---- sweeps -------------------------------------------------------------------------------------

def test_sweep_errors_carry_the_sheet_cell_of_the_target() -> None:
    raw = {"name": "price", "location": "Sweeps!A4", "targets": [
        {"table": "LeaseOffers", "rows": "L", "column": "price_usd_per_gpu_hour", "values": "2:3:3",
         "location": "Sweeps!B4"},
        {"table": "LeaseOffers", "rows": "L", "column": "cost", "values": [1.0], "location": "Sweeps!B5"},
    ]}
    with pytest.raises(InputError) as error:
        build_sweep(raw)
    assert issues_of(error) == ["Sweeps!B5 (column): found 'cost'; expected a LeaseOffers column (provider, site, "
                                "gpu_type, gpus_per_block, price_usd_per_gpu_hour, term_months, earliest_start_month, "
                                "latest_start_month, min_blocks, max_blocks, upfront_usd_per_block, lead_time_months)"]


def test_sweep_without_targets_or_with_a_bad_design_is_refused() -> None:
    with pytest.raises(InputError) as error:
        build_sweep({"name": "empty", "targets": [], "design": "random"})
    found = issues_of(error)
    assert any("(targets)" in issue and "at least 1" in issue for issue in found)
    assert any("(design)" in issue and "'one_at_a_time' or 'grid'" in issue for issue in found)


def test_grid_size_is_bounded_and_counted() -> None:
    a, b = Target.setting("default_mfu", "0.1:0.4:4"), Target.setting("discount_rate_per_year", [0.05, 0.1])
    assert Sweep(name="g", targets=[a, b], design="grid").size == 8
    assert Sweep(name="o", targets=[a, b]).size == 6
    with pytest.raises(InputError) as error:
        build_sweep({"name": "huge", "design": "grid", "targets": [
            {"table": "Settings", "column": "default_mfu", "values": f"0.1:0.4:{MAX_GRID_POINTS}"},
            {"table": "Settings", "column": "mip_gap", "values": [0.01, 0.02]}]})
    assert issues_of(error) == [f"sweep 'huge' (design): found a grid of {2 * MAX_GRID_POINTS:,} points; "
                                f"expected at most {MAX_GRID_POINTS:,}"]


def test_the_same_target_twice_needs_a_label() -> None:
    same = "LeaseOffers[L].price_usd_per_gpu_hour=2,3"
    with pytest.raises(InputError, match=r"found LeaseOffers\[L\]\.price_usd_per_gpu_hour twice"):
        as_sweeps([same, same])
    labelled = [parse_vary(same), parse_vary(same, label="second look")]
    assert [t.name for t in as_sweeps(labelled)[0].targets] == ["LeaseOffers[L].price_usd_per_gpu_hour",
                                                                "second look"]


def test_as_sweeps_groups_loose_targets_and_keeps_named_sweeps() -> None:
    named = Sweep(name="mfu", targets=[Target.setting("default_mfu", [0.2])])
    sweeps = as_sweeps([named, "Settings.mip_gap=0.01", Target.probability("80x", [0.5])])
    assert [s.name for s in sweeps] == ["mfu", "vary"]
    assert [t.address for t in sweeps[1].targets] == ["Settings.mip_gap", "Scenarios[80x].probability"]
    with pytest.raises(InputError, match="a unique sweep name"):
        as_sweeps([named, named])


def test_parse_values_forms() -> None:
    assert parse_values("1:2:3") == [1.0, 1.5, 2.0]
    assert parse_values("3, 1; 2") == [3.0, 1.0, 2.0]
    assert parse_values(2.5) == [2.5]
    assert parse_values([1, 2]) == [1, 2]


# ---- checks against the input -------------------------------------------------------------------

def test_targets_are_checked_against_the_problem() -> None:
    problem = realistic(6)
    sweeps = as_sweeps(Sweep(name="bad", targets=[
        Target(table="LeaseOffers", rows="nowhere", column="price_usd_per_gpu_hour", values=[2.0],
               location="Sweeps!C7"),
        Target(table="LeaseOffers", rows="gpu_type=B300", column="price_usd_per_gpu_hour", values=[2.0]),
        Target(table="LeaseOffers", rows="colour=red", column="price_usd_per_gpu_hour", values=[2.0], label="c"),
        Target(table="Throughput", rows="colour=red", column="mfu", values=[0.2]),
        Target(table="Settings", column="max_total_commitment_usd", mode="scale", values=[2.0]),
        Target(table="Demand", rows="gpu=H100", column="tokens_per_month", mode="scale", values=[2.0]),
        Target(table="Scenarios", rows="10x,30x,80x", column="probability", values=[0.2], label="p"),
    ]))
    found = [str(issue) for issue in check_sweeps(problem, sweeps)]
    assert found[0] == ("Sweeps!C7 (rows): found 'nowhere'; expected one of the LeaseOffers ids (memphis-h100, "
                        "memphis-h200, abilene-gb200, abilene-h100), several separated by commas, * or a filter such "
                        "as provider=...")
    assert found[1] == ("LeaseOffers[gpu_type=B300].price_usd_per_gpu_hour (rows): found 'gpu_type=B300'; "
                        "expected a filter that matches LeaseOffers rows (none of the 4 match)")
    assert "expected one of the LeaseOffers ids" in found[2]
    assert "expected a filter on Throughput columns" in found[3] and "'colour' is not one" in found[3]
    assert found[4] == ("Settings.max_total_commitment_usd (mode): found scale; expected set "
                        "(Settings.max_total_commitment_usd is blank in the input: nothing to scale)")
    assert "expected a filter on scenario, workload and month" in found[5]
    assert "expected some scenarios, not all" in found[6]
    assert len(found) == 7


def test_selectors_by_id_filter_and_wildcard() -> None:
    problem = realistic(6)
    offers = [o.offer_id for o in problem.lease_offers]

    def chosen(rows: str) -> list[str]:
        target = Target(table="LeaseOffers", rows=rows, column="price_usd_per_gpu_hour", values=[1.0])
        return [offers[i] for i in select_rows(problem, target)]

    assert chosen("abilene-h100") == ["abilene-h100"]
    assert chosen("abilene-h100, memphis-h100") == ["memphis-h100", "abilene-h100"]
    assert chosen("*") == offers
    assert chosen("gpu_type=H100") == ["memphis-h100", "abilene-h100"]
    assert chosen("gpu_type=H100|GB200, site!=Memphis") == ["abilene-gb200", "abilene-h100"]
    assert chosen("term_months=12") == ["memphis-h100"]  # numbers compare as numbers
    assert chosen("earliest_start_month=2025-01-15") == ["memphis-h100", "abilene-h100"]  # months as months


# ---- applying each target kind ------------------------------------------------------------------

def test_column_target_changes_only_the_selected_rows_and_revalidates() -> None:
    problem = realistic(6)
    target = Target(table="LeaseOffers", rows="gpu_type=H100", column="price_usd_per_gpu_hour", mode="scale",
                    values=[1.5])
    changed = apply_changes(problem, [(target, 1.5)])
    prices = {o.offer_id: o.price_usd_per_gpu_hour for o in changed.lease_offers}
    assert prices["memphis-h100"] == pytest.approx(2.1 * 1.5) and prices["abilene-h100"] == pytest.approx(1.95 * 1.5)
    assert prices["memphis-h200"] == 2.45 and prices["abilene-gb200"] == 3.2
    assert problem.lease_offers[0].price_usd_per_gpu_hour == 2.1  # the base input is untouched


def test_whole_number_columns_are_rounded_when_scaled() -> None:
    problem = realistic(6)
    target = Target(table="LeaseOffers", rows="memphis-h200", column="max_blocks", mode="scale", values=[0.33])
    changed = apply_changes(problem, [(target, 0.33)])
    assert changed.lease_offers[1].max_blocks == 16  # 50 x 0.33 = 16.5 -> 16 (round half to even)


def test_setting_target_changes_derived_throughput() -> None:
    problem = realistic(6)
    target = Target.setting("default_mfu", [0.22])
    changed = apply_changes(problem, [(target, 0.22)])
    # chat on H100 has no Throughput row: 989 TFLOPS x 1e12 x MFU / 1e10 FLOPs per token
    assert problem.tokens_per_second_per_gpu("H100", "chat") == pytest.approx(989e12 * 0.11 / 1e10)
    assert changed.tokens_per_second_per_gpu("H100", "chat") == pytest.approx(989e12 * 0.22 / 1e10)


def test_probability_target_renormalises_the_other_scenarios() -> None:
    problem = realistic(6)  # 10x 0.5, 30x 0.3, 80x 0.2
    changed = apply_changes(problem, [(Target.probability("80x", [0.6]), 0.6)])
    assert [s.probability for s in changed.scenarios] == pytest.approx([0.25, 0.15, 0.6])
    doubled = apply_changes(problem, [(Target.probability("80x", [2.0], mode="scale"), 2.0)])
    assert [s.probability for s in doubled.scenarios] == pytest.approx([0.375, 0.225, 0.4])
    assert math.isclose(sum(s.probability for s in doubled.scenarios), 1.0)


def test_demand_target_on_base_times_growth_writes_the_pair_out() -> None:
    problem = realistic(6)
    target = Target.demand([2.0], workload="chat", scenario="80x")
    changed = apply_changes(problem, [(target, 2.0)])
    assert changed.demand_tokens("80x", "chat") == pytest.approx([2 * v for v in problem.demand_tokens("80x", "chat")])
    for scenario, workload in (("30x", "chat"), ("80x", "batch API"), ("10x", "agentic coding")):
        assert changed.demand_tokens(scenario, workload) == pytest.approx(problem.demand_tokens(scenario, workload))
    assert len(changed.demand) == 6  # one explicit row per month for (80x, chat) only


def test_demand_target_on_explicit_rows_and_one_month() -> None:
    problem = tiny({"low": [10, 10, 10], "high": [20, 30, 40]}, probabilities={"low": 0.5, "high": 0.5})
    target = Target(table="Demand", rows="scenario=high,month=2025-02", column="tokens_per_month", mode="add",
                    values=[0.0])
    from factory import gpus_worth
    changed = apply_changes(problem, [(target, gpus_worth(5))])
    assert changed.demand_tokens("high", "chat") == pytest.approx([gpus_worth(20), gpus_worth(35), gpus_worth(40)])
    assert changed.demand_tokens("low", "chat") == pytest.approx([gpus_worth(10)] * 3)


def test_growth_and_demand_scale_compose_in_a_grid_point() -> None:
    problem = realistic(6)
    growth = Target(table="Scenarios", rows="80x", column="growth_multiple_per_year", values=[40.0])
    scale = Target.demand([0.5], scenario="80x")
    changed = apply_changes(problem, [(scale, 0.5), (growth, 40.0)])  # demand applies last, whatever the order
    expected = [0.5 * 5e14 * 40.0 ** (t / 12) for t in range(6)]
    assert changed.demand_tokens("80x", "chat") == pytest.approx(expected)


def test_invalid_points_say_why_cell_by_cell() -> None:
    problem = tiny([10, 10], offers=[lease("L", max_blocks=4, min_blocks=2)])
    price = Target(table="LeaseOffers", rows="L", column="price_usd_per_gpu_hour", values=[-1.0])
    with pytest.raises(PointError) as error:
        apply_changes(problem, [(price, -1.0)])
    assert str(error.value) == ("LeaseOffers[L] (price_usd_per_gpu_hour): found -1; "
                                "expected a number >= 0 and <= 1000")
    minimum = Target(table="LeaseOffers", rows="L", column="min_blocks", values=[5])
    with pytest.raises(PointError) as error:
        apply_changes(problem, [(minimum, 5)])
    assert str(error.value) == "LeaseOffers[L] (min_blocks): found 5; expected at most max_blocks (4)"
    two = tiny({"a": [1, 1], "b": [1, 1]})
    with pytest.raises(PointError, match="found 1 for a; expected a probability above 0 and below 1"):
        apply_changes(two, [(Target.probability("a", [1.0]), 1.0)])


def test_base_values_of_each_mode() -> None:
    problem = realistic(6)
    assert base_value(problem, Target.setting("default_mfu", [0.2])) == 0.11
    assert base_value(problem, Target.demand([2.0])) == 1.0
    assert base_value(problem, parse_vary("Sites[*].power_cap_mw+=10")) == 0.0
    assert base_value(problem, parse_vary("LeaseOffers[*].price_usd_per_gpu_hour=2")) is None  # the rows differ


# ---- points and their order ---------------------------------------------------------------------

def test_designs_expand_to_points_after_the_base_run() -> None:
    a, b = Target.setting("default_mfu", [0.1, 0.2]), Target.setting("discount_rate_per_year", [0.05, 0.1, 0.15])
    oat = expand([Sweep(name="s", targets=[a, b])])
    assert [p.description for p in oat] == ["base", "Settings.default_mfu = 0.1", "Settings.default_mfu = 0.2",
                                            "Settings.discount_rate_per_year = 0.05",
                                            "Settings.discount_rate_per_year = 0.1",
                                            "Settings.discount_rate_per_year = 0.15"]
    grid = expand([Sweep(name="g", targets=[a, b], design="grid")])
    assert len(grid) == 7 and all(len(p.changes) == 2 and p.varied is None for p in grid[1:])
    assert [p.run for p in grid] == list(range(7))


def test_points_are_walked_nearest_first_from_the_base() -> None:
    problem = tiny([10, 10], offers=[lease("L", price=2.0)])
    target = Target(table="LeaseOffers", rows="L", column="price_usd_per_gpu_hour", values=[1.0, 3.5, 2.5, 1.5, 3.0])
    points = expand([Sweep(name="p", targets=[target])])
    order = nearest_neighbour_order(coordinates(problem, points))
    values = [points[i].changes[0][1] if points[i].changes else "base" for i in order]
    assert values == ["base", 2.5, 3.0, 3.5, 1.5, 1.0]
    assert split_chains(order, 2) == [order[:3], order[3:]]
    assert split_chains(order, 10) == [[i] for i in order]


def test_targets_that_rebuild_the_model_come_last() -> None:
    problem = realistic(6)
    probability = Target.probability("80x", [0.3, 0.4])
    price = Target(table="LeaseOffers", rows="abilene-h100", column="price_usd_per_gpu_hour", mode="scale",
                   values=[0.5, 1.5])
    points = expand([Sweep(name="s", targets=[probability, price])])
    order = nearest_neighbour_order(coordinates(problem, points))
    assert [points[i].description for i in order] == [
        "base", "LeaseOffers[abilene-h100].price_usd_per_gpu_hour x 0.5",
        "LeaseOffers[abilene-h100].price_usd_per_gpu_hour x 1.5", "Scenarios[80x].probability = 0.3",
        "Scenarios[80x].probability = 0.4"]
    grid = expand([Sweep(name="g", design="grid", targets=[probability, price])])
    tour = [grid[i].changes for i in nearest_neighbour_order(coordinates(problem, grid))][1:]
    probabilities = [dict((t.column, v) for t, v in changes)["probability"] for changes in tour]
    assert probabilities == [0.3, 0.3, 0.4, 0.4]  # the probability (a rebuild) changes once


# ---- sweeps from table rows (the workbook's Sweeps sheet) ---------------------------------------

def sheet_row(number: int, **fields: Any) -> dict[str, Any]:
    """A Sweeps sheet row: sweep, design, table, rows, column, mode, values, label in columns A..H."""
    letters = dict(zip(["sweep", "design", "table", "rows", "column", "mode", "values", "label"], "ABCDEFGH",
                       strict=True))
    return {**fields, "location": f"Sweeps!A{number}",
            "cells": {name: f"Sweeps!{letter}{number}" for name, letter in letters.items()}}


def test_rows_group_into_sweeps_by_name() -> None:
    rows = [
        sheet_row(2, sweep="price", table="LeaseOffers", rows="L", column="price_usd_per_gpu_hour", mode="scale",
                  values="0.7:1.3:3"),
        sheet_row(3, sweep="mfu x price", design="grid", table="Settings", column="default_mfu", values="0.1, 0.2"),
        sheet_row(4, sweep="mfu x price", table="LeaseOffers", rows="L", column="price_usd_per_gpu_hour",
                  values=[2.0, 3.0], label="H100 price"),
    ]
    price, grid = sweeps_from_rows(rows)
    assert (price.name, price.design, price.targets[0].values) == ("price", "one_at_a_time", [0.7, 1.0, 1.3])
    assert (grid.name, grid.design, [t.name for t in grid.targets]) == (
        "mfu x price", "grid", ["Settings.default_mfu", "H100 price"])
    assert grid.size == 4


def test_row_errors_name_the_cell() -> None:
    rows = [
        sheet_row(2, sweep="price", table="LeaseOffers", rows="L", column="price_usd_per_gpu_hour", values="2:3"),
        sheet_row(3, sweep="", table="Settings", column="default_mfu", values=0.2),
        sheet_row(4, sweep="mix", design="grid", table="Settings", column="default_mfu", values=0.2),
        sheet_row(5, sweep="mix", design="one_at_a_time", table="Settings", column="mip_gap", values=0.2),
        sheet_row(6, sweep="mix", table="Settings", column="mfu", mode="scale", values=2),
    ]
    with pytest.raises(InputError) as error:
        sweeps_from_rows(rows)
    assert issues_of(error) == [
        "Sweeps!A3 (sweep): found empty; expected a sweep name (rows with the same name form one sweep)",
        "Sweeps!B5 (design): found 'one_at_a_time'; expected grid (the design of sweep 'mix' on an earlier row)",
        "Sweeps!G2 (values): found '2:3'; expected start:stop:count with numbers start and stop and a whole count >= 2 "
        "(e.g. 2.0:3.2:7)",
        "Sweeps!E6 (column): found 'mfu'; expected a Settings column (first_month, months, discount_rate_per_year, "
        "hours_per_month, default_mfu, max_total_commitment_usd, max_provider_share, count_payments_beyond_horizon, "
        "cvar_weight, cvar_alpha, time_limit_seconds, mip_gap, reveal_month, objective, max_cash_spend_usd)",
    ]


def test_reference_errors_name_the_cell_of_the_rows_column() -> None:
    rows = [sheet_row(7, sweep="price", table="LeaseOffers", rows="Z", column="price_usd_per_gpu_hour", values=2)]
    found = [str(issue) for issue in check_sweeps(tiny([1], offers=[lease("L")]), sweeps_from_rows(rows))]
    assert found == ["Sweeps!D7 (rows): found 'Z'; expected one of the LeaseOffers ids (L), several separated by "
                     "commas, * or a filter such as provider=..."]
