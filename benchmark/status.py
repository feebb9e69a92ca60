"""`mike-bench status`: what the store holds, by stage and status, and what each suite still needs."""

from __future__ import annotations

from benchmark.housekeeping import leftovers
from benchmark.run_queue import CLAIMED, QUEUE
from benchmark.run_queue import counts as queue_counts
from benchmark.store import RunStore
from mike.profiles import get_profile
from suites.registry import SUITE_NAMES, SuitePaths, build_plan

SEEDED_STAGES = (
    "teacher",
    "transfer",
    "baseline",
    "downstream",
    "autoencoder",
    "probe",
    "simple_cnn",
)  # repeated per seed


def print_status(store: RunStore, profile_name: str | None) -> None:
    counts = list(
        store.db.runs.aggregate(
            [
                {
                    "$group": {
                        "_id": {"stage": "$config.stage", "profile": "$config.profile", "status": "$status"},
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
    )
    print(f"store: {store.url}")
    if not counts:
        print("no runs stored yet; start with: mike-bench suite single --profile smoke")
        return
    print(f"{'profile':8s} {'stage':11s} {'status':12s} {'runs':>6s}")
    for row in sorted(counts, key=lambda r: tuple(str(v) for v in r["_id"].values())):
        key = row["_id"]
        print(
            f"{key.get('profile', '?')!s:8s} {key.get('stage', '?')!s:11s} {key.get('status', '?')!s:12s} "
            f"{row['n']:6d}"
        )
    running = list(
        store.db.runs.find({"status": "RUNNING"}, {"heartbeat": 1, "status": 1, "info.label": 1, "meta": 1})
    )
    for run in running:
        state = "dead: its process is gone; it will be redone" if store.is_stale(run) else "live"
        print(f"RUNNING {run['_id']} {run.get('info', {}).get('label', '')}: {state}")
    queued = queue_counts(store)
    if queued:
        holders = sorted({e["claimed_by"]["name"] for e in store.db[QUEUE].find({"state": CLAIMED})})
        print(
            "queue (groups of runs for `mike-bench worker`): "
            + ", ".join(f"{n} {state}" for state, n in sorted(queued.items()))
            + (f"; claimed by {', '.join(holders)}" if holders else "")
        )
    left = leftovers(store)
    if left:
        print(f"stale: {left.summary()}; `mike-bench gc` reclaims them")
    done = store.completed_hashes()
    profiles = [profile_name] if profile_name else sorted(store.db.runs.distinct("config.profile"))
    for name in profiles:
        seeded = {"config.profile": name, "config.stage": {"$in": list(SEEDED_STAGES)}}
        seeds = store.db.runs.distinct("config.seed", seeded) or [0]
        profile = get_profile(name)
        print(f"suites, profile {name} (default config, seeds {min(seeds)}..{max(seeds)}):")
        for suite in SUITE_NAMES:  # with default paths: synthetic COCO, LunarLander only
            plan = build_plan(suite, profile, list(range(max(seeds) + 1)), SuitePaths())
            have = sum(p.spec.hash in done for p in plan)
            state = "complete" if have == len(plan) else f"{len(plan) - have} left to do"
            print(f"  {suite:12s} {have:4d}/{len(plan):<4d} COMPLETED  {state}")
