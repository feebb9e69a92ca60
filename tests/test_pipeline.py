"""The real `mike-pipeline` CLI on the smoke profile: end to end, deterministic, clear errors."""

import json
import subprocess
import sys

from mike.pipeline import run
from mike.profiles import get_profile
from tests.helpers import timeout_for


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "mike.pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_for(600),
    )


def test_cli_runs_end_to_end_on_smoke(tmp_path):
    out = tmp_path / "results.json"
    result = cli("--profile", "smoke", "--tasks", "BTS,CTB", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert set(data["teachers"]) == {"BTS", "CTB"}
    assert len(data["downstream"]) == 2 * 2 * 2  # (mike, pixelwise) × 2 teachers × 2 tasks
    for row in data["downstream"]:
        assert 0.0 <= row["iou"] <= 1.0 and row["normalised_iou"] == row["iou"] / row["teacher_iou"]
    assert (tmp_path / ".mike-cache").is_dir()


def test_same_seed_same_numbers(tmp_path):
    profile = get_profile("smoke")
    a = run(profile, ["SSS"], None, tmp_path, seed=3, device="cpu", log=lambda m: None)
    b = run(profile, ["SSS"], None, tmp_path, seed=3, device="cpu", log=lambda m: None)
    assert a["teachers"] == b["teachers"] and a["downstream"] == b["downstream"]


def test_bad_input_gives_one_line_error_and_nonzero_exit(tmp_path):
    for args, message in [
        (("--profile", "smoke", "teacher.stepz=3"), "unknown config key 'teacher.stepz'"),
        (("--profile", "smoke", "teacher.steps=many"), "teacher.steps: expected int"),
        (("--profile", "smoke", "--tasks", "XYZ"), "unknown task 'XYZ'"),
        (("--profile", "smoke", "--coco-root", str(tmp_path / "missing")), "COCO root not found"),
    ]:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
