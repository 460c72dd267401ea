"""Rules that span rows or tables: unique ids, references, windows, coverage, sums."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from planner.errors import InputIssue, describe
from planner.schema.fields import PROBABILITY_TOLERANCE, Record, add_months, month_offset
from planner.schema.settings import Settings
from planner.schema.tables import TABLE_FIELD, TABLES

if TYPE_CHECKING:
    from planner.schema.problem import Problem


def by_name(rows: Iterable[Any]) -> dict[str, Any]:
    return {row.name: row for row in rows}


def _key(record: Record) -> str | None:
    return getattr(record, record.KEY) if record.KEY else None


def cross_table_issues(problem: Problem) -> list[InputIssue]:
    """Every rule that spans rows or tables: unique ids, references, windows, coverage, sums."""
    issues: list[InputIssue] = []
    s = problem.settings
    first, last = s.first_month, add_months(s.first_month, s.months - 1)

    def add(table: str, index: int | None, column: str, found: Any, expected: str) -> None:
        issues.append(InputIssue(table, column, describe(found), expected, row_index=index))

    def rows(table: str) -> list[Record]:
        return getattr(problem, TABLE_FIELD[table])

    # Required tables and unique keys.
    for cls in TABLES:
        table_rows = rows(cls.TABLE)
        if cls.REQUIRED_ROWS and not table_rows:
            add(cls.TABLE, None, cls.KEY or "", "an empty table", "at least one row")
        if cls.KEY:
            counts = Counter(_key(r) for r in table_rows)
            for i, r in enumerate(table_rows):
                if counts[_key(r)] > 1:
                    add(cls.TABLE, i, cls.KEY, _key(r), f"a unique {cls.KEY} (it appears {counts[_key(r)]} times)")

    names = {cls.TABLE: {_key(r) for r in rows(cls.TABLE)} for cls in TABLES if cls.KEY == "name"}

    def check_ref(table: str, index: int, column: str, value: str, target: str) -> None:
        if value not in names[target]:
            known = ", ".join(sorted(names[target])) or "none defined"
            add(table, index, column, value, f"one of the {target} names ({known})")

    def check_month(table: str, index: int, column: str, month: str, earliest: str = first) -> None:
        if not (earliest <= month <= last):
            add(table, index, column, month, f"a month from {earliest} to {last} (the horizon)")

    # References, per table.
    for i, w in enumerate(problem.workloads):
        for gpu in w.allowed_gpu_types:
            check_ref("Workloads", i, "allowed_gpu_types", gpu, "GPUTypes")
    for i, d in enumerate(problem.demand):
        check_ref("Demand", i, "scenario", d.scenario, "Scenarios")
        check_ref("Demand", i, "workload", d.workload, "Workloads")
        check_month("Demand", i, "month", d.month)
    for i, t in enumerate(problem.throughput):
        check_ref("Throughput", i, "gpu_type", t.gpu_type, "GPUTypes")
        check_ref("Throughput", i, "workload", t.workload, "Workloads")
        if (t.tokens_per_second_per_gpu is None) == (t.mfu is None):
            add("Throughput", i, "mfu", t.mfu, "exactly one of tokens_per_second_per_gpu and mfu")
    for i, p in enumerate(problem.site_power):
        check_ref("SitePower", i, "site", p.site, "Sites")
        check_month("SitePower", i, "from_month", p.from_month)
    for i, o in enumerate(problem.lease_offers):
        check_ref("LeaseOffers", i, "site", o.site, "Sites")
        check_ref("LeaseOffers", i, "gpu_type", o.gpu_type, "GPUTypes")
        check_month("LeaseOffers", i, "earliest_start_month", o.earliest_start_month)
        check_month("LeaseOffers", i, "latest_start_month", o.latest_start_month)
        if o.latest_start_month < o.earliest_start_month:
            add("LeaseOffers", i, "latest_start_month", o.latest_start_month,
                f"a month on or after earliest_start_month {o.earliest_start_month}")
        if o.min_blocks > o.max_blocks:
            add("LeaseOffers", i, "min_blocks", o.min_blocks, f"at most max_blocks ({o.max_blocks})")
        latest_signing = month_offset(o.latest_start_month, first)
        if first <= o.earliest_start_month <= o.latest_start_month <= last and o.lead_time_months > latest_signing:
            add("LeaseOffers", i, "lead_time_months", o.lead_time_months,
                f"at most {latest_signing} months (latest_start_month {o.latest_start_month} less lead_time_months "
                f"must be {first} or later): no start of this offer can be signed inside the horizon; a block "
                "signed before it is a Commitment")
    for i, c in enumerate(problem.commitments):
        check_ref("Commitments", i, "site", c.site, "Sites")
        check_ref("Commitments", i, "gpu_type", c.gpu_type, "GPUTypes")
        if c.end_month < c.start_month:
            add("Commitments", i, "end_month", c.end_month, f"a month on or after start_month {c.start_month}")
        elif c.end_month < first or c.start_month > last:
            add("Commitments", i, "end_month", c.end_month, f"a window that overlaps the horizon {first}..{last}")
    for i, od in enumerate(problem.on_demand):
        check_ref("OnDemand", i, "gpu_type", od.gpu_type, "GPUTypes")
    providers = set(problem.providers)
    for i, cr in enumerate(problem.credits):
        if cr.provider not in providers:
            known = ", ".join(sorted(providers)) or "none defined"
            add("Credits", i, "provider", cr.provider,
                f"a provider of a lease offer, commitment or on-demand option ({known})")
        if cr.expiry_month < cr.valid_from_month:
            add("Credits", i, "expiry_month", cr.expiry_month,
                f"a month on or after valid_from_month {cr.valid_from_month}")
        elif cr.expiry_month < first or cr.valid_from_month > last:
            add("Credits", i, "expiry_month", cr.expiry_month, f"a window that overlaps the horizon {first}..{last}")
    for i, e in enumerate(problem.policy_effects):
        check_ref("PolicyEffects", i, "policy", e.policy, "Policies")
        check_ref("PolicyEffects", i, "workload", e.workload, "Workloads")

    # Overlaps: one row per combination.
    _duplicates(problem.demand, lambda d: (d.scenario, d.workload, d.month), "Demand", "month",
                "one row per (scenario, workload, month)", add)
    _duplicates(problem.throughput, lambda t: (t.gpu_type, t.workload), "Throughput", "workload",
                "one row per (gpu_type, workload)", add)
    _duplicates(problem.site_power, lambda p: (p.site, p.from_month), "SitePower", "from_month",
                "one step per (site, from_month)", add)
    _duplicates(problem.policy_effects, lambda e: (e.policy, e.workload), "PolicyEffects", "workload",
                "one row per (policy, workload)", add)

    # Probabilities.
    total = sum(sc.probability for sc in problem.scenarios)
    if problem.scenarios and not math.isclose(total, 1.0, abs_tol=PROBABILITY_TOLERANCE):
        add("Scenarios", len(problem.scenarios) - 1, "probability", f"a sum of {total:g}", "probabilities summing to 1")

    # Demand coverage: explicit rows for every month, or base level x growth.
    workloads = by_name(problem.workloads)
    explicit = Counter((d.scenario, d.workload) for d in problem.demand)
    for j, sc in enumerate(problem.scenarios):
        for i, w in enumerate(problem.workloads):
            n = explicit[(sc.name, w.name)]
            if n:
                if n < s.months and n == len({d.month for d in problem.demand
                                               if d.scenario == sc.name and d.workload == w.name}):
                    add("Demand", None, "month", f"{n} months for ({sc.name}, {w.name})",
                        f"all {s.months} months of the horizon, or none (then base x growth applies)")
            elif w.base_tokens_per_month is None:
                add("Workloads", i, "base_tokens_per_month", None,
                    f"a base level (scenario {sc.name} has no Demand rows for {w.name})")
            elif sc.growth_multiple_per_year is None:
                add("Scenarios", j, "growth_multiple_per_year", None,
                    f"a yearly growth multiple (needed for {w.name}, which has no Demand rows)")

    # Throughput for every allowed pair.
    for i, w in enumerate(problem.workloads):
        for gpu in problem.allowed_gpu_types(w):
            if gpu not in names["GPUTypes"] or w.name not in workloads:
                continue
            given = [t for t in problem.throughput if t.gpu_type == gpu and t.workload == w.name]
            if given and given[0].tokens_per_second_per_gpu is not None:
                continue
            mfu = given[0].mfu if given else s.default_mfu
            if mfu is None:
                add("Throughput", None, "tokens_per_second_per_gpu", f"no row for ({gpu}, {w.name})",
                    "a Throughput row for every allowed (gpu_type, workload), or Settings default_mfu")
            elif w.flops_per_token is None:
                add("Workloads", i, "flops_per_token", None,
                    f"FLOPs per token (needed to derive {gpu} throughput from MFU)")

    # Capacity must come from somewhere.
    if not (problem.lease_offers or problem.commitments or problem.on_demand):
        add("LeaseOffers", None, "offer_id", "no lease offers, commitments or on-demand options",
            "at least one source of capacity")
    if s.objective == "max_value_within_budget" and s.max_cash_spend_usd is None and s.max_total_commitment_usd is None:
        add(Settings.TABLE, None, "objective", s.objective,
            "a budget to maximise value within: max_cash_spend_usd and/or max_total_commitment_usd (or min_cost)")
    from planner.programs import program_issues  # programs.py reads Problem: imported here, not at the top

    return issues + program_issues(problem)


def _duplicates(rows: list[Any], key: Any, table: str, column: str, expected: str, add: Any) -> None:
    counts = Counter(key(r) for r in rows)
    for i, r in enumerate(rows):
        if counts[key(r)] > 1:
            add(table, i, column, getattr(r, column), expected)
