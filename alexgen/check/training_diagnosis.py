"""A diagnosis for a diverging training row: replay known alternative conventions on a few elements and name the
one that reproduces PyTorch, as `diagnosis` does for a layer.

The training rows keep a History: the first SAMPLE elements of every tensor at the start and, per step, Keras's
learning rate and gradients and both frameworks' tensors after the step (a few kilobytes for any model). An
optimizer rule replayed on those elements from the start, with Keras's gradients (which both frameworks apply),
must give PyTorch's elements if PyTorch follows it; a batch-norm moving statistic is one blend of the previous value
and the batch statistic, which Keras's own update gives back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from alexgen import spec as s
from alexgen.graph import Graph

if TYPE_CHECKING:
    from alexgen.check.common import Array

SAMPLE = 64  # elements kept per tensor: enough to tell conventions apart, negligible memory


def sample(value: Array) -> Array:
    """The first SAMPLE elements of a tensor, flat, float64, as a copy."""
    return np.array(np.asarray(value).ravel()[:SAMPLE], dtype=np.float64)


@dataclass
class History:
    """A few elements of every tensor through the steps."""

    start: dict[str, Array]
    lrs: list[float] = field(default_factory=list)
    grads: list[dict[str, Array]] = field(default_factory=list)
    keras: list[dict[str, Array]] = field(default_factory=list)  # after each step
    torch: list[dict[str, Array]] = field(default_factory=list)

    def begin(self, lr: float) -> None:
        """A new step with Keras's learning rate."""
        self.lrs.append(lr)
        for records in (self.grads, self.keras, self.torch):
            records.append({})

    def before(self, side: str, key: str) -> Array:
        """A tensor's elements before the current step, on one side."""
        steps = self.keras if side == "keras" else self.torch
        return steps[-2][key] if len(steps) > 1 else self.start[key]


Replay = Callable[["Array", list[float], list["Array"]], "Array"]


@dataclass(frozen=True)
class Rule:
    """An optimizer update rule: how it reads, why PyTorch would follow it, and a replay on a few elements."""

    condition: str
    cause: str
    replay: Replay


def sgd_rules(opt: s.SGD) -> list[Rule]:
    """Keras's momentum (v = μv − lr·g, w += v) first, then PyTorch's buffer (b = μb + g, w −= lr·b)."""
    mu, decay = opt.momentum, opt.weight_decay

    def replay(keras: bool) -> Replay:
        def run(w: Array, lrs: list[float], grads: list[Array]) -> Array:
            v = np.zeros_like(w)
            for lr, g in zip(lrs, grads, strict=True):
                g = g + decay * w
                if keras:
                    v = mu * v - lr * g
                    w = w + v
                else:
                    v = mu * v + g
                    w = w - lr * v
            return w

        return run

    return [
        Rule("Keras's momentum v = μv − lr·g", "", replay(True)),
        Rule(
            "PyTorch's momentum buffer b = μb + g, w −= lr·b",
            "the momentum convention differs once the "
            "learning rate changes: Keras's velocity carries the old rate; rescale the buffer by lr_old / "
            "lr_new at a change (the generated KerasSGD)",
            replay(False),
        ),
    ]


def adam_rules(opt: s.Adam) -> list[Rule]:
    """Keras's epsilon-hat (ε added to sqrt(v) before the bias correction) first, then PyTorch's and ε in sqrt."""
    b1, b2, eps = opt.beta_1, opt.beta_2, opt.epsilon

    def replay(placement: str) -> Replay:
        def run(w: Array, lrs: list[float], grads: list[Array]) -> Array:
            m, v = np.zeros_like(w), np.zeros_like(w)
            for t, (lr, g) in enumerate(zip(lrs, grads, strict=True), start=1):
                m = m + (g - m) * (1 - b1)
                v = v + (g * g - v) * (1 - b2)
                c1, c2 = 1 - b1**t, 1 - b2**t
                if placement == "keras":
                    w = w - lr * math.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)
                elif placement == "torch":
                    w = w - lr / c1 * m / (np.sqrt(v) / math.sqrt(c2) + eps)
                else:
                    w = w - lr * (m / c1) / np.sqrt(v / c2 + eps)
            return w

        return run

    return [
        Rule("Keras's epsilon-hat", "", replay("keras")),
        Rule(
            "epsilon added after the bias correction (torch.optim.Adam's eps)",
            "Adam's epsilon placement: "
            "Keras adds epsilon to sqrt(v) before the bias correction (epsilon-hat); use eps = epsilon / "
            "sqrt(1 − β2^t) at step t (the generated KerasAdam)",
            replay("torch"),
        ),
        Rule(
            "epsilon inside the square root, sqrt(v̂ + ε)",
            "Adam's epsilon placement: epsilon was put inside "
            "the square root; Keras adds it to sqrt(v) before the bias correction",
            replay("inside"),
        ),
    ]


def optimizer_rules(graph: Graph) -> list[Rule]:
    """The spec's optimizer's rule and its known alternatives (none for the others yet)."""
    training = graph.spec.training
    opt = training.optimizer if training is not None else None
    if isinstance(opt, s.SGD) and opt.momentum > 0 and not opt.nesterov:
        return sgd_rules(opt)
    if isinstance(opt, s.Adam):
        return adam_rules(opt)
    return []


def relative(reference: Array, other: Array, scale: float) -> float:
    """Max |reference − other| over `scale`."""
    return float(np.abs(reference - other).max()) / scale if scale else float(np.abs(reference - other).max())


def diagnose_updates(graph: Graph, history: History, key: str, limit: float) -> str:
    """Which optimizer rule reproduces PyTorch's trajectory of one tensor, replayed from the start."""
    rules = optimizer_rules(graph)
    if not rules:
        return "no alternative optimizer conventions known for this optimizer"
    start, grads = history.start[key], [step[key] for step in history.grads]
    keras, torch = history.keras[-1][key], history.torch[-1][key]
    scale = float(np.abs(keras - start).max())
    if relative(rules[0].replay(start, history.lrs, grads), keras, scale) > limit:
        return f"no diagnosis: replaying {rules[0].condition} does not reproduce Keras"
    tried = []
    for rule in rules[1:]:
        rel = relative(rule.replay(start, history.lrs, grads), torch, scale)
        if rel <= limit:
            return f"with {rule.condition} PyTorch's steps are reproduced to {rel:.0e}: {rule.cause}"
        tried.append(f"{rule.condition} (rel {rel:.2g})")
    return f"no known optimizer convention explains it (tried: {'; '.join(tried)})"


def diagnose_statistics(graph: Graph, history: History, key: str, batch: int, limit: float) -> str:
    """Which batch-norm convention reproduces PyTorch's moving statistic: momentum m vs 1 − m, unbiased variance."""
    name, slot = key.split(".")
    node: Any = next(n for n in graph.nodes if n.name == name)
    m, count = node.layer.momentum, batch * math.prod(node.shape[:-1])
    keras_before, torch_before = history.before("keras", key), history.before("torch", key)
    keras, torch = history.keras[-1][key], history.torch[-1][key]
    batch_value = (keras - m * keras_before) / (1 - m)  # Keras: moving = m·moving + (1 − m)·batch
    unbiased = batch_value * count / (count - 1) if count > 1 else batch_value
    swapped = f"PyTorch's momentum set to Keras's {m:g} instead of 1 − {m:g}"
    candidates = [
        (
            f"with {swapped}",
            "PyTorch's momentum weighs the new batch, Keras's the old value: pass 1 − m",
            (1 - m) * torch_before + m * batch_value,
        )
    ]
    if slot == "moving_variance":
        candidates += [
            (
                "with the unbiased batch variance (n/(n − 1))",
                "the moving variance was updated with the unbiased "
                "batch variance, PyTorch's default; Keras uses the biased one (the generated BatchNorm subclass)",
                m * torch_before + (1 - m) * unbiased,
            ),
            (
                f"with the unbiased batch variance and {swapped}",
                "both the momentum (pass 1 − m) and the variance "
                "(Keras's moving variance uses the biased batch variance) differ",
                (1 - m) * torch_before + m * unbiased,
            ),
        ]
    scale = float(np.abs(torch).max())
    tried = []
    for condition, cause, value in candidates:
        rel = relative(value, torch, scale)
        if rel <= limit:
            return f"{condition} it agrees to {rel:.0e}: {cause}"
        tried.append(f"{condition.removeprefix('with ')} (rel {rel:.2g})")
    return f"no known batch-norm convention explains it (tried: {'; '.join(tried)})"
