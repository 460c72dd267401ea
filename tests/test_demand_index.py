"""``Problem.demand_tokens`` reads an index built once, not every Demand row per (scenario, workload)."""

from __future__ import annotations

from factory import WORKLOAD, gpus_worth, month, tiny

from planner.schema import DemandRow


def test_demand_series_match_a_scan_of_the_rows() -> None:
    problem = tiny({"a": [1.0, 2.0, 3.0], "b": [4.0, 0.0, 6.0]})
    for scenario in ("a", "b"):
        scanned = {row.month: row.tokens_per_month for row in problem.demand if row.scenario == scenario}
        assert problem.demand_tokens(scenario, WORKLOAD) == [scanned[month(t)] for t in range(3)]


def test_the_rows_are_indexed_once() -> None:
    problem = tiny({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    problem.demand_tokens("a", WORKLOAD)
    index = problem._explicit_demand()
    problem.demand_tokens("b", WORKLOAD)
    assert problem._explicit_demand() is index


def test_a_copy_with_other_rows_or_months_indexes_its_own() -> None:
    problem = tiny({"a": [1.0, 2.0]})
    assert problem.demand_tokens("a", WORKLOAD) == [gpus_worth(1.0), gpus_worth(2.0)]
    rows = [DemandRow(scenario="a", workload=WORKLOAD, month=month(1), tokens_per_month=7.0)]
    fewer = problem.model_copy(update={"demand": rows})
    assert fewer.demand_tokens("a", WORKLOAD) == [0.0, 7.0]
    later = problem.model_copy(update={"settings": problem.settings.model_copy(update={"first_month": month(1)})})
    assert later.demand_tokens("a", WORKLOAD) == [gpus_worth(2.0), 0.0]
    assert problem.demand_tokens("a", WORKLOAD) == [gpus_worth(1.0), gpus_worth(2.0)]


def test_the_index_takes_no_part_in_equality() -> None:
    indexed, fresh = tiny([1.0, 2.0]), tiny([1.0, 2.0])
    indexed.demand_tokens("base", WORKLOAD)
    assert indexed == fresh
    assert indexed != tiny([1.0, 3.0])
