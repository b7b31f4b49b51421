"""Training rows: per step, the gradients, the loss, the optimizer's update and batch-norm statistics, in float64.

Each step is judged on its own, as each layer is: PyTorch computes its gradients (compared with Keras's), then
applies Keras's gradients with its own optimizer, so the update row measures the optimizer rule alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from alexgen import weights as w
from alexgen.analysis import LAYOUT_AXES
from alexgen.check.common import Row, errors
from alexgen.check.torch_side import TorchSide, neutral_array, to_torch_layout, torch_tensor
from alexgen.check.training_diagnosis import (
    SAMPLE,
    History,
    diagnose_learning_rate,
    diagnose_statistics,
    diagnose_updates,
    sample,
)
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array


Pair = Callable[[str], tuple["Array", "Array"]]
Measure = Callable[[str], tuple[float, float]]  # key -> (max |reference − other|, max |reference|)
BLOCK_ROWS = 256  # rows of a gradient compared and swapped at a time


def measured(pair: Pair) -> Measure:
    """A pair's tensors compared: the largest difference and the reference's largest magnitude.

    `pair(key)` gives (reference, other) for one tensor, `other` a copy the comparison may overwrite; each pair is
    compared and dropped before the next is made (a 62M-parameter model is 0.5 GB a copy in float64).
    """

    def measure(key: str) -> tuple[float, float]:
        reference, other = pair(key)
        size = float(max(reference.max(), -reference.min())) if reference.size else 0.0
        return errors(reference, other, 1.0, scratch=True)[0], size

    return measure


def worst_by_layer(keys: list[str], measure: Measure) -> Row | None:
    """The largest error of a group of tensors, each layer's relative to that layer's largest reference value."""
    by_layer: dict[str, list[str]] = {}
    for key in keys:
        by_layer.setdefault(key.split(".")[0], []).append(key)
    worst: tuple[float, float, str] | None = None
    for layer_keys in by_layer.values():
        measured = []
        for key in layer_keys:
            abs_err, size = measure(key)
            measured.append((key, abs_err, size))
        scale = max(size for _, _, size in measured)
        for key, abs_err, _ in measured:
            rel_err = abs_err / scale if scale else abs_err
            if worst is None or rel_err > worst[1]:
                worst = (abs_err, rel_err, key)
    return None if worst is None else Row("", True, f"worst: {worst[2]}", worst[0], worst[1])


def judged(label: str, row: Row | None, tolerance: float, note: str = "") -> list[Row]:
    """A row of `worst_by_layer` named and judged, with a note after its detail."""
    if row is None:
        return []
    assert row.max_rel is not None
    detail = "; ".join(filter(None, [row.detail, note]))
    return [Row(label, row.max_rel <= tolerance, detail, row.max_abs, row.max_rel, tolerance)]


def gradient_allowance(graph: Graph) -> tuple[float, str]:
    """The sum of the ops' float64 gradient allowances (first order: each layer's relative change adds up along
    the backward pass), and a note naming the layers."""
    allowances = [(node.name, node.op.allowance(node.layer)) for node in graph.nodes]
    named = [(name, a) for name, a in allowances if a is not None and a.gradient]
    if not named:
        return 0.0, ""
    extra = sum(a.gradient for _, a in named)
    return extra, f"float64 allowance {extra:.1e} for {', '.join(name for name, _ in named)} (float32 constants)"


class TorchTrainer:
    """The generated PyTorch training set-up (optimizer, schedule, loss, regularization) stepped by hand."""

    def __init__(self, graph: Graph, module: ModuleType, tensors: dict[str, Array], x: Array, y: Array) -> None:
        import torch
        from torch import nn

        self.side = TorchSide(graph, module, "float64")
        self.side.load(tensors)
        for sub in self.side.model.modules():
            if isinstance(sub, nn.Dropout):
                sub.p = 0.0
        self.side.model.train()
        self.optimizer = module.make_optimizer(self.side.model)
        scheduler = module.make_scheduler(self.optimizer)
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        self.scheduler = None if plateau else scheduler
        self.x = torch.from_numpy(to_torch_layout(x, None))
        self.y = torch.from_numpy(y)
        parameters = dict(self.side.model.named_parameters())
        self.state = self.side.model.state_dict(keep_vars=True)
        self.slots = {
            key: (state_key, slot, order, parameters.get(state_key))
            for key, state_key, slot, order in w.torch_slots(graph, self.side.prefixes)
        }

    def loss_and_backward(self) -> float:
        """Loss with regularization; gradients left in the parameters."""
        module, model = self.side.module, self.side.model
        self.optimizer.zero_grad()
        loss = module.loss_fn(model(self.x), self.y) + module.regularization_loss(model)
        loss.backward()
        return float(loss.detach())

    def neutral_view(self, key: str, tensor: Any) -> Any | None:
        """`tensor` (a parameter or its gradient) as a view in the neutral layout, rows in PyTorch's order; None
        when that layout is not a view of PyTorch's."""
        _, slot, _, _ = self.slots[key]
        try:
            view = tensor.detach().permute(*np.argsort(LAYOUT_AXES[slot.layout]).tolist()).view(slot.shape)
        except RuntimeError:
            return None
        return view if view.dim() else None

    def row_index(self, key: str) -> Any | None:
        """The neutral row of each of PyTorch's rows (a flatten-ordered kernel's), None when they are the same."""
        import torch

        _, slot, order, _ = self.slots[key]
        return torch.as_tensor(order, dtype=torch.long) if order is not None and slot.follows_input else None

    def swap_gradient_blocks(self, key: str, reference: Array) -> tuple[float, float] | None:
        """(max |reference − autograd's|, max |reference|) of one parameter's gradient, compared and overwritten
        with the reference's a block of rows at a time through a view of autograd's gradient in the neutral
        layout (no whole-tensor copy); None when that layout is not a view of PyTorch's."""
        import torch

        parameter = self.slots[key][3]
        assert parameter is not None, key
        own = parameter.grad
        neutral = None if own is None or not reference.size else self.neutral_view(key, own)
        if neutral is None:
            return None
        given = torch.from_numpy(reference)
        index = self.row_index(key)
        worst, size = [], []  # per block; numpy's max keeps a NaN
        for start in range(0, len(neutral), BLOCK_ROWS):
            rows = slice(start, start + BLOCK_ROWS)
            block = given[rows] if index is None else given.index_select(0, index[rows])  # PyTorch's row order
            worst.append(float((block - neutral[rows]).abs().max()))
            size.append(float(block.abs().max()))
            neutral[rows].copy_(block)
        return float(np.max(worst)), float(np.max(size))

    def head(self, key: str) -> Array:
        """`sample` of one tensor of the model's state in the neutral layout, read from its first rows only."""
        state_key = self.slots[key][0]
        neutral = self.neutral_view(key, self.state[state_key])
        if neutral is None:
            return sample(self.tensor(key))
        rows = min(len(neutral), -(-SAMPLE // max(1, neutral[0].numel())))
        index = self.row_index(key)
        first = neutral[:rows] if index is None else neutral.index_select(0, index.argsort()[:rows])
        return sample(first.numpy())

    def update_into(self, key: str, start: Array) -> Array:
        """One tensor of the model's state minus `start` (neutral layout, float64), written into `start` a block of
        rows at a time through a neutral-layout view of PyTorch's tensor (a fresh array when there is none)."""
        state_key = self.slots[key][0]
        neutral = self.neutral_view(key, self.state[state_key])
        if neutral is None:
            update = self.tensor(key)
            update -= start
            return update
        index = self.row_index(key)
        for first in range(0, len(neutral), BLOCK_ROWS):
            rows = slice(first, first + BLOCK_ROWS)
            own = neutral[rows].numpy()
            if index is None:
                np.subtract(own, start[rows], out=start[rows])
            else:
                keras_rows = index[rows].numpy()
                start[keras_rows] = own - start[keras_rows]
        return start

    def swap_gradient(self, key: str, reference: Array) -> tuple[Array, Array]:
        """(the reference's gradient, autograd's) of one parameter in PyTorch's layout; the reference's is left in
        the parameter for the optimizer step (zeros stand for a gradient autograd did not produce)."""
        _, slot, order, parameter = self.slots[key]
        assert parameter is not None, key
        given = torch_tensor(slot, reference, order)
        own = parameter.grad if parameter.grad is not None else parameter.detach() * 0
        parameter.grad = given
        return given.numpy(), own.detach().numpy()

    def tensor(self, key: str) -> Array:
        """One tensor of the model's state, neutral layout (a copy)."""
        state_key, slot, order, _ = self.slots[key]
        return neutral_array(slot, self.state[state_key], order)

    def step(self) -> None:
        """One optimizer step with the gradients in the parameters, the schedule's step, gradients released."""
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)


def gradient_measure(reference: Mapping[str, Array], trainer: TorchTrainer, history: History) -> Measure:
    """Per key: Keras's gradient against PyTorch's, Keras's left in the parameter for the optimizer step."""

    def measure(key: str) -> tuple[float, float]:
        given = reference[f"grad/{key}"]
        history.grads[-1][key] = sample(given)
        blocks = trainer.swap_gradient_blocks(key, given)
        return blocks if blocks is not None else measured(lambda k: trainer.swap_gradient(k, given))(key)

    return measure


def statistics_pair(reference: Mapping[str, Array], trainer: TorchTrainer, history: History) -> Pair:
    """Per key: (Keras's tensor after the step, PyTorch's)."""

    def pair(key: str) -> tuple[Array, Array]:
        keras, torch = reference[f"after/{key}"], trainer.tensor(key)
        history.keras[-1][key], history.torch[-1][key] = sample(keras), sample(torch)
        return keras, torch

    return pair


def update_pair(
    reference: Mapping[str, Array], before: Callable[[str], Array], trainer: TorchTrainer, history: History
) -> Pair:
    """Per key: (Keras's update, PyTorch's update) of one tensor over the step, both from the same start."""

    def pair(key: str) -> tuple[Array, Array]:
        keras_update = owned(reference, f"after/{key}")
        history.keras[-1][key] = sample(keras_update)
        start = before(key)
        keras_update -= start
        history.torch[-1][key] = trainer.head(key)
        return keras_update, trainer.update_into(key, start)

    return pair


def owned(records: Mapping[str, Array], key: str) -> Array:
    """`records[key]` as a float64 array the caller may overwrite: a stored record is read fresh from its file,
    anything else is copied."""
    from alexgen.check.worker import StoredRecords

    value = records[key]
    return np.asarray(value, dtype=np.float64) if isinstance(records, StoredRecords) else np.array(value, np.float64)


def diagnosed(rows: list[Row], worst: Row | None, diagnose: Callable[[str], str]) -> list[Row]:
    """A judged row with the diagnosis of its worst tensor appended when it failed."""
    if rows and worst is not None and not rows[0].passed:
        rows[0].detail = f"{rows[0].detail}; {diagnose(worst.detail.removeprefix('worst: '))}"
    return rows


def recorded_after(reference: Mapping[str, Array]) -> Callable[[str], Array]:
    """Keras's tensor after a step, read when asked (an array the caller may overwrite): the next step's start."""
    return lambda key: owned(reference, f"after/{key}")


def training_rows(
    graph: Graph,
    module: ModuleType,
    tensors: dict[str, Array],
    x: Array,
    y: Array,
    keras_steps: Iterable[Mapping[str, Array]],
    tolerance: float,
) -> list[Row]:
    """Rows for every step of the reference's training run.

    `tensors` is handed over: once both models hold them (Keras in this process loads them when its first step
    is asked for) they are written to a scratch folder, read back one at a time as the first step's start, and
    the dict is emptied (a 62M-parameter model's float32 draws are 0.25 GB).
    """
    import tempfile
    from pathlib import Path

    from alexgen.check.worker import StoredRecords, save

    trainer = TorchTrainer(graph, module, tensors, x, y)
    history = History({key: sample(value) for key, value in tensors.items()})
    with tempfile.TemporaryDirectory(prefix="alexgen-check-start-") as folder:
        save(Path(folder), tensors)
        starts = StoredRecords(Path(folder))
        return stepped_rows(graph, trainer, history, tensors, starts, x, keras_steps, tolerance)


# The most a float64 probability's log can contribute: a softmax output below tiny has underflowed to 0, where
# PyTorch's log stops (clamped) while Keras on TensorFlow still scores the logits.
LOSS_FLOOR = float(-np.log(np.finfo(np.float64).tiny))  # 708.4


def diverged(loss: float, batch: int) -> bool:
    """Whether the reference loss may include an underflowed softmax probability (or is not finite)."""
    return not np.isfinite(loss) or loss * batch > LOSS_FLOOR


def diverged_row(tag: str, first_loss: float, loss: float, step: int) -> Row:
    """Why this step and the ones after it are not compared."""
    return Row(
        f"{tag} and later",
        True,
        f"not compared: the training diverged (Keras loss {first_loss:.6g} at step 1, {loss:.6g} at step {step}), "
        f"past where a softmax probability can underflow to 0 (batch loss over {LOSS_FLOOR:.1f} = -log(tiny)). "
        "Such an example is scored differently by design: Keras on TensorFlow takes the loss from the logits, "
        "PyTorch's log of the probability stops at -log(tiny); and rounding differences grow without bound. "
        "Lower the learning rate (--set training.optimizer.learning_rate=...) to compare more steps",
    )


def stepped_rows(
    graph: Graph,
    trainer: TorchTrainer,
    history: History,
    tensors: dict[str, Array],
    starts: Mapping[str, Array],
    x: Array,
    keras_steps: Iterable[Mapping[str, Array]],
    tolerance: float,
) -> list[Row]:
    """The rows of every step; `tensors` is emptied once the first step's records have arrived."""
    training = graph.spec.training
    name = training.optimizer.type if training else "sgd"

    def start(key: str) -> Array:
        return owned(starts, key)

    before: Callable[[str], Array] = start
    extra, note = gradient_allowance(graph)
    rows: list[Row] = []
    first_loss: float | None = None
    for step, reference in enumerate(keras_steps, start=1):
        tensors.clear()
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        keras_lr, keras_loss = float(reference["lr"][0]), float(reference["loss"][0])
        first_loss = keras_loss if first_loss is None else first_loss
        if diverged(keras_loss, len(x)):
            rows.append(diverged_row(f"step {step} ({name}, lr {keras_lr:g})", first_loss, keras_loss, step))
            break
        history.begin(keras_lr, lr)
        loss = trainer.loss_and_backward()
        loss_abs, loss_rel = errors(np.array([keras_loss]), np.array([loss]))
        tag = f"step {step} ({name}, lr {keras_lr:g})"
        same_lr = abs(lr - keras_lr) <= tolerance * keras_lr
        lr_detail = f"keras {keras_lr:g}, pytorch {lr:g}"
        if not same_lr:
            lr_detail = f"{lr_detail}; {diagnose_learning_rate(graph, history, tolerance)}"
        rows.append(Row(f"{tag} learning rate", same_lr, lr_detail))
        rows.append(
            Row(
                f"{tag} loss",
                loss_rel <= tolerance,
                f"keras {keras_loss:.6g}, pytorch {loss:.6g}",
                loss_abs,
                loss_rel,
                tolerance,
            )
        )
        trainable = sorted(k.removeprefix("grad/") for k in reference if k.startswith("grad/"))
        gradients = worst_by_layer(trainable, gradient_measure(reference, trainer, history))
        rows += judged(f"{tag} gradients", gradients, tolerance + extra, note)
        trainer.step()
        updates = worst_by_layer(trainable, measured(update_pair(reference, before, trainer, history)))
        rows += diagnosed(
            judged(f"{tag} parameter updates", updates, tolerance),
            updates,
            lambda key: diagnose_updates(graph, history, key, tolerance),
        )
        moving = [
            k.removeprefix("after/")
            for k in reference
            if k.startswith("after/") and k.split(".")[-1].startswith("moving_")
        ]
        statistics = worst_by_layer(moving, measured(statistics_pair(reference, trainer, history)))
        rows += diagnosed(
            judged(f"{tag} batch-norm moving statistics", statistics, tolerance),
            statistics,
            lambda key: diagnose_statistics(graph, history, key, len(x), tolerance),
        )
        before = recorded_after(reference)
    return rows


def no_training(graph: Graph) -> list[Row]:
    """Why there are no training rows."""
    return [Row("training steps", True, f"skipped: the output {graph.output.shape} is not a class vector")]
