"""Which runs can go together and when: work units (groups) of a plan and their readiness.

A group is a list of runs executed one after another in one process. The downstream evaluations of one
encoder form one group: its embeddings and models are loaded once, not once per task. The dataset builds
of one data source form one group: the first one draws the synthetic COCO, the others reuse it (two
workers would otherwise draw it twice at once). Every other run is a group of its own. A group is
ready when every run it depends on outside itself has COMPLETED.

A timed group holds a run whose wall time is a result (the feature-prediction paper's time per epoch, the
time per transfer step of Section 5's scaling): a pool of CPU workers runs it alone, since runs sharing the
cores would time each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mike.data.cache import config_hash
from suites.plan import Planned

# time per epoch is what Figures 6–8 and Figure 9 compare; time per step, Section 5's scaling
TIMED_STAGES = frozenset({"autoencoder", "transfer_cost"})


@dataclass
class Group:
    runs: list[Planned]
    needs: set[str] = field(default_factory=set)  # config hashes outside the group, COMPLETED first

    @property
    def hashes(self) -> list[str]:
        return [p.spec.hash for p in self.runs]

    @property
    def timed(self) -> bool:
        return any(p.spec.stage in TIMED_STAGES for p in self.runs)


def _group_key(p: Planned) -> str:
    if p.spec.stage == "downstream":
        return f"downstream:{p.spec.config['encoder']}"
    if p.spec.stage == "dataset":
        return f"dataset:{config_hash(p.spec.config['data'])}"
    return p.spec.hash


def group_plan(plan: list[Planned], completed: set[str]) -> list[Group]:
    """The plan's runs not yet COMPLETED, as groups in plan order (a group sits where its first run did)."""
    groups: dict[str, Group] = {}
    for p in plan:
        if p.spec.hash in completed:
            continue
        groups.setdefault(_group_key(p), Group([])).runs.append(p)
    for g in groups.values():
        inside = set(g.hashes)
        g.needs = {d.spec.hash for p in g.runs for d in p.deps} - inside
    return list(groups.values())


def next_ready(pending: list[Group], done: set[str], untimed_only: bool = False) -> Group | None:
    """The first pending group (plan order) whose dependencies are all done, and with untimed_only the
    first such group that is not timed; removed from `pending`."""
    for i, g in enumerate(pending):
        if g.needs <= done and not (untimed_only and g.timed):
            return pending.pop(i)
    return None


def in_dependency_order(groups: list[Group]) -> list[Group]:
    """The groups reordered so that each comes after every group holding a run it needs (plan order
    otherwise): a downstream group is planned before some of the teachers it needs, which a pool waits
    for but a batch system that is handed each job's dependencies at submission cannot."""
    holder = {h: i for i, g in enumerate(groups) for h in g.hashes}
    ordered, placed = [], set()

    def place(i: int, path: tuple[int, ...] = ()) -> None:
        if i in placed:
            return
        if i in path:
            raise RuntimeError("the plan's groups depend on each other in a cycle")
        for need in sorted({holder[h] for h in groups[i].needs if h in holder}):
            place(need, (*path, i))
        placed.add(i)
        ordered.append(groups[i])

    for i in range(len(groups)):
        place(i)
    return ordered
