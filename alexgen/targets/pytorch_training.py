"""PyTorch training semantics from the spec: initialization, regularization, optimizer, schedule and loss."""

from __future__ import annotations

import math
import textwrap

from alexgen import spec as s
from alexgen.analysis import Shape
from alexgen.graph import Graph
from alexgen.targets.emit import Code, call

WIDTH = 100  # render.LINE_LENGTH: ruff does not wrap comments, so they are wrapped here
BODY_INDENT = 8  # statements in a method
TRUNCATION = 0.87962566103423978  # stddev of a unit normal truncated at 2 stddev: Keras's correction


def comment(text: str, indent: int) -> list[str]:
    """`# text`, wrapped to fit the line length at `indent`."""
    return [f"# {line}" for line in textwrap.wrap(text, WIDTH - indent - 2)]


def fans(shape: Shape) -> tuple[int, int]:
    """Keras's (fan_in, fan_out) of a neutral kernel shape: receptive field x input / output channels."""
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def torch_fans(shape: Shape) -> tuple[int, int]:
    """PyTorch's (fan_in, fan_out) of a weight in its own layout (out, in, *kernel)."""
    receptive = math.prod(shape[2:])
    return receptive * shape[1], receptive * shape[0]


def variance_scaling(value: str, tensor: str, fan: tuple[int, int]) -> tuple[str, str]:
    """glorot/he as explicit uniform or truncated-normal bounds computed from Keras's fans."""
    fan_in, fan_out = fan
    scale = 2 / (fan_in + fan_out) if value.startswith("glorot") else 2 / fan_in
    formula = f"2 / ({fan_in} + {fan_out})" if value.startswith("glorot") else f"2 / {fan_in}"
    if value.endswith("uniform"):
        limit = math.sqrt(3 * scale)
        note = f"{value} as Keras: limit = sqrt(3 * {formula})"
        return str(call("nn.init.uniform_", Code(tensor), a=-limit, b=limit)), note
    std = math.sqrt(scale) / TRUNCATION
    note = f"{value} as Keras: a normal cut at 2 std, std = sqrt({formula}) / {TRUNCATION}"
    return str(call("nn.init.trunc_normal_", Code(tensor), std=std, a=-2 * std, b=2 * std)), note


def init_statement(value: s.Initializer, tensor: str, fan: tuple[int, int],
                   same_fans: bool = False) -> tuple[str, str | None]:
    """One nn.init call reproducing a Keras initializer, and a comment when the numbers need one.

    `same_fans`: PyTorch computes the same fans as Keras for this tensor, so its own glorot / he calls are exact.
    """
    if value in ("zeros", "ones"):
        return f"nn.init.{value}_({tensor})", None
    if value == "glorot_uniform" and same_fans:
        return f"nn.init.xavier_uniform_({tensor})", None  # the same fans as Keras, grouped convolutions included
    if value == "he_uniform" and same_fans:
        return f'nn.init.kaiming_uniform_({tensor}, nonlinearity="relu")', None  # bound sqrt(6 / fan_in)
    if isinstance(value, str):
        return variance_scaling(value, tensor, fan)
    if isinstance(value, s.RandomNormal):
        return str(call("nn.init.normal_", Code(tensor), mean=value.mean, std=value.stddev)), None
    if isinstance(value, s.TruncatedNormal):
        low, high = value.mean - 2 * value.stddev, value.mean + 2 * value.stddev
        return str(call("nn.init.trunc_normal_", Code(tensor), mean=value.mean, std=value.stddev, a=low, b=high)), None
    if isinstance(value, s.RandomUniform):
        return str(call("nn.init.uniform_", Code(tensor), a=value.minval, b=value.maxval)), None
    return str(call("nn.init.constant_", Code(tensor), value.value)), None


def init_lines(graph: Graph, paths: dict[str, str]) -> list[str]:
    """reset_parameters' body: layers with identical initialization share one loop."""
    groups: dict[tuple[tuple[str, str | None], ...], list[str]] = {}
    for node in graph.nodes:
        layer = node.layer
        if isinstance(layer, s.WeightedLayer):
            kernel, *bias = node.slots
            same = fans(kernel.shape) == torch_fans(kernel.torch_shape)
            statements = [init_statement(layer.kernel_initializer, f"{{}}.{kernel.torch}", fans(kernel.shape), same)]
            for slot in bias:  # Keras's fans of a vector are its size
                statements.append(init_statement(layer.bias_initializer, f"{{}}.{slot.torch}", (slot.shape[0],) * 2))
            groups.setdefault(tuple(statements), []).append(f"self.{paths[node.name]}")
    lines = []
    for key, targets in groups.items():
        if len(targets) == 1:
            lines += [line for code, text in key for line in
                      [*comment(text or "", BODY_INDENT), code.format(targets[0])]]
        else:
            lines += [line for _, text in key for line in comment(text or "", BODY_INDENT)]
            lines += [f"for layer in ({', '.join(targets)}):", *(f"    {code.format('layer')}" for code, _ in key)]
    if any(slot.name == "moving_variance" for n in graph.weighted for slot in n.slots):
        lines += comment("batch norm: PyTorch's initialization is Keras's (gamma 1, beta 0, mean 0, var 1)",
                         BODY_INDENT)
    return lines


def regularization_terms(graph: Graph, paths: dict[str, str]) -> list[str]:
    """`l2 * sum(w.square().sum() ...)` terms over regularized kernels, grouped by factor."""
    groups: dict[tuple[float, str], list[str]] = {}
    for node in graph.nodes:
        regularizer = node.layer.kernel_regularizer if isinstance(node.layer, s.WeightedLayer) else None
        for factor, penalty in ((regularizer.l1, "abs"), (regularizer.l2, "square")) if regularizer else ():
            if factor:
                groups.setdefault((factor, penalty), []).append(f"model.{paths[node.name]}")
    return [f"{factor!r} * {layers[0]}.weight.{penalty}().sum()" if len(layers) == 1 else
            f"{factor!r} * sum(layer.weight.{penalty}().sum() for layer in ({', '.join(layers)}))"
            for (factor, penalty), layers in groups.items()]


OPTIMIZER_CLASSES = {"adam": "KerasAdam", "rmsprop": "KerasRMSprop"}


def optimizer_class(training: s.Training) -> str | None:
    """The optimizer class the generated module defines, if any (SGD only needs one with momentum)."""
    opt = training.optimizer
    if isinstance(opt, s.SGD):
        return "KerasSGD" if opt.momentum > 0 else None
    return OPTIMIZER_CLASSES.get(opt.type)


def optimizer_lines(training: s.Training) -> list[str]:
    """make_optimizer's body: torch.optim with every hyperparameter from the spec, never PyTorch's defaults."""
    opt, params = training.optimizer, Code("model.parameters()")
    if isinstance(opt, s.SGD):  # nesterov without momentum is plain SGD (PyTorch refuses the combination)
        cls = "KerasSGD" if opt.momentum > 0 else "torch.optim.SGD"  # Keras's momentum across lr changes
        code = call(cls, params, lr=opt.learning_rate, momentum=opt.momentum,
                    nesterov=opt.nesterov and opt.momentum > 0, weight_decay=opt.weight_decay)
        return [f"return {code}"]
    if isinstance(opt, s.Adadelta):
        return [f"return {call('torch.optim.Adadelta', params, lr=opt.learning_rate, rho=opt.rho, eps=opt.epsilon)}"]
    if isinstance(opt, s.Adam):
        code = call("KerasAdam", params, lr=opt.learning_rate, betas=(opt.beta_1, opt.beta_2), epsilon=opt.epsilon)
    else:
        code = call("KerasRMSprop", params, lr=opt.learning_rate, rho=opt.rho, momentum=opt.momentum,
                    epsilon=opt.epsilon, centered=opt.centered)
    return [f"return {code}"]


def scheduler_lines(training: s.Training) -> tuple[list[str], str]:
    """make_scheduler's body and how to step what it returns."""
    schedule = training.lr_schedule
    if isinstance(schedule, s.ReduceOnPlateau):
        why = comment(f"patience {schedule.patience} - 1: Keras reduces after `patience` epochs without "
                      "improvement, PyTorch after patience + 1; Keras's min_delta 1e-4 is absolute", 4)
        code = call("torch.optim.lr_scheduler.ReduceLROnPlateau", Code("optimizer"),
                    mode="max" if "accuracy" in schedule.monitor else "min", factor=schedule.factor,
                    patience=schedule.patience - 1, threshold=1e-4, threshold_mode="abs", cooldown=0,
                    min_lr=schedule.min_lr)
        return [*why, f"return {code}"], f"call `scheduler.step({schedule.monitor})` after each epoch"
    if isinstance(schedule, s.StepSchedule):
        code = call("torch.optim.lr_scheduler.StepLR", Code("optimizer"), step_size=schedule.step_size,
                    gamma=schedule.factor)
        return [f"return {code}"], "call `scheduler.step()` after each epoch"
    return ["return None"], "the spec has none"


def loss_lines(probabilities: bool, sparse: bool) -> list[str]:
    """loss_fn's body: Keras's cross-entropy, never a second softmax."""
    if not probabilities:
        return (["return F.cross_entropy(outputs, targets)"] if sparse
                else ["return -(targets * F.log_softmax(outputs, dim=1)).sum(1).mean()"])
    why = ["# Keras (TensorFlow) takes the cross-entropy of a softmax output from its logits, unclipped;",
           "# log(softmax) equals log_softmax to float precision. clamp_min only keeps log(0) finite."]
    log = "log_probabilities = outputs.clamp_min(torch.finfo(outputs.dtype).tiny).log()"
    if sparse:
        return [*why, log, "return F.nll_loss(log_probabilities, targets)"]
    return [*why, log, "return -(targets * log_probabilities).sum(1).mean()"]
