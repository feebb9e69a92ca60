"""A suite's runs queued in the store, claimed by pull-workers on any machine that reaches it.

`mike-bench suite NAME --executor queue` writes the plan's groups (benchmark.schedule) into the store's
`mike_bench_queue` collection; `mike-bench worker` claims the first queued group whose dependencies have
COMPLETED, runs it, and claims the next. A claim is one atomic find_one_and_update on a queued entry, so no
two workers ever hold the same group. A claimer that dies (its process gone on its host, or its heartbeat
silent for STALE_AFTER elsewhere) loses its claim: the group is queued again, and its run resumes from
its checkpoint under the store's dead-run rules. The runs collection stays the source of truth: reuse by
config hash, resume and provenance are those of a local suite.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass

import pymongo

from benchmark.schedule import Group, group_plan
from benchmark.store import STALE_AFTER, RunStore, process_identity
from mike.data.cache import config_hash
from suites.plan import Planned, RunSpec

QUEUE = "mike_bench_queue"
QUEUED, CLAIMED, DONE, FAILED = "queued", "claimed", "done", "failed"
BEAT_SECONDS = 10.0  # a claim's heartbeat, as Sacred's


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def entry_id(group: Group) -> str:
    """A group is known by its runs: the same group queued by two suites (or twice) is one entry."""
    return config_hash(sorted(group.hashes), length=16)


def _entry(group: Group, extra_info: dict) -> dict:
    return {
        "runs": [
            {
                "stage": p.spec.stage,
                "label": p.spec.label,
                "config": p.spec.config,
                "hash": p.spec.hash,
                "deps": [d.spec.hash for d in p.deps],
            }
            for p in group.runs
        ],
        "needs": sorted(group.needs),
        "timed": group.timed,
        "info": extra_info,
    }


def enqueue(store: RunStore, plan: list[Planned], extra_info: dict) -> tuple[int, int]:
    """Queue every group of the plan with a run not yet COMPLETED; returns (groups, runs) now waiting.
    An entry already queued or claimed is left as it is; one that ended (done or failed) is queued again,
    since its runs are not all COMPLETED."""
    queue = store.db[QUEUE]
    queue.create_index([("state", 1), ("order", 1)])
    groups = group_plan(plan, store.completed_hashes())
    for group in groups:
        key = entry_id(group)
        order = store.next_number("queue")
        queue.update_one(
            {"_id": key},
            {"$setOnInsert": {**_entry(group, extra_info), "order": order, "state": QUEUED, "attempts": 0}},
            upsert=True,
        )
        queue.update_one(
            {"_id": key, "state": {"$in": [DONE, FAILED]}},
            {"$set": {"state": QUEUED}, "$unset": {"claimed_by": "", "error": ""}},
        )
    return len(groups), sum(len(g.runs) for g in groups)


@dataclass(frozen=True)
class Claimer:
    """Who holds a claim: enough to tell whether it is still alive, here or on another host."""

    host: str
    pid: int
    process: str | None
    name: str

    @classmethod
    def this_process(cls, name: str | None = None) -> Claimer:
        pid = os.getpid()
        host = socket.gethostname()
        return cls(host, pid, process_identity(pid), name or f"{host}:{pid}")

    def as_doc(self) -> dict:
        return {"host": self.host, "pid": self.pid, "process": self.process, "name": self.name}


def claim_is_dead(entry: dict, now: dt.datetime | None = None) -> bool:
    """A claim whose worker is gone: on its own host, its process (pid and start time) no longer runs;
    elsewhere, its heartbeat has been silent for STALE_AFTER."""
    by = entry.get("claimed_by") or {}
    if by.get("host") == socket.gethostname() and by.get("pid"):
        return process_identity(by["pid"]) != by.get("process")
    beat = entry.get("heartbeat")
    return beat is None or (now or _now()) - beat > STALE_AFTER


def requeue_dead_claims(store: RunStore) -> list[str]:
    """Put groups whose claimer died back in the queue; returns their entry ids."""
    queue, freed = store.db[QUEUE], []
    for entry in queue.find({"state": CLAIMED}, {"claimed_by": 1, "heartbeat": 1}):
        if claim_is_dead(entry):
            back = queue.update_one(
                {"_id": entry["_id"], "state": CLAIMED, "claimed_by": entry["claimed_by"]},
                {
                    "$set": {"state": QUEUED, "requeued_from": entry["claimed_by"]},
                    "$unset": {"claimed_by": ""},
                },
            )
            if back.modified_count:
                freed.append(entry["_id"])
    return freed


def claim_next(store: RunStore, me: Claimer) -> dict | None:
    """Atomically claim the first queued group (queue order) whose dependencies have COMPLETED.

    A timed group (its wall time is a result) is claimed only when no other claim runs on this host, and
    while it runs nothing else is: runs sharing the cores would time each other. While it waits for this
    host's claims to end, the next untimed ready group is claimed instead of idling (as the local pool
    does), so timed groups start here once no untimed group is ready."""
    queue = store.db[QUEUE]
    requeue_dead_claims(store)
    completed = store.completed_hashes()
    busy_here = queue.find_one({"state": CLAIMED, "claimed_by.host": me.host}, {"timed": 1})
    if busy_here is not None and busy_here.get("timed"):
        return None
    for entry in queue.find({"state": QUEUED}, {"needs": 1, "timed": 1}).sort("order", pymongo.ASCENDING):
        if not set(entry["needs"]) <= completed:
            continue
        if entry.get("timed") and busy_here is not None:
            continue  # it waits for this host's claims to end; untimed work behind it may go first
        got = _take(store, entry["_id"], me)
        if got is not None:
            return got
    return None


def claim_entry(store: RunStore, key: str, me: Claimer) -> dict | None:
    """Claim one given entry (a Slurm job's own group) if it is queued and its dependencies COMPLETED."""
    requeue_dead_claims(store)
    entry = store.db[QUEUE].find_one({"_id": key, "state": QUEUED}, {"needs": 1})
    if entry is None or not set(entry["needs"]) <= store.completed_hashes():
        return None
    return _take(store, key, me)


def _take(store: RunStore, key: str, me: Claimer) -> dict | None:
    """The atomic claim: only one caller turns a queued entry into its own."""
    now = _now()
    return store.db[QUEUE].find_one_and_update(
        {"_id": key, "state": QUEUED},
        {
            "$set": {"state": CLAIMED, "claimed_by": me.as_doc(), "claimed_at": now, "heartbeat": now},
            "$inc": {"attempts": 1},
        },
        return_document=pymongo.ReturnDocument.AFTER,
    )


def finish(store: RunStore, entry: dict, me: Claimer, error: str | None = None) -> None:
    """The claimed group ended: done, or failed with the error (its dependents then never become ready)."""
    update = {"state": FAILED, "error": error} if error else {"state": DONE}
    store.db[QUEUE].update_one(
        {"_id": entry["_id"], "claimed_by": me.as_doc()}, {"$set": {**update, "ended_at": _now()}}
    )


def release(store: RunStore, entry: dict, me: Claimer) -> None:
    """Give a claim back untouched (e.g. its run is live in another process right now)."""
    store.db[QUEUE].update_one(
        {"_id": entry["_id"], "claimed_by": me.as_doc()},
        {"$set": {"state": QUEUED}, "$unset": {"claimed_by": ""}},
    )


class ClaimHeartbeat:
    """Beats a claim every BEAT_SECONDS from a thread while its group runs."""

    def __init__(self, store: RunStore, entry: dict, me: Claimer):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(store, entry["_id"], me), daemon=True)

    def _beat(self, store: RunStore, key: str, me: Claimer) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            store.db[QUEUE].update_one(
                {"_id": key, "claimed_by": me.as_doc()}, {"$set": {"heartbeat": _now()}}
            )

    def __enter__(self) -> ClaimHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def work_of(entry: dict) -> list[tuple[RunSpec, list[str]]]:
    """The entry's runs as the executor's unit of work."""
    return [(RunSpec(r["stage"], r["label"], r["config"]), r["deps"]) for r in entry["runs"]]


def counts(store: RunStore) -> dict[str, int]:
    """Entries by state."""
    rows = store.db[QUEUE].aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}])
    return {row["_id"]: row["n"] for row in rows}
