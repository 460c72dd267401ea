"""The information structure: which scenarios can be told apart in which month (a scenario tree).

For every month of the horizon the scenarios fall into groups: those that cannot yet be told apart.
Each group is a node of a tree (as in mpi-sppy's multi-stage scenario tree: a node id, its parent,
the month it branches off, its scenarios and their probability). A lease signed in month t takes one
value for every scenario of the group it belongs to in month t (non-anticipativity): the model has one
variable per (node, offer, start month).

* No reveal (``Settings.reveal_month`` blank): one node, ``ROOT``, holds every scenario in every month:
  the two-stage model.
* ``reveal_month`` R: ``ROOT`` until the month before R, then one node per scenario from R on.
* Any other tree (later branch points, groups of scenarios) is a list of partitions, one per month,
  each refining the one before: :meth:`ScenarioTree.from_partitions`. No model code changes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

ROOT = "ROOT"
"""Node id of the root: today's decisions, common to every scenario (probability 1)."""
ALL_SCENARIOS = "all"
"""Label of the root node in result tables: the decision holds in every scenario."""


@dataclass(frozen=True)
class TreeNode:
    """One group of scenarios that cannot be told apart from ``first_month`` until its children branch.

    ``first_month`` is a month index (0 = first month of the horizon); the node is in force from it up to
    the month before its children's ``first_month`` (to the end of the horizon for a leaf).
    """

    node_id: str
    parent: str | None
    first_month: int
    scenarios: tuple[str, ...]
    probability: float


@dataclass(frozen=True)
class ScenarioTree:
    """The scenario tree over a horizon of ``months`` months (see the module docstring).

    Equal trees compare equal (nodes and horizon); the lookups below are precomputed.
    """

    nodes: tuple[TreeNode, ...]
    months: int
    _node_of: dict[tuple[str, int], str] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, TreeNode] = field(init=False, repr=False, compare=False)
    _groups: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {n.node_id: n for n in self.nodes}
        children: dict[str, list[TreeNode]] = {n.node_id: [] for n in self.nodes}
        for n in self.nodes:
            if n.parent is not None:
                children[n.parent].append(n)
        node_of: dict[tuple[str, int], str] = {}
        groups: list[tuple[str, ...]] = []
        for t in range(self.months):
            in_force = []
            for n in self.nodes:
                branch = min((c.first_month for c in children[n.node_id]), default=self.months)
                if n.first_month <= t < branch:
                    in_force.append(n.node_id)
                    node_of.update(((s, t), n.node_id) for s in n.scenarios)
            groups.append(tuple(in_force))
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_node_of", node_of)
        object.__setattr__(self, "_groups", tuple(groups))

    # ---- building ----------------------------------------------------------------------------------
    @classmethod
    def from_partitions(cls, scenarios: Sequence[str], probability: Mapping[str, float],
                        partitions: Sequence[Collection[Collection[str]]]) -> ScenarioTree:
        """The tree whose groups in month t are ``partitions[t]`` (one partition of the scenarios per
        month of the horizon, each refining the one before; information is never forgotten).

        Nodes are numbered as in mpi-sppy: ``ROOT``, its children ``ROOT_0``, ``ROOT_1``, ... in the order
        of their first scenario in ``scenarios``, their children ``ROOT_0_0``, ...
        """
        order = {s: i for i, s in enumerate(scenarios)}
        root = TreeNode(ROOT, None, 0, tuple(scenarios), 1.0)
        nodes = [root]
        current = dict.fromkeys(scenarios, root)
        children_count: dict[str, int] = {ROOT: 0}
        for t, partition in enumerate(partitions):
            groups = [tuple(sorted(set(group), key=order.__getitem__)) for group in partition]
            seen = [s for group in groups for s in group]
            if sorted(seen, key=order.__getitem__) != list(scenarios):
                raise ValueError(f"month {t}: the groups {groups} are not a partition of the scenarios "
                                 f"{list(scenarios)}")
            groups.sort(key=lambda group: order[group[0]])
            for group in groups:
                parent = current[group[0]]
                if any(current[s] is not parent for s in group):
                    raise ValueError(f"month {t}: group {list(group)} joins scenarios already told apart "
                                     "(information is never forgotten)")
                if group == parent.scenarios:
                    continue
                node_id = f"{parent.node_id}_{children_count[parent.node_id]}"
                children_count[parent.node_id] += 1
                children_count[node_id] = 0
                node = TreeNode(node_id, parent.node_id, t, group, sum(probability[s] for s in group))
                nodes.append(node)
                current.update(dict.fromkeys(group, node))
        return cls(tuple(nodes), len(partitions))

    @classmethod
    def from_reveal_month(cls, scenarios: Sequence[str], probability: Mapping[str, float], months: int,
                          reveal_month: int | None) -> ScenarioTree:
        """All scenarios one group before month index ``reveal_month``, each its own group from it on;
        ``None`` (never revealed) is the two-stage tree: one node for the whole horizon."""
        together = [list(scenarios)]
        apart = [[s] for s in scenarios]
        reveal = months if reveal_month is None else max(reveal_month, 0)
        return cls.from_partitions(scenarios, probability,
                                   [together if t < reveal else apart for t in range(months)])

    # ---- reading -----------------------------------------------------------------------------------
    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    @property
    def is_two_stage(self) -> bool:
        """One node for the whole horizon: every decision is common to every scenario."""
        return len(self.nodes) == 1

    @property
    def first_branch_month(self) -> int | None:
        """The month index from which the root's scenarios are told apart (None: never)."""
        return min((n.first_month for n in self.nodes if n.parent == ROOT), default=None)

    def node(self, node_id: str) -> TreeNode:
        return self._by_id[node_id]

    def node_of(self, scenario: str, month: int) -> str:
        """The group ``scenario`` is in during month index ``month``; months past the horizon (lease
        payments after it) belong to the last month's group: nothing more is learnt."""
        return self._node_of[scenario, min(month, self.months - 1)]

    def groups(self, month: int) -> tuple[str, ...]:
        """The node ids in force in a month (a partition of the scenarios)."""
        return self._groups[min(month, self.months - 1)]

    def ancestor_at(self, node_id: str, month: int) -> str:
        """The node in force in ``month`` for the scenarios of ``node_id`` (``month`` no later than the
        node's own months): the node itself or one of its ancestors."""
        return self.node_of(self._by_id[node_id].scenarios[0], month)

    def lineage(self, node_id: str) -> tuple[str, ...]:
        """The node and its ancestors, from the root down."""
        chain = [node_id]
        while (parent := self._by_id[chain[-1]].parent) is not None:
            chain.append(parent)
        return tuple(reversed(chain))

    def path(self, scenario: str) -> tuple[str, ...]:
        """Every node that holds ``scenario``, from the root down."""
        return tuple(n.node_id for n in self.nodes if scenario in n.scenarios)

    def label(self, node_id: str) -> str:
        """How result tables name a node: ``all`` for the root, else its scenarios joined by commas."""
        if node_id == ROOT:
            return ALL_SCENARIOS
        return ", ".join(self._by_id[node_id].scenarios)
