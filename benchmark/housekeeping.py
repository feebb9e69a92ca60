"""Keeping the store honest and small: dead attempts marked, artifacts verified before reuse, checkpoints
pruned once their run has COMPLETED, and what is left over shown (`status`) and reclaimed (`gc`).

Nothing here deletes a result: a COMPLETED run keeps its document, metrics and final model; a run whose
artifact fails its check stays stored as FAILED (with the reason), and the suite trains it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from gridfs.errors import CorruptGridFile, NoFile

from benchmark.store import RunStore

CHECKPOINT = "checkpoint.pt"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def mark_dead(store: RunStore, runs: list[dict]) -> int:
    """Mark RUNNING attempts whose process is gone as FAILED (Sacred's readers show them as ended)."""
    marked = 0
    for run in runs:
        if not store.is_stale(run):
            continue
        meta = run.get("meta", {})
        ended = run.get("heartbeat") or _now()
        trace = (
            f"mike-bench: the process (pid {meta.get('pid')} on {meta.get('hostname')}) ended without ending "
            "this run (killed, or its machine stopped); marked FAILED when found"
        )
        result = store.db.runs.update_one(
            {"_id": run["_id"], "status": "RUNNING"},
            {"$set": {"status": "FAILED", "stop_time": ended, "fail_trace": [trace]}},
        )
        marked += result.modified_count
    return marked


def prune_checkpoints(store: RunStore, run_ids: list) -> tuple[int, int]:
    """Delete the checkpoints of these runs (their GridFS files and artifact entries); (files, bytes)."""
    files = size = 0
    for run in store.db.runs.find({"_id": {"$in": run_ids}, "artifacts.name": CHECKPOINT}, {"artifacts": 1}):
        for artifact in run["artifacts"]:
            if artifact["name"] != CHECKPOINT:
                continue
            record = store.db["fs.files"].find_one({"_id": artifact["file_id"]}, {"length": 1})
            if record is None:  # an older checkpoint, already dropped when a newer one was written
                continue
            size += record["length"]
            store.fs.delete(artifact["file_id"])
            files += 1
        store.db.runs.update_one({"_id": run["_id"]}, {"$pull": {"artifacts": {"name": CHECKPOINT}}})
    return files, size


def drop_older_checkpoints(store: RunStore, run_id) -> None:
    """Delete the files of a run's checkpoints but its newest (their entries go when the run completes)."""
    run = store.db.runs.find_one({"_id": run_id}, {"artifacts": 1}) or {}
    older = [a["file_id"] for a in run.get("artifacts", []) if a["name"] == CHECKPOINT][:-1]
    for file_id in older:
        store.fs.delete(file_id)


def artifact_problem(store: RunStore, run: dict) -> str | None:
    """Why a COMPLETED run's artifacts cannot be trusted (unreadable, or not the bytes it wrote), or None.
    The digest is the sha256 recorded in the GridFS file's metadata when it was written."""
    for artifact in run.get("artifacts", []):
        name = artifact["name"]
        if name == CHECKPOINT:
            continue
        try:
            stored = store.fs.get(artifact["file_id"])
            data = stored.read()
        except (CorruptGridFile, NoFile) as exc:
            return f"artifact {name} is unreadable ({type(exc).__name__})"
        digest = (stored.metadata or {}).get("sha256")
        if digest and hashlib.sha256(data).hexdigest() != digest:
            return f"artifact {name} does not match the digest recorded when it was written"
    return None


def distrust_corrupt(store: RunStore, hashes: set[str], say) -> set[str]:
    """Of these COMPLETED configs, those whose run has a damaged artifact: each run is marked FAILED with the
    reason (kept, not deleted) so that the suite trains it again; `say` gets one line per run."""
    bad: set[str] = set()
    if not hashes:
        return bad
    query = {
        "meta.config_hash": {"$in": sorted(hashes)},
        "status": "COMPLETED",
        "artifacts.0": {"$exists": True},
    }
    for run in store.db.runs.find(
        query, {"artifacts": 1, "info.artifact_sha256": 1, "info.label": 1, "meta": 1}
    ):
        problem = artifact_problem(store, run)
        if problem is None:
            continue
        store.db.runs.update_one(
            {"_id": run["_id"]},
            {"$set": {"status": "FAILED", "fail_trace": [f"mike-bench: {problem}; trained again"]}},
        )
        bad.add(run["meta"]["config_hash"])
        say(
            f"run {run['_id']} ({run.get('info', {}).get('label', '?')}): {problem}; it will be trained again"
        )
    return bad


def distrust_what_will_be_loaded(store: RunStore, plan, completed: set[str], say) -> set[str]:
    """The COMPLETED configs whose artifacts the runs still to train will load, checked (and, when damaged,
    trained again, which may need further artifacts: repeated until nothing new is damaged); returns the
    configs no longer COMPLETED. Runs nobody will load are not read."""
    deps_of = {p.spec.hash: [d.spec.hash for d in p.deps] for p in plan}
    bad: set[str] = set()
    checked: set[str] = set()
    while True:
        todo = {h for h in deps_of if h not in completed or h in bad}
        needed = {d for h in todo for d in deps_of[h]} & completed - bad - checked
        if not needed:
            return bad
        checked |= needed
        bad |= distrust_corrupt(store, needed, say)


@dataclass
class Leftovers:
    """What a store holds beyond its results: dead attempts, checkpoints and metrics no run needs."""

    dead: list  # RUNNING attempts whose process is gone
    superseded: list  # ids of unfinished attempts whose metrics a COMPLETED run of their config holds in full
    checkpoint_runs: list  # runs holding checkpoints no longer needed (COMPLETED, or superseded)
    checkpoint_files: int
    checkpoint_bytes: int

    def __bool__(self) -> bool:
        return bool(self.dead or self.superseded or self.checkpoint_files)

    def summary(self) -> str:
        return (
            f"{len(self.dead)} dead attempts still marked RUNNING, {len(self.superseded)} superseded "
            f"attempts whose metrics a COMPLETED run holds, {self.checkpoint_files} checkpoints no run "
            f"needs ({self.checkpoint_bytes / 2**20:.1f} MiB)"
        )


def leftovers(store: RunStore) -> Leftovers:
    completed = store.completed_hashes()
    unfinished = list(
        store.db.runs.find(
            {"status": {"$ne": "COMPLETED"}}, {"status": 1, "heartbeat": 1, "meta": 1, "result": 1}
        )
    )
    dead = [r for r in unfinished if store.is_stale(r)]
    superseded = [r for r in unfinished if r.get("meta", {}).get("config_hash") in completed]
    superseded_ids = [r["_id"] for r in superseded]
    # of those, the ones still holding metrics that a COMPLETED run holds in full (what gc would delete)
    copies = set(_metrics_held_elsewhere(store, superseded))
    with_metrics = set(store.db.metrics.distinct("run_id", {"run_id": {"$in": sorted(copies)}}))
    holders = store.db.runs.find(
        {
            "artifacts.name": CHECKPOINT,
            "$or": [{"status": "COMPLETED"}, {"_id": {"$in": superseded_ids}}],
        },
        {"artifacts": 1},
    )
    runs, files, size = [], 0, 0
    for run in holders:
        ids = [a["file_id"] for a in run["artifacts"] if a["name"] == CHECKPOINT]
        records = list(store.db["fs.files"].find({"_id": {"$in": ids}}, {"length": 1}))
        runs.append(run["_id"])
        files += len(records)
        size += sum(f.get("length", 0) for f in records)
    return Leftovers(dead, sorted(with_metrics), runs, files, size)


def _metrics_held_elsewhere(store: RunStore, superseded: list[dict]) -> list:
    """Superseded attempts whose metrics the COMPLETED run holds in full: it started from step 0 or
    replayed the curve from its checkpoint. A run that once completed (it has a result) keeps its own."""
    whole = {
        r["meta"]["config_hash"]
        for r in store.db.runs.find(
            {
                "status": "COMPLETED",
                "meta.config_hash": {"$in": [a["meta"]["config_hash"] for a in superseded]},
            },
            {"meta": 1, "info.resumed_from": 1, "info.curve_replayed": 1},
        )
        if not r.get("info", {}).get("resumed_from") or r["info"].get("curve_replayed")
    }
    return [a["_id"] for a in superseded if a["meta"]["config_hash"] in whole and not a.get("result")]


def collect(store: RunStore) -> str:
    """`mike-bench gc`: mark dead attempts, delete checkpoints no run needs and the metrics of superseded
    attempts that a COMPLETED run holds in full; returns what was done, in one line."""
    found = leftovers(store)
    marked = mark_dead(store, found.dead)
    files, size = prune_checkpoints(store, found.checkpoint_runs)
    droppable = found.superseded
    metrics = store.db.metrics.delete_many({"run_id": {"$in": droppable}}).deleted_count
    return (
        f"marked {marked} dead attempts FAILED; deleted {files} checkpoints ({size / 2**20:.1f} MiB) and "
        f"{metrics} metric series of {len(droppable)} superseded attempts; every result is kept"
    )
