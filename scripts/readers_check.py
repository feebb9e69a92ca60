"""Sacred's own readers on a store the suites wrote (`tox -e smoke` runs it after `suite all`):
`mike-bench serve` serves the embedded store; Omniboard (pinned, from npm) is asked through its REST API
for the runs count, one run's name, log and metrics; incense (pinned, from PyPI) loads one artifact.

    python scripts/readers_check.py WORKDIR OMNIBOARD_BINARY
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pymongo
import torch

DB = "mike_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float = 120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            found = check()
            if found:
                return found
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"readers-check: FAILED: {what} within {timeout:.0f} s")


def get(url: str):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def check(condition: bool, what: str) -> None:
    print(f"readers-check: {'ok' if condition else 'FAILED'}: {what}", flush=True)
    if not condition:
        raise SystemExit(1)


def main(workdir: Path, omniboard: str) -> None:
    store_port, board_port = free_port(), free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "serve",
            "--workdir",
            str(workdir),
            "--port",
            str(store_port),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    board = None
    try:
        line = serve.stdout.readline()
        check(line.startswith("serving embedded:"), f"mike-bench serve says what it serves: {line.strip()}")
        url = f"mongodb://127.0.0.1:{store_port}/"
        db = pymongo.MongoClient(url)[DB]
        runs = db.runs.count_documents({})
        run = db.runs.find_one({"status": "COMPLETED", "config.stage": "transfer"})
        metric = db.metrics.find_one({"run_id": run["_id"], "name": "loss"})
        board = subprocess.Popen(
            [omniboard, "-m", f"127.0.0.1:{store_port}:{DB}", "-p", str(board_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PORT": str(board_port)},
        )
        api = f"http://127.0.0.1:{board_port}/sacred/api/v1"
        count = wait_for(lambda: get(f"{api}/Runs/count"), "Omniboard answering")["count"]
        check(count == runs, f"Omniboard counts {count} runs, the store holds {runs}")
        shown = get(f"{api}/Runs/{run['_id']}")
        check(
            shown["experiment"]["name"].startswith("transfer: "),
            f"a readable name: {shown['experiment']['name']}",
        )
        check(
            bool(shown["captured_out"].strip()), "a non-empty log: " + shown["captured_out"].splitlines()[0]
        )
        check(
            shown["experiment"]["repositories"][0]["commit"] != "unknown", "Experiment Details has the commit"
        )
        query = urllib.parse.quote(json.dumps({"run_id": run["_id"]}))
        metrics = get(f"{api}/Metrics?query={query}")
        loss = next(m for m in metrics if m["name"] == "loss")
        check(
            loss["values"] == metric["values"],
            f"Omniboard's metric 'loss' of run {run['_id']}: {len(loss['values'])} points",
        )
        everything = json.dumps(get(f"{api}/Runs?select=result,config,info&limit=100000"))
        check('"py/' not in everything, "no jsonpickle markers ('py/...') in any run Omniboard shows")

        import warnings

        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # via sacred, in incense
        from incense import ExperimentLoader

        experiment = ExperimentLoader(mongo_uri=url, db_name=DB).find_by_id(run["_id"])
        name = next(iter(experiment.artifacts))
        state = torch.load(io.BytesIO(experiment.artifacts[name].content), weights_only=True)
        check(isinstance(state, dict) and state, f"incense loads run {run['_id']}'s artifact {name}")
        check(len(experiment.metrics["loss"]) == len(metric["values"]), "incense reads the same metric")
    finally:
        for process in (board, serve):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):  # it may have exited already
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
