"""Run-store helpers: credential redaction and recognising runs whose process died."""

import datetime as dt
import os
import socket
import subprocess
import sys

import pymongo
import pytest

from benchmark.store import (
    LATE_BEAT,
    STALE_AFTER,
    RunStore,
    connect,
    embedded_server,
    process_identity,
    redact,
    with_credentials,
)


def test_redact_hides_credentials_only():
    assert redact("mongodb://alice:s3cret@db.example:27017/x?authSource=admin") == (
        "mongodb://***@db.example:27017/x?authSource=admin"
    )
    assert redact("mongodb+srv://bob@cluster0/") == "mongodb+srv://***@cluster0/"
    assert redact("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"


def test_credentials_from_the_environment_are_escaped_into_the_url():
    """docker compose hands MONGO_USER / MONGO_PASSWORD over apart; a password with @ : / must survive."""
    url = with_credentials("mongodb://mongo:27017/?authSource=admin", "mi:ke", "p@ss/w:rd%")
    parsed = pymongo.uri_parser.parse_uri(url)
    assert (parsed["username"], parsed["password"]) == ("mi:ke", "p@ss/w:rd%")
    assert redact(url) == "mongodb://***@mongo:27017/?authSource=admin"
    # A URL that carries its own credentials, or no user given: left as it is.
    assert with_credentials("mongodb://a:b@h/", "x", "y") == "mongodb://a:b@h/"
    assert with_credentials("mongodb://h/", None, "y") == "mongodb://h/"


def test_the_embedded_server_refuses_test_commands(tmp_path):
    with embedded_server(tmp_path / "db") as url:
        client = connect(url)
        with pytest.raises(pymongo.errors.OperationFailure):
            client.admin.command("configureFailPoint", "failCommand", mode="off")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_runs():
    store = RunStore(client=None, url="")
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    here = socket.gethostname()
    fresh, late = now - dt.timedelta(seconds=5), now - STALE_AFTER - dt.timedelta(seconds=60)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        pid = other.pid
        alive = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": here, "pid": pid}}
        alive["meta"]["process"] = process_identity(pid)
        assert alive["meta"]["process"] is not None
        assert not store.is_stale(alive, now)
        assert not store.is_stale({**alive, "heartbeat": late}, now)  # a live process beats a late heartbeat
        reused = {**alive, "meta": {**alive["meta"], "process": "another-boot:123"}}
        assert store.is_stale(reused, now)  # the pid now belongs to another process
        unrecorded = {**alive, "meta": {"hostname": here, "pid": pid}}
        assert not store.is_stale(unrecorded, now)
        assert store.is_stale({**unrecorded, "heartbeat": now - LATE_BEAT - dt.timedelta(seconds=1)}, now)
        other.kill()
    with subprocess.Popen(["sleep", "30"]) as stranger:  # a live pid that is not a Python process
        assert store.is_stale({**alive, "meta": {"hostname": here, "pid": stranger.pid}}, now)
        stranger.kill()
    mine = {**alive, "meta": {"hostname": here, "pid": os.getpid(), "process": process_identity(os.getpid())}}
    assert store.is_stale(mine, now)  # this process is not running it: it would know
    dead = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": here, "pid": dead_pid()}}
    assert store.is_stale(dead, now)  # its process is gone, however fresh the heartbeat
    elsewhere = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": "other-host", "pid": 1}}
    assert not store.is_stale(elsewhere, now)
    silent = {**elsewhere, "heartbeat": now - STALE_AFTER - dt.timedelta(seconds=1)}
    assert store.is_stale(silent, now)
    assert not store.is_stale({**silent, "status": "COMPLETED"}, now)


def test_a_clone_url_token_never_reaches_a_stored_run():
    """experiment.repositories[0].url comes from `git remote`; CI clones carry a token in it."""
    from benchmark.runs import _without_credentials

    assert _without_credentials("https://gitlab-ci-token:s3cret@gitlab.example/x/y.git") == (
        "https://gitlab.example/x/y.git"
    )
    assert _without_credentials("git@github.com:x/y.git") == "git@github.com:x/y.git"
