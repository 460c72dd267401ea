"""HiGHS: one instance holding the compiled model, changed in place; statuses, progress, fork safety.

:class:`HighsModel` owns one ``highspy.Highs``. ``load`` passes the arrays of a
:class:`~planner.compile.CompiledModel` in one call (``passModel``); ``push`` sends only the costs,
bounds and coefficients that differ in a recompiled model; ``run`` solves (warm-started from a given
solution, reporting :class:`MipProgress` on the way) and maps every HiGHS model status to one of ours.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo

from planner.compile import INF, CompiledModel, compile_model, in_column_order, load_values

LOG_TAIL_LINES = 40
FEASIBILITY_TOLERANCE = 1e-6
"""Relative tolerance within which an earlier plan counts as feasible (HiGHS's MIP feasibility tolerance)."""
NEIGHBOURHOOD_TIME_SHARE = 0.25
"""Most of the time left that the search of an earlier plan's neighbourhood may take."""
RELAXATION_NEIGHBOURHOOD_LP_SHARE = 0.05
"""A solve without a start searches the LP relaxation's neighbourhood first (RENS) when that LP alone
took more than this share of the time left: HiGHS's root would solve it again and then spend most of
the budget on cuts before its own heuristics find a good plan."""
RELAXATION_NEIGHBOURHOOD_TIME_SHARE = 0.5
"""Most of the time left that the search of the LP relaxation's neighbourhood may take."""
ROOT_SECONDS_PER_LP_SECOND = 12.0
"""The full search after the neighbourhood's plan starts only with at least this many times the LP's
seconds left: its root solves that LP again after presolve, then cuts, and HiGHS checks its time limit only
between those steps. On XL (LP 24-25 s), started with about 100 s left, it ran 251 s once and, by the run's
totals, about 300 s another time. Less, and the neighbourhood's plan stands."""
COLUMN_WISE = int(highspy.MatrixFormat.kColwise)
MINIMIZE = int(highspy.ObjSense.kMinimize)

_Status = highspy.HighsModelStatus
STATUS_BY_MODEL_STATUS: dict[Any, tuple[str, str]] = {
    _Status.kOptimal: ("optimal", "optimal"),
    _Status.kTimeLimit: ("time_limit", "time limit reached"),
    _Status.kInfeasible: ("infeasible", "infeasible"),
    _Status.kUnboundedOrInfeasible: ("infeasible", "infeasible (or unbounded)"),
    _Status.kUnbounded: ("error", "unbounded: some cost can fall without limit (a model or input defect)"),
    _Status.kIterationLimit: ("time_limit", "stopped early: iteration limit"),
    _Status.kSolutionLimit: ("time_limit", "stopped early: solution or node limit"),
    _Status.kObjectiveBound: ("time_limit", "stopped early: objective bound reached"),
    _Status.kObjectiveTarget: ("time_limit", "stopped early: objective target reached"),
    _Status.kInterrupt: ("time_limit", "stopped early: interrupted"),
    _Status.kHighsInterrupt: ("time_limit", "stopped early: interrupted by HiGHS"),
    _Status.kMemoryLimit: ("time_limit", "stopped early: memory limit"),
    _Status.kModelEmpty: ("optimal", "optimal (the model has no rows or columns)"),
    _Status.kNotset: ("error", "HiGHS did not run"),
    _Status.kLoadError: ("error", "HiGHS could not load the model"),
    _Status.kModelError: ("error", "HiGHS found the model inconsistent"),
    _Status.kPresolveError: ("error", "numerical trouble: HiGHS failed in presolve"),
    _Status.kSolveError: ("error", "numerical trouble: HiGHS failed in the solve"),
    _Status.kPostsolveError: ("error", "numerical trouble: HiGHS failed in postsolve"),
    _Status.kUnknown: ("error", "numerical trouble: HiGHS stopped without a verdict"),
}
"""Every HiGHS model status -> (our status, message). "Stopped early" statuses report ``time_limit``
only with a plan; without one they are errors (except the time limit itself)."""
UNTRUSTED_WHEN_SUSPECT = {_Status.kInfeasible, _Status.kUnboundedOrInfeasible, _Status.kUnbounded}


# ---- fork safety ---------------------------------------------------------------------------------------

def _stop_highs_threads() -> None:
    """Stop the calling thread's HiGHS worker pool before ``fork()``.

    HiGHS keeps a global task scheduler per thread that ran it. A forked child inherits that scheduler's
    state but none of its worker threads, so its next parallel solve waits forever for workers that do
    not exist. Stopping the pool (joining its workers) in the parent leaves nothing stale to inherit;
    HiGHS starts a fresh pool on its next run, in the parent and in the child.
    """
    highspy.Highs.resetGlobalScheduler(True)


os.register_at_fork(before=_stop_highs_threads)


# ---- progress during the MIP search ---------------------------------------------------------------------

@dataclass(frozen=True)
class MipProgress:
    """Where the MIP search stands. Money is in USD as the result reports it (tie-break removed).

    ``elapsed_seconds`` counts against ``time_limit_seconds`` (on a first solve the model build and the
    hand-off to HiGHS are included). ``objective_usd`` is the best plan's objective (None before the
    first plan), ``best_bound_usd`` the proven lower bound, ``mip_gap`` their relative gap (None before
    the first plan) and ``mip_gap_target`` the gap at which the search stops.
    """

    elapsed_seconds: float
    time_limit_seconds: float
    objective_usd: float | None
    best_bound_usd: float | None
    mip_gap: float | None
    mip_gap_target: float


MipProgressHook = Callable[[MipProgress], None]
MIP_PROGRESS_INTERVAL_SECONDS = 0.5
"""Least time between two progress reports, unless a better plan was found."""


def relative_gap(primal: float | None, bound: float | None) -> float:
    """|primal - bound| / |primal|, 0 when they agree to 1e-9, NaN without both."""
    if primal is None or bound is None or not (math.isfinite(primal) and math.isfinite(bound)):
        return float("nan")
    if abs(primal - bound) <= 1e-9 * max(1.0, abs(primal)):
        return 0.0
    return abs(primal - bound) / max(abs(primal), 1e-9)


class ProgressRelay:
    """HiGHS MIP callbacks -> :class:`MipProgress`, at most every ``MIP_PROGRESS_INTERVAL_SECONDS``.

    An exception raised by the hook stops the search (through the interrupt callback) and is raised
    again by :meth:`HighsModel.run` once HiGHS has returned.
    """

    def __init__(self, hook: MipProgressHook, *, tie_break: np.ndarray, usd_per_unit: float,
                 elapsed_before: float, time_limit_seconds: float, mip_gap_target: float) -> None:
        self.hook = hook
        self.tie_break = tie_break
        self.usd_per_unit = usd_per_unit
        self.time_limit_seconds = time_limit_seconds
        self.mip_gap_target = mip_gap_target
        self.started = time.perf_counter() - elapsed_before
        self.last_report = -math.inf
        self.incumbent_tie_break = 0.0
        self.error: BaseException | None = None
        self.bound_floor: float | None = None
        """A lower bound proven outside this search (the LP relaxation's optimum)."""
        self.search_bound_holds = True
        """False while HiGHS searches a restricted model, whose dual bound says nothing of the whole."""

    def on_improving_solution(self, event: Any) -> None:
        try:
            self.incumbent_tie_break = float(self.tie_break @ np.asarray(event.data_out.mip_solution))
            self._report(event.data_out, force=True)
        except BaseException as error:  # raised again after the run; HiGHS must not see it
            self.error = self.error or error

    def on_interrupt_check(self, event: Any) -> None:
        if self.error is not None:
            event.interrupt()
            return
        try:
            self._report(event.data_out, force=False)
        except BaseException as error:  # raised again after the run; HiGHS must not see it
            self.error = error
            event.interrupt()

    def _report(self, out: Any, *, force: bool) -> None:
        now = time.perf_counter()
        if not force and now - self.last_report < MIP_PROGRESS_INTERVAL_SECONDS:
            return
        self.last_report = now
        primal = _finite(out.mip_primal_bound)
        bound = _finite(out.mip_dual_bound) if self.search_bound_holds else None
        bound = _best_bound(bound, self.bound_floor)
        tie = self.incumbent_tie_break if primal is not None else 0.0
        gap = relative_gap(primal, bound)
        self.hook(MipProgress(
            elapsed_seconds=now - self.started,
            time_limit_seconds=self.time_limit_seconds,
            objective_usd=None if primal is None else (primal - tie) * self.usd_per_unit,
            best_bound_usd=None if bound is None else (bound - tie) * self.usd_per_unit,
            mip_gap=None if math.isnan(gap) else gap,
            mip_gap_target=self.mip_gap_target,
        ))


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) and abs(value) < INF else None


def _best_bound(bound: float | None, floor: float | None) -> float | None:
    """The higher of two lower bounds (either may be missing)."""
    if bound is None or floor is None:
        return floor if bound is None else bound
    return max(bound, floor)


def _standing(found: RunOutcome, status: str, message: str) -> RunOutcome:
    """The neighbourhood search's plan as the answer (the caller adds the LP's bound)."""
    return RunOutcome(status=status, message=message, values=found.values, objective=found.objective,
                      bound=None, seconds=0.0, log_tail=found.log_tail)


def objective_target(bound: float, mip_gap: float) -> float:
    """The worst objective whose relative gap to ``bound`` is still at most ``mip_gap`` (minimising)."""
    return bound / (1.0 - mip_gap) if bound > 0 else bound / (1.0 + mip_gap)


# ---- the HiGHS instance ----------------------------------------------------------------------------------

class ModelRefusedError(Exception):
    """HiGHS refused the model handed to it (a solver verdict, reported as status "error")."""


@dataclass
class RunOutcome:
    """One HiGHS run: our status and message, the plan's values (None without one), objective, bound."""

    status: str
    message: str
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float
    log_tail: list[str]

    @property
    def has_solution(self) -> bool:
        return self.values is not None

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


_banner_silenced = False


def _new_highs() -> highspy.Highs:
    """A ``highspy.Highs``; the first one of the process prints a banner to fd 1, which is muted."""
    global _banner_silenced
    if _banner_silenced:
        return highspy.Highs()
    sys.stdout.flush()
    _banner_silenced = True
    try:
        saved = os.dup(1)
    except OSError:  # no standard output to protect
        return highspy.Highs()
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return highs


class HighsModel:
    """One HiGHS instance holding a compiled model; bounds and numbers change in place."""

    def __init__(self, *, threads: int | None = None, random_seed: int = 0) -> None:
        self.highs = _new_highs()
        self._set("output_flag", True)  # needed for the log file; nothing goes to the console
        self._set("log_to_console", False)
        self._set("random_seed", int(random_seed))
        if threads:
            self._set("threads", int(threads))
        self.compiled: CompiledModel | None = None
        self.numerics: str | None = None
        self.col_lower = np.empty(0)
        self.col_upper = np.empty(0)
        """The column bounds HiGHS holds now (the model's, or as ``set_column_bounds`` set them)."""

    def _set(self, option: str, value: Any) -> None:
        status = self.highs.setOptionValue(option, value)
        if status == highspy.HighsStatus.kError:
            raise ValueError(f"HiGHS rejected option {option}={value!r}")

    def load(self, compiled: CompiledModel) -> None:
        """Pass the compiled model to HiGHS in one call; raise :class:`ModelRefusedError` if it says no."""
        self.compiled = compiled
        self.numerics = compiled.numerics_concern()
        self.col_lower, self.col_upper = compiled.col_lower.copy(), compiled.col_upper.copy()
        matrix = compiled.matrix
        with self._log() as tail:
            status = self.highs.passModel(
                compiled.num_columns, compiled.num_rows, int(matrix.nnz), COLUMN_WISE, MINIMIZE, compiled.offset,
                compiled.cost, compiled.col_lower, compiled.col_upper, compiled.row_lower, compiled.row_upper,
                matrix.indptr.astype(np.int32, copy=False), matrix.indices.astype(np.int32, copy=False),
                matrix.data, compiled.integer.astype(np.int32),
            )
        if status == highspy.HighsStatus.kError:
            reason = self.numerics or "; ".join(tail[-3:]) or "no reason given"
            prefix = "numerical trouble: " if self.numerics else ""
            raise ModelRefusedError(f"{prefix}HiGHS refused the model: {reason}")

    def push(self, new: CompiledModel) -> bool:
        """Send what differs between the loaded model and ``new`` (same columns and rows, other numbers).

        Returns False, and changes nothing, when ``new`` has other columns or rows; the caller then
        loads it in full. Column bounds go back to the model's: the caller applies its fixings again.
        """
        old = self.compiled
        assert old is not None, "load() first"
        if new.rows is not old.rows or new.columns is not old.columns:  # else recompiled in place
            if len(new.rows) != len(old.rows) or any(a is not b for a, b in zip(new.rows, old.rows, strict=True)):
                return False
            if new.num_columns != old.num_columns:
                return False
            position = {id(v): j for j, v in enumerate(old.columns)}
            try:
                order = np.fromiter((position[id(v)] for v in new.columns), dtype=np.int64, count=new.num_columns)
            except KeyError:
                return False
            del position
            if not np.array_equal(np.sort(order), np.arange(old.num_columns)):
                return False
            new = in_column_order(new, order)
        if not np.array_equal(new.integer, old.integer):
            return False
        h = self.highs
        self.numerics = new.numerics_concern()
        changed = np.flatnonzero(new.cost != old.cost)
        if changed.size:
            self._check(h.changeColsCost(changed.size, changed.astype(np.int32), new.cost[changed]), "costs")
        if new.offset != old.offset:
            self._check(h.changeObjectiveOffset(new.offset), "the objective offset")
        changed = np.flatnonzero((new.row_lower != old.row_lower) | (new.row_upper != old.row_upper))
        if changed.size:
            self._check(h.changeRowsBounds(changed.size, changed.astype(np.int32), new.row_lower[changed],
                                           new.row_upper[changed]), "row bounds")
        changed = np.flatnonzero((new.col_lower != old.col_lower) | (new.col_upper != old.col_upper))
        self.set_column_bounds(changed, new.col_lower[changed], new.col_upper[changed])
        difference = (new.matrix - old.matrix).tocoo()
        rows, cols = difference.row[difference.data != 0], difference.col[difference.data != 0]
        if rows.size:
            values = np.asarray(new.matrix.tocsr()[rows, cols]).ravel()
            for i, j, value in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
                self._check(h.changeCoeff(i, j, value), "a coefficient")
        self.compiled = new
        return True

    def _check(self, status: Any, what: str) -> None:
        if status == highspy.HighsStatus.kError:
            reason = self.numerics or "no reason given"
            prefix = "numerical trouble: " if self.numerics else ""
            raise ModelRefusedError(f"{prefix}HiGHS refused the new {what}: {reason}")

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if columns.size:
            self._check(self.highs.changeColsBounds(columns.size, columns.astype(np.int32), lower, upper),
                        "column bounds")
            self.col_lower[columns], self.col_upper[columns] = lower, upper

    def is_feasible(self, values: np.ndarray, tolerance: float = FEASIBILITY_TOLERANCE) -> bool:
        """Whether column values meet the rows and the column bounds HiGHS holds (relative tolerance)."""
        compiled = self.compiled
        assert compiled is not None, "load() first"
        activity = compiled.matrix @ values
        slack = tolerance * np.maximum(1.0, np.abs(activity))
        return bool(np.all(activity >= compiled.row_lower - slack) and np.all(activity <= compiled.row_upper + slack)
                    and np.all(values >= self.col_lower - tolerance) and np.all(values <= self.col_upper + tolerance))

    def neighbourhood_start(self, start: np.ndarray, *, time_limit_seconds: float,
                            mip_gap: float) -> tuple[np.ndarray, float]:
        """A MIP start from an earlier plan -> (start, seconds spent): the plan itself when it is still
        feasible; else the best plan of its neighbourhood, the integer columns on which it agrees with
        this model's LP relaxation held at its values and the others searched (RINS, run before the
        search instead of after HiGHS's root cuts). The plan as given when that finds nothing."""
        started = time.perf_counter()
        compiled = self.compiled
        assert compiled is not None, "load() first"
        if not compiled.num_integer or self.is_feasible(start):
            return start, time.perf_counter() - started
        relaxed = self.run(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap, relax=True)
        if relaxed.values is None or relaxed.status != "optimal":
            return start, time.perf_counter() - started
        integer = np.flatnonzero(compiled.integer)
        lower, upper = self.col_lower[integer].copy(), self.col_upper[integer].copy()
        rounded = np.clip(np.round(start[integer]), lower, upper)
        agree = rounded == np.round(relaxed.values[integer])
        self.set_column_bounds(integer[agree], rounded[agree], rounded[agree])
        try:
            left = max(time_limit_seconds - (time.perf_counter() - started), 0.0)
            found = self.run(time_limit_seconds=NEIGHBOURHOOD_TIME_SHARE * left, mip_gap=mip_gap, start=start)
        finally:
            self.set_column_bounds(integer, lower, upper)
        return (start if found.values is None else found.values), time.perf_counter() - started

    def run_without_start(self, *, time_limit_seconds: float, mip_gap: float,
                          progress: ProgressRelay | None = None) -> RunOutcome:
        """Solve a MIP that has no plan to start from: the LP relaxation first, whose optimum bounds the
        MIP's from below all along (it replaces HiGHS's bound until that is higher). When the LP alone took
        more than ``RELAXATION_NEIGHBOURHOOD_LP_SHARE`` of the time, HiGHS's root would spend most of the
        budget before its heuristics find a good plan, so the LP's neighbourhood is searched first (RENS:
        integer columns the LP set to a whole number held there, the others between floor and ceiling,
        stopping at the first plan within ``mip_gap`` of the LP bound); a plan that close is the answer,
        any other is the full search's start."""
        compiled = self.compiled
        assert compiled is not None, "load() first"
        if not compiled.num_integer:
            return self.run(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap, progress=progress)
        started = time.perf_counter()

        def left() -> float:
            return max(time_limit_seconds - (time.perf_counter() - started), 0.0)

        relaxed = self.run(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap, relax=True)
        if relaxed.status != "optimal" or relaxed.values is None or relaxed.objective is None:
            # No bound to add: HiGHS's own search gives the verdict (infeasible, numerical trouble...).
            return self._spent(self.run(time_limit_seconds=left(), mip_gap=mip_gap, progress=progress), started)
        floor = relaxed.objective
        # Forget the LP's basis and solution: from them HiGHS's search would take another path than
        # from scratch, faster on some models and slower on others; the search stays as it was.
        self.highs.clearSolver()
        if progress is not None:
            progress.bound_floor = floor

        def finish(outcome: RunOutcome) -> RunOutcome:
            if outcome.values is not None:
                outcome.bound = _best_bound(outcome.bound, floor)
            return self._spent(outcome, started)

        start: RunOutcome | None = None
        if relaxed.seconds > RELAXATION_NEIGHBOURHOOD_LP_SHARE * time_limit_seconds:
            found = self._relaxation_neighbourhood(relaxed.values, floor, RELAXATION_NEIGHBOURHOOD_TIME_SHARE * left(),
                                                   mip_gap, progress)
            if found.values is not None and found.objective is not None:
                if relative_gap(found.objective, floor) <= mip_gap:
                    return finish(_standing(found, "optimal", "optimal"))
                if left() < ROOT_SECONDS_PER_LP_SECOND * relaxed.seconds:
                    return finish(_standing(found, "time_limit", "time limit reached"))
                start = found
        outcome = self.run(time_limit_seconds=left(), mip_gap=mip_gap,
                           start=None if start is None else start.values, progress=progress)
        if outcome.values is None and start is not None and outcome.status == "time_limit":
            # Out of time before the search took its start up: the neighbourhood's plan still stands.
            outcome = _standing(start, "time_limit", "time limit reached")
        return finish(outcome)

    def _relaxation_neighbourhood(self, relaxed: np.ndarray, floor: float, time_limit_seconds: float,
                                  mip_gap: float, progress: ProgressRelay | None) -> RunOutcome:
        """RENS around the LP solution ``relaxed``, stopping at a plan within ``mip_gap`` of ``floor``.

        When no rounding inside the floor-ceiling box is feasible (it happens on XL), the integer columns
        the LP left fractional are freed to their own bounds and the ones it set to a whole number stay held."""
        assert self.compiled is not None
        started = time.perf_counter()
        integer = np.flatnonzero(self.compiled.integer)
        lower, upper = self.col_lower[integer].copy(), self.col_upper[integer].copy()
        values = relaxed[integer]
        below = np.clip(np.floor(values + FEASIBILITY_TOLERANCE), lower, upper)
        above = np.clip(np.ceil(values - FEASIBILITY_TOLERANCE), lower, upper)
        self._set("objective_target", objective_target(floor, mip_gap))
        if progress is not None:
            progress.search_bound_holds = False
        try:
            self.set_column_bounds(integer, below, above)
            found = self.run(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap, progress=progress)
            if found.status == "infeasible":
                whole = below == above
                self.set_column_bounds(integer, np.where(whole, below, lower), np.where(whole, above, upper))
                left = max(time_limit_seconds - (time.perf_counter() - started), 0.0)
                found = self.run(time_limit_seconds=left, mip_gap=mip_gap, progress=progress)
            return found
        finally:
            self._set("objective_target", -INF)
            self.set_column_bounds(integer, lower, upper)
            if progress is not None:
                progress.search_bound_holds = True

    @staticmethod
    def _spent(outcome: RunOutcome, started: float) -> RunOutcome:
        outcome.seconds = time.perf_counter() - started
        return outcome

    def run(self, *, time_limit_seconds: float, mip_gap: float, relax: bool = False,
            start: np.ndarray | None = None, progress: ProgressRelay | None = None) -> RunOutcome:
        """Solve (the LP relaxation with ``relax``), warm-started from ``start`` when given."""
        h = self.highs
        self._set("time_limit", float(time_limit_seconds))
        self._set("mip_rel_gap", float(mip_gap))
        self._set("solve_relaxation", bool(relax))
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = start
            solution.value_valid = True
            h.setSolution(solution)
        if progress is not None:
            h.cbMipImprovingSolution.subscribe(progress.on_improving_solution)
            h.cbMipInterrupt.subscribe(progress.on_interrupt_check)
        try:
            with self._log() as tail:
                started = time.perf_counter()
                h.run()
                seconds = time.perf_counter() - started  # HiGHS's own run time adds up over runs
        finally:
            if progress is not None:
                h.cbMipImprovingSolution.unsubscribe(progress.on_improving_solution)
                h.cbMipInterrupt.unsubscribe(progress.on_interrupt_check)
        if progress is not None and progress.error is not None:
            raise progress.error
        return self._outcome(tail, seconds)

    def _outcome(self, tail: list[str], seconds: float) -> RunOutcome:
        h = self.highs
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        status, message = STATUS_BY_MODEL_STATUS[model_status]
        if status == "time_limit" and not has_solution and model_status != _Status.kTimeLimit:
            status = "error"  # stopped early with nothing to show
        if self.numerics and model_status in UNTRUSTED_WHEN_SUSPECT:
            status = "error"
            message = (f"numerical trouble: HiGHS reports '{h.modelStatusToString(model_status)}', but that "
                       f"cannot be trusted: {self.numerics}")
        elif status == "error" and self.numerics:
            message = f"{message}: {self.numerics}"
        objective = bound = None
        values = None
        if has_solution and status in ("optimal", "time_limit"):
            values = np.asarray(h.getSolution().col_value, dtype=float)
            objective = float(info.objective_function_value)
            bound = objective if info.mip_node_count < 0 else _finite(info.mip_dual_bound)
        return RunOutcome(status=status, message=message, values=values, objective=objective, bound=bound,
                          seconds=seconds, log_tail=tail)

    def row_duals(self) -> np.ndarray:
        """Row duals of the last LP solve (Pyomo's sign convention: d objective / d row bound)."""
        return np.asarray(self.highs.getSolution().row_dual, dtype=float)

    def write(self, path: str) -> None:
        """Write the model as HiGHS holds it (format from the extension: .mps, .lp)."""
        with self._log():
            status = self.highs.writeModel(str(path))
        if status == highspy.HighsStatus.kError:
            raise OSError(f"HiGHS could not write {path}")

    @contextlib.contextmanager
    def _log(self) -> Any:
        """Route HiGHS's log to a temporary file for the block; yield the list its tail lands in."""
        handle, path = tempfile.mkstemp(prefix="planner-highs-", suffix=".log")
        os.close(handle)
        tail: list[str] = []
        self._set("log_file", path)
        try:
            yield tail
        finally:
            self._set("log_file", "")
            try:
                with open(path, encoding="utf-8", errors="replace") as log:
                    tail[:] = log.read().splitlines()[-LOG_TAIL_LINES:]
            except OSError:
                pass
            with contextlib.suppress(OSError):
                os.remove(path)


def solve_model(model: pyo.ConcreteModel, *, time_limit_seconds: float, mip_gap: float,
                threads: int | None = None) -> RunOutcome:
    """Compile, hand over and solve a model once; the plan's values are written into its variables.

    Raises what the compiler finds (``InfeasibleConstraintException``) and :class:`ModelRefusedError`.
    """
    compiled = compile_model(model)
    highs = HighsModel(threads=threads)
    highs.load(compiled)
    outcome = highs.run(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap)
    if outcome.values is not None:
        load_values(compiled.columns, outcome.values)
    return outcome
