"""Who holds an embedded store. The command that starts its server says so in <workdir>/server.json
(url, pid, process identity, its command line); `mike-bench serve` marks it shared, and every other command
on that workdir then connects to it instead of starting its own. A holder that is not shared is named in
the error a second command gets, with what to do."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmark.store import DB_NAME, embedded_name, embedded_server, process_identity, redact
from mike.errors import UserError

SERVER_FILE = "server.json"


@contextlib.contextmanager
def holding(workdir: Path, url: str, shared: bool) -> Iterator[None]:
    """Record this process as the store's holder while the block runs."""
    path = workdir / SERVER_FILE
    record = {
        "url": url,
        "pid": os.getpid(),
        "process": process_identity(os.getpid()),
        "command": " ".join(["mike-bench", *sys.argv[1:]]),
        "shared": shared,
    }
    scratch = path.with_suffix(".tmp")
    scratch.touch(mode=0o600)  # the URL carries the login when `serve --listen` set one
    scratch.chmod(0o600)
    scratch.write_text(json.dumps(record))
    scratch.replace(path)  # atomically: a reader sees the old record or the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


def holder(workdir: Path) -> dict | None:
    """The live process recorded as holding the store, or None (no record, or its process is gone)."""
    try:
        record = json.loads((workdir / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not record.get("pid"):
        return None
    alive = process_identity(int(record["pid"]))
    return record if alive is not None and alive == record.get("process") else None


@contextlib.contextmanager
def embedded_store(
    workdir: Path,
    served: dict | None,
    shared: bool,
    port: int | None = None,
    listen: str = "127.0.0.1",
    login: tuple[str, str] | None = None,
) -> Iterator[str]:
    """Start the workdir's embedded server and record this process as its holder; yield its URL. A store
    held elsewhere is refused naming the holder (served: holder(workdir), looked up by the caller)."""
    held_by = f"pid {served['pid']} ({served['command']})" if served else None
    with (
        embedded_server(workdir / "db", held_by, port=port, listen=listen, login=login) as url,
        holding(workdir, url, shared=shared),
    ):
        yield url


def serve(workdir: Path, port: int, listen: str = "127.0.0.1") -> int:
    """`mike-bench serve`: the embedded store on 127.0.0.1:port until Ctrl-C (or SIGTERM), shared. With
    listen (another address, asked for explicitly): to other machines too, with a login required."""
    served = holder(workdir)
    if served and served.get("shared"):
        raise UserError(f"{workdir} is already served at {redact(served['url'])} by pid {served['pid']}")
    login = None
    if listen != "127.0.0.1":
        user, password = os.environ.get("MONGO_USER"), os.environ.get("MONGO_PASSWORD")
        if not user or not password:
            raise UserError(
                f"serve --listen {listen} needs MONGO_USER and MONGO_PASSWORD: every machine that reaches "
                f"{listen} could otherwise read and delete the runs"
            )
        login = (user, password)
    with embedded_store(workdir, served, shared=True, port=port, listen=listen, login=login) as url:
        if login:
            print(
                f"mike-bench: WARNING: serving on {listen}:{port} to every machine that reaches it; login "
                f"required (user {login[0]}), no TLS: keep it inside a trusted network\n"
                f"  workers elsewhere: mike-bench worker --mongo-url "
                f"'mongodb://<this host>:{port}/?authSource=admin' with MONGO_USER and MONGO_PASSWORD set",
                file=sys.stderr,
                flush=True,
            )
        url = redact(url)
        print(
            f"serving {embedded_name(workdir / 'db')} at {url} (database {DB_NAME}) until Ctrl-C\n"
            f"  every mike-bench command with --workdir {workdir} uses it meanwhile\n"
            f"  omniboard -m 127.0.0.1:{port}:{DB_NAME}\n"
            f"  incense: ExperimentLoader(mongo_uri='{url}', db_name='{DB_NAME}')",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("mike-bench: stopped serving", file=sys.stderr)
    return 0
