"""What to sign, when, and in which world: the lease tables behind ``PlanResult``'s lease accessors.

A plan's lease decisions are keyed (scenario-tree node, offer, start month). A node's label names the
world that signs it: ``all`` for the root (decided now, for every scenario), else the scenario (or
scenarios) whose world signs it once known. Every function here is plain data in, DataFrame out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.model.tree import ScenarioTree
from planner.schema import Problem, add_months

LeaseDecisions = dict[tuple[str, str, int], int]
"""(node, offer id, start month index) -> blocks signed."""
LeasePayments = dict[tuple[str, str, int], tuple[float, float]]
"""(node, offer id, start month index) -> (monthly payment, upfront payment) in USD, as the model counts them."""

LEASE_COLUMNS = ("scenario", "offer_id", "provider", "site", "gpu_type", "signing_month", "start_month", "end_month",
                 "term_months", "blocks", "gpus", "price_usd_per_gpu_hour", "monthly_payment_usd", "upfront_usd",
                 "total_commitment_usd")
PAYMENT_COLUMNS = ("scenario", "month", "offer_id", "start_month", "in_horizon", "payment_usd")
SUMMARY_COLUMNS = ("scenario", "known_from_month", "signings", "blocks", "gpus", "total_commitment_usd",
                   "first_signing_month", "last_signing_month")
WORLD_COLUMNS = ("scenario", "probability", "gpus_signed_now", "gpus_signed_later", "gpus_signed",
                 "commitment_now_usd", "commitment_later_usd", "total_commitment_usd")


def lease_rows(problem: Problem, tree: ScenarioTree, plan: LeaseDecisions, payments: LeasePayments) -> pd.DataFrame:
    """One row per decision of ``plan``, the root ("sign now") first, then by node, start month and offer;
    money from ``payments`` (the model's own figures)."""
    offers = {o.offer_id: o for o in problem.lease_offers}
    rank = {n.node_id: i for i, n in enumerate(tree.nodes)}
    first = problem.settings.first_month
    rows = []
    for (n, o_id, k), blocks in sorted(plan.items(), key=lambda kv: (rank[kv[0][0]], kv[0][2], kv[0][1])):
        o = offers[o_id]
        gpus = blocks * o.gpus_per_block
        monthly, upfront = payments[n, o_id, k]
        rows.append({
            "scenario": tree.label(n), "offer_id": o_id, "provider": o.provider, "site": o.site,
            "gpu_type": o.gpu_type, "signing_month": add_months(first, k - o.lead_time_months),
            "start_month": add_months(first, k), "end_month": add_months(first, k + o.term_months - 1),
            "term_months": o.term_months, "blocks": blocks, "gpus": gpus,
            "price_usd_per_gpu_hour": o.price_usd_per_gpu_hour, "monthly_payment_usd": monthly,
            "upfront_usd": upfront, "total_commitment_usd": monthly * o.term_months + upfront,
        })
    return pd.DataFrame(rows, columns=list(LEASE_COLUMNS))


def payment_rows(problem: Problem, tree: ScenarioTree, plan: LeaseDecisions, payments: LeasePayments) -> pd.DataFrame:
    """Every payment of every decision (the whole term, past the horizon too; upfront at signing), by
    month, node and offer; money from ``payments`` (the model's own figures)."""
    offers = {o.offer_id: o for o in problem.lease_offers}
    rank = {n.node_id: i for i, n in enumerate(tree.nodes)}
    first, horizon = problem.settings.first_month, problem.settings.months
    rows = []
    for n, o_id, k in plan:
        o = offers[o_id]
        monthly, upfront = payments[n, o_id, k]
        signed = k - o.lead_time_months
        due = {t: monthly for t in range(k, k + o.term_months)}
        if upfront:
            due[signed] = due.get(signed, 0.0) + upfront  # due at signing
        for t, usd in sorted(due.items()):
            rows.append({"scenario": tree.label(n), "month": add_months(first, t), "offer_id": o_id,
                         "start_month": add_months(first, k), "in_horizon": t < horizon, "payment_usd": usd,
                         "_node": rank[n]})
    frame = pd.DataFrame(rows, columns=[*PAYMENT_COLUMNS, "_node"])
    return frame.sort_values(["month", "_node", "offer_id"], ignore_index=True, kind="stable").drop(columns="_node")


def signing_summary(problem: Problem, tree: ScenarioTree, leases: pd.DataFrame) -> pd.DataFrame:
    """Per node with signings (``all`` first): the month its world is known, number of signings, blocks,
    GPUs, total commitment and the first and last signing month, from :func:`lease_rows`."""
    known_from = {tree.label(n.node_id): add_months(problem.settings.first_month, n.first_month)
                  for n in tree.nodes}
    rows = [{"scenario": label, "known_from_month": known_from[label], "signings": len(part),
             "blocks": int(part["blocks"].sum()), "gpus": int(part["gpus"].sum()),
             "total_commitment_usd": float(part["total_commitment_usd"].sum()),
             "first_signing_month": part["signing_month"].min(), "last_signing_month": part["signing_month"].max()}
            for label, part in leases.groupby("scenario", sort=False)]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def describe_signing(row: Any) -> str:
    """A :func:`lease_rows` row in words: 'sign 12 blocks of COL-H100 (12,288 H100 at Colossus) from
    2025-03 for 12 months at $2.60/GPU-hour' (', signed in 2025-02' when a lead time applies)."""
    signed = f", signed in {row.signing_month}" if row.signing_month != row.start_month else ""
    return (f"sign {row.blocks} block{'s' if row.blocks != 1 else ''} of {row.offer_id} "
            f"({row.gpus:,} {row.gpu_type} at {row.site}) from {row.start_month} for {row.term_months} "
            f"month{'s' if row.term_months != 1 else ''} at ${row.price_usd_per_gpu_hour:.2f}/GPU-hour{signed}")


def world_totals(by_scenario: pd.DataFrame, probability: dict[str, float]) -> pd.DataFrame:
    """Per scenario, from its world's leases (``decided`` now or later): GPUs and total commitment signed
    now, later and in all; one row per scenario even when it signs nothing."""
    rows = []
    for s, p in probability.items():
        world = by_scenario[by_scenario["scenario"] == s]
        now, later = world[world["decided"] == "now"], world[world["decided"] == "later"]
        rows.append({"scenario": s, "probability": p,
                     "gpus_signed_now": int(now["gpus"].sum()), "gpus_signed_later": int(later["gpus"].sum()),
                     "gpus_signed": int(world["gpus"].sum()),
                     "commitment_now_usd": float(now["total_commitment_usd"].sum()),
                     "commitment_later_usd": float(later["total_commitment_usd"].sum()),
                     "total_commitment_usd": float(world["total_commitment_usd"].sum())})
    return pd.DataFrame(rows, columns=list(WORLD_COLUMNS))
