"""Training rows: per step, the gradients, the loss, the optimizer's update and batch-norm statistics, in float64.

Each step is judged on its own, as each layer is: PyTorch computes its gradients (compared with Keras's), then
applies Keras's gradients with its own optimizer, so the update row measures the optimizer rule alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from alexgen import weights as w
from alexgen.check.common import Row, errors
from alexgen.check.torch_side import TorchSide, to_torch_layout
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array


def worst_by_layer(graph: Graph, keys: list[str], reference: dict[str, Array], got: dict[str, Array]) -> Row | None:
    """The largest error of a group of tensors, each layer's errors relative to that layer's largest value."""
    by_layer: dict[str, list[str]] = {}
    for key in keys:
        by_layer.setdefault(key.split(".")[0], []).append(key)
    worst: tuple[float, float, str] | None = None
    for layer_keys in by_layer.values():
        scale = max(float(np.abs(reference[k]).max()) for k in layer_keys)
        for key in layer_keys:
            abs_err, rel_err = errors(reference[key], got[key], scale)
            if worst is None or rel_err > worst[1]:
                worst = (abs_err, rel_err, key)
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
        self.slots = list(w.torch_slots(graph, self.side.prefixes))
        self.parameters = dict(self.side.model.named_parameters())

    def gradients(self) -> tuple[float, dict[str, Array]]:
        """Loss with regularization, and every parameter's gradient in the neutral layout."""
        module, model = self.side.module, self.side.model
        self.optimizer.zero_grad()
        loss = module.loss_fn(model(self.x), self.y) + module.regularization_loss(model)
        loss.backward()
        grads = {}
        for key, state_key, slot, order in self.slots:
            parameter = self.parameters.get(state_key)
            if parameter is not None:
                grad = parameter.grad if parameter.grad is not None else parameter.detach() * 0
                grads[key] = w.from_torch_tensor(slot, grad.detach().numpy(), order)
        return float(loss.detach()), grads

    def apply(self, grads: Mapping[str, Array]) -> dict[str, Array]:
        """One optimizer step with the given (reference) gradients; every tensor after it, neutral layout."""
        import torch

        for key, state_key, slot, order in self.slots:
            parameter = self.parameters.get(state_key)
            if parameter is not None:
                parameter.grad = torch.from_numpy(w.to_torch_tensor(slot, np.asarray(grads[f"grad/{key}"]), order))
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return w.torch_state_to_neutral(self.side.graph, self.side.model.state_dict(), self.side.prefixes)


def training_rows(graph: Graph, module: ModuleType, tensors: dict[str, Array], x: Array, y: Array,
                  keras_steps: Iterable[Mapping[str, Array]], tolerance: float) -> list[Row]:
    """Rows for every step of the reference's training run."""
    trainer = TorchTrainer(graph, module, tensors, x, y)
    training = graph.spec.training
    name = training.optimizer.type if training else "sgd"
    before = {k: v.astype(np.float64) for k, v in tensors.items()}
    rows: list[Row] = []
    for step, reference in enumerate(keras_steps, start=1):
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        keras_lr = float(reference["lr"][0])
        loss, grads = trainer.gradients()
        keras_loss = float(reference["loss"][0])
        loss_abs, loss_rel = errors(np.array([keras_loss]), np.array([loss]))
        tag = f"step {step} ({name}, lr {keras_lr:g})"
        rows.append(Row(f"{tag} learning rate", abs(lr - keras_lr) <= tolerance * keras_lr,
                        f"keras {keras_lr:g}, pytorch {lr:g}"))
        rows.append(Row(f"{tag} loss", loss_rel <= tolerance, f"keras {keras_loss:.6g}, pytorch {loss:.6g}",
                        loss_abs, loss_rel, tolerance))
        keras_grads = {k.removeprefix("grad/"): np.asarray(reference[k]) for k in reference if k.startswith("grad/")}
        rows += judged(f"{tag} gradients", worst_by_layer(graph, sorted(keras_grads), keras_grads, grads), tolerance)
        after = trainer.apply(reference)
        keras_after = {k.removeprefix("after/"): np.asarray(reference[k]) for k in reference
                       if k.startswith("after/")}
        trainable = [k for k in keras_grads if k in after]
        keras_update = {k: keras_after[k] - before[k] for k in trainable}
        torch_update = {k: after[k] - before[k] for k in trainable}
        rows += judged(f"{tag} parameter updates", worst_by_layer(graph, trainable, keras_update, torch_update),
                       tolerance)
        moving = [k for k in keras_after if k.split(".")[-1].startswith("moving_")]
        rows += judged(f"{tag} batch-norm moving statistics", worst_by_layer(graph, moving, keras_after, after),
                       tolerance)
        before = keras_after
    return rows


def no_training(graph: Graph) -> list[Row]:
    """Why there are no training rows."""
    return [Row("training steps", True, f"skipped: the output {graph.output.shape} is not a class vector")]
