"""Solving: HiGHS through Pyomo's persistent interface, status mapping, marginal values.

``Planner`` keeps one built model and one persistent HiGHS instance, so sweeps and the uncertainty
analysis change mutable parameters or fix the lease decisions and re-solve in place, warm-started,
without rebuilding. ``solve(problem)`` is the one-shot convenience.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from planner.model import build_model, update_parameters
from planner.results import PlanResult, extract
from planner.schema import Problem

Progress = Callable[[str], None]

STATUS_BY_TERMINATION: dict[TerminationCondition, str] = {
    TerminationCondition.optimal: "optimal",
    TerminationCondition.maxTimeLimit: "time_limit",
    TerminationCondition.infeasible: "infeasible",
    TerminationCondition.infeasibleOrUnbounded: "infeasible",
}
DEFAULT_RANDOM_SEED = 0
LOG_TAIL_LINES = 40
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
    """A built model bound to a persistent HiGHS solver.

    ``scenarios`` restricts the model to some scenarios (probabilities renormalised).
    """

    def __init__(self, problem: Problem, scenarios: list[str] | None = None, *,
                 threads: int | None = None, progress: Progress | None = None) -> None:
        self.problem = problem
        self.progress = progress or _quiet
        self.progress("building model")
        started = time.perf_counter()
        self.model = build_model(problem, scenarios)
        self.build_seconds = time.perf_counter() - started
        self.solver = Highs()
        self.solver.config.stream_solver = False
        self.solver.config.load_solution = False
        self.solver.highs_options = {"random_seed": DEFAULT_RANDOM_SEED, "log_to_console": False}
        if threads:
            self.solver.highs_options["threads"] = int(threads)
        updates = self.solver.update_config
        # Fixing the leases must only change column bounds: treating fixed variables as parameters
        # would make appsi remove and re-add every row they appear in (quadratic on large models).
        updates.treat_fixed_vars_as_params = False
        # The structure never changes after the build; parameter changes are pushed by update().
        updates.check_for_new_or_removed_constraints = False
        updates.check_for_new_or_removed_vars = False
        updates.check_for_new_or_removed_params = False
        updates.update_constraints = False
        updates.update_named_expressions = False
        updates.update_params = False
        self._solved_once = False

    @property
    def integer_variables(self) -> list[pyo.Var]:
        """The first-stage lease decisions and every binary of the model."""
        m = self.model
        return [m.lease_blocks, m.offer_used, m.policy_on]

    def update(self, problem: Problem) -> bool:
        """Load new numbers into the mutable parameters; False when a rebuild is needed instead."""
        if update_parameters(self.model, problem):
            self.problem = problem
            if self._solved_once:
                self.solver.update_params()
            return True
        return False

    def fix_leases(self, blocks: dict[tuple[str, int], float]) -> None:
        """Fix the first-stage lease decisions (offer, start month index) -> blocks; others to 0."""
        m = self.model
        for key in m.lease_blocks:
            m.lease_blocks[key].fix(round(blocks.get(key, 0.0)))
        for o in m.offer_used:
            total = sum(round(blocks.get((o, k), 0.0)) for oo, k in m.lease_blocks if oo == o)
            m.offer_used[o].fix(1 if total > 0 else 0)

    def unfix_leases(self) -> None:
        self.model.lease_blocks.unfix()
        self.model.offer_used.unfix()

    def solve(self, *, time_limit_seconds: float | None = None, mip_gap: float | None = None,
              marginal_values: bool = True, diagnose: bool = True) -> PlanResult:
        """Solve, extract results, and (when a plan exists) compute marginal values.

        ``time_limit_seconds`` (default: Settings) covers building the model, loading it into HiGHS
        and the MIP search; on a re-solve it covers the search alone. ``solve_seconds`` in the
        result's timings includes loading the model into HiGHS.
        """
        settings = self.problem.settings
        config = self.solver.config
        limit = float(time_limit_seconds or settings.time_limit_seconds)
        started = time.perf_counter()
        spent = 0.0
        if not self._solved_once:
            # The time limit bounds the whole run: building the model and handing it to HiGHS count too.
            self.progress("loading the model into HiGHS")
            with _pyomo_quiet(), contextlib.redirect_stdout(io.StringIO()):
                self.solver.set_instance(self.model)
            spent = self.build_seconds + time.perf_counter() - started
        config.time_limit = max(limit - spent, min(limit, MIN_SOLVER_SECONDS))
        config.mip_gap = float(settings.mip_gap if mip_gap is None else mip_gap)
        config.warmstart = self._solved_once
        self.progress("solving")
        status, message, results, log_tail = self._run()
        solve_seconds = time.perf_counter() - started
        self._solved_once = True
        has_plan = results is not None and results.best_feasible_objective is not None
        extract_started = time.perf_counter()
        result: PlanResult
        if has_plan:
            results.solution_loader.load_vars()
            self.progress("extracting results")
            bound = results.best_objective_bound
            result = extract(self.model, self.problem, status=status, message=message,
                             best_bound_musd=bound, mip_gap=self._mip_gap(results))
            if marginal_values:
                self.progress("computing marginal values")
                result.duals = self._marginal_values()
        else:
            result = PlanResult.without_plan(self.problem, self.model.data, status, message)
            if status == "infeasible" and diagnose:
                self.progress("diagnosing infeasibility")
                from planner.diagnose import explain_infeasibility

                result.diagnosis = explain_infeasibility(self.problem, self.model.data.scenarios)
                result.message = "infeasible: " + "; ".join(result.diagnosis[:5])
        result.timings = {
            "build_seconds": self.build_seconds,
            "solve_seconds": solve_seconds,
            "extract_seconds": time.perf_counter() - extract_started,
        }
        result.solver_log_tail = log_tail
        result.num_variables = self.model.nvariables()
        result.num_constraints = self.model.nconstraints()
        result.num_integer_variables = sum(len(v) for v in self.integer_variables)
        result.model = self.model
        return result

    def _run(self) -> tuple[str, str, Any, list[str]]:
        handle, logfile = tempfile.mkstemp(prefix="planner-highs-", suffix=".log")
        os.close(handle)
        self.solver.config.logfile = logfile
        try:
            with _pyomo_quiet(), contextlib.redirect_stdout(io.StringIO()):
                results = self.solver.solve(self.model)
        except Exception as error:  # the solver's own failure: report it, never a traceback
            return "error", f"solver error: {error}", None, _tail(logfile)
        finally:
            self.solver.config.logfile = ""
        tail = _tail(logfile)
        with contextlib.suppress(OSError):
            os.remove(logfile)
        termination = results.termination_condition
        status = STATUS_BY_TERMINATION.get(termination, "error")
        if status == "error" and results.best_feasible_objective is not None:
            status = "time_limit"  # stopped early (iteration/interrupt) with an incumbent
        return status, str(termination.name), results, tail

    def _mip_gap(self, results: Any) -> float:
        primal, bound = results.best_feasible_objective, results.best_objective_bound
        if primal is None or bound is None:
            return float("nan")
        if abs(primal - bound) <= 1e-9 * max(1.0, abs(primal)):
            return 0.0
        return abs(primal - bound) / max(abs(primal), 1e-9)

    def _marginal_values(self) -> dict[str, dict[tuple[Any, ...], float]]:
        """Duals of the LP with every integer choice fixed at the plan (MUSD per row unit)."""
        m = self.model
        fixed: list[pyo.Var] = []
        for component in self.integer_variables:
            for var in component.values():
                if not var.fixed and var.value is not None:
                    var.fix(round(var.value))
                    fixed.append(var)
        config = self.solver.config
        # appsi ignores config.relax_integrality; HiGHS's own option solves the LP relaxation.
        self.solver.highs_options["solve_relaxation"] = True
        saved_warmstart = config.warmstart
        config.warmstart = False
        try:
            status, _, _, _ = self._run()
            if status != "optimal":
                return {}
            duals = self.solver.get_duals()
        except Exception:  # duals are informative only; a failure must not lose the plan
            return {}
        finally:
            for var in fixed:
                var.unfix()
            self.solver.highs_options["solve_relaxation"] = False
            config.warmstart = saved_warmstart
        values = {
            "capacity": {index: duals.get(con, 0.0) for index, con in m.capacity.items()},
            "power": {index: duals.get(con, 0.0) for index, con in m.power.items()},
        }
        if hasattr(m, "cvar_excess_def"):
            # A tail scenario's cost also carries CVaR weight: the dual of its excess row.
            values["cvar_excess"] = {s: abs(duals.get(con, 0.0)) for s, con in m.cvar_excess_def.items()}
        return values


def _tail(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    return lines[-LOG_TAIL_LINES:]


def solve(problem: Problem, *, time_limit_seconds: float | None = None, mip_gap: float | None = None,
          threads: int | None = None, scenarios: list[str] | None = None,
          fixed_leases: dict[tuple[str, int], float] | None = None, marginal_values: bool = True,
          progress: Progress | None = None) -> PlanResult:
    """Build and solve ``problem``; return a :class:`PlanResult` (check ``status`` and ``has_plan``)."""
    planner = Planner(problem, scenarios, threads=threads, progress=progress)
    if fixed_leases is not None:
        planner.fix_leases(fixed_leases)
    return planner.solve(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap,
                         marginal_values=marginal_values)
