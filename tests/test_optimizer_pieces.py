"""The generated PyTorch optimizers update in place a piece at a time, bit for bit the whole-tensor arithmetic."""

from __future__ import annotations

import math
import sys
from types import ModuleType, SimpleNamespace

import pytest

from alexgen.frameworks import generated_module
from alexgen.validate import graph_from_text

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch
SPEC = ("alexgen: 1\nname: {name}\ninput_shape: [1, 1, 2]\nlayers:\n  - {{type: flatten, name: f}}\n"
        "  - {{type: dense, name: d, units: 2}}\ntraining:\n  optimizer: {optimizer}\n")
PIECE = 7  # elements per piece here: the larger tensors below span several pieces, the last one short


def support(optimizer: str, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    """(the generated module of a one-layer spec with `optimizer`, its support module with small pieces)."""
    graph = graph_from_text(SPEC.format(name="pieces", optimizer=optimizer), "pieces.yaml")
    module = generated_module(graph, "pieces.yaml", "pytorch")
    helpers = sys.modules[type(module.make_optimizer(model(torch.zeros(1)))).__module__]
    monkeypatch.setattr(helpers, "PIECE", PIECE)
    return module, helpers


def model(*parameters: torch.Tensor) -> SimpleNamespace:
    """Something with `.parameters()`, as make_optimizer expects of a model."""
    return SimpleNamespace(parameters=lambda: list(parameters))


def starts(dtype: torch.dtype) -> list[torch.Tensor]:
    """Parameters of several shapes: flat, a matrix, a transposed (non-contiguous) matrix, a scalar, an empty one."""
    generator = torch.Generator().manual_seed(5)
    return [torch.randn(23, generator=generator, dtype=dtype), torch.randn(6, 5, generator=generator, dtype=dtype),
            torch.randn(5, 9, generator=generator, dtype=dtype).t(), torch.randn((), generator=generator, dtype=dtype),
            torch.zeros(0, 3, dtype=dtype)]


def gradients(parameters: list[torch.Tensor], step: int) -> list[torch.Tensor]:
    """Gradients spanning eight orders of magnitude (tiny ones make epsilon matter)."""
    generator = torch.Generator().manual_seed(100 + step)
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype) * 10.0 ** -(step * 3) for p in parameters]


def stepped(optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor], before_step=None) -> None:
    """Three steps with the same gradients whatever the optimizer."""
    for step in range(3):
        for parameter, grad in zip(parameters, gradients(parameters, step), strict=True):
            parameter.grad = grad
        if before_step is not None:
            before_step(step + 1)
        optimizer.step()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_keras_adam_is_torch_adam_with_kerass_epsilon_bit_for_bit(dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    module, helpers = support("{type: adam, learning_rate: 0.01, beta_1: 0.8, beta_2: 0.99, epsilon: 1.0e-3}",
                              monkeypatch)
    ours = [torch.nn.Parameter(p.clone()) for p in starts(dtype)]
    optimizer = module.make_optimizer(model(*ours))
    assert type(optimizer).__name__ == "KerasAdam"
    stepped(optimizer, ours)
    # the former KerasAdam: torch's single-tensor Adam with eps = epsilon / sqrt(1 - beta_2**t) set before step t
    theirs = [torch.nn.Parameter(p.clone()) for p in starts(dtype)]
    stock = torch.optim.Adam(theirs, lr=0.01, betas=(0.8, 0.99), eps=1e-3, foreach=False)

    def keras_eps(t: int) -> None:
        stock.param_groups[0]["eps"] = 1e-3 / math.sqrt(1.0 - 0.99**t)

    stepped(stock, theirs, keras_eps)
    for mine, reference, start in zip(ours, theirs, starts(dtype), strict=True):
        assert torch.equal(mine, reference)
        assert start.numel() == 0 or not torch.equal(mine, start)
        assert torch.equal(optimizer.state[mine]["exp_avg_sq"], stock.state[reference]["exp_avg_sq"])
    assert int(optimizer.state[ours[0]]["step"]) == 3


def rmsprop_reference(parameters: list[torch.Tensor], lr: float, rho: float, momentum: float, epsilon: float,
                      centered: bool) -> None:
    """Keras's RMSprop on whole tensors, three steps (the former KerasRMSprop's arithmetic)."""
    state = [[torch.zeros_like(p) for _ in range(3)] for p in parameters]
    for step in range(3):
        for p, grad, (velocity, average, buffer) in zip(parameters, gradients(parameters, step), state, strict=True):
            velocity.mul_(rho).addcmul_(grad, grad, value=1 - rho)
            denominator = velocity + epsilon
            if centered:
                average.mul_(rho).add_(grad, alpha=1 - rho)
                denominator = denominator - average * average
            increment = lr * grad / denominator.sqrt()
            if momentum > 0:
                increment = buffer.mul_(momentum).add_(increment)
            p.sub_(increment)


@pytest.mark.parametrize(("momentum", "centered"), [(0.0, False), (0.5, True)])
def test_keras_rmsprop_in_pieces_is_the_whole_tensor_rule_bit_for_bit(momentum: float, centered: bool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = f"{{type: rmsprop, learning_rate: 0.01, rho: 0.8, momentum: {momentum}, epsilon: 1.0e-3, " \
               f"centered: {str(centered).lower()}}}"
    module, _ = support(settings, monkeypatch)
    ours = [torch.nn.Parameter(p.clone()) for p in starts(torch.float64)]
    optimizer = module.make_optimizer(model(*ours))
    assert type(optimizer).__name__ == "KerasRMSprop"
    stepped(optimizer, ours)
    theirs = [p.clone() for p in starts(torch.float64)]
    rmsprop_reference(theirs, 0.01, 0.8, momentum, 1e-3, centered)
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.equal(mine.detach(), reference)


def test_pieces_cover_every_element_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _, helpers = support("{type: adam}", monkeypatch)
    counts = []
    for tensor in starts(torch.float64):
        seen = torch.zeros_like(tensor)
        counts.append(0)
        for (piece,) in helpers.pieces(seen):
            assert piece.numel() <= PIECE
            piece.add_(1)
            counts[-1] += 1
        assert torch.equal(seen, torch.ones_like(tensor))
    assert counts == [4, 5, 9, 1, 1]  # 23 and 30 elements flat; the transposed matrix's 9 rows of 5, one by one
