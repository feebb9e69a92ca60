"""The store as Sacred's own readers (Omniboard, incense, pymongo) see it, after `suite all --profile smoke`:
plain JSON, readable names, provenance in Sacred's own fields, logs a person can read."""

import re

PLAIN_FIELDS = ("config", "result", "info", "meta", "experiment", "host")


def _pickled_keys(value, path=""):
    """Paths of jsonpickle markers ('py/id', 'py/tuple', 'py/object', ...): values no other reader can use."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).startswith("py/"):
                yield f"{path}.{key}"
            yield from _pickled_keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for k, inner in enumerate(value):
            yield from _pickled_keys(inner, f"{path}[{k}]")


def test_every_stored_run_is_plain_json(all_suites_store):
    """Was a bug: probe results held one list twice, and Sacred stored the second as {'py/id': 1}."""
    db, *_ = all_suites_store
    runs = list(db.runs.find({"status": "COMPLETED"}))
    assert {r["experiment"]["name"].split(":")[0] for r in runs} >= {"probe", "transfer", "teacher"}
    for run in runs:
        for field in PLAIN_FIELDS:
            found = list(_pickled_keys(run.get(field), field))
            assert not found, (run["experiment"]["name"], found[:3])
    probe = db.runs.find_one({"status": "COMPLETED", "config.stage": "probe"})
    assert isinstance(probe["result"]["selected_hidden"], list)
    assert probe["result"]["selected_hidden"] in [p["hidden"] for p in probe["result"]["probes"]]


def test_runs_are_named_tagged_and_carry_their_provenance(all_suites_store):
    db, *_ = all_suites_store
    runs = list(db.runs.find({"status": "COMPLETED"}))
    names = [r["experiment"]["name"] for r in runs]
    # Omniboard's Experiment Name: stage and label, so eleven transfers are eleven different rows
    assert all(re.fullmatch(r"[a-z_]+: .+", n) for n in names)
    transfers = [n for n in names if n.startswith("transfer: ")]
    assert len(transfers) > 1 and len(set(transfers)) == len(transfers)
    for run in runs:
        assert run["meta"]["comment"] == run["info"]["label"]  # Omniboard's Notes
        assert run["omniboard"]["tags"][:1] == [run["experiment"]["name"].split(":")[0]]
        assert "smoke" in run["omniboard"]["tags"]
        (repository,) = run["experiment"]["repositories"]  # Experiment Details: the commit, dirty or not
        assert repository["commit"] == run["info"]["git_commit"] and repository["dirty"] in (True, False)
        assert any(d.startswith("torch==") for d in run["experiment"]["dependencies"])
        assert run["host"]["hostname"] and run["host"]["cpu"]
    # no copy of a source file per run in GridFS (Sacred would upload runs.py again and again)
    assert not any(f["filename"].endswith(".py") for f in db.fs.files.find({}, {"filename": 1}))


def test_captured_output_is_what_a_person_would_read(all_suites_store):
    """Was empty in every run. Now: the start, progress every tenth of the steps or every epoch, the
    result, and no progress-bar frames."""
    db, *_ = all_suites_store
    for run in db.runs.find({"status": "COMPLETED"}, {"captured_out": 1, "info.label": 1, "config": 1}):
        text = run["captured_out"]
        lines = text.splitlines()
        assert run["info"]["label"] in lines[0], lines[:1]
        assert "\r" not in text
        assert lines[-1].split("] ", 1)[1].startswith("result: ") or "--- printed during the run ---" in text
        train = run["config"].get("train", {})
        if train.get("steps"):
            assert f"step {train['steps']}/{train['steps']}:" in text, text[:400]
        elif run["config"]["stage"] == "autoencoder":
            assert re.search(r"\] epoch \d+: .*val_loss=", text), text[:400]
