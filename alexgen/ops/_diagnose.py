"""Alternative conventions an op's `diagnose` hook offers `alexgen check` when its layer diverges.

A hook takes the layer's run (alexgen.check.torch_side.LayerRun: its PyTorch modules and the reference input
they were fed) and returns alternatives; the check reports the first whose output agrees with the reference.
torch is imported only when an alternative is computed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alexgen.analysis import Window


@dataclass(frozen=True)
class Alternative:
    """`condition` ("with ...") makes the layer agree, which means `cause`."""

    condition: str
    cause: str
    compute: Callable[[], Any]  # the layer's channels-last output under this convention


def swapped(run: Any, kind: type, change: Callable[[Any], Any]) -> list[Any]:
    """The run's modules with every module of class `kind` replaced by `change(copy of it)`."""
    return [change(copy.deepcopy(m)) if isinstance(m, kind) else m for m in run.modules]


def output(run: Any, modules: list[Any] | None = None, inputs: list[Any] | None = None) -> Any:
    """The run's output with other modules or inputs."""
    return run.run(modules, inputs)[0]


def tf_same_pads(window: Window) -> tuple[int, int, int, int]:
    """TensorFlow's 'same' pads as F.pad's (left, right, top, bottom)."""
    (top, bottom), (left, right) = window.pads
    return left, right, top, bottom


def padded_first(run: Any, pads: tuple[int, int, int, int], value: float, core: Callable[[Any], Any]) -> Any:
    """The input padded by `pads` with `value`, then `core` (the layer without padding), then the rest."""
    import torch
    import torch.nn.functional as F

    def compute() -> Any:
        with torch.no_grad():
            x = F.pad(run.inputs[0].clone(), pads, value=value)
            rest = [m for name, m in zip(run.names, run.modules, strict=True)
                    if name != run.node.name and not name.endswith("_pad")]
            out = core(x)
            for module in rest:
                out = module(out)
            if run.activation is not None:
                from alexgen.check.common import ACTIVATIONS

                out = ACTIVATIONS[run.activation](out)
        return out.permute(0, 2, 3, 1).numpy()

    return compute


def layer_module(run: Any) -> Any:
    """The module named like the layer."""
    return run.modules[run.names.index(run.node.name)]
