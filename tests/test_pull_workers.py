"""Pull-workers: a suite queued in the store, claimed atomically, split between worker processes with no run
done twice, with the results of a local run."""

import datetime as dt
import os
import subprocess
import sys
import threading
from collections import Counter

import pymongo
import pytest

from benchmark.run_queue import (
    CLAIMED,
    DONE,
    QUEUE,
    Claimer,
    claim_next,
    counts,
    enqueue,
    finish,
)
from benchmark.store import DB_NAME, RunStore, connect, embedded_server
from mike.profiles import get_profile
from suites.registry import SuitePaths, build_plan
from tests.helpers import assert_same_results, local_results, mike_bench, timeout_for


@pytest.fixture
def store(tmp_path):
    with embedded_server(tmp_path / "db") as url:
        yield RunStore(connect(url), "test"), url


def _plan(name="three"):
    return build_plan(name, get_profile("smoke"), [0], SuitePaths())


def _complete(store: RunStore, entry: dict) -> None:
    """Store the entry's runs as COMPLETED (what running them would leave)."""
    for run in entry["runs"]:
        store.db.runs.insert_one(
            {"_id": store.next_number("runs"), "status": "COMPLETED", "meta": {"config_hash": run["hash"]}}
        )


def test_groups_are_claimed_in_dependency_order_and_only_once(store):
    store, _ = store
    plan = _plan()
    groups, runs = enqueue(store, plan, {"suite": "three"})
    assert runs == len(plan) and groups < runs  # downstream runs of one encoder travel together
    assert enqueue(store, plan, {"suite": "three"}) == (groups, runs)  # queued twice: one entry each
    assert store.db[QUEUE].count_documents({}) == groups
    me, other = Claimer.this_process("a"), Claimer.this_process("b")
    first = claim_next(store, me)
    assert {r["stage"] for r in first["runs"]} == {"dataset"}
    # what needs nothing is ready too (the baseline builds its data itself); teachers wait for the datasets
    seen = [first]
    while (entry := claim_next(store, other)) is not None:
        seen.append(entry)
    assert {r["stage"] for e in seen for r in e["runs"]} == {"dataset", "baseline"}
    for entry in seen:
        _complete(store, entry)
        finish(store, entry, me if entry is first else other)
    nxt = claim_next(store, me)
    assert {r["stage"] for r in nxt["runs"]} == {"teacher"}
    assert counts(store)[DONE] == len(seen)


def test_two_claimers_racing_never_share_a_group(store):
    store, url = store
    enqueue(store, _plan(), {})
    claims: list[tuple[str, str]] = []

    def claimer(name):
        own = RunStore(connect(url), "test")
        me = Claimer.this_process(name)
        while (entry := claim_next(own, me)) is not None:
            claims.append((entry["_id"], name))

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ready = store.db[QUEUE].count_documents({"needs": []})
    ids = Counter(key for key, _ in claims)
    assert len(ids) == ready and set(ids.values()) == {1}
    held = {e["_id"]: e["claimed_by"]["name"] for e in store.db[QUEUE].find({"state": CLAIMED})}
    assert held == dict(claims)


def test_a_dead_workers_claim_is_queued_again(store):
    store, _ = store
    enqueue(store, _plan(), {})
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = Claimer.this_process("dead")
    dead = Claimer(dead.host, proc.pid, "gone", "dead")
    taken = claim_next(store, dead)
    assert taken is not None
    me = Claimer.this_process("me")
    again = claim_next(store, me)
    assert again["_id"] == taken["_id"] and again["requeued_from"]["name"] == "dead"
    assert again["attempts"] == 2
    # on another host, only a silent heartbeat makes a claim dead
    store.db[QUEUE].update_one(
        {"_id": again["_id"]},
        {"$set": {"claimed_by.host": "elsewhere", "heartbeat": dt.datetime.now(dt.UTC).replace(tzinfo=None)}},
    )
    assert claim_next(store, me)["_id"] != again["_id"]


def test_a_timed_group_runs_alone_on_its_host(store):
    """An autoencoder's time per epoch is a result: it waits for this host's other claims to end, and
    nothing else is claimed here while it runs. While it waits, untimed ready work behind it is claimed
    rather than a worker idling."""
    store, _ = store
    enqueue(store, _plan("losses"), {})
    queue = store.db[QUEUE]
    entries = list(queue.find().sort("order", 1))
    timed = next(e for e in entries if e["timed"])
    before, after = [e for e in entries if not e["timed"] and e["order"] < timed["order"]][:1] + [
        e for e in entries if not e["timed"] and e["order"] > timed["order"]
    ][:1]
    keep = [before["_id"], timed["_id"], after["_id"]]
    queue.update_many({"_id": {"$nin": keep}}, {"$set": {"state": DONE}})
    queue.update_many({}, {"$set": {"needs": []}})  # everything ready: only the timing rule decides
    a, b = Claimer.this_process("a"), Claimer.this_process("b")
    assert claim_next(store, a)["_id"] == before["_id"]
    # the timed group is next in line but a claim runs here: b takes the untimed group behind it
    assert claim_next(store, b)["_id"] == after["_id"]
    assert claim_next(store, Claimer.this_process("c")) is None  # only the timed group is left, it waits
    finish(store, before, a)
    assert claim_next(store, a) is None  # b's claim still runs here
    finish(store, after, b)
    assert claim_next(store, b)["_id"] == timed["_id"]
    assert claim_next(store, a) is None  # the timed group runs: nothing else starts beside it
    finish(store, timed, b)
    assert claim_next(store, a) is None  # nothing left


def _runs(url):
    fields = {"status": 1, "meta": 1, "info": 1, "result": 1}
    return list(pymongo.MongoClient(url)[DB_NAME].runs.find({}, fields))


def test_two_workers_split_a_suite_with_no_run_done_twice(tmp_path):
    """`suite three --executor queue`, then two `worker` processes: every run COMPLETED once, both
    workers took part, and the results are a local run's."""
    with embedded_server(tmp_path / "db") as url:
        queued = mike_bench(
            "suite", "three", "--profile", "smoke", "--executor", "queue", "--mongo-url", url, cwd=tmp_path
        )
        assert queued.returncode == 0, queued.stderr[-2000:]
        assert "queued in" in queued.stdout and "mike-bench worker" in queued.stdout
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmark.cli", "worker", "--mongo-url", url, "--threads", "1"]
                + ["--name", f"w{i}", "--workdir", str(tmp_path / f"w{i}")],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outs = [w.communicate(timeout=timeout_for(600)) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outs]
        runs = _runs(url)
    assert {r["status"] for r in runs} == {"COMPLETED"}
    hashes = Counter(r["meta"]["config_hash"] for r in runs)
    assert len(hashes) == 22 + 11 + 2 + 22 and set(hashes.values()) == {1}  # every run, once
    by_worker = Counter(r["info"]["worker"] for r in runs)
    print(f"runs per worker: {dict(sorted(by_worker.items()))}")
    assert set(by_worker) == {"w0", "w1"}, by_worker
    for i, (stdout, _) in enumerate(outs):
        assert f"worker w{i}: " in stdout and "0 failed" in stdout
    assert_same_results(runs, local_results(tmp_path / "local", "three", "--profile", "smoke", cwd=tmp_path))
