"""The plan report, sheet by sheet: which result tables go where.

``write_report(result, path)`` writes one workbook a finance analyst can forward unedited: Summary,
Leases, Capacity, Costs, Cloud & credits, Policies, Power, Scenarios, Marginal values, (Regret),
Inputs and Diagnostics. Every number comes from a :class:`~planner.results.PlanResult` method (or
the uncertainty analysis); layout, formats, cell safety and the atomic save are :mod:`planner.excel`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart._chart import ChartBase

from planner.analytics import money
from planner.excel import REPORT_MARKER
from planner.excel.files import check_writable, save_atomically
from planner.excel.formats import COUNT, DECIMAL, GAP, MONEY, PRICE, TRILLIONS
from planner.excel.layout import CHART_ROWS, Block, Placed, Sheet, Slot, Text, plain
from planner.excel.writer import write_workbook
from planner.model.tree import ALL_SCENARIOS
from planner.report.charts import capacity_charts, chart_scenarios, cost_charts, regret_chart
from planner.report.inputs import input_tables, provenance
from planner.report.labels import table
from planner.results import PlanResult
from planner.uncertainty import figures_table, regret_grid


class Uncertainty(Protocol):
    """What the Regret sheet needs from planner.uncertainty's analysis object."""

    figures: dict[str, float]

    def regret_table(self) -> pd.DataFrame: ...


@dataclass
class Context:
    result: PlanResult
    input_path: Path | None
    uncertainty: Uncertainty | None
    timestamp: str
    warnings: list[str]


def sheets(ctx: Context) -> list[Sheet]:
    """The report's sheets, in order: the plan's, then what the model saw and how the solve went."""
    r = ctx.result
    if not r.has_plan:
        return [summary(ctx), inputs(r), diagnostics(ctx)]
    plan = [summary(ctx), leases(r), capacity(r), costs(r), cloud_and_credits(r), policies(r), power(r),
            scenarios(r), marginal_values(r)]
    if ctx.uncertainty is not None:
        plan.append(regret(ctx.uncertainty))
    if shows_efficiency_and_budget(r):
        plan.append(efficiency_and_budget(r))
    return [*plan, inputs(r), diagnostics(ctx)]


CONTENTS = (
    ("Leases", "what to sign, when, how much; total commitment and the monthly payment schedule"),
    ("Capacity", "GPUs committed, used and idle per month and type; utilisation; capacity vs demand charts"),
    ("Costs", "cost by category and month (cash and demand not served), NPV per scenario, cost per million tokens"),
    ("Cloud & credits", "on-demand GPUs rented, credit burn, expiry and credits wasted"),
    ("Policies", "rate-limit policy per month, throttled tokens, revenue lost"),
    ("Power", "MW drawn vs cap per site"),
    ("Scenarios", "outcomes per scenario"),
    ("Marginal values", "what one more GPU-hour or MW would be worth"),
    ("Inputs", "the validated inputs as the model saw them"),
    ("Diagnostics", "warnings, assumptions, model size, input file hash and software versions, solver log"),
)
REGRET_CONTENTS = "Regret: stochastic vs expected-value plan, VSS, EVPI, regret per scenario"
EFFICIENCY_CONTENTS = ("Efficiency & budget: efficiency programs funded and what they save against buying GPUs; "
                       "what the budget buys and what one more dollar is worth")
FIGURE_FORMATS = {"USD": MONEY, "%": GAP, "GPUs": COUNT, "seconds": DECIMAL}
SUMMARY_SPLIT_COLUMNS = ["scenario", "probability", "cash_npv_usd", "demand_not_served_npv_usd", "npv_usd",
                         "served_share"]
"""The Summary's view of the cash / demand-not-served split (the Scenarios sheet shows all of it)."""
COST_NOTE = ("Cash cost = what is paid: leases, upfront, existing commitments and on-demand cloud, less credits. "
             "Cost of demand not served = revenue lost to throttling, the unserved penalty and goodwill: no "
             "payment, the value of demand turned away. Their sum is what the plan minimises (NPV, expected "
             "over the scenarios); it is not spend.")


def _figures(frame: pd.DataFrame, formats: dict[str, str]) -> tuple[pd.DataFrame, dict[str, list[str | None]]]:
    """An item/value/unit frame ready to write: plain values, one number format per row from its unit."""
    frame = frame.reset_index(drop=True)
    frame["value"] = pd.Series([plain(v) for v in frame["value"]], dtype=object)
    return frame, {"value": [formats.get(unit) for unit in frame["unit"]]}


def cost_note(r: PlanResult) -> str:
    """What the cash cost and the cost of demand not served are, and what the plan optimises."""
    note = COST_NOTE
    if r.data.has_programs:
        note = note.replace("on-demand cloud, less credits", "on-demand cloud and efficiency programs, less credits")
    if r.data.maximises_value:
        note = note.replace("Their sum is what the plan minimises (NPV, expected over the scenarios); it is not "
                            "spend.", "Budget mode: the plan maximises the value of tokens served less cash cost and "
                            "goodwill within the budget (NPV, expected over the scenarios).")
    return note


def summary(ctx: Context) -> Sheet:
    r = ctx.result
    name = ctx.input_path.name if ctx.input_path else "problem built in Python"
    figures = r.key_figures()
    figures, formats = _figures(figures[figures["item"] != "Status"], FIGURE_FORMATS)  # in words above it
    key_figures = table("Summary_KeyFigures", "Key figures", figures, row_formats=formats)
    if r.has_plan:
        # What to sign now is the decision a reader acts on: it comes first.
        blocks: list[Block] = [*signings(r)]
        if r.data.has_programs:  # funding efficiency is a decision too: right after the signings
            blocks.append(Text("Efficiency programs (Efficiency & budget sheet)", r.headline_programs()))
        if r.has_budget_view:
            blocks.append(Text("What the budget buys (Efficiency & budget sheet)", r.headline_budget()))
        blocks += [
            key_figures,
            table("Summary_CashAndEconomic", "Cost per scenario: cash vs demand not served (NPV)",
                  r.cash_and_economic_costs()[SUMMARY_SPLIT_COLUMNS]),
            Text("Warnings", ctx.warnings)]
        notes = [cost_note(r)]
    else:
        blocks = [Text("Why there is no plan", r.diagnosis or [r.message or r.status]), key_figures,
                  Text("Warnings", ctx.warnings)]
        notes = []
    contents = [f"{sheet}: {text}" for sheet, text in CONTENTS if r.has_plan or sheet in ("Inputs", "Diagnostics")]
    if r.has_plan and ctx.uncertainty is not None:
        contents.insert(-2, REGRET_CONTENTS)
    if shows_efficiency_and_budget(r):
        contents.insert(-2, EFFICIENCY_CONTENTS)
    if r.has_plan:  # the charts print on pages of their own, after the figures and decisions
        blocks.append(Slot(columns=1, rows=2 * CHART_ROWS))
    blocks.append(Text("Contents", contents))

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return list(cost_charts(placed["Costs_ExpectedByMonth"])) if "Costs_ExpectedByMonth" in placed else []

    alert = ctx.warnings[0] if ctx.warnings and r.status != "optimal" else ""
    # The alert states the status when there is one (in red); else the first note does.
    run = f"Run {ctx.timestamp} UTC."
    notes.insert(0, run if alert else f"Status: {r.status_in_words()}. {run}")
    return Sheet("Summary", f"Compute procurement plan: {name}", notes, blocks, across=False,
                 charts=charts if r.has_plan else None, alert=alert)


def signings(r: PlanResult) -> list[Block]:
    """What to sign now (every scenario), then, for a plan that learns, what each world signs once known."""
    now = r.headline_decisions(later=False)
    if not r.is_multi_stage:
        return [Text("Decisions", now or ["Sign no new leases: existing commitments and on-demand cloud cover "
                                          "the plan."])]
    later = r.signing_summary()
    later = later[later["scenario"] != ALL_SCENARIOS]
    return [Text("Sign now (in every scenario)", now or ["Sign no new leases now."]),
            table("Summary_SignLater", "Later, once the scenario is known (every signing: Leases sheet)", later,
                  empty="No scenario signs more once it is known.")]


def leases(r: PlanResult) -> Sheet:
    count = len(r.leases())
    if r.is_multi_stage:
        notes = [f"Sign now: {len(r.sign_now())} lease(s) common to every scenario; {count - len(r.sign_now())} "
                 f"more signed later, each in its own world once the scenario is known (column scenario). "
                 f"Expected new commitment {money(r.lease_commitment_usd())}, {r.gpus_leased():,} GPUs. Payments "
                 "are take-or-pay for the whole term, also after the horizon."]
    else:
        notes = [f"New commitment: {money(r.lease_commitment_usd())} over {count} lease(s), "
                 f"{r.gpus_leased():,} GPUs. Payments are take-or-pay for the whole term, also after the horizon."]
    return Sheet("Leases", "Leases to sign", notes, [
        table("Leases", "Leases to sign", r.leases(), empty="No new leases."),
        table("Leases_PaymentsByMonth", "Payment schedule: all new leases"
              + (" (expected over the scenarios)" if r.is_multi_stage else ""), r.lease_schedule_by_month(),
              empty="No payments."),
        table("Leases_Payments", "Payment schedule by lease", r.lease_payments(), empty="No payments."),
    ])


def capacity(r: PlanResult) -> Sheet:
    charted = chart_scenarios(r)
    notes = ["Committed = existing commitments + new leases (paid); in use = GPUs serving on committed capacity "
             "+ on-demand GPUs rented. Charts: capacity (GPUs, solid) vs token demand and tokens served "
             "(dashed, right axis) per scenario."]
    if len(charted) < len(r.data.scenarios):
        notes.append(f"Charts show the {len(charted)} most probable of {len(r.data.scenarios)} scenarios; the "
                     "tables hold all of them.")

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return capacity_charts(r, placed["Capacity_ByMonth"])

    return Sheet("Capacity", "Capacity: GPUs available vs used", notes, [
        table("Capacity_ByMonth", "Capacity and demand by scenario and month (all GPU types)", r.capacity_by_month()),
        Slot(),
        table("Capacity_ByTypeAndSite", "Capacity by GPU type and site", r.capacity(), empty="No capacity."),
    ], charts=charts)


def costs(r: PlanResult) -> Sheet:
    settings = r.problem.settings
    expected = r.cash_and_economic_costs().iloc[-1]
    notes = [f"Expected cash cost (NPV): {money(expected['cash_npv_usd'])}; expected cost of demand not served "
             f"(NPV, not paid): {money(expected['demand_not_served_npv_usd'])}; objective {money(r.objective_usd)}. "
             f"Discounted at {settings.discount_rate_per_year:.2%} a year to {settings.first_month}. Credits are "
             "negative.", COST_NOTE]

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return list(cost_charts(placed["Costs_ExpectedByMonth"]))

    return Sheet("Costs", "Costs by category and month", notes, [
        table("Costs_ExpectedByMonth", "Expected cost by month (nominal USD, probability-weighted)",
              r.expected_cost_by_month()),
        Slot(),
        table("Costs_NPVByScenario", "NPV by scenario and category (USD)", r.npv_by_scenario()),
        table("Costs_Detail", "Cost by scenario, month and category", r.costs(), empty="No costs."),
        table("Costs_PerMillionTokens", "Compute cost per million tokens served", r.usd_per_million_tokens(),
              empty="No tokens served."),
    ], charts=charts)


def cloud_and_credits(r: PlanResult) -> Sheet:
    notes = [f"Expected credits expiring unused: {money(r.expected_credits_wasted_usd())} (probability-weighted)."]
    return Sheet("Cloud & credits", "On-demand cloud and credits", notes, [
        table("Cloud_OnDemand", "On-demand GPUs rented", r.on_demand(), empty="No on-demand use."),
        table("Cloud_CreditUse", "Credits: use and waste per scenario", r.credit_summary(), empty="No credits."),
        table("Cloud_CreditBurn", "Credit burn per month", r.credits(), empty="No credits."),
    ])


def policies(r: PlanResult) -> Sheet:
    notes = ["Throttled tokens are demand turned away by the rate-limit policy; revenue lost = throttled tokens x "
             "revenue per million tokens."]
    return Sheet("Policies", "Rate-limit policies", notes, [
        table("Policies_ByMonth", "Policy in force, throttling and unserved demand", r.policy_by_month()),
        table("Policies_TokensByWorkload", "Tokens by workload", r.tokens(), empty="No demand."),
    ])


def power(r: PlanResult) -> Sheet:
    return Sheet("Power", "Power drawn vs cap per site", ["Facility power (PUE included) of GPUs in service."], [
        table("Power_BySite", "Power by scenario, month and site", r.power(), empty="No sites with GPUs."),
    ])


def scenarios(r: PlanResult) -> Sheet:
    notes = ["NPV is the model's scenario cost; shares are of demand.", COST_NOTE]
    return Sheet("Scenarios", "Outcomes per scenario", notes, [
        table("Scenarios_CashAndEconomic", "Cash cost and cost of demand not served", r.cash_and_economic_costs()),
        table("Scenarios_Outcomes", "Outcomes per scenario", r.scenario_outcomes()),
    ])


def marginal_values(r: PlanResult) -> Sheet:
    notes = ["What one more usable GPU-hour (of a type at a site) or one more MW of site power would be worth in "
             "that month and scenario, in nominal USD. Zero: the resource is not binding."]
    return Sheet("Marginal values", "Marginal values", notes, [
        table("MarginalValues", "Marginal values", r.marginal_values(), empty="Not available for this run."),
    ])


def regret(uncertainty: Uncertainty) -> Sheet:
    grid = regret_grid(uncertainty.regret_table())
    plans = list(dict.fromkeys(grid["plan"].astype(str)))
    scenario_count = len(dict.fromkeys(grid["scenario"].astype(str)))
    notes = ["Regret = a plan's cost in a scenario minus the best cost attainable had that scenario been known "
             "(blank: the plan cannot be made feasible there)."]
    notes += [str(note) for note in getattr(uncertainty, "notes", None) or []]
    in_words = getattr(uncertainty, "figures_table", None)
    figures = in_words() if callable(in_words) else figures_table(uncertainty.figures)
    blocks: list[Block] = [
        table("Regret_Figures", "Stochastic vs expected-value plan", figures,
              labels={"value_usd": "Value (USD)"}, formats={"value_usd": MONEY}),
        table("Regret_Table", "Regret per plan and scenario", grid, empty="No regret table."),
        Slot(),
    ]
    # Beyond the required contract: the full analysis also costs and lists each plan.
    if callable(by_plan := getattr(uncertainty, "expected_cost_by_plan", None)):
        blocks.append(table("Regret_ByPlan", "Cost and regret per plan", by_plan(), empty="No plans."))
    if callable(lease_plans := getattr(uncertainty, "lease_plans", None)):
        blocks.append(table("Regret_PlanLeases", "Leases each plan signs", lease_plans(),
                            empty="No leases in any plan."))

    def charts(placed: dict[str, Placed]) -> list[ChartBase]:
        return [regret_chart(placed["Regret_Table"], plans, scenario_count)] if not grid.empty else []

    return Sheet("Regret", "Planning under uncertainty: regret", notes, blocks, charts=charts)


def shows_efficiency_and_budget(r: PlanResult) -> bool:
    """The Efficiency & budget sheet is written for a plan with efficiency programs or a budget."""
    return r.has_plan and (r.data.has_programs or r.has_budget_view)


def efficiency_and_budget(r: PlanResult) -> Sheet:
    """Buy efficiency or buy GPUs, and what a budget buys: the tables of :mod:`planner.efficiency` and
    :mod:`planner.budget`."""
    notes = ["Programs: funding that raises MFU from its in-service month on; decided now (every scenario), "
             "later (a world once known) or per scenario. Cost in horizon = one-off + every monthly payment to "
             "the horizon's end."]
    blocks: list[Block] = [Text("In words", r.headline_programs() + r.headline_budget())]
    if r.data.has_programs:
        blocks += [
            table("Efficiency_Programs", "Programs funded", r.programs(), empty="No program funded."),
            table("Efficiency_ByScenario", "Programs in each scenario", r.programs_by_scenario()),
            table("Efficiency_Savings", "Against the same plan with programs switched off", r.program_savings(),
                  empty="Not computed (planner solve computes it; from Python: "
                        "planner.efficiency.compare_without_programs)."),
            table("Efficiency_Effects", "What each program improves", r.program_effects(),
                  labels={"today_mfu": "MFU today (%)", "program_mfu": "MFU with the program (%)",
                          "program_tokens_per_second_per_gpu": "With the program (tokens/s/GPU)"}),
        ]
    if r.has_budget_view:
        notes.append("Value = revenue of tokens served less cash cost and goodwill (NPV). Cash = what is paid in the "
                     "horizon, nominal, less credits. One more dollar: the dual of the cash budget with every integer "
                     "decision fixed (what it buys month by month: on-demand GPUs, less throttling).")
        figures = r.budget_figures()
        figures["value"] = pd.Series([plain(v) for v in figures["value"]], dtype=object)
        outcomes = table("Budget_Outcomes", "What the budget buys, per scenario", r.budget_outcomes())
        blocks += [
            table("Budget_Figures", "Budget", figures, row_formats={"value": [
                {**FIGURE_FORMATS, "tokens": TRILLIONS, "USD per USD": PRICE}.get(unit) for unit in figures["unit"]]}),
            replace(outcomes, formats={**outcomes.formats, "value_of_one_more_usd": PRICE}),
        ]
    return Sheet("Efficiency & budget", "Buy efficiency or buy GPUs; what the budget buys", notes, blocks,
                 across=False)


def inputs(r: PlanResult) -> Sheet:
    notes = ["The validated input: months normalised to YYYY-MM, lists joined with commas, defaults filled in."]
    throughput = table("Input_ThroughputAsModelled", "Throughput as modelled (given, or derived from MFU)",
                       r.throughput_as_modelled())
    # Side by side, each table prints on pages of its own at its own width, with its header repeated.
    return Sheet("Inputs", "Inputs as the model saw them", notes, [*input_tables(r.problem), throughput])


def diagnostics(ctx: Context) -> Sheet:
    r = ctx.result
    size = r.model_size()
    run, run_formats = _figures(provenance(r.problem, ctx.input_path, ctx.timestamp), FIGURE_FORMATS)
    blocks: list[Block] = [Text("Warnings", ctx.warnings)]
    if r.diagnosis:
        blocks.append(Text("Diagnosis (why the model is infeasible)", r.diagnosis))
    blocks += [
        Text("Assumptions", r.assumptions()),
        table("Diagnostics_Run", "Run: input file, hashes, software versions", run, row_formats=run_formats),
        table("Diagnostics_ModelSize", "Model size and timings", size,
              row_formats={"value": [DECIMAL if unit == "seconds" else COUNT for unit in size["unit"]]}),
        Text(f"Solver log (last {len(r.solver_log_tail)} lines)", r.solver_log_tail, mono=True),
    ]
    solver = "" if r.diagnosis else f" Solver: {r.message or 'no message'}."  # a diagnosis is listed below
    notes = [f"Status: {r.status_in_words()}.{solver}"]
    return Sheet("Diagnostics", "Diagnostics", notes, blocks, across=False)


def build_workbook(result: PlanResult, *, input_path: Path | None = None,
                   uncertainty: Uncertainty | None = None) -> Workbook:
    """The report as an unsaved (write-only) workbook; :func:`write_report` saves it atomically."""
    ctx = Context(result=result, input_path=input_path, uncertainty=uncertainty,
                  timestamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), warnings=result.warnings())
    return write_workbook(sheets(ctx), title="Compute procurement plan", marker=REPORT_MARKER)


def check_report_path(path: Path, input_path: Path | None) -> None:
    """Refuse the input workbook, a folder, a missing or unwritable folder, or a name that is not .xlsx."""
    check_writable(Path(path), column="report path", keep=input_path)


def default_report_path(input_path: Path, folder: Path = Path("reports")) -> Path:
    """``reports/<input-stem>-plan.xlsx``: where ``planner solve`` writes when ``-o`` is not given."""
    return Path(folder) / f"{Path(input_path).stem}-plan.xlsx"


def write_report(result: PlanResult, path: Path, *, input_path: Path | None = None,
                 uncertainty: Uncertainty | None = None) -> Path:
    """Write the Excel report of ``result`` to ``path`` atomically; return the path written.

    Raises :class:`InputError` (sheet "file") when ``path`` is the input workbook, a folder, in a missing
    or unwritable folder, or not an .xlsx name. On any failure no report and no temporary file remain.
    """
    path = Path(path)
    input_path = Path(input_path) if input_path is not None else None
    check_report_path(path, input_path)  # before building: a bad path must not cost the build
    workbook = build_workbook(result, input_path=input_path, uncertainty=uncertainty)
    return save_atomically(workbook, path, column="report path", keep=input_path)
