"""Build-once caching on disk: directories keyed by a hash of their build config, written atomically.

The COMPLETE marker holds the sha256 of every file the build wrote: a cache whose files no longer match
(truncated, zeroed, a flipped byte) is not complete, so the next build replaces it, and says so."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

COMPLETE_MARKER = "COMPLETE"


def config_hash(config: object, length: int = 12) -> str:
    """Stable hash of a dataclass or JSON-able mapping (key order does not matter)."""
    payload = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under folder (but the marker), by path relative to it."""
    out = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE_MARKER):
        digest = hashlib.sha256()
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out[str(file.relative_to(folder))] = digest.hexdigest()
    return out


_VERIFIED: set[tuple[str, float]] = set()  # (folder, its marker's mtime) checked by this process


def is_complete(path: Path) -> bool:
    """The build finished and its files are as it wrote them (checked once per process and marker; a cache
    of an older version, whose marker holds no digests, is taken as complete)."""
    marker = path / COMPLETE_MARKER
    try:
        key = (str(path), marker.stat().st_mtime)
        if key in _VERIFIED:
            return True
        text = marker.read_text(errors="replace")
        try:
            expected = json.loads(text)["sha256"]
        except (ValueError, KeyError, TypeError):
            return text.strip() == "ok"  # written before digests were kept
        found = _digests(path)
    except OSError:  # no marker yet, or another process is replacing the folder right now
        return False
    if found == expected:
        _VERIFIED.add(key)
        return True
    changed = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
    print(
        f"mike-bench: cache {path} does not match what was written ({', '.join(changed[:3])}): rebuilding it",
        file=sys.stderr,
    )
    return False


def _discard(folder: Path) -> None:
    """Remove a folder another process may be removing too: renamed aside first (only one rename wins), so
    no process deletes a folder that a third has just put in its place."""
    trash = folder.parent / f".trash-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a scratch directory that becomes `final` only if the block succeeds.

    On any error the scratch directory is removed, so no half-written cache is ever left behind. If another
    process finished the same build first, its result is kept and ours discarded (same config, same bytes).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        yield scratch
        (scratch / COMPLETE_MARKER).write_text(json.dumps({"sha256": _digests(scratch)}, indent=1))
        if final.exists() and not is_complete(final):
            _discard(final)  # an incomplete leftover of a killed process, or a damaged cache
        try:
            os.replace(scratch, final)
        except OSError:
            if not is_complete(final):
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
