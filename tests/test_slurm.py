"""`--executor slurm`: the suite's dependency graph as Slurm dependencies (a recording executor), and a
real single-node Slurm (`tox -e slurm`: scripts/slurm-single-node, then MIKE_BENCH_SLURM=1)."""

import os
import subprocess
import sys
import time
from collections import Counter

import pymongo
import pytest

from benchmark.run_queue import QUEUE, entry_id
from benchmark.schedule import group_plan
from benchmark.slurm_jobs import SlurmOptions, run_queued_group, submit
from benchmark.store import DB_NAME, RunStore, connect, embedded_server
from mike.profiles import get_profile
from suites.registry import SuitePaths, build_plan
from tests.helpers import assert_same_results, local_results, mike_bench, timeout_for, wait_for

REAL_SLURM = os.environ.get("MIKE_BENCH_SLURM") == "1"


class RecordingExecutor:
    """Stands in for submitit.AutoExecutor: records each submission and its parameters."""

    jobs: list[dict] = []

    def __init__(self, folder, cluster):
        self.params = {}

    def update_parameters(self, **params):
        self.params = params

    def submit(self, fn, *args):
        job = type("Job", (), {"job_id": str(1000 + len(RecordingExecutor.jobs))})()
        RecordingExecutor.jobs.append({"fn": fn, "args": args, "params": self.params, "id": job.job_id})
        return job


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    import submitit

    RecordingExecutor.jobs = []
    monkeypatch.setattr(submitit, "AutoExecutor", RecordingExecutor)
    with embedded_server(tmp_path / "db") as url:
        yield RunStore(connect(url), "test"), url


def test_each_group_is_a_job_waiting_afterok_on_the_jobs_it_needs(recorded, tmp_path):
    store, url = recorded
    plan = build_plan("three", get_profile("smoke"), [0], SuitePaths())
    options = SlurmOptions(partition="gpu", cpus_per_job=2, gpus_per_job=1, time_min=90)
    submitted, adopted, job_of = submit(store, url, plan, {}, tmp_path, options, tmp_path / "c", "cuda")
    groups = group_plan(plan, set())
    assert (submitted, adopted) == (len(groups), 0)
    jobs = {j["args"][1]: j for j in RecordingExecutor.jobs}
    assert set(jobs) == {entry_id(g) for g in groups}
    for group in groups:
        job = jobs[entry_id(group)]
        assert job["fn"] is run_queued_group and job["args"][0] == url and job["args"][3] == "cuda"
        assert job["params"]["slurm_partition"] == "gpu" and job["params"]["gpus_per_node"] == 1
        assert job["params"]["cpus_per_task"] == 2 and job["params"]["timeout_min"] == 90
        needed = sorted({job_of[h] for h in group.needs})
        depends = job["params"]["slurm_additional_parameters"]
        if needed:
            assert depends["dependency"] == "afterok:" + ":".join(needed)
            assert depends["kill-on-invalid-dep"] == "yes"
        else:
            assert depends == {}
        # a downstream job waits on its encoder's job and its teacher's, never on a later one
        assert all(int(n) < int(job["id"]) for n in needed)
    assert store.db[QUEUE].count_documents({"slurm_job": {"$exists": True}}) == len(groups)


def test_the_same_command_again_adopts_the_jobs_still_queued(recorded, tmp_path, monkeypatch):
    store, url = recorded
    plan = build_plan("progressive", get_profile("smoke"), [0], SuitePaths())
    submit(store, url, plan, {}, tmp_path, SlurmOptions(), tmp_path / "c", "cpu")
    first = {j["args"][1]: j["id"] for j in RecordingExecutor.jobs}
    import benchmark.slurm_jobs

    # all but one job are still in Slurm's queue: only that one group is submitted again
    gone = sorted(first)[0]
    monkeypatch.setattr(benchmark.slurm_jobs, "live_jobs", lambda ids: {first[k] for k in first if k != gone})
    RecordingExecutor.jobs = []
    submitted, adopted, _ = submit(store, url, plan, {}, tmp_path, SlurmOptions(), tmp_path / "c", "cpu")
    assert (submitted, adopted) == (1, len(first) - 1)
    assert [j["args"][1] for j in RecordingExecutor.jobs] == [gone]


def test_slurm_needs_a_store_its_jobs_can_reach(tmp_path):
    out = mike_bench("suite", "single", "--profile", "smoke", "--executor", "slurm", cwd=tmp_path)
    assert out.returncode == 2
    assert "--executor slurm needs a store its jobs can reach" in out.stderr


# ---- a real single-node Slurm (tox -e slurm) ----

slurm_only = pytest.mark.skipif(
    not REAL_SLURM, reason="needs the single-node Slurm of `tox -e slurm` (MIKE_BENCH_SLURM=1)"
)


def _runs(url):
    fields = {"status": 1, "meta": 1, "info": 1, "result": 1, "config.stage": 1}
    return list(pymongo.MongoClient(url)[DB_NAME].runs.find({}, fields))


@slurm_only
def test_three_smoke_on_slurm_completes_every_run_once_with_a_local_runs_results(tmp_path):
    """`three` has a run of every kind `single` has (datasets, teachers, a transfer, a baseline, downstream
    runs), at a fifth of its runs."""
    with embedded_server(tmp_path / "db") as url:
        started = time.time()
        out = mike_bench(
            "suite", "three", "--profile", "smoke", "--executor", "slurm", "--mongo-url", url, cwd=tmp_path
        )
        seconds = time.time() - started
        assert out.returncode == 0, out.stderr[-3000:]
        runs = _runs(url)
    print(f"three smoke on the single-node Slurm: {seconds:.0f} s")
    assert {r["status"] for r in runs} == {"COMPLETED"}
    assert {r["config"]["stage"] for r in runs} == {
        "dataset",
        "teacher",
        "transfer",
        "baseline",
        "downstream",
    }
    hashes = Counter(r["meta"]["config_hash"] for r in runs)
    assert len(hashes) == 22 + 11 + 1 + 1 + 22 and set(hashes.values()) == {1}
    assert all(r["info"].get("slurm", {}).get("job_id") for r in runs)
    assert_same_results(runs, local_results(tmp_path / "local", "three", "--profile", "smoke", cwd=tmp_path))


@slurm_only
def test_a_job_cancelled_mid_transfer_resumes_on_resubmission(tmp_path):
    suite = ["suite", "three", "--profile", "smoke", "--executor", "slurm"]
    longer = ["with", "transfer.steps=240", "transfer.checkpoint_every=10"]  # ≥ 230 steps after it
    with embedded_server(tmp_path / "db") as url:
        first = mike_bench(*suite, "--detach", "--mongo-url", url, *longer, cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        db = pymongo.MongoClient(url)[DB_NAME]

        def checkpointed():
            return db.runs.find_one(
                {"config.stage": "transfer", "status": "RUNNING", "info.checkpoint_step": {"$gte": 9}}
            )

        wait_for(lambda: checkpointed() is not None, 600, "a transfer run with a checkpoint")
        job = checkpointed()["info"]["slurm"]["job_id"]
        subprocess.run(["scancel", job], check=True)
        wait_for(
            lambda: (
                job not in subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
            ),
            120,
            "the cancelled job to leave the queue",
        )
        again = mike_bench(*suite, "--mongo-url", url, *longer, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        transfers = list(db.runs.find({"config.stage": "transfer"}))
        runs = _runs(url)
    done = [t for t in transfers if t["status"] == "COMPLETED"]
    assert len(done) == 1 and done[0]["info"].get("resumed_from"), [t["status"] for t in transfers]
    completed = Counter(r["meta"]["config_hash"] for r in runs if r["status"] == "COMPLETED")
    assert set(completed.values()) == {1} and len(completed) == 22 + 11 + 2 + 22  # no duplicates


def test_the_job_body_is_importable_by_reference():
    """submitit pickles the job function by module and name: it must live at module level."""
    assert run_queued_group.__module__ == "benchmark.slurm_jobs"
    assert sys.modules["benchmark.slurm_jobs"].run_queued_group is run_queued_group
    assert timeout_for(1) >= 1
