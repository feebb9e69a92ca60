"""Shared fixtures: one small synthetic COCO, and one store in which every suite ran on the smoke profile."""

from pathlib import Path

import pymongo
import pytest
from secantus import SecantusDBServer

from benchmark.store import DB_NAME
from mike.data.synthetic_coco import SyntheticCocoConfig, generate_synthetic_coco
from tests.helpers import fake_svhn, mike_bench

TINY_COCO = SyntheticCocoConfig(train_instances_per_class=6, val_instances_per_class=3, seed=1)


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> Path:
    return generate_synthetic_coco(TINY_COCO, tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def all_suites_store(tmp_path_factory):
    """`mike-bench suite all --profile smoke` with a tiny local SVHN, against a MongoDB-protocol server.

    Yields (database, server URL, the suite command's output, its working folder).
    """
    root = tmp_path_factory.mktemp("all-suites")
    svhn = fake_svhn(root / "svhn", n=40)
    with SecantusDBServer(storage_path=str(root / "db"), host="127.0.0.1", port=0) as server:
        args = [
            "suite",
            "all",
            "--profile",
            "smoke",
            "--svhn-root",
            str(svhn),
            "--workdir",
            str(root / "work"),
        ]
        out = mike_bench(*args, "--mongo-url", server.uri, cwd=root)
        assert out.returncode == 0, out.stderr[-3000:]
        yield pymongo.MongoClient(server.uri)[DB_NAME], server.uri, out, root
