"""End to end: the real `mike-bench` CLI in subprocesses, against real MongoDB-protocol servers."""

import os
import re
import signal
import subprocess
import sys
import time

import pymongo
import pytest
from secantus import SecantusDBServer

from benchmark.store import DB_NAME
from tests.helpers import mike_bench, wait_for

SINGLE_RUNS = 22 + 11 + 11 + 11 + 22 * 11  # datasets, teachers, MIKE, baselines, downstream
THREE_RUNS = 22 + 11 + 1 + 1 + 22


def start(*args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    """A working folder in which `suite single --profile smoke` has run once, on the embedded server."""
    cwd = tmp_path_factory.mktemp("single")
    first = mike_bench("suite", "single", "--profile", "smoke", cwd=cwd)
    assert first.returncode == 0, first.stderr[-3000:]
    return cwd, first


def test_single_smoke_completes_every_run(smoke_store):
    cwd, first = smoke_store
    assert f"{SINGLE_RUNS} runs, {SINGLE_RUNS} trained, 0 reused" in first.stdout
    status = mike_bench("status", cwd=cwd)
    assert status.returncode == 0, status.stderr
    assert re.search(rf"single\s+{SINGLE_RUNS}/{SINGLE_RUNS}\s+COMPLETED\s+complete", status.stdout)
    assert "FAILED" not in status.stdout and "RUNNING" not in status.stdout
    assert re.search(r"smoke\s+downstream\s+COMPLETED\s+242", status.stdout)


def test_second_run_reuses_everything(smoke_store):
    cwd, _ = smoke_store
    again = mike_bench("suite", "single", "--profile", "smoke", cwd=cwd)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{SINGLE_RUNS} runs, 0 trained, {SINGLE_RUNS} reused" in again.stdout


def test_a_pool_runs_a_plan_with_a_single_run_left(smoke_store):
    cwd, _ = smoke_store  # `single` is done: of `progressive`, only the progressive transfer is left
    out = mike_bench("suite", "progressive", "--profile", "smoke", "--jobs", "2", cwd=cwd)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "5 runs, 1 trained, 4 reused" in out.stdout


@pytest.fixture
def mongo(tmp_path):
    with SecantusDBServer(storage_path=str(tmp_path / "db"), host="127.0.0.1", port=0) as server:
        yield server.uri


def test_sigkill_mid_training_then_resume_without_duplicates(tmp_path, mongo):
    args = (
        "suite",
        "progressive",
        "--profile",
        "smoke",
        "--mongo-url",
        mongo,
        "with",
        "transfer.steps=100",  # ≥ 95 steps still to run after the first checkpoint
        "transfer.checkpoint_every=5",
    )
    runs = pymongo.MongoClient(mongo)[DB_NAME].runs
    proc = start(*args, cwd=tmp_path)
    try:

        def transfer_checkpointed():
            doc = runs.find_one({"config.stage": "transfer", "status": "RUNNING"}, {"artifacts": 1})
            return doc is not None and any(a["name"] == "checkpoint.pt" for a in doc.get("artifacts", []))

        wait_for(transfer_checkpointed, 300, "a checkpoint of the first transfer run")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {d["_id"]: d["meta"]["config_hash"] for d in runs.find({"status": "COMPLETED"}, {"meta": 1})}
    killed = runs.find_one({"status": "RUNNING"})
    assert before and killed is not None  # the teacher was done; the transfer died mid-run

    again = mike_bench(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    completed = list(runs.find({"status": "COMPLETED"}, {"meta": 1, "info": 1}))
    hashes = [d["meta"]["config_hash"] for d in completed]
    assert len(hashes) == len(set(hashes))  # no config has two COMPLETED runs
    assert all(runs.find_one({"_id": i})["status"] == "COMPLETED" for i in before)  # none lost
    resumed = [d for d in completed if d["info"].get("resumed_from") == str(killed["_id"])]
    assert len(resumed) == 1 and resumed[0]["meta"]["config_hash"] == killed["meta"]["config_hash"]
    db = pymongo.MongoClient(mongo)[DB_NAME]
    curve = db.metrics.find_one({"run_id": resumed[0]["_id"], "name": "loss"})
    assert curve["steps"] == list(range(100))  # the whole curve, not only the steps after the checkpoint
    dead = runs.find_one({"_id": killed["_id"]})
    assert dead["status"] == "FAILED" and "ended without ending this run" in dead["fail_trace"][0]
    assert not any(a["name"] == "checkpoint.pt" for a in dead.get("artifacts", []))  # pruned: run COMPLETED
    assert not any(a["name"] == "checkpoint.pt" for d in runs.find() for a in d.get("artifacts", []))
    assert db["fs.files"].count_documents({}) == sum(len(d.get("artifacts", [])) for d in runs.find())

    # the killed attempt's metrics (if Sacred flushed any before the kill) are a copy now: gc reclaims them
    copies = 1 if db.metrics.count_documents({"run_id": killed["_id"]}) else 0
    status = mike_bench("status", "--mongo-url", mongo, cwd=tmp_path)
    stale = f"stale: 0 dead attempts still marked RUNNING, {copies} superseded attempts whose metrics"
    assert (stale in status.stdout) == bool(copies), status.stdout
    gc = mike_bench("gc", "--mongo-url", mongo, cwd=tmp_path)
    assert gc.returncode == 0, gc.stderr[-2000:]
    assert re.search(
        rf"deleted 0 checkpoints \(0.0 MiB\) and \d+ metric series of {copies} superseded attempts", gc.stdout
    ), gc.stdout
    assert db.metrics.count_documents({"run_id": killed["_id"]}) == 0
    assert db.metrics.find_one({"run_id": resumed[0]["_id"], "name": "loss"})["steps"] == list(range(100))
    assert runs.count_documents({"status": "COMPLETED"}) == len(completed)  # every result kept
    assert "stale:" not in mike_bench("status", "--mongo-url", mongo, cwd=tmp_path).stdout


def test_sigkill_with_embedded_server_then_finish(tmp_path):
    """Killed after its fifth run (read from its progress lines, not timed), it keeps what it stored."""
    log = tmp_path / "suite.log"
    with open(log, "w") as progress:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmark.cli", "suite", "three", "--profile", "smoke"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=progress,
            start_new_session=True,
        )

    def done() -> int:
        counts = re.findall(rf"^\[(\d+)/{THREE_RUNS}\] trained", log.read_text(), re.M)
        return int(counts[-1]) if counts else 0

    wait_for(lambda: done() >= 5, 300, "the suite's fifth run")
    busy = mike_bench("status", cwd=tmp_path)  # the embedded store is locked by the running suite
    assert busy.returncode == 2
    # one line naming the holder (pid and command line) and what to do
    assert busy.stderr.strip().splitlines() == [
        f"mike-bench: error: the embedded database {os.path.join('.mike-bench', 'db')} is in use by pid "
        f"{proc.pid} (mike-bench suite three --profile smoke); wait for it, or serve it to every command "
        "at once with `mike-bench serve --workdir .mike-bench`"
    ]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done() < THREE_RUNS, "the suite ended before it was killed"
    again = mike_bench("suite", "three", "--profile", "smoke", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    match = re.search(r"(\d+) runs, (\d+) trained, (\d+) reused", again.stdout)
    assert match and int(match[1]) == THREE_RUNS and int(match[3]) >= 5  # the COMPLETED runs were kept
    status = mike_bench("status", cwd=tmp_path)
    assert re.search(rf"three\s+{THREE_RUNS}/{THREE_RUNS}\s+COMPLETED", status.stdout), status.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["with", "teacher.stepz=3"], "unknown config key 'teacher.stepz'"),
        (["with", "teacher.steps='many'"], "teacher.steps: expected int"),
        (["teacher.steps=3"], "overrides go after 'with'"),
    ],
)
def test_bad_overrides_are_refused_before_anything_runs(tmp_path, overrides, message):
    result = mike_bench("suite", "single", "--profile", "smoke", *overrides, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / ".mike-bench").exists()  # nothing started, nothing written


def test_unreachable_mongo_url_is_a_quick_clear_error(tmp_path):
    started = time.time()
    url = "mongodb://alice:s3cret@127.0.0.1:1/"
    result = mike_bench("suite", "single", "--profile", "smoke", cwd=tmp_path, env={"MONGO_URL": url})
    assert result.returncode == 2
    # the command's first line (what it is about to do, printed before torch loads), then the error
    banner, error = result.stderr.strip().splitlines()
    assert banner.startswith("mike-bench: suite single, profile smoke, 297 runs")
    assert "MongoDB not reachable at mongodb://***@127.0.0.1:1/" in error, result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert time.time() - started < 60


def _results(workdir):
    from benchmark.store import connect, embedded_server

    with embedded_server(workdir / "db") as url:
        runs = connect(url)[DB_NAME].runs
        return {d["meta"]["config_hash"]: d["result"] for d in runs.find({"status": "COMPLETED"})}


def test_a_pool_of_workers_gives_the_results_of_one_process(tmp_path):
    """Two single-threaded workers (downstream runs grouped per encoder) against one two-threaded process:
    the same runs, the same results up to float rounding."""
    for jobs in ("1", "2"):
        out = mike_bench(
            "suite",
            "three",
            "--profile",
            "smoke",
            "--jobs",
            jobs,
            "--workdir",
            str(tmp_path / jobs),
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert "bookkeeping (Sacred, MongoDB, artifacts):" in out.stdout
        # The embedded store is named by its folder (its port changes with every command), here and in runs.
        store = f"embedded:{(tmp_path / jobs / 'db').resolve()}"
        assert f"store {store};" in out.stdout + out.stderr
    one, two = _results(tmp_path / "1"), _results(tmp_path / "2")
    assert set(one) == set(two) and len(one) == 22 + 11 + 2 + 22
    for key, result in one.items():
        assert result.keys() == two[key].keys()
        for name, value in result.items():
            if isinstance(value, float):
                assert two[key][name] == pytest.approx(value, rel=1e-4, abs=1e-5), (key, name)
            elif name != "coco_root":  # where each store's cache put the synthetic COCO
                assert two[key][name] == value


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "0"], "--jobs must be at least 1, got 0"),
        (["--device", "cuda:0"], "no CUDA GPU is visible to torch"),
        (["--device", "tpu"], "--device 'tpu': use cpu, cuda or cuda:N"),
    ],
)
def test_bad_execution_options_are_one_line_errors(tmp_path, args, message):
    import torch

    if "cuda" in args[-1] and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = mike_bench("suite", "progressive", "--profile", "smoke", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr
