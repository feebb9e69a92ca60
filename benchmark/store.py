"""The run store: any MongoDB (MONGO_URL), or an embedded MongoDB-protocol server (SecantusDB).

Sacred's MongoObserver writes runs to `runs`, metrics to `metrics` and artifacts to GridFS (`fs`); this
module reads them back for reuse, resumption and status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import gridfs
import pymongo
from pymongo.errors import PyMongoError

from mike.errors import UserError

DB_NAME = "mike_bench"
COUNTERS = "mike_bench_counters"  # {_id: name, next: the last number handed out}; "runs": Sacred run ids
LATE_BEAT = dt.timedelta(minutes=10)  # a run without a process record: a live pid beats this, no longer
STALE_AFTER = dt.timedelta(seconds=60)  # Sacred beats every 10 s; a RUNNING run this quiet is dead
PING_TIMEOUT_S = 3.0  # the first answer; an unreachable URL is an error within seconds, not a hang
# user:password up to the last '@' before any options: a password with an unescaped '@' or '/' is hidden whole
_CREDENTIALS = re.compile(r"(?<=://)[^?]*@")
_STORE_MARK = "WiredTiger.turtle"  # WiredTiger's metadata file: without it a store folder cannot be read


class StoreError(UserError):
    """The run store cannot be reached or used; the message says which and where (credentials hidden)."""


def redact(url: str) -> str:
    """The URL with any user:password removed, for logs, run documents and reports."""
    return _CREDENTIALS.sub("***@", url)


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """The URL with MONGO_USER / MONGO_PASSWORD put in, percent-escaped: a password holding '@', ':' or
    '/' cannot be written into a URL as it is (docker compose hands them over separately for that)."""
    if not user or _CREDENTIALS.search(url) or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    secret = f"{quote(user, safe='')}:{quote(password or '', safe='')}"
    return f"{scheme}://{secret}@{rest}"


def _check_credentials(url: str) -> None:
    """pymongo would read such a password as a host name and echo a piece of it in its error."""
    found = _CREDENTIALS.search(url)
    if found and any(c in found.group(0)[:-1] for c in "@/"):
        raise StoreError(
            f"MongoDB URL {redact(url)}: the user or password holds an unescaped '@' or '/'; "
            "percent-escape them (@ as %40, / as %2F)"
        )


def connect(url: str, timeout_s: float = 5.0) -> pymongo.MongoClient:
    """A client that answered a ping within PING_TIMEOUT_S, or a StoreError naming the (redacted) URL.

    Writes are journaled (j: true): an acknowledged run, metric or artifact is on disk, not only in memory.
    timeout_s bounds each later operation's wait for the server.
    """
    _check_credentials(url)
    try:
        client = pymongo.MongoClient(
            url,
            serverSelectionTimeoutMS=int(timeout_s * 1000),
            connectTimeoutMS=int(timeout_s * 1000),
            journal=True,
        )
        with pymongo.timeout(PING_TIMEOUT_S):
            client.admin.command("ping")
    except (PyMongoError, ValueError) as exc:
        reason = str(exc).split(" (configured timeouts")[0].split(",")[0].split("\n")[0][:160]
        raise StoreError(f"MongoDB not reachable at {redact(url)}: {reason}") from None
    return client


def store_is_empty(data_dir: Path) -> bool:
    """No embedded store in data_dir yet: nothing to read there, and nothing to create just to look."""
    return not data_dir.exists() or (data_dir.is_dir() and not any(data_dir.iterdir()))


def _check_store_folder(data_dir: Path) -> None:
    """Refuse a folder that holds something other than a whole store: opened, it would start a new, empty
    store beside the remains of the old one, and every run would train again."""
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreError(f"the embedded database {data_dir} is a file, not a folder")
    if not store_is_empty(data_dir) and not (data_dir / _STORE_MARK).exists():
        raise StoreError(
            f"the embedded database folder {data_dir} holds files but no {_STORE_MARK}: it does not look "
            "like a complete mike-bench store; restore it whole, or use another --workdir"
        )


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence writes to file descriptor 2 (C libraries too) for the duration of the block."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def embedded_name(data_dir: Path) -> str:
    """The embedded store by its folder: its port changes with every command, the folder does not."""
    return f"embedded:{data_dir.resolve()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_login(data_dir: Path, user: str, password: str) -> None:
    """Create (or reset) the store's one login, a root user, on a private 127.0.0.1 start of the server:
    SecantusDB creates users on a server without authentication, then is restarted with it."""
    from secantus import SecantusDBServer

    server = SecantusDBServer(
        storage_path=str(data_dir), host="127.0.0.1", port=_free_port(), enable_test_commands=False
    )
    server.start()
    try:
        admin = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=5000).admin
        exists = admin.command("usersInfo", user).get("users")
        admin.command("updateUser" if exists else "createUser", user, pwd=password, roles=["root"])
    finally:
        server.stop()


@contextlib.contextmanager
def embedded_server(
    data_dir: Path,
    held_by: str | None = None,
    port: int | None = None,
    listen: str = "127.0.0.1",
    login: tuple[str, str] | None = None,
) -> Iterator[str]:
    """Start SecantusDB on 127.0.0.1 (port, else a free one) with its data in data_dir; yield its URL; stop
    on exit. held_by: the process known to hold the store, named when it is busy. listen: another address
    (only `serve --listen`), which needs a login (user, password): the server then requires it, and the
    URL yielded carries it (for this machine's commands, through the holder record)."""
    from secantus import SecantusDBServer  # imported only when the embedded server is used

    if listen != "127.0.0.1" and login is None:
        raise StoreError(f"listening on {listen} needs a login: set MONGO_USER and MONGO_PASSWORD")
    _check_store_folder(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the embedded database folder {data_dir}: {exc.strerror}") from None
    try:
        with _quiet_stderr():  # WiredTiger writes its own lines to fd 2 when the store is locked
            if login:
                _set_login(data_dir, *login)
            server = SecantusDBServer(
                storage_path=str(data_dir),
                host=listen,
                port=port or _free_port(),
                enable_test_commands=False,  # configureFailPoint & co. are for SecantusDB's own tests
                require_auth=login is not None,
            )
            server.start()
    except Exception as exc:
        if "busy" in str(exc).lower() or "lock" in str(exc).lower():
            workdir = data_dir.parent
            raise StoreError(
                f"the embedded database {data_dir} is in use by {held_by or 'another process'}; wait for "
                f"it, or serve it to every command at once with `mike-bench serve --workdir {workdir}`"
            ) from None
        if port and ("address" in str(exc).lower() or "in use" in str(exc).lower()):
            raise StoreError(f"port {port} on {listen} is taken; choose another with --port") from None
        raise StoreError(f"embedded MongoDB server could not start on {data_dir}: {exc}") from None
    try:
        if login:
            user, password = (quote(part, safe="") for part in login)
            yield f"mongodb://{user}:{password}@127.0.0.1:{server.port}/?authSource=admin"
        else:
            yield server.uri
    finally:
        server.stop()


@dataclass
class RunStore:
    """Queries over Sacred's collections."""

    client: pymongo.MongoClient
    url: str  # what names the store in runs and reports: a redacted URL, or embedded:<folder>

    @property
    def db(self):
        return self.client[DB_NAME]

    @property
    def fs(self) -> gridfs.GridFS:
        return gridfs.GridFS(self.db)

    def ensure_indexes(self) -> None:
        """Indexes for the lookups every run makes: by config hash (runs) and Sacred's metric upserts (run_id,
        name). Without them each lookup scans the collection: ~30 ms at 300 runs, growing with the store."""
        self.db.runs.create_index("meta.config_hash")
        self.db.metrics.create_index([("run_id", 1), ("name", 1)])

    def next_number(self, name: str) -> int:
        """1, 2, 3, ... per name, atomically across processes and machines (the store's counters)."""
        counter = self.db[COUNTERS].find_one_and_update(
            {"_id": name}, {"$inc": {"next": 1}}, upsert=True, return_document=pymongo.ReturnDocument.AFTER
        )
        return counter["next"]

    def completed(self, config_hash: str) -> dict | None:
        return self.db.runs.find_one(
            {"meta.config_hash": config_hash, "status": "COMPLETED"}, sort=[("_id", 1)]
        )

    def unfinished(self, config_hash: str) -> list[dict]:
        """Earlier attempts at this config that did not complete, newest first."""
        return list(
            self.db.runs.find(
                {"meta.config_hash": config_hash, "status": {"$ne": "COMPLETED"}},
                {"artifacts": 1, "status": 1, "heartbeat": 1, "meta": 1},
            ).sort("_id", -1)
        )

    def artifact(self, run: dict, name: str) -> bytes | None:
        """The newest artifact of that name in the run (checkpoints are added again and again)."""
        matches = [a for a in run.get("artifacts", []) if a["name"] == name]
        return self.fs.get(matches[-1]["file_id"]).read() if matches else None

    def completed_hashes(self) -> set[str]:
        return set(self.db.runs.distinct("meta.config_hash", {"status": "COMPLETED"}))

    def is_stale(self, run: dict, now: dt.datetime | None = None) -> bool:
        """A RUNNING run whose process is gone. On its own host the process answers for itself: the same
        process (pid, boot and start time: a reused pid is another process) is alive, and a late heartbeat
        does not make it dead (a busy process can miss beats); without that record, a Python process with
        that pid and a heartbeat less than LATE_BEAT old. Elsewhere: a heartbeat silent for STALE_AFTER."""
        if run.get("status") != "RUNNING":
            return False
        meta = run.get("meta", {})
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        beat = run.get("heartbeat")
        if meta.get("hostname") == socket.gethostname() and meta.get("pid"):
            if meta["pid"] == os.getpid():
                return True  # this process runs one run at a time, and it is not running that one
            if meta.get("process"):
                return process_identity(meta["pid"]) != meta["process"]
            return not _alive(meta["pid"]) or beat is None or now - beat > LATE_BEAT
        return beat is None or now - beat > STALE_AFTER

    def metrics_of(self, run_id) -> dict[str, list[tuple[int, float]]]:
        """A run's stored metrics: (step, value) per name."""
        return {
            m["name"]: list(zip(m["steps"], m["values"], strict=True))
            for m in self.db.metrics.find({"run_id": run_id}, {"name": 1, "steps": 1, "values": 1})
        }


def process_identity(pid: int) -> str | None:
    """Which process holds this pid: the boot and the process's start time (ticks since boot), which a
    reused pid does not share; None when the pid is not running (or there is no /proc)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 22 (starttime), counted after the command name, which may itself hold spaces and parentheses
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


def _alive(pid: int) -> bool:
    """The pid is a live Python process (a pid reused by another program does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc (macOS) or a process that just ended
        return True
    return b"python" in cmdline or b"mike-bench" in cmdline
