"""Efficiency programs in the input's terms: which (GPU type, workload) pairs a program improves, by
what factor, and the checks a program row must pass.

Shared by validation (``schema.cross_table_issues``), the model's data (``planner/model/data.py``), the
coefficient-range check (``planner/numerics.py``) and the result tables, so every one of them reads a
program the same way. No Pyomo and no pandas here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from planner.errors import InputIssue, describe

if TYPE_CHECKING:
    from planner.schema import EfficiencyProgram, Problem

ALL = "*"
"""In ``gpu_types`` or ``workloads``: every one (as a blank cell)."""
TABLE = "EfficiencyPrograms"


def matches(pattern: Sequence[str], name: str) -> bool:
    """Whether a ``gpu_types`` / ``workloads`` cell names ``name``: blank and ``*`` name every one."""
    return not pattern or ALL in pattern or name in pattern


def improved_pairs(problem: Problem, program: EfficiencyProgram) -> list[tuple[str, str]]:
    """The (GPU type, workload) pairs the program acts on: allowed pairs that have a throughput, matched
    by its ``gpu_types`` and ``workloads``, in workload order then GPU type order. A pair whose MFU is
    already above a ``new_mfu`` target is included with factor 1 (a sweep may lower today's MFU)."""
    gpu_names = {g.name for g in problem.gpu_types}
    pairs = []
    for w in problem.workloads:
        if not matches(program.workloads, w.name):
            continue
        for g in problem.allowed_gpu_types(w):
            if g in gpu_names and matches(program.gpu_types, g) and problem.tokens_per_second_per_gpu(g, w.name):
                pairs.append((g, w.name))
    return pairs


def throughput_factor(problem: Problem, program: EfficiencyProgram, gpu_type: str, workload: str) -> float:
    """Tokens per GPU-second once the program is in effect, as a multiple of today's (never below 1):
    ``mfu_multiplier``, or ``new_mfu`` over today's MFU (1 where today's is already at or above it)."""
    if program.mfu_multiplier is not None:
        return program.mfu_multiplier
    current = problem.mfu(gpu_type, workload)
    if current is None or program.new_mfu is None:
        return 1.0
    return max(program.new_mfu / current, 1.0)


def program_starts(problem: Problem, program: EfficiencyProgram) -> list[int]:
    """Month indices the program may start in: from ``earliest_start_month`` to ``latest_start_month``
    (blank: the last month from which it still takes effect inside the horizon)."""
    last = problem.settings.months - 1 - program.effect_delay_months
    if program.latest_start_month is not None:
        last = min(last, problem.month_index(program.latest_start_month))
    return list(range(max(0, problem.month_index(program.earliest_start_month)), last + 1))


def servable_gpus(problem: Problem) -> dict[tuple[str, str], dict[int, float]]:
    """(workload, GPU type) -> month index -> the most GPUs of that type that could serve the workload:
    per site, the usable GPUs every commitment and every offer at ``max_blocks`` could install (offers
    counted in the months one of their starts is active), capped by the site's power, plus the
    on-demand caps. Only allowed pairs with a throughput."""
    months = problem.settings.months
    most: dict[tuple[str, str, int], float] = defaultdict(float)
    for c in problem.commitments:
        first, last = max(0, problem.month_index(c.start_month)), min(months - 1, problem.month_index(c.end_month))
        for t in range(first, last + 1):
            most[c.gpu_type, c.site, t] += c.gpus
    for o in problem.lease_offers:
        first = max(0, o.lead_time_months, problem.month_index(o.earliest_start_month))
        last = min(months - 1, problem.month_index(o.latest_start_month))
        active = {t for k in range(first, last + 1) for t in range(k, min(k + o.term_months, months))}
        for t in active:
            most[o.gpu_type, o.site, t] += o.gpus_per_block * o.max_blocks
    gpus = {g.name: g for g in problem.gpu_types}
    sites = {x.name: x for x in problem.sites}
    caps = {x.name: problem.power_cap_mw(x.name) for x in problem.sites}
    servers: dict[str, list[str]] = {
        w.name: [g for g in problem.allowed_gpu_types(w) if g in gpus and problem.tokens_per_second_per_gpu(g, w.name)]
        for w in problem.workloads}
    found: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for (g, x, t), installed in most.items():
        gpus_per_mw = 1000.0 / (gpus[g].power_kw_per_gpu * sites[x].pue)
        usable = min(gpus[g].availability_factor * installed, caps[x][t] * gpus_per_mw)
        for w, types in servers.items():
            if g in types:
                found[w, g][t] += usable
    for c in problem.on_demand:
        for w, types in servers.items():
            if c.gpu_type in types and c.max_gpus > 0:
                for t in range(months):
                    found[w, c.gpu_type][t] += c.max_gpus
    return found


def largest_peak_tokens(problem: Problem) -> dict[tuple[str, str], list[float]]:
    """(scenario, workload) -> per month, the largest peak any plan may have to serve, in tokens per month
    at the average rate x peak-to-average: demand x the workload's peak-to-average ratio x the largest
    admitted share x peak multiplier of any policy. No plan needs more throughput for the workload."""
    policies = [q.name for q in problem.effective_policies()]
    peak_share = {w.name: w.peak_to_average_ratio * max(a * mu for a, mu in (problem.policy_effect(q, w.name)
                                                                             for q in policies))
                  for w in problem.workloads}
    return {(sc.name, w.name): [peak_share[w.name] * tokens for tokens in problem.demand_tokens(sc.name, w.name)]
            for sc in problem.scenarios for w in problem.workloads}


def program_columns(problem: Problem) -> dict[tuple[str, str, int, str, str], float]:
    """(program, scenario, month index, workload, GPU type) -> big-M in GPUs, for every column
    ``gpus_improved`` of the model: from the program's first possible effect month, wherever GPUs of the
    type can serve the workload. The big-M is the smaller of :func:`servable_gpus` and the GPUs at the
    improved rate that the workload's largest possible peak needs (demand x peak-to-average ratio x the
    largest admitted share x peak multiplier of any policy): no plan ever needs more improved GPUs."""
    seconds_per_month = problem.settings.hours_per_month * 3600.0
    servable = servable_gpus(problem)
    peak = largest_peak_tokens(problem)
    columns: dict[tuple[str, str, int, str, str], float] = {}
    for p in problem.efficiency_programs:
        starts = program_starts(problem, p)
        if not starts:
            continue
        effect_from = starts[0] + p.effect_delay_months
        for g, w in improved_pairs(problem, p):
            tokens_per_second = problem.tokens_per_second_per_gpu(g, w) or 0.0
            rate = tokens_per_second * seconds_per_month * throughput_factor(problem, p, g, w)
            for sc in problem.scenarios:
                for t in sorted(servable[w, g]):
                    if t >= effect_from:
                        needed = peak[sc.name, w][t] / rate
                        columns[p.program_id, sc.name, t, w, g] = min(servable[w, g][t], needed)
    return columns


def program_issues(problem: Problem) -> list[InputIssue]:
    """Every problem with the EfficiencyPrograms rows: references, one effect, windows that take effect
    inside the horizon, at least one pair to improve, and MFUs that stay possible (at most 100%)."""
    issues: list[InputIssue] = []
    settings = problem.settings
    first, months = settings.first_month, settings.months
    from planner.schema import add_months

    last = add_months(first, months - 1)
    gpu_names = {g.name for g in problem.gpu_types}
    workload_names = {w.name for w in problem.workloads}

    def add(index: int, column: str, found: Any, expected: str) -> None:
        issues.append(InputIssue(TABLE, column, describe(found), expected, row_index=index))

    for i, p in enumerate(problem.efficiency_programs):
        for column, names, known, table in (("gpu_types", p.gpu_types, gpu_names, "GPUTypes"),
                                            ("workloads", p.workloads, workload_names, "Workloads")):
            for name in names:
                if name != ALL and name not in known:
                    add(i, column, name, f"one of the {table} names ({', '.join(sorted(known)) or 'none defined'}) "
                                         f"or {ALL} for every one")
        if (p.mfu_multiplier is None) == (p.new_mfu is None):
            add(i, "new_mfu", p.new_mfu, "exactly one of mfu_multiplier and new_mfu (the program's effect)")
        latest_effect = add_months(first, months - 1 - p.effect_delay_months)
        if not first <= p.earliest_start_month <= last:
            add(i, "earliest_start_month", p.earliest_start_month, f"a month from {first} to {last} (the horizon)")
        elif p.earliest_start_month > latest_effect:
            add(i, "earliest_start_month", p.earliest_start_month,
                f"a month no later than {latest_effect}: started later, the program's effect "
                f"({p.effect_delay_months} months after the start) falls after the horizon")
        if p.latest_start_month is not None:
            if not first <= p.latest_start_month <= last:
                add(i, "latest_start_month", p.latest_start_month, f"a month from {first} to {last} (the horizon)")
            elif p.latest_start_month < p.earliest_start_month:
                add(i, "latest_start_month", p.latest_start_month,
                    f"a month on or after earliest_start_month {p.earliest_start_month}")
        if any(name != ALL and name not in known for names, known in ((p.gpu_types, gpu_names),
                                                                      (p.workloads, workload_names))
               for name in names):
            continue  # the pairs cannot be told until the names are right
        pairs = improved_pairs(problem, p)
        if not pairs:
            add(i, "workloads", ", ".join(p.workloads) or ALL,
                "workloads and gpu_types that name at least one allowed (GPU type, workload) pair with a "
                "throughput")
        for g, w in pairs:
            current = problem.mfu(g, w)
            if p.new_mfu is not None and p.mfu_multiplier is None and current is None:
                add(i, "new_mfu", p.new_mfu,
                    f"mfu_multiplier instead: today's MFU of ({g}, {w}) is not known (a measured "
                    "tokens_per_second_per_gpu, and no flops_per_token on Workloads to convert it)")
                break
            if p.mfu_multiplier is not None and current is not None and current * p.mfu_multiplier > 1.0:
                add(i, "mfu_multiplier", p.mfu_multiplier,
                    f"at most {1.0 / current:.4g}: today's MFU of ({g}, {w}) is {current:.4g}, and an MFU "
                    "cannot pass 100%")
                break
    return issues
