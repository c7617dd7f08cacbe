"""Training to a time budget, for every trainer of the package (floor: no wing imports).

* :class:`TrainingTimeBudget` — a ``TrainerCallback`` that stops training once a wall-clock or
  CPU-time budget is spent, and resumes with what was spent;
* :func:`steps_for_budget` — how many optimizer steps fit a budget, to size a learning-rate
  schedule to it.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

__all__ = ["TrainingTimeBudget", "steps_for_budget"]


class TrainingTimeBudget(TrainerCallback, ExportableState):
    """Stop training once ``max_seconds`` of training time have been spent.

    Only optimizer steps count (not evaluation or saving). ``clock="wall"`` counts wall-clock
    seconds; ``clock="cpu"`` counts this process's CPU seconds (all threads), the fair measure on a
    shared machine. Both are tracked (``elapsed`` / ``cpu_elapsed`` and ``wall_elapsed``). The state is
    exported into checkpoints, so with ``TrainingArguments(restore_callback_states_from_checkpoint=True)``
    a resumed run continues the same budget.

    Args:
        max_seconds: the budget in seconds.
        clock: ``"wall"`` or ``"cpu"``.
        wall_elapsed, cpu_elapsed: seconds already spent (restored from a checkpoint).
    """

    def __init__(
        self, max_seconds: float, clock: str = "wall", wall_elapsed: float = 0.0, cpu_elapsed: float = 0.0
    ) -> None:
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}.")
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}.")
        self.max_seconds = float(max_seconds)
        self.clock = clock
        self.wall_elapsed = float(wall_elapsed)
        self.cpu_elapsed = float(cpu_elapsed)
        self._start: tuple[float, float] | None = None

    @property
    def elapsed(self) -> float:
        """Seconds spent on the budget's clock."""
        return self.cpu_elapsed if self.clock == "cpu" else self.wall_elapsed

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._start is None:
            self._start = (time.perf_counter(), time.process_time())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._start is not None:
            wall, cpu = self._start
            self.wall_elapsed += time.perf_counter() - wall
            self.cpu_elapsed += time.process_time() - cpu
            self._start = None
        if self.elapsed >= self.max_seconds:
            control.should_training_stop = True
            control.should_save = True

    def state(self) -> dict[str, Any]:
        return {
            "args": {
                "max_seconds": self.max_seconds,
                "clock": self.clock,
                "wall_elapsed": self.wall_elapsed,
                "cpu_elapsed": self.cpu_elapsed,
            },
            "attributes": {},
        }


def steps_for_budget(
    model: torch.nn.Module,
    batches: list[dict[str, torch.Tensor]],
    budget_seconds: float,
    *,
    clock: str = "wall",
    minimum: int = 10,
) -> tuple[int, float]:
    """How many optimizer steps fit a time budget: times forward + backward on ``batches`` (no update).

    Use it to size a learning-rate schedule to a :class:`TrainingTimeBudget` (which stays the hard
    stop). The fastest of the timed batches is taken, so a first slow call does not shrink the plan.

    Args:
        model: any model returning ``.loss`` (a LoReFT model, a peft model, a full model).
        batches: collated training batches (e.g. two of the real batch size).
        budget_seconds: the budget, on ``clock`` (``"wall"`` or ``"cpu"``).

    Returns:
        ``(steps, seconds_per_step)``, ``steps >= minimum``.
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}.")
    if not batches:
        raise ValueError("steps_for_budget needs at least one batch to time.")
    was_training = model.training
    model.train()
    costs = []
    for batch in batches:
        wall, cpu = time.perf_counter(), time.process_time()
        model(**batch).loss.backward()
        costs.append(time.process_time() - cpu if clock == "cpu" else time.perf_counter() - wall)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    per_step = min(costs)
    return max(minimum, int(budget_seconds / per_step)), per_step
