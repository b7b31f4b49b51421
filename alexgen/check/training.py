"""Training rows: per step, the gradients, the loss, the optimizer's update and batch-norm statistics, in float64.

Each step is judged on its own, as each layer is: PyTorch computes its gradients (compared with Keras's), then
applies Keras's gradients with its own optimizer, so the update row measures the optimizer rule alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from alexgen import weights as w
from alexgen.check.common import Row, errors
from alexgen.check.torch_side import TorchSide, to_torch_layout
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array


def worst_by_layer(keys: list[str], reference: Callable[[str], Array], got: Callable[[str], Array]) -> Row | None:
    """The largest error of a group of tensors, each layer's relative to that layer's largest value.

    Tensors are fetched one layer at a time and dropped once compared (a 62M-parameter model is 0.5 GB a copy).
    """
    by_layer: dict[str, list[str]] = {}
    for key in keys:
        by_layer.setdefault(key.split(".")[0], []).append(key)
    worst: tuple[float, float, str] | None = None
    for layer_keys in by_layer.values():
        values = {k: reference(k) for k in layer_keys}
        scale = max(float(np.abs(v).max()) if v.size else 0.0 for v in values.values())
        for key, value in values.items():
            abs_err, rel_err = errors(value, got(key), scale)
            if worst is None or rel_err > worst[1]:
                worst = (abs_err, rel_err, key)
        del values
    return None if worst is None else Row("", True, f"worst: {worst[2]}", worst[0], worst[1])


def judged(label: str, row: Row | None, tolerance: float) -> list[Row]:
    """A row of `worst_by_layer` named and judged."""
    if row is None:
        return []
    assert row.max_rel is not None
    return [Row(label, row.max_rel <= tolerance, row.detail, row.max_abs, row.max_rel, tolerance)]


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
        self.slots = {key: (state_key, slot, order, parameters.get(state_key))
                      for key, state_key, slot, order in w.torch_slots(graph, self.side.prefixes)}

    def loss_and_backward(self) -> float:
        """Loss with regularization; gradients left in the parameters."""
        module, model = self.side.module, self.side.model
        self.optimizer.zero_grad()
        loss = module.loss_fn(model(self.x), self.y) + module.regularization_loss(model)
        loss.backward()
        return float(loss.detach())

    def gradient(self, key: str) -> Array:
        """One parameter's gradient, neutral layout (zeros where autograd left none)."""
        _, slot, order, parameter = self.slots[key]
        assert parameter is not None, key
        grad = parameter.grad if parameter.grad is not None else parameter.detach() * 0
        return w.from_torch_tensor(slot, grad.detach().numpy(), order)

    def tensor(self, key: str) -> Array:
        """One tensor of the model's state, neutral layout."""
        state_key, slot, order, _ = self.slots[key]
        return w.from_torch_tensor(slot, self.state[state_key].detach().numpy(), order)

    def apply(self, reference: Mapping[str, Array]) -> None:
        """One optimizer step with the reference's gradients, then the schedule's step."""
        import torch

        for key, (_, slot, order, parameter) in self.slots.items():
            if parameter is not None:
                grad = w.to_torch_tensor(slot, np.asarray(reference[f"grad/{key}"]), order)
                parameter.grad = torch.from_numpy(grad)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()


Fetch = Callable[[str], "Array"]


def gradient_view(reference: Mapping[str, Array]) -> Fetch:
    """Keras's gradient of a key, read when asked."""
    return lambda key: np.asarray(reference[f"grad/{key}"])


def step_views(reference: Mapping[str, Array], before: Fetch, trainer: TorchTrainer) -> tuple[Fetch, Fetch, Fetch]:
    """Per key, read when asked: Keras's tensor after the step, Keras's update and PyTorch's update."""
    def after(key: str) -> Array:
        return np.asarray(reference[f"after/{key}"])

    def keras_update(key: str) -> Array:
        return after(key) - before(key)

    def torch_update(key: str) -> Array:
        return trainer.tensor(key) - before(key)

    return after, keras_update, torch_update


def training_rows(graph: Graph, module: ModuleType, tensors: dict[str, Array], x: Array, y: Array,
                  keras_steps: Iterable[Mapping[str, Array]], tolerance: float) -> list[Row]:
    """Rows for every step of the reference's training run."""
    trainer = TorchTrainer(graph, module, tensors, x, y)
    training = graph.spec.training
    name = training.optimizer.type if training else "sgd"
    def start(key: str) -> Array:
        return tensors[key].astype(np.float64)

    before: Fetch = start
    rows: list[Row] = []
    for step, reference in enumerate(keras_steps, start=1):
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        keras_lr, keras_loss = float(reference["lr"][0]), float(reference["loss"][0])
        loss = trainer.loss_and_backward()
        loss_abs, loss_rel = errors(np.array([keras_loss]), np.array([loss]))
        tag = f"step {step} ({name}, lr {keras_lr:g})"
        rows.append(Row(f"{tag} learning rate", abs(lr - keras_lr) <= tolerance * keras_lr,
                        f"keras {keras_lr:g}, pytorch {lr:g}"))
        rows.append(Row(f"{tag} loss", loss_rel <= tolerance, f"keras {keras_loss:.6g}, pytorch {loss:.6g}",
                        loss_abs, loss_rel, tolerance))
        trainable = sorted(k.removeprefix("grad/") for k in reference if k.startswith("grad/"))
        keras_gradient = gradient_view(reference)
        rows += judged(f"{tag} gradients", worst_by_layer(trainable, keras_gradient, trainer.gradient), tolerance)
        trainer.apply(reference)
        after, keras_update, torch_update = step_views(reference, before, trainer)
        rows += judged(f"{tag} parameter updates", worst_by_layer(trainable, keras_update, torch_update), tolerance)
        moving = [k.removeprefix("after/") for k in reference
                  if k.startswith("after/") and k.split(".")[-1].startswith("moving_")]
        rows += judged(f"{tag} batch-norm moving statistics", worst_by_layer(moving, after, trainer.tensor),
                       tolerance)
        before = after
    return rows


def no_training(graph: Graph) -> list[Row]:
    """Why there are no training rows."""
    return [Row("training steps", True, f"skipped: the output {graph.output.shape} is not a class vector")]
