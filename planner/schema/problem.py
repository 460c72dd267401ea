"""``Problem``: every table of one planning problem, validated together."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    model_validator,
)

from planner.errors import InputError
from planner.schema.checks import by_name, cross_table_issues
from planner.schema.fields import add_months, derived_throughput, month_offset
from planner.schema.settings import Settings
from planner.schema.tables import (
    TABLE_FIELD,
    Commitment,
    Credit,
    DemandRow,
    EfficiencyProgram,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Scenario,
    Site,
    SitePower,
    Throughput,
    Workload,
)


class _Memo:
    """A cache slot on a frozen model that takes no part in its equality (two problems with the same
    data are equal whether or not either has filled its cache)."""

    __slots__ = ("value",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.value: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Memo)


class Problem(BaseModel):
    """A complete, validated planning problem. Construction checks every cross-table rule and
    raises :class:`InputError` with all issues found (located by table, row index and column)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings
    workloads: list[Workload]
    scenarios: list[Scenario]
    demand: list[DemandRow] = []
    gpu_types: list[GpuType]
    throughput: list[Throughput] = []
    sites: list[Site] = []
    site_power: list[SitePower] = []
    lease_offers: list[LeaseOffer] = []
    commitments: list[Commitment] = []
    on_demand: list[OnDemand] = []
    credits: list[Credit] = []
    policies: list[Policy] = []
    policy_effects: list[PolicyEffect] = []
    efficiency_programs: list[EfficiencyProgram] = []

    _demand_index: _Memo = PrivateAttr(default_factory=_Memo)
    """(the Demand rows and first month it was built from, (scenario, workload) -> month -> tokens)."""

    @model_validator(mode="after")
    def _cross_table_rules(self) -> Problem:
        issues = cross_table_issues(self)
        if issues:
            raise InputError(issues)
        return self

    def absent_tables(self) -> list[str]:
        """Optional input tables the problem was given without: in a workbook, tables with neither a sheet
        nor an Excel Table of their name. (A table present but empty is not absent.)"""
        return [name for name, attribute in TABLE_FIELD.items() if attribute not in self.model_fields_set]

    # ---- horizon -------------------------------------------------------------------------------
    @property
    def month_labels(self) -> list[str]:
        return [add_months(self.settings.first_month, t) for t in range(self.settings.months)]

    def month_index(self, month: str) -> int:
        """0-based month index in the horizon (may be outside ``0..months-1``)."""
        return month_offset(month, self.settings.first_month)

    def discount_factor(self, month_index: int) -> float:
        """Present-value factor of a payment in month ``month_index``: (1 + r)^(-t/12)."""
        return (1.0 + self.settings.discount_rate_per_year) ** (-month_index / 12.0)

    # ---- derived data used by the model --------------------------------------------------------
    @property
    def providers(self) -> list[str]:
        names = [o.provider for o in self.lease_offers] + [c.provider for c in self.commitments]
        names += [o.provider for o in self.on_demand]
        return list(dict.fromkeys(names))

    def allowed_gpu_types(self, workload: Workload) -> list[str]:
        return list(workload.allowed_gpu_types) or [g.name for g in self.gpu_types]

    def tokens_per_second_per_gpu(self, gpu_type: str, workload: str) -> float | None:
        """Throughput of one GPU on one workload: given, or peak_TFLOPS*1e12*MFU/flops_per_token."""
        gpu = by_name(self.gpu_types)[gpu_type]
        wl = by_name(self.workloads)[workload]
        for row in self.throughput:
            if row.gpu_type == gpu_type and row.workload == workload:
                if row.tokens_per_second_per_gpu is not None:
                    return row.tokens_per_second_per_gpu
                return derived_throughput(gpu.peak_dense_bf16_tflops, row.mfu, wl.flops_per_token)
        return derived_throughput(gpu.peak_dense_bf16_tflops, self.settings.default_mfu, wl.flops_per_token)

    def mfu(self, gpu_type: str, workload: str) -> float | None:
        """Today's MFU of one GPU on one workload: given, Settings default_mfu, or from a measured
        throughput and the workload's FLOPs per token (None when it cannot be known)."""
        gpu = by_name(self.gpu_types)[gpu_type]
        wl = by_name(self.workloads)[workload]
        for row in self.throughput:
            if row.gpu_type == gpu_type and row.workload == workload:
                if row.mfu is not None:
                    return row.mfu
                if wl.flops_per_token is None or row.tokens_per_second_per_gpu is None:
                    return None
                return row.tokens_per_second_per_gpu * wl.flops_per_token / (gpu.peak_dense_bf16_tflops * 1e12)
        return self.settings.default_mfu

    def demand_tokens(self, scenario: str, workload: str) -> list[float]:
        """Tokens demanded per month of the horizon for one (scenario, workload)."""
        explicit = self._explicit_demand().get((scenario, workload))
        months = self.settings.months
        if explicit:
            return [explicit.get(t, 0.0) for t in range(months)]
        base = by_name(self.workloads)[workload].base_tokens_per_month or 0.0
        growth = by_name(self.scenarios)[scenario].growth_multiple_per_year or 1.0
        return [base * growth ** (t / 12.0) for t in range(months)]

    def _explicit_demand(self) -> dict[tuple[str, str], dict[int, float]]:
        """The Demand rows by (scenario, workload) and month index, indexed once (a copy of the problem
        with other rows or another first month indexes its own)."""
        cached = self._demand_index.value
        if cached is not None and cached[0] is self.demand and cached[1] == self.settings.first_month:
            return cached[2]
        index: dict[tuple[str, str], dict[int, float]] = {}
        for row in self.demand:
            index.setdefault((row.scenario, row.workload), {})[self.month_index(row.month)] = row.tokens_per_month
        self._demand_index.value = (self.demand, self.settings.first_month, index)
        return index

    def power_cap_mw(self, site: str) -> list[float]:
        """Facility power cap per month of the horizon, with SitePower steps applied."""
        cap = by_name(self.sites)[site].power_cap_mw
        steps = sorted((self.month_index(s.from_month), s.power_cap_mw) for s in self.site_power if s.site == site)
        caps = []
        for t in range(self.settings.months):
            for start, value in steps:
                if start <= t:
                    cap = value
            caps.append(cap)
        return caps

    def effective_policies(self) -> list[Policy]:
        """The policies to choose from; with none given, one implicit policy without limits."""
        return list(self.policies) or [Policy(name="no limits", goodwill_cost_usd_per_month=0.0)]

    def policy_effect(self, policy: str, workload: str) -> tuple[float, float]:
        """(admitted fraction, peak-to-average multiplier) of a policy on a workload."""
        for row in self.policy_effects:
            if row.policy == policy and row.workload == workload:
                return row.admitted_fraction, row.peak_to_average_multiplier
        return 1.0, 1.0


