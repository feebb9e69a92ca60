"""End to end: the `losses` suite through the real CLI (`suite all`), on LunarLander and a tiny local SVHN."""

from mike.featpred.procedure_table import PROCEDURES
from tests.helpers import mike_bench


def test_every_procedure_z_and_dataset_has_a_probe_result(all_suites_store):
    db, _, out, _ = all_suites_store
    probes = list(db.runs.find({"config.stage": "probe", "status": "COMPLETED"}, {"result": 1, "config": 1}))
    keys = {(r["result"]["dataset"], r["result"]["procedure"], r["result"]["z"]) for r in probes}
    assert keys == {(d, p, z) for d in ("lunar_lander", "svhn") for p in PROCEDURES for z in (64, 128, 256)}
    for run in probes:
        result = run["result"]
        assert result["metric"] == ("distance" if result["dataset"] == "lunar_lander" else "accuracy")
        assert (
            0 <= result["constant_metric"]
            and len(result["probes"]) == 7
            and result["epoch_seconds"] > 0
            and result["epoch_cpu_seconds"] > 0
        )
        # no ImageNet weights on this machine: the substitute, recorded in every result that used one
        expected = "none" if result["procedure"] == "I-I-PW" else "substitute"
        assert result["loss_network"] == expected
    assert db.runs.count_documents({"status": {"$ne": "COMPLETED"}}) == 0
    assert "suite all (smoke)" in out.stdout


def test_autoencoder_runs_record_time_per_epoch(all_suites_store):
    db, *_ = all_suites_store
    run = db.runs.find_one({"config.stage": "autoencoder", "config.procedure": "I-F-FP"})
    names = {m["name"] for m in db.metrics.find({"run_id": run["_id"]}, {"name": 1})}
    assert {"loss", "val_loss", "epoch_seconds", "epoch_cpu_seconds"} <= names
    lossnet = db.runs.find_one({"config.stage": "loss_network"})
    assert lossnet["config"]["source"] == "substitute" and lossnet["result"]["feature_size"] == 9408


def test_missing_svhn_file_is_a_one_line_error(tmp_path):
    out = mike_bench("suite", "losses", "--profile", "smoke", "--svhn-root", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        f"mike-bench: error: SVHN file not found: {tmp_path / 'extra_32x32.mat'}"
    )
    assert not (tmp_path / ".mike-bench").exists()  # refused before any store was opened


def test_every_run_config_names_its_profile_and_seed(all_suites_store):
    db, *_ = all_suites_store
    # Sacred adds a random `seed` to a config without one; status would then plan for millions of seeds.
    assert db.runs.distinct("config.seed") == [0]
    assert db.runs.distinct("config.profile") == ["smoke"]


def test_autoencoders_are_timed_alone_even_in_a_pool(all_suites_store):
    db, *_ = all_suites_store
    fields = {"start_time": 1, "stop_time": 1, "config.stage": 1, "info.runs_at_once": 1}
    runs = list(db.runs.find({"status": "COMPLETED"}, fields))
    timed = [r for r in runs if r["config"]["stage"] == "autoencoder"]
    assert timed and all(r["info"]["runs_at_once"] == 1 for r in timed)
    for a in timed:  # no other run started or ended while an autoencoder was timing its epochs
        overlapping = [
            r["_id"]
            for r in runs
            if r["_id"] != a["_id"] and r["start_time"] < a["stop_time"] and r["stop_time"] > a["start_time"]
        ]
        assert overlapping == [], (a["_id"], overlapping)
