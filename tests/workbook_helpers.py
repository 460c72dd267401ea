"""A small, complete problem and helpers to edit its workbook the way a user would (openpyxl)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from planner.errors import InputError, InputIssue
from planner.schema import (
    Credit,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Problem,
    Scenario,
    Settings,
    Site,
    Throughput,
    Workload,
)
from planner.workbook import load, write_problem


def small_problem(**settings: Any) -> Problem:
    """Every main table filled with one or two rows; demand from base level x growth."""
    return Problem(
        settings=Settings(first_month="2025-01", months=6, default_mfu=0.11, **settings),
        workloads=[
            Workload(name="chat", revenue_usd_per_million_tokens=5.0, peak_to_average_ratio=2.0,
                     flops_per_token=3e11, base_tokens_per_month=1e12, notes="chat users"),
            Workload(name="coding", revenue_usd_per_million_tokens=10.0, flops_per_token=4e11,
                     allowed_gpu_types=["H100", "H200"], unserved_allowed=False, base_tokens_per_month=5e11),
        ],
        scenarios=[
            Scenario(name="slow", probability=0.5, growth_multiple_per_year=2.0),
            Scenario(name="fast", probability=0.5, growth_multiple_per_year=10.0),
        ],
        gpu_types=[
            GpuType(name="H100", peak_dense_bf16_tflops=989.0, memory_gb=80.0, power_kw_per_gpu=1.0),
            GpuType(name="H200", peak_dense_bf16_tflops=989.0, memory_gb=141.0, power_kw_per_gpu=1.0,
                    availability_factor=0.97),
        ],
        throughput=[Throughput(gpu_type="H200", workload="coding", tokens_per_second_per_gpu=300.0)],
        sites=[Site(name="dc", power_cap_mw=100.0, pue=1.3)],
        lease_offers=[
            LeaseOffer(offer_id="L1", provider="lessor", site="dc", gpu_type="H100", gpus_per_block=8,
                       price_usd_per_gpu_hour=2.6, term_months=3, earliest_start_month="2025-01",
                       latest_start_month="2025-04", max_blocks=100),
            LeaseOffer(offer_id="L2", provider="lessor", site="dc", gpu_type="H200", gpus_per_block=72,
                       price_usd_per_gpu_hour=3.0, term_months=6, earliest_start_month="2025-02",
                       latest_start_month="2025-03", min_blocks=2, max_blocks=10, upfront_usd_per_block=1e5),
        ],
        on_demand=[OnDemand(option_id="OD", provider="cloud", gpu_type="H100", price_usd_per_gpu_hour=7.0,
                            max_gpus=1000)],
        credits=[Credit(credit_id="C", provider="cloud", amount_usd=1e6, valid_from_month="2025-01",
                        expiry_month="2025-06")],
        policies=[Policy(name="open"), Policy(name="tight", goodwill_cost_usd_per_month=1e5)],
        policy_effects=[PolicyEffect(policy="tight", workload="chat", admitted_fraction=0.8,
                                     peak_to_average_multiplier=0.9)],
    )


def small_workbook(folder: Path, name: str = "small.xlsx", **kwargs: Any) -> Path:
    path = folder / name
    write_problem(small_problem(), path, **kwargs)
    return path


def edit(path: Path, cells: Mapping[str, Any] | None = None,
         change: Callable[[openpyxl.Workbook], None] | None = None) -> Path:
    """Set cells given as ``"Sheet!C7"`` (None clears), and/or apply ``change``; save in place."""
    workbook = openpyxl.load_workbook(path)
    for reference, value in (cells or {}).items():
        sheet, cell = reference.split("!")
        workbook[sheet][cell].value = value
    if change is not None:
        change(workbook)
    workbook.save(path)
    return path


def rewrite_member(path: Path, member: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite one part of the xlsx zip (for what openpyxl cannot write: cached values, DTDs)."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            target.writestr(info, change(data) if info.filename == member else data)
    return path


def sheet_member(path: Path, sheet: str) -> str:
    """The zip part name of a worksheet (openpyxl writes sheetN.xml in workbook order)."""
    names = openpyxl.load_workbook(path, read_only=True).sheetnames
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def issues(path: Path) -> list[InputIssue]:
    """The issues ``load`` raises (fails the test if it loads)."""
    with pytest.raises(InputError) as caught:
        load(path)
    return caught.value.issues


def by_cell(found: list[InputIssue]) -> dict[str, InputIssue]:
    """Issues keyed by ``Sheet!Cell`` (their ``where``)."""
    return {issue.where: issue for issue in found}
