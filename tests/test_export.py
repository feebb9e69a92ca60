"""`mike-bench export`: a suite's trained models as state dicts with model cards whose loading code works."""

import io
import re

import torch

from tests.helpers import mike_bench


def test_export_writes_every_model_of_the_suite_with_a_card_that_loads_it(all_suites_store, tmp_path):
    db, uri, _, root = all_suites_store
    out = tmp_path / "reports" / "models" / "single-smoke"  # the default place: beside the reports
    result = mike_bench(
        "export", "single", "--profile", "smoke", "--mongo-url", uri, "--out", str(out), cwd=root
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"exported 33 models of suite single (smoke) to {out}" in result.stdout  # 11 teachers, 11 + 11 AEs
    assert {p.name for p in out.iterdir()} == {"index.md", "teacher", "transfer", "baseline"}
    # the report links them
    report = mike_bench(
        "report",
        "--suite",
        "single",
        "--profile",
        "smoke",
        "--mongo-url",
        uri,
        "--out",
        str(tmp_path / "reports"),
        cwd=root,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    md = (tmp_path / "reports" / "latest" / "report.md").read_text()
    html = (tmp_path / "reports" / "latest" / "report.html").read_text()
    assert "[single-smoke](../models/single-smoke/index.md)" in md
    assert "<a href='../models/single-smoke/index.md'>single-smoke</a>" in html
    index = (out / "index.md").read_text()
    assert index.count("| teacher |") == 11 and index.count("| transfer |") == 11
    for stage in ("teacher", "transfer"):
        card = sorted((out / stage).glob("*.md"))[0]
        text = card.read_text()
        run_id = int(re.search(r"Sacred run (\d+)", text)[1])
        stored = db.runs.find_one({"_id": run_id})
        assert stored["config"]["stage"] == stage and stored["info"]["git_commit"] in text
        # the card's own three lines load the model, with the stored weights
        code = re.search(r"```python\n(.*?)```", text, re.S)[1]
        scope = {}
        exec(code.replace(f'"{card.stem}.pt"', f'"{card.with_suffix(".pt")}"'), scope)
        artifact = next(a for a in stored["artifacts"] if a["name"] == "model.pt")
        import gridfs

        saved = torch.load(io.BytesIO(gridfs.GridFS(db).get(artifact["file_id"]).read()), weights_only=True)
        loaded = scope["model"].state_dict()
        assert loaded.keys() == saved["state_dict"].keys()
        assert all(torch.equal(loaded[k], saved["state_dict"][k]) for k in loaded)


def test_export_of_a_suite_without_models_says_why(all_suites_store, tmp_path):
    db, uri, _, root = all_suites_store
    args = ("--mongo-url", uri, "--out", str(tmp_path / "m"))
    losses = mike_bench(
        "export", "losses", "--profile", "smoke", "--svhn-root", str(root / "svhn"), *args, cwd=root
    )
    assert losses.returncode == 2
    assert "its runs kept no models" in losses.stderr and "losses.keep_models=True" in losses.stderr
    other = ("with", "segmenter_widths=[8,8,8,9]", "autoencoder_widths=[8,8,8,8,9]")  # none trained
    untrained = mike_bench("export", "single", "--profile", "smoke", *args, *other, cwd=root)
    assert untrained.returncode == 2 and "runs still to train" in untrained.stderr.strip().splitlines()[-1]


def test_a_feature_prediction_card_builds_the_coders_it_describes():
    """Was a bug: the card's code named image_size and feature_size without values (a NameError)."""
    from benchmark.export import model_card
    from suites.plan import Planned, RunSpec

    config = {"stage": "autoencoder", "procedure": "I-I-PW", "z": 8, "gamma": 0.0, "seed": 0, "data": {}}
    run = {"_id": 7, "config": config, "result": {"image_size": 64, "feature_size": 0}, "info": {}}
    card = model_card(Planned(RunSpec("autoencoder", "I-I-PW z 8 seed 0", config)), run, "x", "embedded:/db")
    code = re.search(r"```python\n(.*?)```", card, re.S)[1].splitlines()
    scope = {}
    exec("\n".join(code[:2]), scope)  # the import and the constructor (the third line loads the file)
    assert scope["model"].procedure.name == "I-I-PW"


def test_a_section5_variant_card_builds_the_variant():
    """A bottleneck or decoder variant's card names its embedding channels and decoder."""
    from benchmark.export import model_card
    from suites.plan import Planned, RunSpec

    model = {"widths": [8, 8, 8, 8, 8], "expand": 1, "embedding_channels": 4, "decoder_widths": [16] * 5}
    config = {"stage": "transfer", "model": model, "seed": 0, "data": {}}
    run = {"_id": 3, "config": config, "result": {}, "info": {}}
    card = model_card(Planned(RunSpec("transfer", "MIKE BTS 4×8×8", config)), run, "x", "embedded:/db")
    code = re.search(r"```python\n(.*?)```", card, re.S)[1].splitlines()
    scope = {}
    exec("\n".join(code[:2]), scope)
    assert scope["model"].embedding_channels == 4
    assert scope["model"].decoder.specs[0].out_channels == 16
