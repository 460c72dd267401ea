"""The schema on its own: field parsing and every cross-table rule, located by (table, row, column)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from workbook_helpers import small_problem

from planner.errors import InputError
from planner.schema import (
    Commitment,
    Credit,
    DemandRow,
    LeaseOffer,
    PolicyEffect,
    Problem,
    Scenario,
    SitePower,
    Throughput,
    Workload,
    add_months,
    cross_table_issues,
    month_offset,
    parse_month,
)


def _where(**changes: Any) -> set[tuple[str, int | None, str]]:
    """(table, row index, column) of every cross-table issue after replacing some tables."""
    fields = {name: getattr(small_problem(), name) for name in Problem.model_fields}
    fields.update(changes)
    return {(i.sheet, i.row_index, i.column) for i in cross_table_issues(Problem.model_construct(**fields))}


def _offer(offer_id: str = "L9", **changes: Any) -> LeaseOffer:
    values = dict(offer_id=offer_id, provider="lessor", site="dc", gpu_type="H100", gpus_per_block=8,
                  price_usd_per_gpu_hour=2.0, term_months=3, earliest_start_month="2025-01",
                  latest_start_month="2025-02", max_blocks=5)
    return LeaseOffer(**{**values, **changes})


# ---- fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "month"),
    [("2025-03", "2025-03"), ("2025-3", "2025-03"), (" 2025-03-15 ", "2025-03"), ("2025-03-01 00:00:00", "2025-03"),
     (dt.date(2025, 3, 9), "2025-03"), (dt.datetime(2025, 12, 31, 23, 59), "2025-12")],
)
def test_parse_month_accepts_text_and_excel_dates(value: object, month: str) -> None:
    assert parse_month(value) == month


@pytest.mark.parametrize("value", ["2025-13", "March 2025", "2025/03", 45658, None])
def test_parse_month_refuses_other_values(value: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(value)


def test_month_arithmetic() -> None:
    assert add_months("2025-11", 3) == "2026-02"
    assert add_months("2025-01", -1) == "2024-12"
    assert month_offset("2027-12", "2025-01") == 35


def test_records_parse_workbook_style_values() -> None:
    workload = Workload.model_validate({"name": " chat ", "revenue_usd_per_million_tokens": "5",
                                        "allowed_gpu_types": "H100; H200 ,", "unserved_allowed": "No",
                                        "flops_per_token": " ", "notes": None})
    assert workload.name == "chat"
    assert workload.allowed_gpu_types == ["H100", "H200"]
    assert workload.unserved_allowed is False
    assert workload.flops_per_token is None  # blank cell: the default


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "inf", "nan"])
def test_non_finite_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="finite"):
        Workload(name="chat", revenue_usd_per_million_tokens=value)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Scenario.model_validate({"name": "base", "probability": 1.0, "weight": 2})


# ---- derived data -------------------------------------------------------------------------------


def test_demand_from_base_and_growth_and_explicit_rows() -> None:
    problem = small_problem()
    chat = problem.demand_tokens("fast", "chat")
    assert chat[0] == pytest.approx(1e12)
    assert chat[3] == pytest.approx(1e12 * 10 ** (3 / 12))
    rows = [DemandRow(scenario="slow", workload="chat", month=add_months("2025-01", t), tokens_per_month=t)
            for t in range(6)]
    explicit = Problem(**{**dict(problem), "demand": rows})
    assert explicit.demand_tokens("slow", "chat") == [0, 1, 2, 3, 4, 5]


def test_throughput_given_or_derived_from_mfu() -> None:
    problem = small_problem()
    assert problem.tokens_per_second_per_gpu("H200", "coding") == 300.0
    assert problem.tokens_per_second_per_gpu("H100", "chat") == pytest.approx(989e12 * 0.11 / 3e11)


def test_power_cap_steps() -> None:
    problem = small_problem()
    stepped = Problem(**{**dict(problem), "site_power": [SitePower(site="dc", from_month="2025-03",
                                                                    power_cap_mw=150.0)]})
    assert stepped.power_cap_mw("dc") == [100.0, 100.0, 150.0, 150.0, 150.0, 150.0]


def test_problem_raises_input_error_with_row_indexes() -> None:
    problem = small_problem()
    with pytest.raises(InputError) as caught:
        Problem(**{**dict(problem), "lease_offers": [*problem.lease_offers, _offer(gpu_type="TPU")]})
    [issue] = caught.value.issues
    assert (issue.sheet, issue.row_index, issue.column, issue.found) == ("LeaseOffers", 2, "gpu_type", "'TPU'")
    assert str(issue).startswith("LeaseOffers[2] (gpu_type): found 'TPU'; expected one of the GPUTypes names")


# ---- cross-table rules --------------------------------------------------------------------------


def test_valid_problem_has_no_issues() -> None:
    assert cross_table_issues(small_problem()) == []


def test_probabilities_must_sum_to_one() -> None:
    scenarios = [Scenario(name="a", probability=0.5, growth_multiple_per_year=2),
                 Scenario(name="b", probability=0.6, growth_multiple_per_year=2)]
    assert _where(scenarios=scenarios) >= {("Scenarios", 1, "probability")}
    one = [Scenario(name="only", probability=1.0, growth_multiple_per_year=2)]
    assert _where(scenarios=one) == set()


def test_unknown_references() -> None:
    problem = small_problem()
    workloads = [*problem.workloads, Workload(name="vision", revenue_usd_per_million_tokens=1,
                                              allowed_gpu_types=["TPU"], base_tokens_per_month=1)]
    effects = [PolicyEffect(policy="closed", workload="chat")]
    credits = [Credit(credit_id="X", provider="nobody", amount_usd=1, valid_from_month="2025-01",
                      expiry_month="2025-02")]
    demand = [DemandRow(scenario="medium", workload="chat", month="2025-01", tokens_per_month=1)]
    found = _where(workloads=workloads, policy_effects=effects, credits=credits, demand=demand,
                   lease_offers=[_offer(site="elsewhere")])
    assert {("Workloads", 2, "allowed_gpu_types"), ("PolicyEffects", 0, "policy"), ("Credits", 0, "provider"),
            ("Demand", 0, "scenario"), ("LeaseOffers", 0, "site")} <= found


def test_windows_and_horizon() -> None:
    offers = [_offer(earliest_start_month="2025-03", latest_start_month="2025-02"),
              _offer("L10", latest_start_month="2026-01"),
              _offer("L11", min_blocks=9, max_blocks=5)]
    credits = [Credit(credit_id="C", provider="cloud", amount_usd=1, valid_from_month="2025-04",
                      expiry_month="2025-02")]
    commitments = [
        Commitment(commitment_id="old", provider="p", site="dc", gpu_type="H100", gpus=8, start_month="2023-01",
                   end_month="2024-06", price_usd_per_gpu_hour=1),
        Commitment(commitment_id="odd", provider="p", site="dc", gpu_type="H100", gpus=8, start_month="2025-05",
                   end_month="2025-04", price_usd_per_gpu_hour=1),
    ]
    found = _where(lease_offers=offers, credits=credits, commitments=commitments)
    assert found == {
        ("LeaseOffers", 0, "latest_start_month"), ("LeaseOffers", 1, "latest_start_month"),
        ("LeaseOffers", 2, "min_blocks"), ("Credits", 0, "expiry_month"),
        ("Commitments", 0, "end_month"), ("Commitments", 1, "end_month"),
    }


def test_duplicates() -> None:
    problem = small_problem()
    throughput = [Throughput(gpu_type="H100", workload="chat", mfu=0.1),
                  Throughput(gpu_type="H100", workload="chat", mfu=0.2)]
    found = _where(lease_offers=[*problem.lease_offers, _offer("L1")], throughput=throughput)
    assert found == {("LeaseOffers", 0, "offer_id"), ("LeaseOffers", 2, "offer_id"),
                     ("Throughput", 0, "workload"), ("Throughput", 1, "workload")}


def test_demand_coverage() -> None:
    problem = small_problem()
    partial = [DemandRow(scenario="slow", workload="chat", month="2025-01", tokens_per_month=1)]
    assert _where(demand=partial) == {("Demand", None, "month")}
    no_base = [problem.workloads[0].model_copy(update={"base_tokens_per_month": None}), problem.workloads[1]]
    assert _where(workloads=no_base) == {("Workloads", 0, "base_tokens_per_month")}
    no_growth = [problem.scenarios[0], problem.scenarios[1].model_copy(update={"growth_multiple_per_year": None})]
    assert _where(scenarios=no_growth) == {("Scenarios", 1, "growth_multiple_per_year")}


def test_throughput_rules() -> None:
    problem = small_problem()
    settings_without_mfu = problem.settings.model_copy(update={"default_mfu": None})
    assert ("Throughput", None, "tokens_per_second_per_gpu") in _where(settings=settings_without_mfu)
    no_flops = [problem.workloads[0].model_copy(update={"flops_per_token": None}), problem.workloads[1]]
    assert _where(workloads=no_flops) == {("Workloads", 0, "flops_per_token")}
    both = [Throughput(gpu_type="H200", workload="coding", tokens_per_second_per_gpu=300.0, mfu=0.2)]
    assert _where(throughput=both) == {("Throughput", 0, "mfu")}


def test_required_tables_and_capacity_source() -> None:
    found = _where(gpu_types=[], lease_offers=[], on_demand=[], commitments=[])
    assert {("GPUTypes", None, "name"), ("LeaseOffers", None, "offer_id")} <= found
