"""Build-once caching on disk: directories keyed by a hash of their build config, written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

COMPLETE_MARKER = "COMPLETE"


def config_hash(config: object, length: int = 12) -> str:
    """Stable hash of a dataclass or JSON-able mapping (key order does not matter)."""
    payload = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file()


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
        (scratch / COMPLETE_MARKER).write_text("ok\n")
        if final.exists() and not is_complete(final):
            shutil.rmtree(final)  # a stale, incomplete leftover from a killed process
        try:
            os.replace(scratch, final)
        except OSError:
            if not is_complete(final):
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
