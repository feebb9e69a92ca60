"""Bad input is refused in one line before any work, and nothing is lost or silently wrong: value ranges,
devices, folders, empty and broken stores, reports that never delete what they did not write, journaled
writes, unreachable or badly written MongoDB URLs."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from secantus import SecantusDBServer

from benchmark.report.build import ReportError, _write
from benchmark.report.document import Document
from benchmark.store import StoreError, connect, embedded_server
from mike.profiles import ConfigError, get_profile
from tests.helpers import mike_bench

EMBEDDED = {"MONGO_URL": ""}  # the embedded store, even where CI passes a MONGO_URL


def one_line_error(result) -> str:
    """The single stderr line of a refused command (exit code 2, no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr[-2000:])
    assert lines[0].startswith("mike-bench: error: ")
    return lines[0]


# 1. value ranges, refused before the plan, the store or torch


@pytest.mark.parametrize(
    "args, message",
    [
        (["with", "teacher.steps=-5"], "teacher.steps: steps must be ≥ 1, not -5"),
        (["with", "teacher.steps=0"], "teacher.steps: steps must be ≥ 1, not 0"),
        (["with", "downstream.batch_size=0"], "downstream.batch_size: batch_size must be ≥ 1, not 0"),
        (["with", "transfer.lr=-1"], "transfer.lr: lr must be a positive number, not -1.0"),
        (["with", "tri_class.image_size=32"], "tri_class.image_size: image_size must be 64"),
        (["with", "losses.probe.batch_size=0"], "losses.probe.batch_size: batch_size must be ≥ 1"),
        (["--seeds", "1000000"], "--seeds must be between 1 and 1000, got 1000000"),
        (["--seeds", "0"], "--seeds must be between 1 and 1000, got 0"),
        (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    ],
)
def test_out_of_range_values_are_refused_before_any_work(tmp_path, args, message):
    result = mike_bench(
        "suite", "single", "--profile", "smoke", *args, cwd=tmp_path, env=EMBEDDED, timeout=120
    )
    assert message in one_line_error(result)
    assert not (tmp_path / ".mike-bench").exists()  # nothing planned into, nothing stored


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("losses.autoencoder.max_epochs", 0, "max_epochs must be ≥ 1"),
        ("losses.probe.lr", 0, "lr must be a positive number"),
        ("losses.autoencoder.validation_fraction", 1.0, "validation_fraction must lie between 0 and 1"),
        ("losses.substitute.train.steps", 0, "losses.substitute.train.steps: steps must be ≥ 1"),
        ("losses.lunar.image_size", 70, "image_size must be 64\\+16n"),
        ("tri_class.zoom", [1.2, 0.8], "low ≤ high"),
        ("synthetic.max_object", 500, "objects must fit the image"),
        ("teacher.warmup_steps", -1, "warmup_steps must be ≥ 0"),
        (
            "suites.three_tasks",
            ["PHB", "XXX", "CTB"],
            "suites.three_tasks: unknown task 'XXX'; the tasks are PHB",
        ),
        ("suites.three_tasks", ["PHB", "PHB", "CTB"], "must name three different tasks"),
        ("suites.progressive_task", "bts", "suites.progressive_task: unknown task 'bts'"),
        ("suites.teacher_seed", -2, "teacher_seed must be -1"),
    ],
)
def test_nested_specs_check_their_ranges(key, value, message):
    with pytest.raises(ConfigError, match=message):
        get_profile("smoke").with_overrides({key: value})


# 2. devices


def test_an_unknown_device_is_one_line_before_anything_runs(tmp_path):
    result = mike_bench(
        "suite", "single", "--profile", "smoke", "--device", "tpu", cwd=tmp_path, env=EMBEDDED
    )
    assert "--device 'tpu': use cpu, cuda or cuda:N" in one_line_error(result)
    assert not (tmp_path / ".mike-bench").exists()


def test_a_missing_gpu_is_a_clear_error_and_creates_no_store(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = mike_bench(
        "suite", "single", "--profile", "smoke", "--device", "cuda", cwd=tmp_path, env=EMBEDDED
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no CUDA GPU is visible to torch" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / ".mike-bench" / "db").exists()


# 3. folders that are files, or where nothing can be written


def test_report_out_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = mike_bench("report", "--out", "notes.txt", cwd=tmp_path, env=EMBEDDED)
    assert "--out notes.txt: notes.txt is a file, not a folder" in one_line_error(result)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_report_out_where_nothing_can_be_written_is_one_line(tmp_path):
    result = mike_bench("report", "--out", "/proc/mike-bench-reports", cwd=tmp_path, env=EMBEDDED)
    assert "--out /proc/mike-bench-reports: cannot write in /proc" in one_line_error(result)


@pytest.mark.parametrize("command", [["status"], ["report"], ["suite", "single", "--profile", "smoke"]])
def test_a_workdir_that_is_a_file_is_one_line(tmp_path, command):
    (tmp_path / "work").write_text("mine")
    result = mike_bench(*command, "--workdir", "work", cwd=tmp_path, env=EMBEDDED)
    assert "--workdir work: work is a file, not a folder" in one_line_error(result)


# 4. reading commands create no store


@pytest.mark.parametrize("make_db", [False, True], ids=["no folder", "empty db folder"])
def test_status_and_report_on_an_empty_workdir_create_nothing(tmp_path, make_db):
    work = tmp_path / "work"
    if make_db:
        (work / "db").mkdir(parents=True)
    status = mike_bench("status", "--workdir", "work", cwd=tmp_path, env=EMBEDDED)
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == "no runs stored yet in work"
    report = mike_bench("report", "--workdir", "work", cwd=tmp_path, env=EMBEDDED)
    assert "no runs stored yet in work" in one_line_error(report)
    assert work.exists() == make_db and (not make_db or not any((work / "db").iterdir()))
    assert not (tmp_path / "reports").exists()


# 5. a store that lost its WiredTiger.turtle is not opened as a new, empty one


def test_a_store_without_its_turtle_file_is_refused(tmp_path):
    db = tmp_path / ".mike-bench" / "db"
    with embedded_server(db) as url:
        connect(url)["mike_bench"].runs.insert_one({"status": "COMPLETED"})
    (db / "WiredTiger.turtle").unlink()
    before = sorted(p.name for p in db.iterdir())
    result = mike_bench("status", cwd=tmp_path, env=EMBEDDED)
    line = one_line_error(result)
    assert str(db.relative_to(tmp_path)) in line and "does not look like a complete mike-bench store" in line
    assert sorted(p.name for p in db.iterdir()) == before  # not opened, not re-created


def test_an_empty_or_missing_store_folder_is_a_new_store(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        with embedded_server(folder) as url:
            assert connect(url)["mike_bench"].runs.count_documents({}) == 0
        assert (folder / "WiredTiger.turtle").exists()


def test_a_store_folder_that_is_a_file_is_a_store_error(tmp_path):
    (tmp_path / "db").write_text("mine")
    with pytest.raises(StoreError, match="is a file, not a folder"), embedded_server(tmp_path / "db"):
        pass


# 6. a report never deletes what it did not write


def _tiny_report(tmp_path, name="2024-01-02-smoke"):
    doc = Document("t")
    doc.text("hello")
    return _write(doc, pd.DataFrame({"hardware": [{}]}), tmp_path, name)


def test_a_report_keeps_a_same_day_report_and_a_persons_file(tmp_path):
    first = _tiny_report(tmp_path)
    (first / "my-notes.txt").write_text("mine")
    second = _tiny_report(tmp_path)
    third = _tiny_report(tmp_path)
    assert [first.name, second.name, third.name] == [
        "2024-01-02-smoke",
        "2024-01-02-smoke-2",
        "2024-01-02-smoke-3",
    ]
    assert (first / "my-notes.txt").read_text() == "mine" and (first / "report.md").exists()
    assert (tmp_path / "latest").resolve() == third.resolve()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no scratch left


def test_a_report_leaves_a_latest_it_did_not_make(tmp_path):
    (tmp_path / "latest").mkdir()
    (tmp_path / "latest" / "mine.txt").write_text("mine")
    with pytest.raises(ReportError, match="is not the link mike-bench keeps"):
        _tiny_report(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]
    assert (tmp_path / "latest" / "mine.txt").read_text() == "mine"


def test_a_report_where_nothing_can_be_written_is_a_report_error():
    with pytest.raises(ReportError, match="cannot write the report into /proc/mike-bench-reports"):
        _tiny_report(Path("/proc/mike-bench-reports"))


# 7. journaled writes


def test_store_writes_are_journaled(tmp_path):
    with SecantusDBServer(storage_path=str(tmp_path / "db"), host="127.0.0.1", port=0) as server:
        client = connect(server.uri)
        assert client.write_concern.document == {"j": True}
        assert client["mike_bench"].runs.insert_one({"status": "COMPLETED"}).acknowledged
        assert client["mike_bench"].runs.count_documents({}) == 1


# 8. unreachable or badly written MongoDB URLs


def test_an_unreachable_url_fails_before_torch_loads(tmp_path):
    code = (
        "import sys; from benchmark.cli import main; "
        "rc = main(['suite', 'single', '--profile', 'smoke', '--mongo-url', 'mongodb://127.0.0.1:1/']); "
        "print(rc, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["2", "False"], result.stderr[-2000:]
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("mike-bench: error: MongoDB not reachable at mongodb://127.0.0.1:1/: ")
    assert "configured timeouts" not in error


@pytest.mark.parametrize("command", [["status"], ["suite", "single", "--profile", "smoke"]])
def test_a_password_with_unescaped_at_or_slash_is_never_shown(tmp_path, command):
    url = "mongodb://user:p@ss/word@127.0.0.1:1/"
    result = mike_bench(*command, "--mongo-url", url, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "mongodb://***@127.0.0.1:1/" in error and "unescaped '@' or '/'" in error, error
    output = result.stdout + result.stderr
    assert "p@ss" not in output and "ss/word" not in output and "ss:27017" not in output


# 9. input files that will be needed, checked before the store opens


def test_alexnet_weights_that_do_not_parse_are_refused_before_the_store_opens(tmp_path):
    (tmp_path / "alexnet.pth").write_bytes(b"not a torch file")
    result = mike_bench(
        "suite",
        "losses",
        "--profile",
        "smoke",
        "--alexnet-weights",
        "alexnet.pth",
        cwd=tmp_path,
        env=EMBEDDED,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"mike-bench: error: cannot read AlexNet weights {tmp_path / 'alexnet.pth'}")
    )
    assert not (tmp_path / ".mike-bench").exists()


def test_a_truncated_svhn_file_is_refused_before_the_store_opens(tmp_path):
    from tests.helpers import fake_svhn

    root = fake_svhn(tmp_path / "svhn")
    (root / "train_32x32.mat").write_bytes((root / "train_32x32.mat").read_bytes()[:300])
    result = mike_bench(
        "suite", "losses", "--profile", "smoke", "--svhn-root", str(root), cwd=tmp_path, env=EMBEDDED
    )
    assert "corrupt SVHN file: " in one_line_error(result) and "train_32x32.mat" in result.stderr
    assert not (tmp_path / ".mike-bench").exists()
