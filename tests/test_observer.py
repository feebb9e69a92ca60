"""How runs reach the store: numbered from a counter, past runs numbered by anyone else; indexes for the
lookups every run makes; a Sacred experiment built without inspect.stack()."""

import inspect

import pytest
from sacred.utils import ObserverError

from benchmark.observer import CountedObserver, new_experiment
from benchmark.store import COUNTERS, DB_NAME, RunStore, connect, embedded_server


@pytest.fixture
def db(tmp_path):
    with embedded_server(tmp_path / "db") as url:
        client = connect(url)
        yield client, client[DB_NAME]


def _run(client, name: str, config: dict | None = None) -> int:
    ex = new_experiment(name)
    ex.observers.append(CountedObserver(client=client, db_name=DB_NAME))
    ex.add_config(config or {"x": 1})
    ex.main(lambda x: {"x": x})
    return ex.run()._id


def test_runs_are_numbered_one_two_three_in_an_empty_store(db):
    client, database = db
    assert [_run(client, f"r{i}") for i in range(3)] == [1, 2, 3]
    assert database[COUNTERS].find_one({"_id": "runs"})["next"] == 3
    assert [r["experiment"]["name"] for r in database.runs.find().sort("_id", 1)] == ["r0", "r1", "r2"]
    assert all(r["result"] == {"x": 1} for r in database.runs.find())


def test_runs_stored_by_plain_sacred_are_never_overwritten(db):
    """A store filled before the counter existed, or by another Sacred program: ids continue after them."""
    client, database = db
    from sacred import Experiment
    from sacred.observers import MongoObserver

    for i in range(4):
        ex = Experiment(f"plain {i}", save_git_info=False)
        ex.observers.append(MongoObserver(client=client, db_name=DB_NAME))
        ex.main(lambda: 0)
        ex.run()
    assert _run(client, "counted") == 5
    assert _run(client, "counted again") == 6
    names = [r["experiment"]["name"] for r in database.runs.find().sort("_id", 1)]
    assert names == ["plain 0", "plain 1", "plain 2", "plain 3", "counted", "counted again"]
    # and a plain Sacred run after ours takes the next free id, as it always did
    ex = Experiment("plain after", save_git_info=False)
    ex.observers.append(MongoObserver(client=client, db_name=DB_NAME))
    ex.main(lambda: 0)
    assert ex.run()._id == 7
    assert _run(client, "counted last") == 8


def test_the_experiment_records_its_callers_file_as_the_main_file(db):
    ex = new_experiment("where")
    assert ex.mainfile is not None and ex.mainfile.filename.endswith("test_observer.py")
    # the stand-in is gone afterwards: Sacred's module has the real inspect back
    import sacred.experiment

    assert sacred.experiment.inspect is inspect


def test_lookups_by_config_hash_and_metric_name_have_indexes(db):
    client, database = db
    RunStore(client, "x").ensure_indexes()
    RunStore(client, "x").ensure_indexes()  # idempotent
    runs = [v["key"] for v in database.runs.index_information().values()]
    metrics = [v["key"] for v in database.metrics.index_information().values()]
    assert [("meta.config_hash", 1)] in runs
    assert [("run_id", 1), ("name", 1)] in metrics
    plan = database.runs.find({"meta.config_hash": "abc"}).explain()
    assert "COLLSCAN" not in str(plan.get("queryPlanner", plan)), plan


def test_an_unstorable_entry_is_sacreds_own_error(db):
    client, _ = db
    ex = new_experiment("bad")
    ex.observers.append(CountedObserver(client=client, db_name=DB_NAME))
    ex.main(lambda: 0)
    with pytest.raises(ObserverError, match="unserializable entry"):
        ex.run(meta_info={"bad": object()})
