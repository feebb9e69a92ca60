"""Sacred, made cheap per run: a MongoObserver that numbers runs from a counter and writes GridFS artifacts in
large chunks, and Experiments built without `inspect.stack()`.

Per run, Sacred's own way costs: ~70 ms to build an Experiment (inspect.stack() reads the source lines of
every frame to hand over its caller's globals) and ~40 ms to number the run (a sort on _id plus a count,
which SecantusDB answers by scanning every run document: the cost grows with the store). Both are
bookkeeping that the smoke suite's 300+ runs paid more than their training.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import pymongo
import pymongo.errors

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # sacred 0.8.7 imports it
import sacred.experiment  # noqa: E402
from sacred import Experiment  # noqa: E402
from sacred.observers import MongoObserver  # noqa: E402

from benchmark.store import COUNTERS  # noqa: E402


class _LargeChunks:
    """GridFS that writes artifacts in 4 MB chunks instead of 255 kB: a model or checkpoint goes in one or
    a few inserts, not dozens. Readers take the chunk size from each file's own record."""

    CHUNK_BYTES = 4 * 1024 * 1024

    def __init__(self, fs):
        self._fs = fs

    def put(self, data, **kwargs):
        return self._fs.put(data, chunkSize=self.CHUNK_BYTES, **kwargs)

    def __getattr__(self, name):
        return getattr(self._fs, name)


class CountedObserver(MongoObserver):
    """Sacred's MongoObserver, but a new run's _id comes from an atomic counter (one indexed update) rather
    than from the largest stored _id plus one. Runs stored by anyone else (plain Sacred, an older
    mike-bench) are respected: an _id already taken moves the counter past the largest one and retries."""

    def __init__(self, client, db_name: str):
        super().__init__(client=client, db_name=db_name)
        self.fs = _LargeChunks(self.fs)

    def insert(self):
        if self.overwrite or self.run_entry.get("_id") is not None:
            return super().insert()
        counters = self.runs.database[COUNTERS]
        while True:
            try:
                counter = counters.find_one_and_update(
                    {"_id": "runs"},
                    {"$inc": {"next": 1}},
                    upsert=True,
                    return_document=pymongo.ReturnDocument.AFTER,
                )
            except pymongo.errors.DuplicateKeyError:
                counter = None  # two first upserts raced (MongoDB): the counter exists now, ask again
            if counter is None:  # the same race as SecantusDB answers it: no document back
                continue
            self.run_entry["_id"] = counter["next"]
            try:
                self.runs.insert_one(self.run_entry)
                return
            except pymongo.errors.DuplicateKeyError:
                largest = next(iter(self.runs.find({}, {"_id": 1}).sort("_id", -1).limit(1)), {"_id": 0})
                counters.update_one({"_id": "runs"}, {"$max": {"next": largest["_id"]}}, upsert=True)
            except pymongo.errors.InvalidDocument:
                return super().insert()  # Sacred's own message for an unstorable entry


class _CallerOnly:
    """Stands in for the `inspect` module while Sacred builds an Experiment: Sacred wants only its caller's
    frame, and inspect.stack() gives it after reading the source of every frame on the stack."""

    @staticmethod
    def stack():
        # stack → Experiment.__init__ → new_experiment → its caller, the file Sacred records as main file
        return [None, (sys._getframe(3),)]


@contextlib.contextmanager
def _cheap_caller_lookup() -> Iterator[None]:
    real = sacred.experiment.inspect
    sacred.experiment.inspect = _CallerOnly
    try:
        yield
    finally:
        sacred.experiment.inspect = real


def new_experiment(name: str) -> Experiment:
    """A Sacred Experiment named `name`, with the caller's file as its main file, built cheaply."""
    with _cheap_caller_lookup():
        return Experiment(name, save_git_info=False)
