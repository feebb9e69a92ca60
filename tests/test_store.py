"""Run-store helpers: credential redaction and recognising runs whose process died."""

import datetime as dt
import os
import socket
import subprocess
import sys

from benchmark.store import STALE_AFTER, RunStore, redact


def test_redact_hides_credentials_only():
    assert redact("mongodb://alice:s3cret@db.example:27017/x?authSource=admin") == (
        "mongodb://***@db.example:27017/x?authSource=admin"
    )
    assert redact("mongodb+srv://bob@cluster0/") == "mongodb+srv://***@cluster0/"
    assert redact("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_runs():
    store = RunStore(client=None, url="")
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    here = socket.gethostname()
    fresh = now - dt.timedelta(seconds=5)
    alive = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": here, "pid": os.getpid()}}
    assert not store.is_stale(alive, now)
    dead = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": here, "pid": dead_pid()}}
    assert store.is_stale(dead, now)  # its process is gone, however fresh the heartbeat
    elsewhere = {"status": "RUNNING", "heartbeat": fresh, "meta": {"hostname": "other-host", "pid": 1}}
    assert not store.is_stale(elsewhere, now)
    silent = {**elsewhere, "heartbeat": now - STALE_AFTER - dt.timedelta(seconds=1)}
    assert store.is_stale(silent, now)
    assert not store.is_stale({**silent, "status": "COMPLETED"}, now)
