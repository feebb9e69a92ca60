"""Layer-weight schedules (MIKE Sections 3.2–3.3) as pure functions of the training step.

A schedule maps a step to LossWeights: a pixel-wise weight and one weight per layer of every teacher,
all summing to 1 as Eq. 1 requires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

SCHEDULES = ("uniform", "progressive")


@dataclass(frozen=True)
class LossWeights:
    pixel: float
    teachers: tuple[tuple[float, ...], ...]  # teachers[n][l] = w_l^n

    def total(self) -> float:
        return self.pixel + sum(sum(t) for t in self.teachers)


Schedule = Callable[[int], LossWeights]


def uniform(step: int, layer_counts: Sequence[int]) -> LossWeights:
    """All-layers uniform: every layer of every teacher gets the same weight, at every step."""
    total = sum(layer_counts)
    return LossWeights(0.0, tuple(tuple(1.0 / total for _ in range(n)) for n in layer_counts))


def active_layer(step: int, num_layers: int, total_steps: int) -> int:
    """The layer holding the weight at `step` when it moves first→last in equal intervals over total_steps."""
    return min(max(step, 0) * num_layers // max(total_steps, 1), num_layers - 1)


def last_layer_progressive(step: int, layer_counts: Sequence[int], total_steps: int) -> LossWeights:
    """Last-layer progressive: all weight on one layer at a time, moving from the first layer to the last at
    regular intervals (Figure 6); with several teachers each one's active layer gets 1/N."""
    n = len(layer_counts)
    return LossWeights(
        0.0,
        tuple(
            tuple(1.0 / n if i == active_layer(step, count, total_steps) else 0.0 for i in range(count))
            for count in layer_counts
        ),
    )


def pixel_warmup(step: int, warmup_steps: int, layer_counts: Sequence[int], then: Schedule) -> LossWeights:
    """Pixel-wise pre-training (Section 3.3): the first warmup_steps train on pixel MSE alone, then `then`
    takes over, counting its steps from the end of the warm-up."""
    if step < warmup_steps:
        return LossWeights(1.0, tuple(tuple(0.0 for _ in range(c)) for c in layer_counts))
    return then(step - warmup_steps)


def make_schedule(
    name: str, layer_counts: Sequence[int], total_steps: int, warmup_steps: int = 0
) -> Schedule:
    counts = tuple(layer_counts)
    if name == "uniform":
        inner: Schedule = lambda step: uniform(step, counts)  # noqa: E731
    elif name == "progressive":
        transfer_steps = max(total_steps - warmup_steps, 1)
        inner = lambda step: last_layer_progressive(step, counts, transfer_steps)  # noqa: E731
    else:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup_steps <= 0:
        return inner
    return lambda step: pixel_warmup(step, warmup_steps, counts, inner)
