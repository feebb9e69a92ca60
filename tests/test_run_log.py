"""A run's captured output (benchmark/run_log.py), fed the way Sacred feeds its filter: at each heartbeat,
the filter's previous answer followed by the new text."""

from benchmark.run_log import MAX_CAPTURED_CHARS, RunLog


def _feed(log: RunLog, chunks: list[str]) -> str:
    answer = ""
    for chunk in chunks:
        answer = log.captured(answer + chunk)
    return answer


def test_printing_across_heartbeats_keeps_its_lines_apart_and_drops_bar_frames():
    """Was a bug: the second heartbeat's line was glued onto the first one's."""
    log = RunLog(
        "transfer", "MIKE PHB uniform seed 0", {"seed": 0, "train": {"steps": 100, "batch_size": 32}}
    )
    for step in range(100):
        log.metrics(step, {"loss": 1.0 / (step + 1)})
    out = _feed(log, ["line one\n", "line t", "wo\n", " 10%|#   |\r 50%|#####|\r100%|#####|\n"])
    printed = out.split("--- printed during the run ---\n", 1)[1].splitlines()
    assert printed == ["line one", "line two", "100%|#####|"]
    lines = out.splitlines()
    assert "MIKE PHB uniform seed 0 (transfer, seed 0): 100 steps of batch 32" in lines[0]
    assert [line.split("] ", 1)[1].split(":")[0] for line in lines[1:11]] == [
        f"step {k}/100" for k in range(1, 101, 10)
    ]
    assert "step 100/100: loss=0.01" in out


def test_a_long_run_keeps_its_start_and_its_last_output_within_the_limit():
    log = RunLog("autoencoder", "I-F-FP z 64 seed 0", {"seed": 0, "train": {"max_epochs": 50}})
    for epoch in range(50):
        log.metrics(epoch, {"val_loss": 0.5})
    out = _feed(log, ["x" * 100 + "\n"] * 1000)  # 100 KB of printing
    assert len(out) <= MAX_CAPTURED_CHARS + 100
    assert "I-F-FP z 64 seed 0 (autoencoder, seed 0): at most 50 epochs" in out  # the log is not pushed out
    assert "] epoch 49: val_loss=0.5" in out and out.endswith("x" * 100)
