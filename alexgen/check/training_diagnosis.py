"""A diagnosis for a diverging training row: replay known alternative conventions on a few elements and name the
one that reproduces PyTorch, as `diagnosis` does for a layer.

The training rows keep a History: the first SAMPLE elements of every tensor at the start and, per step, Keras's
learning rate and gradients and both frameworks' tensors after the step (a few kilobytes for any model). An
optimizer rule replayed on those elements from the start, with Keras's gradients (which both frameworks apply),
must give PyTorch's elements if PyTorch follows it; a batch-norm moving statistic is one blend of the previous value
and the batch statistic, which Keras's own update gives back.
"""

from __future__ import annotations

import itertools
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
    lrs: list[float] = field(default_factory=list)  # Keras's, per step
    torch_lrs: list[float] = field(default_factory=list)
    grads: list[dict[str, Array]] = field(default_factory=list)
    keras: list[dict[str, Array]] = field(default_factory=list)  # after each step
    torch: list[dict[str, Array]] = field(default_factory=list)

    def begin(self, lr: float, torch_lr: float) -> None:
        """A new step with Keras's and PyTorch's learning rates."""
        self.lrs.append(lr)
        self.torch_lrs.append(torch_lr)
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


@dataclass(frozen=True)
class Difference:
    """One hyperparameter or convention PyTorch may have differently: how it reads, why, and its setting."""

    condition: str
    cause: str
    setting: dict[str, Any]


def combined(keras: dict[str, Any], differences: list[Difference], replay: Callable[..., Replay]) -> list[Rule]:
    """Keras's rule, then every combination of the differences, fewest first (a converter often has several)."""
    rules = [Rule("Keras's rule", "", replay(**keras))]
    for size in range(1, len(differences) + 1):
        for chosen in itertools.combinations(differences, size):
            settings = {key: value for d in chosen for key, value in d.setting.items()}
            rules.append(
                Rule(
                    " and ".join(d.condition for d in chosen),
                    "; ".join(d.cause for d in chosen),
                    replay(**{**keras, **settings}),
                )
            )
    return rules


def rmsprop_replay(rho: float, eps: float, inside: bool, mu: float, centered: bool, torch_momentum: bool) -> Replay:
    """RMSprop on a few elements: Keras's with epsilon inside the square root and lr inside the momentum."""

    def run(w: Array, lrs: list[float], grads: list[Array]) -> Array:
        v, average, buffer = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
        for lr, g in zip(lrs, grads, strict=True):
            v = rho * v + (1 - rho) * g * g
            variance = v
            if centered:
                average = rho * average + (1 - rho) * g
                variance = v - average * average
            denominator = np.sqrt(variance + eps) if inside else np.sqrt(variance) + eps
            if mu > 0 and torch_momentum:
                buffer = mu * buffer + g / denominator
                w = w - lr * buffer
            elif mu > 0:
                buffer = mu * buffer + lr * g / denominator
                w = w - buffer
            else:
                w = w - lr * g / denominator
        return w

    return run


TORCH_RMSPROP = {"alpha": 0.99, "eps": 1e-8}
TORCH_ADADELTA = {"lr": 1.0, "rho": 0.9, "eps": 1e-6}


def rmsprop_rules(opt: s.RMSprop) -> list[Rule]:
    """Keras's RMSprop, then torch.optim.RMSprop's conventions and defaults, alone and together."""
    keras = {"rho": opt.rho, "eps": opt.epsilon, "inside": True, "mu": opt.momentum, "centered": opt.centered,
             "torch_momentum": False}
    differences = [
        Difference(
            "epsilon outside the square root, sqrt(v) + ε (torch.optim.RMSprop)",
            "RMSprop's epsilon placement: torch.optim.RMSprop divides by sqrt(v) + eps, Keras by sqrt(v + epsilon) "
            "(the generated KerasRMSprop)",
            {"inside": False},
        )
    ]
    if opt.rho != TORCH_RMSPROP["alpha"]:
        differences.append(
            Difference(
                f"ρ = {TORCH_RMSPROP['alpha']:g} instead of {opt.rho:g}",
                f"RMSprop's decay: PyTorch calls ρ `alpha` and defaults it to {TORCH_RMSPROP['alpha']:g}; pass "
                f"alpha={opt.rho:g} (rho is not a torch.optim.RMSprop argument)",
                {"rho": TORCH_RMSPROP["alpha"]},
            )
        )
    if opt.epsilon != TORCH_RMSPROP["eps"]:
        differences.append(
            Difference(
                f"ε = {TORCH_RMSPROP['eps']:g} instead of {opt.epsilon:g}",
                f"RMSprop's epsilon: torch.optim.RMSprop's default eps {TORCH_RMSPROP['eps']:g} was used; pass "
                f"the spec's {opt.epsilon:g}",
                {"eps": TORCH_RMSPROP["eps"]},
            )
        )
    if opt.momentum > 0:
        differences.append(
            Difference(
                "PyTorch's momentum buffer b = μb + g/d, w −= lr·b",
                "RMSprop's momentum convention: Keras keeps lr inside the momentum (m = μm + lr·g/d), PyTorch "
                "outside; they differ once the learning rate changes",
                {"torch_momentum": True},
            )
        )
    return combined(keras, differences, rmsprop_replay)


def adadelta_replay(rho: float, eps: float) -> Replay:
    """Adadelta on a few elements (the same rule in both frameworks; only the defaults differ)."""

    def run(w: Array, lrs: list[float], grads: list[Array]) -> Array:
        accumulated, deltas = np.zeros_like(w), np.zeros_like(w)
        for lr, g in zip(lrs, grads, strict=True):
            accumulated = rho * accumulated + (1 - rho) * g * g
            delta = np.sqrt(deltas + eps) * g / np.sqrt(accumulated + eps)
            deltas = rho * deltas + (1 - rho) * delta * delta
            w = w - lr * delta
        return w

    return run


def adadelta_rules(opt: s.Adadelta) -> list[Rule]:
    """Keras's Adadelta, then torch.optim.Adadelta's default rho and eps, alone and together (its default lr
    shows in the learning-rate row)."""
    differences = [
        Difference(
            f"{name} = {TORCH_ADADELTA[name]:g} instead of {value:g}",
            f"torch.optim.Adadelta's default {name} {TORCH_ADADELTA[name]:g} was used (Keras's default is "
            f"{keras_default:g}); pass every Adadelta value explicitly",
            {name: TORCH_ADADELTA[name]},
        )
        for name, value, keras_default in (("rho", opt.rho, 0.95), ("eps", opt.epsilon, 1e-7))
        if value != TORCH_ADADELTA[name]
    ]
    return combined({"rho": opt.rho, "eps": opt.epsilon}, differences, adadelta_replay)


def optimizer_rules(graph: Graph) -> list[Rule]:
    """The spec's optimizer's rule and its known alternatives (none for the others yet)."""
    training = graph.spec.training
    opt = training.optimizer if training is not None else None
    if isinstance(opt, s.SGD) and opt.momentum > 0 and not opt.nesterov:
        return sgd_rules(opt)
    if isinstance(opt, s.Adam):
        return adam_rules(opt)
    if isinstance(opt, s.RMSprop):
        return rmsprop_rules(opt)
    if isinstance(opt, s.Adadelta):
        return adadelta_rules(opt)
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
    if history.torch_lrs != history.lrs:
        rel = relative(rules[0].replay(start, history.torch_lrs, grads), torch, scale)
        if rel <= limit:
            return (f"with {rules[0].condition} at PyTorch's learning rates PyTorch's steps are reproduced to "
                    f"{rel:.0e}: the update rule agrees, the learning rate differs (see the learning-rate row)")
        tried.append(f"PyTorch's learning rates (rel {rel:.2g})")
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


TORCH_DEFAULT_LR = {"sgd": 1e-3, "adam": 1e-3, "rmsprop": 1e-2, "adadelta": 1.0}  # torch.optim's defaults
KERAS_DEFAULT_LR = {"sgd": 1e-2, "adam": 1e-3, "rmsprop": 1e-3, "adadelta": 1e-3}


def schedule_candidates(training: s.Training) -> list[tuple[str, str, Callable[[int], float]]]:
    """PyTorch learning rates per epoch (0-based) under known mistakes in converting a step schedule."""
    schedule, base = training.lr_schedule, training.optimizer.learning_rate
    if not isinstance(schedule, s.StepSchedule):
        return []
    size, factor = schedule.step_size, schedule.factor

    def rate(epoch: int, multiplier: float = factor, period: int = size) -> float:
        return float(base * multiplier ** (max(epoch, 0) // period))

    return [
        ("the schedule applied one step late", "PyTorch's StepLR is stepped after each epoch, Keras's "
         "LearningRateScheduler sets epoch e's rate before it: step the scheduler once per epoch, after it",
         lambda e: rate(e - 1)),
        ("the schedule applied one step early", "the schedule counts epochs from 1 (or the scheduler is "
         "stepped before the first epoch); Keras's epoch 0 runs at the base rate", lambda e: rate(e + 1)),
        (f"the factor taken as 1 − {factor:g}", f"the schedule multiplies by {1 - factor:g} instead of "
         f"{factor:g}: StepLR's gamma is the multiplier kept (Keras's step schedule: lr·factor)",
         lambda e: rate(e, 1 - factor)),
        ("the schedule not applied", "PyTorch's rate never changes: make_scheduler's scheduler was not "
         "created or not stepped after each epoch", lambda e: float(base)),
    ]


def diagnose_learning_rate(graph: Graph, history: History, limit: float) -> str:
    """Which known mistake gives PyTorch's learning rates so far: the schedule's timing or factor, a default
    learning rate, or a constant factor."""
    training = graph.spec.training
    if training is None:
        return "no diagnosis: the spec has no training section"
    keras, torch = np.array(history.lrs), np.array(history.torch_lrs)

    def agrees(expected: Array) -> bool:
        return bool(np.all(np.abs(expected - torch) <= limit * np.abs(expected)))

    found = [
        (condition, cause)
        for condition, cause, rate in schedule_candidates(training)
        if agrees(np.array([rate(epoch) for epoch in range(len(torch))]))
    ]
    if found:  # the first steps may not tell two mistakes apart: all are named
        return " or ".join(f"with {condition} PyTorch's learning rates are reproduced ({cause})"
                           for condition, cause in found)
    name = training.optimizer.type
    default = TORCH_DEFAULT_LR.get(name)
    if default is not None and agrees(keras * (default / keras[0])) and abs(torch[0] - default) <= limit * default:
        return (f"PyTorch's learning rate {default:g} is torch.optim's default for {name} (Keras's is "
                f"{KERAS_DEFAULT_LR[name]:g}): the spec's learning_rate {keras[0]:g} was not passed")
    ratio = torch[0] / keras[0]
    if agrees(keras * ratio):
        return (f"PyTorch's learning rate is {ratio:.6g} × Keras's at every step so far: the base learning rate "
                f"was converted wrong (spec {training.optimizer.learning_rate:g}, PyTorch {torch[0]:g})")
    pairs = ", ".join(f"{k:g}/{t:g}" for k, t in zip(keras, torch, strict=True))
    return f"no known learning-rate mistake explains it (keras/pytorch per step: {pairs})"
