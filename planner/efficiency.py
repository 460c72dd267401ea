"""Efficiency programs in a plan: which it funds, where, when, at what cost, and what they save.

:class:`ProgramAnalytics` is mixed into :class:`~planner.results.PlanResult`: ``result.programs()``,
``result.program_savings()`` and the rest are result methods that the API, ``--json`` and the report
share. What programs save is measured against the same problem with its programs switched off, a
second solve that :func:`compare_without_programs` runs on request (``planner solve`` does when the
input has programs) and keeps on the result as ``without_programs``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.analytics import money
from planner.model.data import USD_PER_UNIT
from planner.model.efficiency import FirstStagePlan
from planner.model.tree import ROOT
from planner.programs import ALL, improved_pairs, throughput_factor
from planner.schema import EfficiencyProgram, Problem

if TYPE_CHECKING:
    from planner.results import PlanResult

PROGRAM_COLUMNS = ("scenario", "decided", "program_id", "start_month", "in_service_month", "gpu_types", "workloads",
                   "effect", "one_off_cost_usd", "cost_usd_per_month", "cost_in_horizon_usd")
BY_SCENARIO_COLUMNS = ("scenario", "probability", "program_id", "funded", "decided", "start_month", "in_service_month",
                       "cost_in_horizon_usd", "cost_npv_usd")
EFFECT_COLUMNS = ("program_id", "gpu_type", "workload", "today_mfu", "program_mfu", "tokens_per_second_per_gpu",
                  "program_tokens_per_second_per_gpu", "throughput_multiplier")
SAVING_COLUMNS = ("scenario", "probability", "measure", "with_programs_usd", "without_programs_usd", "saving_usd",
                  "gpus_leased_with_programs", "gpus_leased_without_programs", "gpus_not_leased",
                  "commitment_with_programs_usd", "commitment_without_programs_usd")
EXPECTED = "expected"
"""Label of the probability-weighted row of :meth:`ProgramAnalytics.program_savings`."""
DECIDED_NOW, DECIDED_LATER, DECIDED_PER_SCENARIO = "now", "later", "per scenario"


def without_programs(problem: Problem) -> Problem:
    """The same problem with its efficiency programs switched off (the EfficiencyPrograms table emptied)."""
    return problem.model_copy(update={"efficiency_programs": []})


def compare_without_programs(result: PlanResult, *, time_limit_seconds: float | None = None,
                             mip_gap: float | None = None, threads: int | None = None,
                             progress: Callable[[str], None] | None = None) -> PlanResult:
    """Solve ``result``'s problem with its programs switched off (same gap, no marginal values, no
    diagnosis) and keep it on ``result`` as ``without_programs``; return it. ``program_savings`` and the
    report then say what the programs save against buying GPUs. A problem without programs is refused."""
    from planner.solver import Planner

    if not result.problem.efficiency_programs:
        raise ValueError("the problem has no efficiency programs to switch off")
    gap = result.problem.settings.mip_gap if mip_gap is None else mip_gap
    say = progress or (lambda _: None)
    planner = Planner(without_programs(result.problem), threads=threads,
                      progress=lambda stage: say(f"the same plan without efficiency programs: {stage}"))
    off = planner.solve(time_limit_seconds=time_limit_seconds, mip_gap=gap, marginal_values=False, diagnose=False)
    off.model = None  # the comparison needs the tables, not a second model in memory
    result.without_programs = off
    return off


def effect_text(program: EfficiencyProgram) -> str:
    """'MFU x 1.5' or 'MFU to 25%'."""
    if program.mfu_multiplier is not None:
        return f"MFU x {program.mfu_multiplier:g}"
    return f"MFU to {program.new_mfu:.0%}" if program.new_mfu is not None else "no effect"


def scope_text(workloads: str, gpu_types: str) -> str:
    """' on chat x H100' for what a program improves; nothing when it improves every pair."""
    return "" if workloads == gpu_types == ALL else f" on {workloads} x {gpu_types}"


def _names(names: list[str]) -> str:
    return ", ".join(names) if names and ALL not in names else ALL


class ProgramAnalytics:
    """Efficiency-program views of a plan (see the module docstring); mixed into ``PlanResult``."""

    def program_plan(self: PlanResult) -> dict[tuple[str, str, int], int]:
        """Every funded start: (owner, program id, start month index) -> 1. The owner is a node of the
        scenario tree for a first-stage program (``ROOT``: decided now for every scenario), the scenario
        for a per-scenario one."""
        return {key: 1 for key, v in self.raw.get("program_start", {}).items() if v > 0.5}

    def first_stage_plan(self: PlanResult, scenario: str | None = None) -> FirstStagePlan:
        """The decisions ``scenario``'s world takes on its path (without a scenario, those common to every
        world: the root's): its leases (:meth:`lease_plan`) and the first-stage program starts it funds.
        Fixing it in another model (``Planner.fix_leases``) re-plays both; per-scenario programs stay free."""
        nodes = {ROOT} if scenario is None else set(self.data.tree.path(scenario))
        programs = {(p, k): 1 for owner, p, k in self.program_plan()
                    if self.data.program_first_stage[p] and owner in nodes}
        return FirstStagePlan(self.lease_plan(scenario), programs)

    def _program_rows(self: PlanResult) -> dict[str, EfficiencyProgram]:
        return {p.program_id: p for p in self.problem.efficiency_programs}

    def _program_cost_usd(self: PlanResult, program: str, start: int) -> tuple[float, float]:
        """(nominal cost in the horizon, NPV) of a program started in month ``start``, as the model counts it."""
        d = self.data
        one_off = d.program_one_off_musd[program] * USD_PER_UNIT
        monthly = d.program_monthly_musd[program] * USD_PER_UNIT
        months = range(start, len(d.months))
        nominal = one_off + monthly * len(months)
        npv = one_off * d.discount(start) + monthly * sum(d.discount(t) for t in months)
        return nominal, npv

    def _decided(self: PlanResult, owner: str, program: str) -> tuple[str, str]:
        """(scenario label, decided) of a funded start's owner."""
        if not self.data.program_first_stage[program]:
            return owner, DECIDED_PER_SCENARIO
        return self.data.tree.label(owner), DECIDED_NOW if owner == ROOT else DECIDED_LATER

    def programs(self: PlanResult) -> pd.DataFrame:
        """Every funded program start, "now" (common to every scenario) first: who decides it (``all``, a
        world once known, or each scenario for a per-scenario program), start and in-service month, what it
        improves, and its cost in the horizon (nominal: the one-off cost plus every monthly payment)."""
        d, rows_by_id = self.data, self._program_rows()
        node_rank = {n.node_id: i for i, n in enumerate(d.tree.nodes)}
        scenario_rank = {s: i for i, s in enumerate(d.scenarios)}

        def order(key: tuple[str, str, int]) -> tuple[int, int, int, str]:
            owner, p, k = key
            first_stage = d.program_first_stage[p]
            return (0 if first_stage else 1, (node_rank if first_stage else scenario_rank)[owner], k, p)

        rows = []
        for owner, p, k in sorted(self.program_plan(), key=order):
            program = rows_by_id[p]
            label, decided = self._decided(owner, p)
            nominal, _ = self._program_cost_usd(p, k)
            rows.append({"scenario": label, "decided": decided, "program_id": p, "start_month": self.month_label(k),
                         "in_service_month": self.month_label(k + d.program_delay_months[p]),
                         "gpu_types": _names(program.gpu_types), "workloads": _names(program.workloads),
                         "effect": effect_text(program), "one_off_cost_usd": d.program_one_off_musd[p] * USD_PER_UNIT,
                         "cost_usd_per_month": d.program_monthly_musd[p] * USD_PER_UNIT,
                         "cost_in_horizon_usd": nominal})
        return pd.DataFrame(rows, columns=list(PROGRAM_COLUMNS))

    def programs_by_scenario(self: PlanResult) -> pd.DataFrame:
        """Every scenario x program: whether that world funds it, decided now, later or per scenario, when
        it starts and is in service, and its cost there (nominal in the horizon, and NPV)."""
        d = self.data
        funded = {}
        for owner, p, k in self.program_plan():
            scenarios = (d.tree.node(owner).scenarios if d.program_first_stage[p] else (owner,))
            for s in scenarios:
                funded[s, p] = (owner, k)
        rows = []
        for s in self._planned_scenarios:
            for p in d.programs:
                row: dict[str, Any] = {"scenario": s, "probability": d.probability[s], "program_id": p,
                                       "funded": (s, p) in funded}
                if (s, p) in funded:
                    owner, k = funded[s, p]
                    nominal, npv = self._program_cost_usd(p, k)
                    row.update(decided=self._decided(owner, p)[1], start_month=self.month_label(k),
                               in_service_month=self.month_label(k + d.program_delay_months[p]),
                               cost_in_horizon_usd=nominal, cost_npv_usd=npv)
                else:
                    row.update(decided="", start_month="", in_service_month="", cost_in_horizon_usd=0.0,
                               cost_npv_usd=0.0)
                rows.append(row)
        return pd.DataFrame(rows, columns=list(BY_SCENARIO_COLUMNS))

    def program_effects(self: PlanResult) -> pd.DataFrame:
        """Per program and (GPU type, workload) it improves: today's MFU and tokens/s per GPU, and with the
        program in effect (a pair already above a new_mfu target keeps its rate: multiple 1)."""
        problem = self.problem
        rows = []
        for program in problem.efficiency_programs:
            for g, w in improved_pairs(problem, program):
                factor = throughput_factor(problem, program, g, w)
                mfu = problem.mfu(g, w)
                tps = problem.tokens_per_second_per_gpu(g, w) or 0.0
                rows.append({"program_id": program.program_id, "gpu_type": g, "workload": w, "today_mfu": mfu,
                             "program_mfu": None if mfu is None else mfu * factor,
                             "tokens_per_second_per_gpu": tps, "program_tokens_per_second_per_gpu": tps * factor,
                             "throughput_multiplier": factor})
        return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))

    def program_savings(self: PlanResult) -> pd.DataFrame:
        """What the programs save against buying GPUs: per scenario, then the probability-weighted row
        ``expected``, this plan's cost (NPV; in budget mode its value) against the plan of the same problem
        with programs switched off, and the GPUs and lease commitment each signs in that world. Empty until
        :func:`compare_without_programs` has run; blank figures when that problem has no plan."""
        off = self.without_programs
        if off is None or not self.has_plan:
            return pd.DataFrame(columns=list(SAVING_COLUMNS))
        budget_mode = self.data.maximises_value
        measure = "value (NPV)" if budget_mode else "cost (NPV)"

        def per_scenario(result: PlanResult) -> dict[str, dict[str, float]]:
            if not result.has_plan:
                return {}
            figure = (result.budget_outcomes().set_index("scenario")["value_npv_usd"] if budget_mode
                      else result.scenario_costs().set_index("scenario")["npv_usd"])
            totals = result.lease_totals_by_scenario().set_index("scenario")
            return {s: {"measure": float(figure[s]), "gpus": float(totals.loc[s, "gpus_signed"]),
                        "commitment": float(totals.loc[s, "total_commitment_usd"])} for s in result.data.scenarios}

        mine, theirs = per_scenario(self), per_scenario(off)
        nan = {"measure": math.nan, "gpus": math.nan, "commitment": math.nan}
        rows = []
        for s in self.data.scenarios:
            a, b = mine[s], theirs.get(s, nan)
            saving = (a["measure"] - b["measure"]) if budget_mode else (b["measure"] - a["measure"])
            rows.append({"scenario": s, "probability": self.data.probability[s], "measure": measure,
                         "with_programs_usd": a["measure"], "without_programs_usd": b["measure"], "saving_usd": saving,
                         "gpus_leased_with_programs": a["gpus"], "gpus_leased_without_programs": b["gpus"],
                         "gpus_not_leased": b["gpus"] - a["gpus"], "commitment_with_programs_usd": a["commitment"],
                         "commitment_without_programs_usd": b["commitment"]})
        frame = pd.DataFrame(rows, columns=list(SAVING_COLUMNS))
        numbers = [c for c in SAVING_COLUMNS if c not in ("scenario", "probability", "measure")]
        expected = (frame[numbers].mul(frame["probability"], axis=0)).sum(min_count=len(frame))
        label = EXPECTED if EXPECTED not in self.data.scenarios else f"{EXPECTED} (probability-weighted)"
        frame.loc[len(frame)] = {"scenario": label, "probability": 1.0, "measure": measure, **expected.to_dict()}
        return frame

    def headline_programs(self: PlanResult) -> list[str]:
        """The funded programs in words, "now" first, then what they save against a plan without them."""
        if not self.data.has_programs or not self.has_plan:
            return []
        lines = []
        for row in self.programs().itertuples():
            who = {DECIDED_NOW: "now, in every scenario", DECIDED_LATER: f"in {row.scenario} once known",
                   DECIDED_PER_SCENARIO: f"in {row.scenario}"}[row.decided]
            lines.append(f"fund {row.program_id} {who}: start {row.start_month}, in service {row.in_service_month} "
                         f"({row.effect}{scope_text(row.workloads, row.gpu_types)}), {money(row.cost_in_horizon_usd)} "
                         "in the horizon")
        if not lines:
            lines.append("fund no efficiency program: buying GPUs is cheaper")
        saving = self.program_saving_in_words()
        return lines + ([saving] if saving else [])

    def program_saving_in_words(self: PlanResult) -> str | None:
        """What the programs save against the plan without them, in words; None until
        :func:`compare_without_programs` has run."""
        off = self.without_programs
        if off is None or not self.has_plan:
            return None
        if not off.has_plan:
            return f"without efficiency programs the same problem has no plan ({off.status}): they are needed"
        expected = self.program_savings().iloc[-1]
        what = "add" if self.data.maximises_value else "save"
        commitment = expected["commitment_without_programs_usd"] - expected["commitment_with_programs_usd"]
        return (f"the programs {what} {money(expected['saving_usd'])} of expected {expected['measure']} against the "
                f"plan without them, which leases {expected['gpus_not_leased']:,.0f} more GPUs "
                f"({money(commitment)} more lease commitment) in expectation")

    def programs_summary(self: PlanResult) -> dict[str, Any]:
        """JSON-ready: every funded program start, and the saving against a plan without programs (None
        until :func:`compare_without_programs` has run)."""
        if not self.has_plan:
            return {"efficiency_programs": [], "program_savings": None}
        savings = self.program_savings() if self.without_programs is not None else None
        return {"efficiency_programs": self.programs().to_dict(orient="records"),
                "program_savings": None if savings is None else {
                    "status_without_programs": self.without_programs.status if self.without_programs else None,
                    "rows": savings.to_dict(orient="records")}}

