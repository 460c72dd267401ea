"""Fault injection on Dask workers, for the sweep tests: importable by the worker processes.

Registered as a worker plugin, :class:`InjectFaults` wraps ``Planner.solve`` in each worker process
(also in a worker the nanny restarts): a point whose first lease offer costs ``raise_at`` raises, one
at ``die_at`` ends the worker process on the spot, as a segfault or the kernel's OOM killer would.
"""

from __future__ import annotations

import os
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class InjectFaults(WorkerPlugin):
    name = "inject-sweep-faults"

    def __init__(self, raise_at: float, die_at: float) -> None:
        self.raise_at = raise_at
        self.die_at = die_at

    def setup(self, worker: Any) -> None:
        from planner.sweeps import worker as sweep_worker

        solve = sweep_worker.Planner.solve
        raise_at, die_at = self.raise_at, self.die_at

        def faulty(planner: Any, **kwargs: Any) -> Any:
            price = planner.problem.lease_offers[0].price_usd_per_gpu_hour
            if price == raise_at:
                raise RuntimeError("injected fault")
            if price == die_at:
                os._exit(13)
            return solve(planner, **kwargs)

        sweep_worker.Planner.solve = faulty  # type: ignore[method-assign]
