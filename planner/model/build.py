"""``build_model``: the whole procurement model as one flat list of constraint families."""

from __future__ import annotations

import contextlib
import gc
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from planner.model.capacity import define_capacity, define_on_demand
from planner.model.costs import (
    define_budget,
    define_cash_budget,
    define_objective,
    define_provider_share,
    define_value,
)
from planner.model.credits import define_credits
from planner.model.data import ModelData, prepare
from planner.model.demand import (
    define_demand_balance,
    define_demand_variables,
    define_throughput,
    define_unserved_cost,
)
from planner.model.efficiency import define_program_effects, define_program_starts
from planner.model.leases import (
    define_lease_costs,
    define_lease_terms,
    define_lease_variables,
    define_offer_limits,
)
from planner.model.policies import define_policy_choice, define_throttling
from planner.model.power import define_power
from planner.schema import Problem

Family = Callable[..., None]
"""``define_<family>(m, d, *, <component>...)``: the keyword-only parameters name the components of
other families it uses; ``build_model`` passes them from the model, so a dependency is stated, not
implied by the order of ``FAMILIES``. A keyword with a default (None) names an optional component,
passed when the model has it (``program_supply_ttok`` exists only with efficiency programs)."""


def define_sets(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Sets shared by several families: months, scenarios, workloads, providers, (scenario, month) and
    (scenario, month, workload)."""
    m.MONTHS = pyo.Set(initialize=d.months, ordered=True)
    m.SCENARIOS = pyo.Set(initialize=d.scenarios, ordered=True)
    m.WORKLOADS = pyo.Set(initialize=d.workloads, ordered=True)
    m.PROVIDERS = pyo.Set(initialize=d.providers, ordered=True)
    m.SCENARIO_MONTHS = pyo.Set(initialize=[(s, t) for s in d.scenarios for t in d.months],
                                dimen=2, ordered=True)
    m.DEMAND_INDEX = pyo.Set(initialize=[(s, t, w) for s in d.scenarios for t in d.months for w in d.workloads],
                             dimen=3, ordered=True)


FAMILIES: list[Family] = [
    define_sets,
    # leases: one decision per (scenario-tree node, offer, start month)
    define_lease_variables,
    define_lease_terms,
    define_offer_limits,
    define_lease_costs,
    # per scenario: allocation, demand, policies, power, credits
    define_capacity,
    define_on_demand,
    define_demand_variables,
    define_policy_choice,
    define_demand_balance,
    # efficiency programs: funding that raises throughput from a month on
    define_program_starts,
    define_program_effects,
    define_throughput,
    define_throttling,
    define_unserved_cost,
    define_power,
    define_credits,
    # budgets, risk and the objective (cost, or in budget mode minus the value of tokens served)
    define_budget,
    define_provider_share,
    define_cash_budget,
    define_value,
    define_objective,
]
"""The model, in order. Each family is a function ``(model, data, *, needs) -> None`` documented with its
math; its keyword-only parameters are the components of earlier families it uses."""


def build_model(problem: Problem, scenarios: list[str] | None = None, *, elastic: bool = False,
                data: ModelData | None = None) -> pyo.ConcreteModel:
    """Build the procurement MILP for ``problem`` (optionally a subset of its scenarios): two-stage, or
    multi-stage when the scenarios are told apart during the horizon (``Settings.reveal_month``).

    ``elastic=True`` turns forbidden unserved demand and the budget into penalised slack, which
    makes any instance feasible; :mod:`planner.diagnose` uses it to explain infeasibility.
    """
    d = data or prepare(problem, scenarios)
    d.elastic = elastic
    m = pyo.ConcreteModel(name="procurement")
    m.data = d
    m.cost_terms = []  # every family's cost Expressions, registered by costs.add_cost_term
    # Pyomo's debug logging makes builds much slower; keep it quiet whatever the caller configured.
    pyomo_logger = logging.getLogger("pyomo")
    previous = pyomo_logger.level
    pyomo_logger.setLevel(logging.WARNING)
    try:
        with collector_paused():
            for define in FAMILIES:
                define(m, d, **family_inputs(m, define))
    finally:
        pyomo_logger.setLevel(previous)
    return m


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Build with Python's cyclic garbage collector off, then hand what was built to its oldest generation.

    A build allocates about a million long-lived objects: with the collector on, each few hundred of them
    trigger a young-generation pass and the full passes walk the whole heap again and again (about 40% of
    the build of the L benchmark). Promoting the new objects with ``gc.freeze`` / ``gc.unfreeze`` (a
    constant-time move of the tracked objects to the oldest generation) spares the young passes that
    follow the long walk over them; they are walked again only by the next full collection. A process that
    froze objects itself (before forking workers) keeps them frozen: then nothing is promoted.
    """
    promote = gc.get_freeze_count() == 0
    with PauseGC():
        try:
            yield
        finally:
            if promote:
                gc.freeze()
                gc.unfreeze()


def family_inputs(m: pyo.ConcreteModel, define: Family) -> dict[str, Any]:
    """The components ``define`` declares as keyword-only parameters, taken from ``m`` by name."""
    inputs = {}
    for name, parameter in inspect.signature(define).parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        component = m.component(name)
        if component is None and parameter.default is not inspect.Parameter.empty:
            continue  # optional: the family's default stands in
        if component is None:
            raise LookupError(f"{define.__name__} needs '{name}', which no family before it in FAMILIES defines")
        inputs[name] = component
    return inputs


SWEEPABLE_PARAMS: dict[str, str] = {
    "offer_price_usd_per_gpu_hour": "offer_price_usd_per_gpu_hour",
    "od_price_usd_per_gpu_hour": "od_price_usd_per_gpu_hour",
    "od_max_kgpu": "od_max_kgpu",
    "throughput_ttok_per_kgpu_month": "throughput_ttok_per_kgpu_month",
    "demand_ttok": "demand_ttok",
    "power_cap_mw": "power_cap_mw",
    "credit_amount_musd": "credit_amount_musd",
    "program_one_off_musd": "program_one_off_musd",
    "program_monthly_musd": "program_monthly_musd",
    "program_gain_ttok_per_kgpu_month": "program_gain_ttok_per_kgpu_month",
    "program_bigm_kgpu": "program_bigm_kgpu",
    "program_rate_ttok_per_kgpu_month": "program_rate_ttok_per_kgpu_month",
    "program_peak_ttok": "program_peak_ttok",
}
"""Model Param name -> ModelData field: the numbers a sweep may change without a rebuild. The program
gain, big-M and peak follow from MFU, throughput, demand, policies, power and on-demand caps: ``prepare`` recomputes
them with those."""
SWEEPABLE_SCALARS = ("max_total_commitment_musd", "max_cash_spend_musd")
"""Scalar budget Params (same name in the model and ModelData), set when the budget exists."""


def update_parameters(m: pyo.ConcreteModel, problem: Problem) -> bool:
    """Load ``problem``'s numbers into the mutable Params of an existing model, in place.

    Returns False (and changes nothing) when the new problem differs in anything other than the
    mutable parameters, so the caller must rebuild. Keeps persistent solvers warm.
    """
    old: ModelData = m.data
    new = prepare(problem, old.scenarios)
    new.elastic = old.elastic
    if new.structure_key() != old.structure_key():
        return False
    budgets = set(SWEEPABLE_SCALARS)
    fixed_fields = set(vars(old)) - set(SWEEPABLE_PARAMS.values()) - budgets
    if any(getattr(old, f) != getattr(new, f) for f in fixed_fields):
        return False
    for param_name, field_name in SWEEPABLE_PARAMS.items():
        param = getattr(m, param_name)
        values = getattr(new, field_name)
        for index in param:
            param[index] = values[index]
    for name in budgets:
        if getattr(new, name) is not None:
            getattr(m, name).set_value(getattr(new, name))
    m.data = new
    return True
