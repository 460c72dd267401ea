"""The terminal: live progress on stderr only on a terminal, in plain words; the outcome of a solve that
stopped at its time limit said plainly, without solver jargon."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest
from factory import cloud, lease, tiny
from rich.console import Console

from planner.highs import MipProgress
from planner.results import PlanResult
from planner.solver import solve
from planner.terminal import SolveProgress, outcome_section, short_money, summary_sections

JARGON = ("time_limit", "maxTimeLimit", "MIP", "HiGHS", "dual bound", "primal", "incumbent")


def plain(renderable: object, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def progress_at(seconds: float, **found: float | None) -> MipProgress:
    values = {"objective_usd": 23.41e9, "best_bound_usd": 23.40e9, "mip_gap": 0.00043, **found}
    return MipProgress(elapsed_seconds=seconds, time_limit_seconds=120.0, mip_gap_target=1e-4, **values)


def test_progress_shows_time_best_plan_bound_and_gap_in_plain_words() -> None:
    display = SolveProgress(Console(file=io.StringIO(), force_terminal=True), time_limit_seconds=600.0,
                            mip_gap=0.01)
    display.started = time.perf_counter() - 12.4
    display.stage("loading the model into HiGHS")
    head, detail = display.lines()
    assert head.plain == "handing the model to the solver: 12 s of the 600 s limit; stops at a gap of 1.00%"
    assert detail is None
    display.stage("solving")
    display.mip(progress_at(12.4, objective_usd=None, mip_gap=None))
    assert display.lines()[1].plain == "no plan found yet · lowest possible $23.40B"
    display.mip(progress_at(13.0))
    head, detail = display.lines()
    assert head.plain == "solving: 12 s of the 120 s limit; stops at a gap of 0.01%"  # the limits in force
    assert detail.plain == "best plan $23.41B · lowest possible $23.40B · gap 0.05%"
    frame = plain(display)
    assert "best plan $23.41B" in frame and not any(word in frame for word in JARGON)


def test_progress_draws_only_on_a_terminal() -> None:
    for terminal in (False, True):
        stream = io.StringIO()
        with SolveProgress(Console(file=stream, force_terminal=terminal), time_limit_seconds=10.0,
                           mip_gap=1e-4) as display:
            assert (display.live is not None) == terminal
            display.stage("solving")
            display.mip(progress_at(1.0))
            if terminal:
                display.live.refresh()
        assert bool(stream.getvalue()) == terminal
        if terminal:
            assert "best plan $23.41B" in stream.getvalue()


def test_progress_follows_the_solver_stages() -> None:
    display = SolveProgress(Console(file=io.StringIO()), time_limit_seconds=60.0, mip_gap=0.0)
    stages: list[str] = []

    def stage(text: str) -> None:
        stages.append(text)
        display.stage(text)
    result = solve(tiny([10.0, 12.0, 8.0], offers=[lease(term=2, block=4, latest=1)], on_demand=[cloud()]),
                   progress=stage, mip_progress=display.mip)
    assert result.status == "optimal"
    assert stages[:3] == ["building model", "loading the model into HiGHS", "solving"]
    assert display.stage_text == "computing marginal values"


@pytest.fixture(scope="module")
def optimal() -> PlanResult:
    return solve(tiny([10.0, 10.0], on_demand=[cloud(max_gpus=6)]))


def test_a_time_limit_is_said_in_plain_words(optimal: PlanResult) -> None:
    stopped = dataclasses.replace(optimal, status="time_limit", mip_gap=0.00523, message="time limit reached")
    assert stopped.status_in_words() == "time limit reached: showing the best plan found, within 0.53% of optimal"
    text = " ".join(plain(section) for section in summary_sections(stopped))
    assert "Plan: time limit reached: showing the best plan found, within 0.53% of optimal" in text
    assert not any(word in text for word in JARGON)
    assert text.count("time limit") == 1  # said once, not again among the warnings
    without = dataclasses.replace(optimal, status="time_limit", raw={}, mip_gap=None)
    assert plain(outcome_section(without)).startswith(
        "Plan: time limit reached before any plan was found: allow more time")


def test_short_money() -> None:
    assert [short_money(v) for v in (23_402_904_649, 319_603_504, 175_200, -2_000, None, 1.2e12)] == [
        "$23.40B", "$319.6M", "$175,200", "-$2,000", "-", "$1.20T"]
