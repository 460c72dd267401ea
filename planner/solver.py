"""Solving: the ``Planner`` (one built model bound to one HiGHS instance), results and marginal values.

``Planner`` builds the model once and hands it to HiGHS as arrays on the first solve
(:mod:`planner.highs`). Afterwards it changes the HiGHS model in place: ``update`` pushes the numbers
that moved, ``fix_leases`` sets column bounds, and every re-solve starts from the last plan. Sweeps and
the uncertainty analysis use that; ``solve(problem)`` is the one-shot convenience.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.common.errors import InfeasibleConstraintException

from planner.compile import CompiledModel, compile_model, compile_with_walker, load_values
from planner.highs import HighsModel, MipProgress, MipProgressHook, ModelRefusedError, ProgressRelay, RunOutcome
from planner.model import build_model, update_parameters
from planner.model.data import USD_PER_UNIT
from planner.model.leases import lease_fixings
from planner.recompile import Recompiler
from planner.results import PlanResult, expressions_read, extract
from planner.schema import Problem

__all__ = ["MipProgress", "PlanResult", "Planner", "solve"]

Progress = Callable[[str], None]
DEFAULT_RANDOM_SEED = 0
MIN_SOLVER_SECONDS = 1.0
"""HiGHS gets at least this long (or the whole limit if shorter), even when the build used it up."""


def _quiet(_: str) -> None:
    return None


@contextlib.contextmanager
def _pyomo_quiet() -> Iterator[None]:
    logger = logging.getLogger("pyomo")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


class Planner:
    """A built model bound to a persistent HiGHS instance.

    ``scenarios`` restricts the model to some scenarios (probabilities renormalised). ``progress``
    receives the stage under way ("building model", "solving", ...); ``mip_progress`` receives a
    :class:`~planner.highs.MipProgress` while HiGHS searches (at most every half second, and at each
    better plan). ``updatable=True`` is for a series of updates and re-solves (a sweep's worker): it
    keeps, from the first hand-off on, what lets ``update`` recompile only the rows and costs new
    numbers reach (otherwise the first ``update`` compiles the whole model once and keeps it then),
    and a re-solve whose last plan no longer fits the new numbers first searches that plan's
    neighbourhood for a start (:meth:`~planner.highs.HighsModel.neighbourhood_start`).
    """

    def __init__(self, problem: Problem, scenarios: list[str] | None = None, *,
                 threads: int | None = None, progress: Progress | None = None,
                 mip_progress: MipProgressHook | None = None, updatable: bool = False) -> None:
        self.problem = problem
        self.progress = progress or _quiet
        self.mip_progress = mip_progress
        self.threads = threads
        self.progress("building model")
        started = time.perf_counter()
        self.model = build_model(problem, scenarios)
        self.build_seconds = time.perf_counter() - started
        self._highs: HighsModel | None = None
        self.updatable = updatable
        self._recompiler: Recompiler | None = None
        self._fixed: ComponentMap = ComponentMap()
        """Pyomo variable -> the value ``fix_leases`` holds it at (as column bounds in HiGHS)."""
        self._last_values: np.ndarray | None = None
        self._tie_break: tuple[int, np.ndarray] | None = None

    # ---- changing the model in place ------------------------------------------------------------------
    def update(self, problem: Problem) -> bool:
        """Load new numbers into the mutable parameters and push what changed to HiGHS; False (and
        nothing changed) when the new problem differs in structure, so a new Planner is needed."""
        if not update_parameters(self.model, problem):
            return False
        self.problem = problem
        if self._highs is None or self._highs.compiled is None:
            return True  # the first solve hands the new numbers over
        old = self._highs.compiled
        try:
            with _pyomo_quiet():
                compiled, walker = self._recompiled(old)
            if compiled is not old and not self._highs.push(compiled):
                self._highs.load(compiled)  # other rows or columns: hand the whole model over again
                self._last_values = _remapped(self._last_values, old.columns, compiled.columns)
            if walker is not None:
                self._recompiler = Recompiler(self.model, self._highs.compiled, walker)
        except (InfeasibleConstraintException, ModelRefusedError):
            self._highs = None  # the next solve hands the model over again and reports the verdict
            self._recompiler = None
            self._last_values = None
            return True
        self._apply_fixings()
        return True

    def _recompiled(self, loaded: CompiledModel) -> tuple[CompiledModel, Any]:
        """The model at its new numbers -> (compiled, walker): only what they reach when the model
        HiGHS holds came from this Planner's recompiler (walker None), else compiled whole (with the
        walker a new recompiler keeps)."""
        recompiler = self._recompiler
        if recompiler is not None and recompiler.compiled is loaded:
            compiled = recompiler.recompile()
            if compiled is not None:
                return compiled, None
        self._recompiler = None
        return compile_with_walker(self.model, expressions=expressions_read(self.model))

    def fix_leases(self, blocks: Mapping[tuple[Any, ...], float]) -> None:
        """Fix the lease decisions; others to 0. Keys (offer, start month index): the blocks every
        scenario signs; keys (node, offer, start month index): one node's decision (see
        :func:`planner.model.leases.lease_fixings`)."""
        self.unfix_leases()
        for var, value in lease_fixings(self.model, blocks):
            self._fixed[var] = value
        self._apply_fixings()

    def unfix_leases(self) -> None:
        """Free the lease decisions again (their model bounds)."""
        if self._highs is not None and self._highs.compiled is not None and self._fixed:
            compiled = self._highs.compiled
            columns = compiled.columns_of(list(self._fixed))
            self._highs.set_column_bounds(columns, compiled.col_lower[columns], compiled.col_upper[columns])
        self._fixed.clear()

    def _apply_fixings(self) -> None:
        if self._highs is None or self._highs.compiled is None or not self._fixed:
            return
        compiled = self._highs.compiled
        columns = compiled.columns_of(list(self._fixed))
        values = np.array(list(self._fixed.values()))
        self._highs.set_column_bounds(columns, values, values)

    def _load(self) -> None:
        """Compile the model and hand it to HiGHS in one call (raises what the compiler or HiGHS refuse)."""
        walker = None
        with _pyomo_quiet():
            expressions = expressions_read(self.model)
            if self.updatable:
                compiled, walker = compile_with_walker(self.model, expressions=expressions)
            else:
                compiled = compile_model(self.model, expressions=expressions)
        highs = HighsModel(threads=self.threads, random_seed=DEFAULT_RANDOM_SEED)
        highs.load(compiled)
        self._highs = highs
        self._recompiler = Recompiler(self.model, compiled, walker) if walker is not None else None
        self._apply_fixings()

    def write_model(self, path: str) -> None:
        """Write the model exactly as HiGHS holds it (MPS or LP, by extension), fixings included."""
        if self._highs is None:
            self._load()
        assert self._highs is not None
        self._highs.write(path)

    # ---- solving ----------------------------------------------------------------------------------------
    def solve(self, *, time_limit_seconds: float | None = None, mip_gap: float | None = None,
              marginal_values: bool = True, diagnose: bool = True, relax: bool = False,
              mip_progress: MipProgressHook | None = None) -> PlanResult:
        """Solve, extract results, and (when a plan exists) compute marginal values.

        ``time_limit_seconds`` (default: Settings) covers building the model, handing it to HiGHS and
        the search; on a re-solve it covers the search alone. ``relax=True`` solves the LP relaxation
        (integrality dropped: a lower bound, fractional leases). ``mip_progress`` overrides the
        Planner's hook for this solve. Timings: ``load_seconds`` (the hand-off), ``solver_seconds``
        (HiGHS), ``solve_seconds`` (both), ``extract_seconds``, ``duals_seconds``.
        """
        settings = self.problem.settings
        limit = float(time_limit_seconds or settings.time_limit_seconds)
        gap = float(settings.mip_gap if mip_gap is None else mip_gap)
        started = time.perf_counter()
        first = self._highs is None
        timings = {"build_seconds": self.build_seconds, "load_seconds": 0.0}
        if first:
            self.progress("loading the model into HiGHS")
            try:
                self._load()
            except InfeasibleConstraintException as error:
                return self._without_plan("infeasible", f"infeasible: {error}", diagnose, timings, started)
            except ModelRefusedError as error:
                return self._without_plan("error", str(error), diagnose, timings, started)
            timings["load_seconds"] = time.perf_counter() - started
        highs = self._highs
        assert highs is not None and highs.compiled is not None
        spent = self.build_seconds + timings["load_seconds"] if first else 0.0
        time_left = max(limit - spent, min(limit, MIN_SOLVER_SECONDS))
        start = None if relax else self._start()
        neighbourhood_seconds = 0.0
        if start is not None and self.updatable and not self._fixed:
            # A plan made for other numbers that no longer fits them: search its neighbourhood first.
            start, neighbourhood_seconds = highs.neighbourhood_start(start, time_limit_seconds=time_left, mip_gap=gap)
            time_left = max(time_left - neighbourhood_seconds, min(time_left, MIN_SOLVER_SECONDS))
        hook = mip_progress or self.mip_progress
        relay = None
        if hook is not None and not relax and highs.compiled.num_integer:
            relay = ProgressRelay(hook, tie_break=self._tie_break_vector(highs.compiled), usd_per_unit=USD_PER_UNIT,
                                   elapsed_before=spent + (0.0 if first else time.perf_counter() - started),
                                   time_limit_seconds=limit, mip_gap_target=gap)
        self.progress("solving")
        if start is None and not relax:
            outcome = highs.run_without_start(time_limit_seconds=time_left, mip_gap=gap, progress=relay)
        else:
            outcome = highs.run(time_limit_seconds=time_left, mip_gap=gap, relax=relax, start=start, progress=relay)
        timings["solver_seconds"] = outcome.seconds + neighbourhood_seconds
        timings["solve_seconds"] = time.perf_counter() - started
        message = f"LP relaxation: {outcome.message}" if relax else outcome.message
        if outcome.values is None:
            result = self._without_plan(outcome.status, message, diagnose, timings, started)
            result.solver_log_tail = outcome.log_tail
            return result
        if not relax:
            self._last_values = outcome.values
        extract_started = time.perf_counter()
        self.progress("extracting results")
        compiled, values = highs.compiled, outcome.values
        load_values(compiled.columns, values)
        result = extract(self.model, self.problem, status=outcome.status, message=message,
                         best_bound_musd=outcome.bound, mip_gap=outcome.gap,
                         expression_values=lambda c: compiled.values(c, values) if compiled.holds(c) else None)
        timings["extract_seconds"] = time.perf_counter() - extract_started
        if marginal_values:
            duals_started = time.perf_counter()
            self.progress("computing marginal values")
            result.duals = self._marginal_values(outcome, time_left, relax)
            timings["duals_seconds"] = time.perf_counter() - duals_started
        result.timings = timings
        result.solver_log_tail = outcome.log_tail
        self._describe(result)
        return result

    @property
    def last_plan(self) -> np.ndarray | None:
        """The last plan's column values, in the order HiGHS holds the columns (None before one):
        what the next solve starts from, unless :meth:`start_from` says otherwise."""
        return self._last_values

    @property
    def plan_columns(self) -> list[Any] | None:
        """The variables :attr:`last_plan` gives values of, in order. The same list object as long as
        the columns stay as they are (``update`` that recompiles in place keeps them)."""
        return self._highs.compiled.columns if self._highs is not None and self._highs.compiled is not None else None

    def start_from(self, plan: np.ndarray) -> None:
        """Start the next solve from an earlier :attr:`last_plan` taken with the same
        :attr:`plan_columns` (a plan of a nearer point than the last one, in a sweep)."""
        columns = self.plan_columns
        if columns is None or len(plan) != len(columns):
            raise ValueError("start_from takes a plan of this Planner's current columns")
        self._last_values = plan

    def _start(self) -> np.ndarray | None:
        """The last plan as a MIP start, with the current fixings applied."""
        if self._last_values is None or self._highs is None or self._highs.compiled is None:
            return None
        start = self._last_values.copy()
        compiled = self._highs.compiled
        if self._fixed:
            start[compiled.columns_of(list(self._fixed))] = list(self._fixed.values())
        return start

    def _tie_break_vector(self, compiled: CompiledModel) -> np.ndarray:
        if self._tie_break is None or self._tie_break[0] != id(compiled):
            self._tie_break = (id(compiled), compiled.linear_values(self.model.tie_break_musd))
        return self._tie_break[1]

    def _without_plan(self, status: str, message: str, diagnose: bool, timings: dict[str, float],
                      started: float) -> PlanResult:
        result = PlanResult.without_plan(self.problem, self.model.data, status, message)
        if status == "infeasible" and diagnose:
            self.progress("diagnosing infeasibility")
            from planner.diagnose import explain_infeasibility

            result.diagnosis = explain_infeasibility(self.problem, self.model.data.scenarios, threads=self.threads)
            result.message = "infeasible: " + "; ".join(result.diagnosis[:5])
        timings.setdefault("solve_seconds", time.perf_counter() - started)
        result.timings = timings
        self._describe(result)
        return result

    def _describe(self, result: PlanResult) -> None:
        """Model size as HiGHS sees it (as Pyomo counts it when the hand-off did not happen)."""
        compiled = self._highs.compiled if self._highs is not None else None
        if compiled is not None:
            result.num_variables, result.num_constraints = compiled.num_columns, compiled.num_rows
            result.num_integer_variables = compiled.num_integer
        else:
            result.num_variables, result.num_constraints = self.model.nvariables(), self.model.nconstraints()
            result.num_integer_variables = sum(
                1 for var in self.model.component_data_objects(pyo.Var) if var.is_integer())
        result.model = self.model

    def _marginal_values(self, outcome: RunOutcome, time_limit_seconds: float,
                         relaxed: bool) -> dict[str, dict[tuple[Any, ...], float]]:
        """Duals of the LP with every integer column fixed at the plan (MUSD per row unit); of the LP
        itself when the solve was the relaxation. Empty when that LP is not solved to optimality."""
        highs = self._highs
        assert highs is not None and highs.compiled is not None and outcome.values is not None
        compiled = highs.compiled
        if not relaxed:
            integer = np.flatnonzero(compiled.integer)
            fixed = np.round(outcome.values[integer])
            highs.set_column_bounds(integer, fixed, fixed)
            try:
                lp = highs.run(time_limit_seconds=time_limit_seconds, mip_gap=0.0, relax=True)
            finally:
                highs.set_column_bounds(integer, compiled.col_lower[integer], compiled.col_upper[integer])
                self._apply_fixings()
            if lp.status != "optimal":
                return {}
        duals = highs.row_duals()
        m = self.model

        def by_index(component: Any) -> dict[Any, float]:
            keys, constraints = list(component.keys()), list(component.values())
            rows = compiled.rows_of(constraints)
            return {key: 0.0 if row is None else float(duals[row]) for key, row in zip(keys, rows, strict=True)}

        values = {"capacity": by_index(m.capacity), "power": by_index(m.power)}
        for budget in ("budget", "cash_budget"):  # what one more dollar of each budget is worth
            if m.component(budget) is not None:
                values[budget] = by_index(m.component(budget))
        if m.data.has_cvar:
            # A tail scenario's cost also carries CVaR weight: the dual of its excess row.
            values["cvar_excess"] = {s: abs(v) for s, v in by_index(m.cvar_excess_def).items()}
        return values


def _remapped(values: np.ndarray | None, old: list[Any], new: list[Any]) -> np.ndarray | None:
    """A solution over the columns ``old`` moved onto the columns ``new`` (0 where a column is new)."""
    if values is None:
        return None
    by_variable = {id(var): value for var, value in zip(old, values.tolist(), strict=True)}
    return np.array([by_variable.get(id(var), 0.0) for var in new])


def solve(problem: Problem, *, time_limit_seconds: float | None = None, mip_gap: float | None = None,
          threads: int | None = None, scenarios: list[str] | None = None,
          fixed_leases: Mapping[tuple[Any, ...], float] | None = None, marginal_values: bool = True,
          progress: Progress | None = None, mip_progress: MipProgressHook | None = None) -> PlanResult:
    """Build and solve ``problem``; return a :class:`PlanResult` (check ``status`` and ``has_plan``)."""
    planner = Planner(problem, scenarios, threads=threads, progress=progress, mip_progress=mip_progress)
    if fixed_leases is not None:
        planner.fix_leases(fixed_leases)
    return planner.solve(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap,
                         marginal_values=marginal_values)
