"""Faults met by the real CLI: SIGTERM mid-run, a damaged artifact of a COMPLETED run."""

import os
import re
import signal
import subprocess
import sys

import gridfs
import pymongo
import pytest
from secantus import SecantusDBServer

from benchmark.store import DB_NAME
from tests.helpers import mike_bench, wait_for

# Long enough that a checkpointed transfer is still running when the signal comes (≥ 95 steps after the
# first checkpoint), short enough for CI: a smoke transfer step is 0.05–0.27 s on 2 cores.
LONG_TRANSFER = ("with", "transfer.steps=100", "transfer.checkpoint_every=5")


@pytest.fixture
def mongo(tmp_path):
    with SecantusDBServer(storage_path=str(tmp_path / "db"), host="127.0.0.1", port=0) as server:
        yield server.uri


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_stores_the_run_interrupted_and_the_next_command_resumes_it(tmp_path, mongo, jobs):
    args = (
        "suite",
        "progressive",
        "--profile",
        "smoke",
        "--jobs",
        jobs,
        "--mongo-url",
        mongo,
        *LONG_TRANSFER,
    )
    runs = pymongo.MongoClient(mongo)[DB_NAME].runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    interrupted = {}

    def checkpointed():
        doc = runs.find_one({"config.stage": "transfer", "status": "RUNNING"}, {"artifacts": 1})
        if doc is not None and any(a["name"] == "checkpoint.pt" for a in doc.get("artifacts", [])):
            interrupted["_id"] = doc["_id"]
        return bool(interrupted)

    try:
        wait_for(checkpointed, 300, "a checkpoint of a transfer run")
        proc.send_signal(signal.SIGTERM)  # to the command only, as `kill` or `docker stop` sends it
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "mike-bench: interrupted; run the same command again to continue"
    assert "Traceback" not in err
    assert runs.count_documents({"status": "RUNNING"}) == 0  # no attempt left looking alive
    stopped = runs.find_one({"_id": interrupted["_id"]})
    assert stopped["status"] == "INTERRUPTED"
    assert any(a["name"] == "checkpoint.pt" for a in stopped["artifacts"])

    again = mike_bench(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = runs.find_one({"status": "COMPLETED", "info.resumed_from": str(interrupted["_id"])})
    assert resumed is not None and resumed["meta"]["config_hash"] == stopped["meta"]["config_hash"]


def _teacher_model(db):
    teacher = db.runs.find_one({"config.stage": "teacher", "status": "COMPLETED"})
    (artifact,) = [a for a in teacher["artifacts"] if a["name"] == "model.pt"]
    return teacher, artifact["file_id"]


@pytest.mark.parametrize("damage", ["replaced chunk", "missing chunk"])
def test_a_damaged_artifact_is_not_reused_but_trained_again(tmp_path, mongo, damage):
    args = ("suite", "progressive", "--profile", "smoke", "--jobs", "1", "--mongo-url", mongo)
    first = mike_bench(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    db = pymongo.MongoClient(mongo)[DB_NAME]
    teacher, file_id = _teacher_model(db)
    chunk = db["fs.chunks"].find_one({"files_id": file_id, "n": 0})
    if damage == "replaced chunk":
        data = bytearray(chunk["data"])
        data[len(data) // 2] ^= 0xFF
        db["fs.chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": bytes(data)}})
        reason = "artifact model.pt does not match the digest recorded when it was written"
    else:
        db["fs.chunks"].delete_one({"_id": chunk["_id"]})
        reason = "artifact model.pt is unreadable (CorruptGridFile)"

    # new transfers (another length) load the teacher: its damaged model is found, and it is trained again
    longer = (*args, "with", "transfer.steps=5")
    again = mike_bench(*longer, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"run {teacher['_id']} (teacher BTS seed 0): {reason}; it will be trained again" in again.stderr
    assert re.search(r"5 runs, 3 trained, 2 reused", again.stdout), again.stdout
    kept = db.runs.find_one({"_id": teacher["_id"]})
    assert kept["status"] == "FAILED" and kept["result"] == teacher["result"]  # kept, with the reason
    assert reason in kept["fail_trace"][0]
    retrained, new_id = _teacher_model(db)
    assert retrained["result"] == teacher["result"]  # the same seed trains the same teacher
    assert gridfs.GridFS(db).get(new_id).read() != b"" and new_id != file_id
    third = mike_bench(*longer, cwd=tmp_path)
    assert "5 runs, 0 trained, 5 reused" in third.stdout and "trained again" not in third.stderr
    # an artifact nobody will load is not read: the first suite again reuses everything, unchecked
    db["fs.chunks"].delete_many({"files_id": new_id})
    fourth = mike_bench(*args, cwd=tmp_path)
    assert "5 runs, 0 trained, 5 reused" in fourth.stdout and "trained again" not in fourth.stderr


def test_a_run_reported_trained_survives_an_immediate_sigkill(tmp_path):
    """Journaled writes: what the command said is stored is on disk, even if it dies the next instant."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "suite", "single", "--profile", "smoke", "--jobs", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    trained = []
    try:
        for line in proc.stderr:
            match = re.match(r"\[\d+/\d+\] trained (.+) in [\d.]+s", line)
            if match:
                trained.append(match[1])
                if len(trained) == 40:  # mid-suite, the instant the line appears
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(trained) == 40
    from benchmark.store import connect, embedded_server

    with embedded_server(tmp_path / ".mike-bench" / "db") as url:
        runs = connect(url)[DB_NAME].runs
        stored = {d["info"]["label"] for d in runs.find({"status": "COMPLETED"}, {"info.label": 1})}
    assert set(trained) <= stored, sorted(set(trained) - stored)
