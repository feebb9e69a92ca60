"""`mike-bench serve`: the embedded store on 127.0.0.1 for Omniboard, incense or a notebook; meanwhile
every command on that workdir uses it instead of failing on the lock."""

import json
import signal
import socket
import subprocess
import sys

import pymongo

from benchmark.store import DB_NAME
from tests.helpers import mike_bench, timeout_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_shares_the_embedded_store_with_every_command(tmp_path):
    port, work = _free_port(), tmp_path / "work"
    serve = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "serve", "--workdir", str(work), "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = serve.stdout.readline()
        url = f"mongodb://127.0.0.1:{port}/"
        assert (
            first.strip()
            == f"serving embedded:{(work / 'db').resolve()} at {url} (database {DB_NAME}) until Ctrl-C"
        )
        assert json.loads((work / "server.json").read_text())["shared"] is True
        suite = mike_bench("suite", "progressive", "--profile", "smoke", "--workdir", str(work), cwd=tmp_path)
        assert suite.returncode == 0, suite.stderr[-2000:]
        assert f"using the store served by pid {serve.pid} at {url}" in suite.stderr
        # a reader sees the runs while it serves
        runs = pymongo.MongoClient(url)[DB_NAME].runs
        assert runs.count_documents({"status": "COMPLETED"}) > 0
        again = mike_bench("serve", "--workdir", str(work), "--port", str(_free_port()), cwd=tmp_path)
        assert again.returncode == 2 and "is already served at" in again.stderr
    finally:
        serve.send_signal(signal.SIGTERM)  # as Ctrl-C
        serve.wait(timeout=timeout_for(60))
    assert serve.returncode == 0 and "stopped serving" in serve.stderr.read()
    assert not (work / "server.json").exists()
    status = mike_bench("status", "--workdir", str(work), cwd=tmp_path)  # its own server again
    assert status.returncode == 0 and "using the store served" not in status.stderr
    assert "progressive" in status.stdout


def test_serve_on_a_taken_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mike_bench("serve", "--workdir", str(tmp_path / "w"), "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("mike-bench: error: ")


def test_serve_refuses_a_mongo_url(tmp_path):
    result = mike_bench("serve", "--mongo-url", "mongodb://127.0.0.1:1/", cwd=tmp_path)
    assert result.returncode == 2 and "serve serves the embedded store of --workdir" in result.stderr


def test_serve_listens_elsewhere_only_with_a_login(tmp_path):
    refused = mike_bench("serve", "--workdir", str(tmp_path / "w"), "--listen", "0.0.0.0", cwd=tmp_path)
    assert refused.returncode == 2
    assert "serve --listen 0.0.0.0 needs MONGO_USER and MONGO_PASSWORD" in refused.stderr
    port, work = _free_port(), tmp_path / "work"
    login = {"MONGO_USER": "mike", "MONGO_PASSWORD": "p@ss/w:rd"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "serve", "--workdir", str(work), "--port", str(port)]
        + ["--listen", "0.0.0.0"],
        cwd=tmp_path,
        env={**__import__("os").environ, **login},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = serve.stdout.readline()
        assert "serving embedded:" in first and "p@ss" not in first and "***@127.0.0.1" in first
        anonymous = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=3000)
        try:
            anonymous[DB_NAME].runs.find_one()
            raise AssertionError("an anonymous client read the served store")
        except pymongo.errors.OperationFailure as exc:
            assert "authentication" in str(exc)
        logged_in = pymongo.MongoClient(
            f"mongodb://mike:p%40ss%2Fw%3Ard@127.0.0.1:{port}/?authSource=admin",
            serverSelectionTimeoutMS=3000,
        )
        logged_in[DB_NAME].probe.insert_one({"x": 1})
        # this machine's commands find the login in the holder record (readable by its owner only)
        assert (work / "server.json").stat().st_mode & 0o077 == 0
        status = mike_bench("status", "--workdir", str(work), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert (
            "using the store served by pid" in status.stderr and "p@ss" not in status.stderr + status.stdout
        )
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=timeout_for(60))
    assert "WARNING: serving on 0.0.0.0" in serve.stderr.read()
