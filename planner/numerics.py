r"""The coefficient range an input gives the model, checked before solving, with the cells behind it.

HiGHS, like every floating-point LP/MIP solver, works to absolute tolerances: 1e-7 on each row
(primal feasibility) and 1e-6 on integrality, after scaling rows and columns. A row whose coefficients
span a range :math:`R` (largest over smallest magnitude) is only meaningful to about :math:`R` times
those tolerances. With the model's units (kGPU, Ttok, MUSD, MW; ``planner/model/data.py``) a typical
instance has its coefficients within 1e-3..1e3, so :math:`R \le 10^6`; the one family that grows with
the input is demand :math:`D_{s,t,w}` in Ttok, which multiplies the binary ``policy_on`` in
``demand_balance`` and ``policy_admission``. A binary at ``1 - 1e-6`` (inside the integrality
tolerance) then admits :math:`10^{-6} D` Ttok of demand that is not there, which is
:math:`10^{-6} R` times the smallest quantity the model tells apart (a block of GPUs, in kGPU):

* up to :data:`WARN_RANGE` (1e7) that error stays within a few blocks: the input is fine;
* past it the plan may be off by tens of blocks, or the solve slow: the input loads with a warning
  naming the cells behind the largest and the smallest coefficients;
* past :data:`REFUSE_RANGE` (1e9) the error reaches thousands of blocks and HiGHS's own limits come
  near (it drops coefficients under 1e-9 and rejects those over 1e15): the input is refused, with the
  same cells, and the run stops before a misleading solve.

Demand enters only through its largest values: a small demand is a small coefficient, but an error
of the solver's tolerance on it is worth less than a token-dollar, so it does not count as the
smallest coefficient. The same holds for the ``policy_on`` cost in the CVaR row, which is demand x
revenue. The check works from the validated :class:`~planner.schema.Problem` without building the model
(so ``planner validate`` stays fast); ``tests/test_numerics.py`` holds it to the range of the model
actually built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from planner.errors import InputIssue, describe
from planner.programs import (
    ALL,
    improved_pairs,
    largest_peak_tokens,
    program_columns,
    program_starts,
    throughput_factor,
)
from planner.schema import Problem, Settings

GPUS_PER_UNIT = 1_000.0
TOKENS_PER_UNIT = 1e12
USD_PER_UNIT = 1e6
SECONDS_PER_HOUR = 3600.0
"""The model's internal units, as in ``planner/model/data.py`` (which imports Pyomo: not needed here)."""

WARN_RANGE = 1e7
"""Above this matrix coefficient range (largest / smallest magnitude) the input loads with a warning."""
REFUSE_RANGE = 1e9
"""Above this the input is refused: no plan the solver returns could be trusted."""
BAND = (1e-3, 1e3)
"""Where the model's coefficients sit for sensible input; a coefficient outside it is a culprit."""


class ScalingWarning(UserWarning):
    """Input that loads but whose coefficient range may make the solve inaccurate or slow."""


@dataclass(frozen=True)
class Source:
    """An input value behind a coefficient: (table, row index, column); Settings has no row index."""

    table: str
    row_index: int | None
    column: str
    value: Any


@dataclass(frozen=True)
class Coefficient:
    """One coefficient of the constraint matrix, in internal units, with what it means and its inputs."""

    value: float
    family: str
    meaning: str
    sources: tuple[Source, ...]


@dataclass
class Scaling:
    """The extreme coefficients of the model an input implies, and what to tell the user about them."""

    smallest: Coefficient | None = None
    largest: Coefficient | None = None
    refusals: list[InputIssue] = field(default_factory=list)
    warnings: list[InputIssue] = field(default_factory=list)

    @property
    def matrix_range(self) -> float:
        if self.smallest is None or self.largest is None:
            return 1.0
        return self.largest.value / self.smallest.value

    def add(self, value: float, family: str, meaning: str, sources: Iterable[Source] = (),
            *, demand_driven: bool = False) -> None:
        """Count one coefficient; ``demand_driven`` ones only count for the largest (see module notes)."""
        size = abs(value)
        if size == 0.0:
            return
        if self.largest is None or size > self.largest.value:
            self.largest = Coefficient(size, family, meaning, tuple(sources))
        if not demand_driven and (self.smallest is None or size < self.smallest.value):
            self.smallest = Coefficient(size, family, meaning, tuple(sources))


def check_scaling(problem: Problem) -> Scaling:
    """The matrix coefficient range of ``problem``'s model, with issues (located by table, row index and
    column) for the cells behind the extremes when the range passes :data:`WARN_RANGE`."""
    scaling = Scaling()
    _Coefficients(problem, scaling).collect()
    spread = scaling.matrix_range
    if spread <= WARN_RANGE or scaling.smallest is None or scaling.largest is None:
        return scaling
    culprits = [c for c in (scaling.largest, scaling.smallest) if not BAND[0] <= c.value <= BAND[1]]
    refused = spread > REFUSE_RANGE
    limit = REFUSE_RANGE if refused else WARN_RANGE
    consequence = ("refused: no plan the solver returns could be trusted" if refused
                   else "the plan may be inaccurate or the solve slow")
    expected = (f"input whose model coefficients span at most {limit:.0e} (here {spread:.1e}, from "
                f"{scaling.smallest.value:.2g} in {scaling.smallest.family} to {scaling.largest.value:.2g} "
                f"in {scaling.largest.family}; {consequence})")
    seen: set[tuple[str, int | None, str]] = set()
    issues = scaling.refusals if refused else scaling.warnings
    for coefficient in culprits:
        for source in coefficient.sources:
            key = (source.table, source.row_index, source.column)
            if key in seen:
                continue
            seen.add(key)
            found = (f"{describe(source.value)} ({coefficient.meaning}: a coefficient of "
                     f"{coefficient.value:.2g} in {coefficient.family})")
            issues.append(InputIssue(source.table, source.column, found, expected, row_index=source.row_index))
    return scaling


class _Coefficients:
    """Walks the constraint families of ``planner/model`` and adds each distinct coefficient."""

    def __init__(self, problem: Problem, scaling: Scaling) -> None:
        self.p = problem
        self.add = scaling.add
        s = problem.settings
        self.hours = s.hours_per_month
        self.months = s.months
        self.labels = problem.month_labels
        self.series = {(sc.name, w.name): problem.demand_tokens(sc.name, w.name)
                       for sc in problem.scenarios for w in problem.workloads}
        self.demand_rows = {(row.scenario, row.workload, row.month): i for i, row in enumerate(problem.demand)}
        self.index = {table: {_key(row): i for i, row in enumerate(rows)} for table, rows in (
            ("Workloads", problem.workloads), ("Scenarios", problem.scenarios), ("GPUTypes", problem.gpu_types),
            ("Sites", problem.sites), ("LeaseOffers", problem.lease_offers), ("OnDemand", problem.on_demand),
            ("Policies", problem.policies), ("EfficiencyPrograms", problem.efficiency_programs))}
        self.starts = {o.offer_id: self._starts(o.earliest_start_month, o.latest_start_month)
                       for o in problem.lease_offers}
        self.throughput = self._throughput()
        # (GPU type, site) pools that some workload can use: their capacity and power rows exist.
        servable = {g for g, _ in self.throughput}
        self.pools = {(o.gpu_type, o.site) for o in problem.lease_offers if self.starts[o.offer_id]}
        self.pools |= {(c.gpu_type, c.site) for c in problem.commitments}
        self.used_pools = {pool for pool in self.pools if pool[0] in servable}
        self.cloud = [c for c in problem.on_demand if c.max_gpus > 0 and c.gpu_type in servable]

    def src(self, table: str, name: str | None, column: str, value: Any) -> Source:
        return Source(table, None if name is None else self.index[table].get(name), column, value)

    def collect(self) -> None:
        self.add(1.0, "demand_balance", "served tokens")  # every model has unit coefficients
        self.capacity()
        self.offer_limits()
        self.demand()
        self.throughput_rows()
        self.power()
        self.spend_rows()
        self.programs()
        self.cash_budget()
        self.cvar()

    # ---- index sets, as planner/model/data.py builds them ---------------------------------------
    def _starts(self, earliest: str, latest: str) -> list[int]:
        first = max(0, self.p.month_index(earliest))
        last = min(self.months - 1, self.p.month_index(latest))
        return list(range(first, last + 1))

    def _throughput(self) -> dict[tuple[str, str], tuple[float, float, tuple[Source, ...]]]:
        """(GPU type, workload) -> (tokens/s per GPU, Ttok per kGPU-month, the cells it comes from), for
        allowed pairs."""
        p, found = self.p, {}
        per_unit = self.hours * SECONDS_PER_HOUR * GPUS_PER_UNIT / TOKENS_PER_UNIT
        given = {(t.gpu_type, t.workload): (i, t) for i, t in enumerate(p.throughput)}
        for w in p.workloads:
            for g in p.allowed_gpu_types(w):
                tps = p.tokens_per_second_per_gpu(g, w.name)
                if not tps:
                    continue
                i, row = given.get((g, w.name), (None, None))
                if row is not None and row.tokens_per_second_per_gpu is not None:
                    sources: tuple[Source, ...] = (Source("Throughput", i, "tokens_per_second_per_gpu", tps),)
                else:
                    gpu = next(x for x in p.gpu_types if x.name == g)
                    mfu = (Source("Throughput", i, "mfu", row.mfu) if row is not None
                           else Source(Settings.TABLE, None, "default_mfu", p.settings.default_mfu))
                    sources = (mfu, self.src("GPUTypes", g, "peak_dense_bf16_tflops", gpu.peak_dense_bf16_tflops),
                               self.src("Workloads", w.name, "flops_per_token", w.flops_per_token))
                found[g, w.name] = (tps, tps * per_unit, sources)
        return found

    def _demand_sources(self, scenario: str, workload: str, month: int) -> tuple[Source, ...]:
        i = self.demand_rows.get((scenario, workload, self.labels[month]))
        if i is not None:
            return (Source("Demand", i, "tokens_per_month", self.p.demand[i].tokens_per_month),)
        w = self.p.workloads[self.index["Workloads"][workload]]
        sc = self.p.scenarios[self.index["Scenarios"][scenario]]
        sources = [self.src("Workloads", workload, "base_tokens_per_month", w.base_tokens_per_month)]
        if month and sc.growth_multiple_per_year not in (None, 1.0):
            sources.append(self.src("Scenarios", scenario, "growth_multiple_per_year", sc.growth_multiple_per_year))
        return tuple(sources)

    def _effect_source(self, policy: str, workload: str, column: str) -> list[Source]:
        for i, row in enumerate(self.p.policy_effects):
            if (row.policy, row.workload) == (policy, workload):
                return [Source("PolicyEffects", i, column, getattr(row, column))]
        return []

    # ---- families ---------------------------------------------------------------------------------
    def capacity(self) -> None:
        """capacity: availability x block size (kGPU) on lease_blocks."""
        gpus = {g.name: g for g in self.p.gpu_types}
        for o in self.p.lease_offers:
            if self.starts[o.offer_id] and (o.gpu_type, o.site) in self.used_pools:
                a = gpus[o.gpu_type].availability_factor
                self.add(a * o.gpus_per_block / GPUS_PER_UNIT, "capacity",
                         f"{o.gpus_per_block:,}-GPU blocks of {o.offer_id} at availability {a:g}",
                         [self.src("LeaseOffers", o.offer_id, "gpus_per_block", o.gpus_per_block),
                          self.src("GPUTypes", o.gpu_type, "availability_factor", a)])

    def offer_limits(self) -> None:
        """offer_max_blocks / offer_min_blocks: block counts on the binary offer_used."""
        for o in self.p.lease_offers:
            if o.min_blocks > 1 and self.starts[o.offer_id]:
                for column in ("max_blocks", "min_blocks"):
                    value = getattr(o, column)
                    self.add(value, f"offer_{column}", f"{column} of {o.offer_id}",
                             [self.src("LeaseOffers", o.offer_id, column, value)])

    def demand(self) -> None:
        """demand_balance / policy_admission: demand (Ttok) x admitted fraction on policy_on."""
        policies = [q.name for q in self.p.effective_policies()]
        for sc in self.p.scenarios:
            for w in self.p.workloads:
                series = self.series[sc.name, w.name]
                t = max(range(self.months), key=lambda m: series[m])
                admitted = {q: self.p.policy_effect(q, w.name)[0] for q in policies}
                q = max(admitted, key=lambda name: admitted[name])
                sources = [*self._demand_sources(sc.name, w.name, t),
                           *self._effect_source(q, w.name, "admitted_fraction")]
                self.add(series[t] * admitted[q] / TOKENS_PER_UNIT, "demand_balance",
                         f"demand of {series[t]:.3g} tokens in {self.labels[t]} for {w.name} in "
                         f"scenario {sc.name}", sources, demand_driven=True)

    def throughput_rows(self) -> None:
        """throughput: Ttok per kGPU-month on gpus_serving / od_serving, peak ratios on served_ttok."""
        servers = {g for g, _ in self.pools} | {c.gpu_type for c in self.cloud}
        for (g, w), (tps, theta, sources) in self.throughput.items():
            if g in servers:
                self.add(theta, "throughput", f"{tps:.3g} tokens/s per {g} GPU on {w}", sources)
        for w in self.p.workloads:
            for q in self.p.effective_policies():
                mu = self.p.policy_effect(q.name, w.name)[1]
                self.add(w.peak_to_average_ratio * mu, "throughput",
                         f"peak-to-average {w.peak_to_average_ratio:g} x {mu:g} for {w.name} under {q.name}",
                         [self.src("Workloads", w.name, "peak_to_average_ratio", w.peak_to_average_ratio),
                          *self._effect_source(q.name, w.name, "peak_to_average_multiplier")])

    def power(self) -> None:
        """power: MW per kGPU (kW per GPU x PUE) on gpus_serving."""
        gpus, sites = {g.name: g for g in self.p.gpu_types}, {x.name: x for x in self.p.sites}
        for g, site in self.used_pools:
            kw, pue = gpus[g].power_kw_per_gpu, sites[site].pue
            self.add(kw * pue, "power", f"{kw:g} kW per {g} GPU x PUE {pue:g} at {site}",
                     [self.src("GPUTypes", g, "power_kw_per_gpu", kw), self.src("Sites", site, "pue", pue)])

    def _payment(self, o: Any) -> tuple[float, list[Source]]:
        """MUSD per block-month of an offer, and its cells."""
        return (o.gpus_per_block * self.hours * o.price_usd_per_gpu_hour / USD_PER_UNIT,
                [self.src("LeaseOffers", o.offer_id, "price_usd_per_gpu_hour", o.price_usd_per_gpu_hour),
                 self.src("LeaseOffers", o.offer_id, "gpus_per_block", o.gpus_per_block)])

    def spend_rows(self) -> None:
        """credit_eligible, budget and provider_share: spend in MUSD on lease_blocks and od_serving."""
        s = self.p.settings
        lease_months: dict[str, set[int]] = defaultdict(set)
        cloud_months: dict[str, set[int]] = defaultdict(set)
        for r in self.p.credits:
            months = set(self._starts(r.valid_from_month, r.expiry_month))
            if r.applies_to in ("leases", "all"):
                lease_months[r.provider] |= months
            if r.applies_to in ("on_demand", "all"):
                cloud_months[r.provider] |= months
        share = s.max_provider_share if len(self.p.providers) >= 2 else None
        share_src = [Source(Settings.TABLE, None, "max_provider_share", share)]
        for o in self.p.lease_offers:
            pay, sources = self._payment(o)
            upfront = o.upfront_usd_per_block / USD_PER_UNIT
            with_upfront = sources + ([self.src("LeaseOffers", o.offer_id, "upfront_usd_per_block",
                                                o.upfront_usd_per_block)] if upfront else [])
            for k in self.starts[o.offer_id]:
                active = range(k, min(k + o.term_months, self.months))
                if k in lease_months[o.provider]:
                    self.add(pay + upfront, "credit_eligible", f"a month's payment of a block of {o.offer_id}",
                             with_upfront)
                if any(t in lease_months[o.provider] for t in active[1:]):
                    self.add(pay, "credit_eligible", f"a month's payment of a block of {o.offer_id}", sources)
                if s.max_total_commitment_usd is not None:
                    self.add(o.term_months * pay + upfront, "budget",
                             f"all {o.term_months} payments of a block of {o.offer_id}", with_upfront)
                if share is not None:
                    total = len(active) * pay + upfront
                    for factor, label in ((share, f"{share:g}"), (1.0 - share, f"(1 - {share:g})")):
                        self.add(factor * total, "provider_share",
                                 f"{label} x the spend on a block of {o.offer_id}", with_upfront + share_src)
        for c in self.cloud:
            rate = GPUS_PER_UNIT * self.hours * c.price_usd_per_gpu_hour / USD_PER_UNIT
            sources = [self.src("OnDemand", c.option_id, "price_usd_per_gpu_hour", c.price_usd_per_gpu_hour)]
            meaning = f"a kGPU-month of {c.option_id} at ${c.price_usd_per_gpu_hour:g}/GPU-hour"
            if cloud_months[c.provider]:
                self.add(rate, "credit_eligible", meaning, sources)
            if share is not None:
                for factor, label in ((share, f"{share:g}"), (1.0 - share, f"(1 - {share:g})")):
                    self.add(factor * rate, "provider_share", f"{label} x {meaning}", sources + share_src)

    def programs(self) -> None:
        """program_once, program_split: unit coefficients; program_effect: the big-M (GPUs a program can
        improve, in kGPU) on program_start, which counts for the largest only (a small big-M is a tight
        one); program_peak: the largest peak (Ttok per month) on program_start, also largest only, and the
        improved rate theta x multiple on gpus_improved; throughput: the gain theta x (multiple - 1) on
        gpus_improved."""
        p = self.p
        columns = program_columns(p)
        if not columns:
            return
        with_columns = {(key[0], key[4], key[3]) for key in columns}
        largest = max(columns, key=columns.__getitem__)
        self.add(columns[largest] / GPUS_PER_UNIT, "program_effect",
                 f"{columns[largest]:,.0f} GPUs program {largest[0]} could improve ({largest[4]} on {largest[3]} in "
                 f"{self.labels[largest[2]]})",
                 [self.src("EfficiencyPrograms", largest[0], "workloads", ", ".join(p.efficiency_programs[
                     self.index["EfficiencyPrograms"][largest[0]]].workloads) or ALL)], demand_driven=True)
        peaks = largest_peak_tokens(p)
        _, s, t, w, _ = max(columns, key=lambda key: peaks[key[1], key[3]][key[2]])
        workload = p.workloads[self.index["Workloads"][w]]
        self.add(peaks[s, w][t] / TOKENS_PER_UNIT, "program_peak",
                 f"the largest peak of {w} in {self.labels[t]} in scenario {s} (tokens per month)",
                 [*self._demand_sources(s, w, t), self.src("Workloads", w, "peak_to_average_ratio",
                                                            workload.peak_to_average_ratio)], demand_driven=True)
        for program in p.efficiency_programs:
            column = "mfu_multiplier" if program.mfu_multiplier is not None else "new_mfu"
            for g, w in improved_pairs(p, program):
                if (program.program_id, g, w) not in with_columns:
                    continue
                tps, theta, sources = self.throughput[g, w]
                factor = throughput_factor(p, program, g, w)
                self.add(theta * factor, "program_peak", f"{tps * factor:.3g} tokens/s per {g} GPU on {w} with "
                         f"{program.program_id}", [self.src("EfficiencyPrograms", program.program_id, column,
                                                            getattr(program, column)), *sources])
                self.add(theta * (factor - 1.0), "throughput",
                         f"{tps * (factor - 1.0):.3g} tokens/s per {g} GPU on {w} added by {program.program_id}",
                         [self.src("EfficiencyPrograms", program.program_id, column, getattr(program, column)),
                          *sources])

    def _program_cost(self, program: Any, start: int, discounted: bool) -> float:
        """MUSD a program started in month ``start`` pays in the horizon: one-off, then every month."""
        weight = self.p.discount_factor if discounted else (lambda _t: 1.0)
        return (program.one_off_cost_usd * weight(start)
                + program.cost_usd_per_month * sum(weight(t) for t in range(start, self.months))) / USD_PER_UNIT

    def cash_budget(self) -> None:
        """cash_budget: the horizon's cash of a lease block, a kGPU-month on demand, a credit dollar and a
        program start (only with max_cash_spend_usd)."""
        s = self.p.settings
        if s.max_cash_spend_usd is None:
            return
        for o in self.p.lease_offers:
            pay, sources = self._payment(o)
            upfront = o.upfront_usd_per_block / USD_PER_UNIT
            for k in self._lease_starts(o):
                paid = min(k + o.term_months, self.months) - k
                self.add(paid * pay + upfront, "cash_budget", f"the horizon's payments of a block of {o.offer_id}",
                         sources)
        for c in self.cloud:
            rate = GPUS_PER_UNIT * self.hours * c.price_usd_per_gpu_hour / USD_PER_UNIT
            self.add(rate, "cash_budget", f"a kGPU-month of {c.option_id}",
                     [self.src("OnDemand", c.option_id, "price_usd_per_gpu_hour", c.price_usd_per_gpu_hour)])
        if any(self._starts(r.valid_from_month, r.expiry_month) for r in self.p.credits):
            self.add(1.0, "cash_budget", "a credit dollar applied")
        for program in self.p.efficiency_programs:
            for k in program_starts(self.p, program):
                self.add(self._program_cost(program, k, discounted=False), "cash_budget",
                         f"the horizon's cost of program {program.program_id}", self._program_sources(program))

    def _program_sources(self, program: Any) -> list[Source]:
        return [self.src("EfficiencyPrograms", program.program_id, column, getattr(program, column))
                for column in ("one_off_cost_usd", "cost_usd_per_month") if getattr(program, column)]

    def _lease_starts(self, o: Any) -> list[int]:
        """Start months of an offer as the model has them: in the window, signed inside the horizon."""
        return [k for k in self.starts[o.offer_id] if k >= o.lead_time_months]

    def cvar(self) -> None:
        """cvar_excess_def: the scenario's loss, discounted, term by term (only with a CVaR weight): its cost,
        or in budget mode its cash cost and goodwill less the revenue of tokens served.

        Discount factors fall with the month, so each term's extremes are at its first and last month.
        """
        s = self.p.settings
        if s.cvar_weight <= 0:
            return
        discount = self.p.discount_factor
        ends = (0, self.months - 1)
        budget_mode = s.objective == "max_value_within_budget"
        for program in self.p.efficiency_programs:
            for k in program_starts(self.p, program):
                self.add(self._program_cost(program, k, discounted=True), "cvar_excess_def",
                         f"the discounted cost of program {program.program_id}", self._program_sources(program))
        for o in self.p.lease_offers:
            pay, sources = self._payment(o)
            for k in self.starts[o.offer_id]:
                stop = k + o.term_months if s.count_payments_beyond_horizon else min(k + o.term_months, self.months)
                value = sum(discount(t) for t in range(k, stop)) * pay
                value += discount(k) * o.upfront_usd_per_block / USD_PER_UNIT
                self.add(value, "cvar_excess_def", f"the discounted payments of a block of {o.offer_id}", sources)
        for c in self.cloud:
            rate = GPUS_PER_UNIT * self.hours * c.price_usd_per_gpu_hour / USD_PER_UNIT
            for t in ends:
                self.add(discount(t) * rate, "cvar_excess_def", f"a discounted kGPU-month of {c.option_id}",
                         [self.src("OnDemand", c.option_id, "price_usd_per_gpu_hour", c.price_usd_per_gpu_hour)])
        for r in self.p.credits:
            window = self._starts(r.valid_from_month, r.expiry_month)
            for t in window[:1] + window[-1:]:
                self.add(discount(t), "cvar_excess_def", f"a discounted dollar of credit {r.credit_id}")
        if budget_mode:
            self._cvar_value(ends)
            return
        for w in self.p.workloads:
            given = w.unserved_penalty_usd_per_million_tokens
            column = "revenue_usd_per_million_tokens" if given is None else "unserved_penalty_usd_per_million_tokens"
            penalty = w.revenue_usd_per_million_tokens if given is None else given
            for t in ends if w.unserved_allowed else ():
                self.add(discount(t) * penalty, "cvar_excess_def", f"the discounted penalty of unserved {w.name}",
                         [self.src("Workloads", w.name, column, penalty)])
        revenue = [self.src("Workloads", w.name, "revenue_usd_per_million_tokens", w.revenue_usd_per_million_tokens)
                   for w in self.p.workloads]
        for sc in self.p.scenarios:
            demand = {w.name: self.series[sc.name, w.name] for w in self.p.workloads}
            for q in self.p.effective_policies():
                admitted = {w.name: self.p.policy_effect(q.name, w.name)[0] for w in self.p.workloads}
                for t in range(self.months):
                    at_stake = sum(w.revenue_usd_per_million_tokens * demand[w.name][t] / TOKENS_PER_UNIT
                                   * admitted[w.name] for w in self.p.workloads)
                    self.add(discount(t) * (q.goodwill_cost_usd_per_month / USD_PER_UNIT - at_stake),
                             "cvar_excess_def", f"revenue at stake in {self.labels[t]} in scenario {sc.name}",
                             revenue, demand_driven=True)

    def _cvar_value(self, ends: tuple[int, int]) -> None:
        """Budget mode's loss in cvar_excess_def: the revenue of a served Ttok, discounted, on served_ttok
        and the goodwill of a policy on policy_on (throttled and unserved tokens earn nothing, cost nothing)."""
        discount = self.p.discount_factor
        for w in self.p.workloads:
            for t in ends:
                self.add(discount(t) * w.revenue_usd_per_million_tokens, "cvar_excess_def",
                         f"the discounted revenue of a served Ttok of {w.name}",
                         [self.src("Workloads", w.name, "revenue_usd_per_million_tokens",
                                   w.revenue_usd_per_million_tokens)])
        # policy_on carries only its goodwill here; a small goodwill is a small cost, harmless to the solve,
        # so it counts for the largest only (as the revenue at stake does in min_cost mode).
        for q in self.p.effective_policies():
            for t in ends:
                self.add(discount(t) * q.goodwill_cost_usd_per_month / USD_PER_UNIT, "cvar_excess_def",
                         f"the discounted goodwill of {q.name}",
                         [self.src("Policies", q.name, "goodwill_cost_usd_per_month", q.goodwill_cost_usd_per_month)],
                         demand_driven=True)


def _key(row: Any) -> str:
    return getattr(row, type(row).KEY or "name")

