"""The bundled example: built from the seed article, committed up to date, calibrated to be interesting."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.schema import TABLE_FIELD, Problem
from planner.workbook import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inputs" / "colossus-2025.xlsx"
SECONDS_PER_MONTH = 730.0 * 3600.0


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_colossus", ROOT / "inputs" / "build_colossus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def problem(script: ModuleType) -> Problem:
    return script.build()


def _h100_equivalents(problem: Problem, scenario: str, month: int) -> float:
    """GPUs of H100 speed (H200 for H200-only workloads) needed at peak in one month."""
    total = 0.0
    for workload in problem.workloads:
        gpu = "H100" if "H100" in problem.allowed_gpu_types(workload) else "H200"
        rate = problem.tokens_per_second_per_gpu(gpu, workload.name)
        assert rate is not None
        tokens = problem.demand_tokens(scenario, workload.name)[month]
        total += tokens / SECONDS_PER_MONTH * workload.peak_to_average_ratio / rate
    return total


def _supply_h100_equivalents(problem: Problem, site: str) -> float:
    """Most GPUs the site's offers can supply, in H100s (compute x availability)."""
    gpus = {g.name: g for g in problem.gpu_types}
    h100 = gpus["H100"]
    return sum(
        o.max_blocks * o.gpus_per_block * gpus[o.gpu_type].peak_dense_bf16_tflops / h100.peak_dense_bf16_tflops
        * gpus[o.gpu_type].availability_factor / h100.availability_factor
        for o in problem.lease_offers if o.site == site
    )


def test_committed_workbook_matches_the_script(problem: Problem) -> None:
    assert load(EXAMPLE) == problem


def test_script_writes_the_workbook(script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "OUTPUT", tmp_path / "colossus.xlsx")
    script.main()
    assert load(tmp_path / "colossus.xlsx") == script.build()


def test_article_numbers(problem: Problem) -> None:
    assert (problem.settings.first_month, problem.settings.months) == ("2025-01", 36)
    assert problem.settings.default_mfu == 0.11
    assert {t.mfu for t in problem.throughput if t.workload == "training"} == {0.40}
    colossus = next(s for s in problem.sites if s.name == "Colossus")
    assert colossus.power_cap_mw == 300.0
    supply = {o.gpu_type: o.max_blocks * o.gpus_per_block for o in problem.lease_offers if o.site == "Colossus"}
    assert supply["H100"] >= 150_000
    assert supply["H200"] == pytest.approx(50_000, rel=0.01)
    assert supply["GB200"] == pytest.approx(20_000, rel=0.01)
    assert next(o for o in problem.lease_offers if o.gpu_type == "H100").price_usd_per_gpu_hour == 2.60
    assert {s.name: s.growth_multiple_per_year for s in problem.scenarios} == {"10x": 10, "30x": 30, "80x": 80}
    assert {p.name for p in problem.policies} == {"launch limits", "5h windows doubled", "peak-hour limits lifted"}
    gb200 = next(g for g in problem.gpu_types if g.name == "GB200")
    assert gb200.availability_factor < 1  # runs hot
    [credit] = problem.credits
    assert (credit.provider, credit.applies_to) == ("AWS", "on_demand")


def test_every_row_says_where_its_numbers_come_from(problem: Problem) -> None:
    for name, attribute in TABLE_FIELD.items():
        if name == "Demand":  # generated rows: the method is in the Workloads and Scenarios notes
            continue
        for record in getattr(problem, attribute):
            assert record.notes and ("assumption" in record.notes or "article" in record.notes), (name, record)


def test_calibration_is_interesting(problem: Problem) -> None:
    colossus = _supply_h100_equivalents(problem, "Colossus")
    all_leases = colossus + _supply_h100_equivalents(problem, "NeoCloud-Atlanta")
    first = _h100_equivalents(problem, "10x", 0)
    assert 10_000 <= first <= 30_000
    # 10x: every month fits in the lease offers; 80x: outgrows Colossus within the first year.
    assert max(_h100_equivalents(problem, "10x", t) for t in range(36)) < all_leases
    assert _h100_equivalents(problem, "80x", 11) > colossus
    # The 80x story is not absurd either: at most ~10x the lease supply by the end.
    assert _h100_equivalents(problem, "80x", 35) < 10 * all_leases


def test_cli_validates_the_example() -> None:
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
