"""What a person reads in a run's captured output (Omniboard's "Captured Out", incense's
`run.captured_out`): a line when the run starts, a line every tenth of its steps (every epoch, or every
probe, for epoch stages), a line with its result; then whatever the process itself printed meanwhile,
without progress-bar frames. Sacred hands this filter its previous answer plus the new text at every
heartbeat, so the log keeps its own state and answers the whole text each time."""

from __future__ import annotations

import math
import sys
import threading
import time

MAX_CAPTURED_CHARS = 20_000  # captured output kept per run: far below MongoDB's 16 MB document limit
PRINTED_CHARS = 8_000  # of which the process's own printing may take this much (its tail)
PROGRESS_LINES = 10  # step stages: about this many lines over the run


def keep_tail(text: str, limit: int = MAX_CAPTURED_CHARS) -> str:
    """The last `limit` characters."""
    return text if len(text) <= limit else "[... earlier output dropped ...]\n" + text[-limit:]


def without_frames(text: str) -> str:
    """A progress bar redraws its line with carriage returns: keep each line's last frame, if any."""
    lines = (line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return "\n".join(line for line in lines if line.strip())


def _values(metrics: dict) -> str:
    shown = []
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        shown.append(
            f"{name}={value:.4g}" if isinstance(value, float) and math.isfinite(value) else f"{name}={value}"
        )
    return ", ".join(shown[:12])


class RunLog:
    """One run's readable log. `echo`: a stream that also gets the epoch lines (set when stderr is not a
    terminal, where bars are off: a log file then shows one line per epoch instead of nothing)."""

    def __init__(self, stage: str, label: str, config: dict, echo=None):
        train = config.get("train", {}) if isinstance(config.get("train"), dict) else {}
        self.label = label
        self.steps = int(train.get("steps", 0) or 0)
        self.unit = "step" if self.steps else ("probe" if stage == "probe" else "epoch")
        self.echo = echo if self.unit != "step" else None
        self.lines: list[str] = []
        self._started = time.perf_counter()
        self._next_step = 0
        self._answered = ""  # what the filter returned last time: Sacred prepends it to the new text
        self._raw = ""  # the process's own output during the run, as printed (its tail)
        # Sacred calls the filter from its heartbeat thread and, at the end, from the run's own thread
        self._lock = threading.Lock()
        length = f"{self.steps} steps" if self.steps else f"at most {train.get('max_epochs', '?')} epochs"
        batch = f" of batch {train['batch_size']}" if "batch_size" in train else ""
        self.note(f"{label} ({stage}, seed {config.get('seed', '?')}): {length}{batch}")

    def note(self, text: str) -> None:
        self.lines.append(f"[{time.perf_counter() - self._started:8.1f}s] {text}")

    def metrics(self, step: int, metrics: dict) -> None:
        if self.unit == "step":
            if step + 1 < self._next_step and step + 1 != self.steps:
                return
            self._next_step = step + 1 + max(1, self.steps // PROGRESS_LINES)
            self.note(f"step {step + 1}/{self.steps}: {_values(metrics)}")
            return
        self.note(f"{self.unit} {step}: {_values(metrics)}")
        if self.echo is not None:
            print(f"  {self.label}: {self.unit} {step}: {_values(metrics)}", file=self.echo, flush=True)

    def result(self, result: dict) -> None:
        self.note(f"result: {_values(result) or 'stored'}")

    def captured(self, text: str) -> str:
        """Sacred's captured_out_filter: the log lines (their tail), then the process's own printing (its
        tail, frames removed; a line split between two heartbeats is joined again, not glued on)."""
        with self._lock:
            new = text[len(self._answered) :] if text.startswith(self._answered) else text
            self._raw = (self._raw + new)[-4 * PRINTED_CHARS :]
            printed = keep_tail(without_frames(self._raw), PRINTED_CHARS)
            printed = f"\n--- printed during the run ---\n{printed}" if printed else ""
            log = keep_tail("\n".join(self.lines), MAX_CAPTURED_CHARS - len(printed))
            self._answered = log + printed
            return self._answered


def echo_stream():
    """Where epoch lines also go: stderr when it is not a terminal (a terminal has the progress bars)."""
    isatty = getattr(sys.stderr, "isatty", lambda: False)
    return None if isatty() else sys.stderr
