"""The side under test: the generated PyTorch model, one layer at a time or end to end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alexgen import weights as w
from alexgen.analysis import LAYOUT_AXES, Slot
from alexgen.check.common import ACTIVATIONS, to_channels_last
from alexgen.graph import Graph, Node

if TYPE_CHECKING:
    from alexgen.check.common import Array


def torch_module(graph: Graph, spec_path: str) -> ModuleType:
    """Render and import the generated PyTorch module."""
    from alexgen.frameworks import generated_module

    return generated_module(graph, spec_path, "pytorch")


def to_torch_layout(value: Array, order: Array | None) -> Array:
    """A channels-last reference value in PyTorch's layout: NCHW maps, flat vectors in PyTorch's element order."""
    import numpy as np

    if value.ndim == 4:
        return np.ascontiguousarray(value.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(value[:, order]) if order is not None and value.ndim == 2 else value


def torch_tensor(slot: Slot, value: Array, order: Array | None) -> Any:
    """weights.to_torch_tensor done by PyTorch (a blocked, threaded transpose: 2x numpy's on a 300 MB kernel)."""
    import numpy as np
    import torch

    tensor = torch.from_numpy(value)
    axes = LAYOUT_AXES[slot.layout]
    grouped = [slot.torch_shape[i] for i in np.argsort(axes)]
    if order is not None and slot.follows_input:
        index = torch.as_tensor(order, dtype=torch.long)
        if grouped[0] == value.shape[0]:  # the gather done on PyTorch's layout: one copy, not two
            return tensor.reshape(grouped).permute(*axes).index_select(list(axes).index(0), index).contiguous()
        tensor = tensor.index_select(0, index)
    return tensor.reshape(grouped).permute(*axes).contiguous()


def neutral_array(slot: Slot, tensor: Any, order: Array | None) -> Array:
    """weights.from_torch_tensor done by PyTorch: one tensor of a model in the neutral layout, a fresh array."""
    import numpy as np
    import torch

    value = tensor.detach().permute(*np.argsort(LAYOUT_AXES[slot.layout]).tolist()).reshape(slot.shape)
    if order is not None and slot.follows_input:
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        fresh = value.index_select(0, torch.as_tensor(inverse, dtype=torch.long)).contiguous()
    else:  # a copy: the model's tensor keeps changing
        fresh = value.clone(memory_format=torch.contiguous_format)
    result: Array = fresh.numpy()
    return result


@dataclass(frozen=True)
class Probe:
    """Where a layer's output is made in a generated PyTorch model: its modules in order (e.g. `conv`, `conv_relu`;
    the last one's output is the layer's) and the activation still to apply (a graph forward's fused activation is
    a call, not a module)."""

    paths: list[str]
    names: list[str]
    activation: str | None


def probe(graph: Graph, node: Node[Any], prefixes: dict[str, str], modules: dict[str, Any]) -> Probe | None:
    """The node's modules present in the model, or None where no module computes it."""
    from alexgen.targets.pytorch import node_modules

    path = prefixes.get(node.name)
    if path is None:
        return None
    parent = path[: -len(node.name)]
    names = [m.name for m in node_modules(graph, node) if f"{parent}{m.name}" in modules] or [node.name]
    activation = node.op.activation(node.layer) if node.op.fused_activation else None
    pending = activation if names[-1] == node.name and activation not in (None, "linear") else None
    return Probe([f"{parent}{name}" for name in names], names, pending)


def layer_outputs(graph: Graph, model: Any, x: Array) -> dict[str, Array]:
    """Every layer's output in one eval-mode forward of a generated PyTorch model (channels-last `x` in), for the
    layers a module produces, plus the model's output; channels-last numpy arrays."""
    import torch

    modules = dict(model.named_modules())
    prefixes = w.torch_prefixes(model)
    captured: dict[str, Array] = {}
    handles = []
    for node in graph.nodes:
        found = probe(graph, node, prefixes, modules)
        if found is None:
            continue

        def hook(_m: Any, _i: Any, out: Any, name: str = node.name, act: str | None = found.activation) -> None:
            value = out.detach()
            captured[name] = (ACTIVATIONS[act](value) if act else value).cpu().numpy().copy()

        handles.append(modules[found.paths[-1]].register_forward_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            final = model(torch.from_numpy(to_torch_layout(x, None))).numpy()
    finally:
        for handle in handles:
            handle.remove()
    captured[graph.output.name] = final
    return {name: to_channels_last(value) for name, value in captured.items()}


@dataclass
class LayerRun:
    """One layer's PyTorch modules with the input they are fed; `run` can swap modules or the input."""

    node: Node[Any]
    modules: list[Any]
    names: list[str]
    inputs: list[Any]  # torch tensors in PyTorch's layout
    activation: str | None  # applied after the modules (a graph forward's fused activation)
    orders: list[Array | None]  # per input: PyTorch's flat element order (order[i] = channels-last position)

    def run(self, modules: Sequence[Any] | None = None, inputs: list[Any] | None = None) -> tuple[Array, float]:
        """The layer's output (channels-last numpy) and the largest magnitude before its final activation."""
        import torch

        with torch.no_grad():
            values = [x.clone() for x in (inputs if inputs is not None else self.inputs)]
            out: Any = values[0] if len(values) == 1 else values
            pre = 0.0
            for name, module in zip(self.names, modules if modules is not None else self.modules, strict=True):
                out = module(out)
                if name == self.node.name:
                    pre = float(out.abs().max()) if out.numel() else 0.0
            if self.activation is not None:
                out = ACTIVATIONS[self.activation](out)
        return to_channels_last(out.numpy()), pre


class TorchSide:
    """A generated PyTorch model in one dtype, with the paths of its layers."""

    def __init__(self, graph: Graph, module: ModuleType, dtype: str) -> None:
        import torch

        self.graph, self.module, self.dtype = graph, module, dtype
        self.model = module.build_model().to(dtype=getattr(torch, dtype))
        self.model.eval()
        self.prefixes = w.torch_prefixes(self.model)
        self.modules = dict(self.model.named_modules())
        self.orders = w.flat_orders(graph)

    def load(self, tensors: dict[str, Array]) -> None:
        """Neutral weights copied into the model one tensor at a time (no second copy of the whole model); every
        parameter and batch-norm statistic must be given, at its exact shape."""
        import torch

        state = self.model.state_dict()
        slots = list(w.torch_slots(self.graph, self.prefixes))
        missing = {k for k in state if not k.endswith("num_batches_tracked")} - {key for _, key, _, _ in slots}
        if missing:
            raise ValueError(f"no neutral tensor for {sorted(missing)[0]!r}")
        with torch.no_grad():
            for neutral, key, slot, order in slots:
                value = torch_tensor(slot, tensors[neutral], order)
                if value.shape != state[key].shape:
                    raise ValueError(f"{key}: shape {tuple(value.shape)} != {tuple(state[key].shape)}")
                state[key].copy_(value)

    def round_trip(self, tensors: dict[str, Array]) -> bool:
        """neutral -> PyTorch -> neutral is bit-identical (float32 weights in a float32 model), per tensor."""
        import numpy as np

        state = self.model.state_dict()
        slots = list(w.torch_slots(self.graph, self.prefixes))
        return {neutral for neutral, _, _, _ in slots} == set(tensors) and all(
            np.array_equal(neutral_array(slot, state[key], order), tensors[neutral])
            for neutral, key, slot, order in slots
        )

    def counts(self) -> dict[str, int]:
        """Parameters plus batch-norm running statistics per layer."""
        counts: dict[str, int] = {}
        owners = {path: name for name, path in self.prefixes.items()}
        for key, value in self.model.state_dict().items():
            owner = owners.get(key.rsplit(".", 1)[0])
            if owner is not None and not key.endswith("num_batches_tracked"):
                counts[owner] = counts.get(owner, 0) + value.numel()
        return counts

    def layer(self, node: Node[Any], reference: dict[str, Array], x: Array) -> LayerRun | None:
        """The node's modules fed the reference outputs of its inputs, or None where no module computes it."""
        import torch

        found = probe(self.graph, node, self.prefixes, self.modules)
        if found is None:
            return None
        values = [x if name == "input" or name not in reference else reference[name] for name in node.inputs]
        tensors = [
            torch.from_numpy(to_torch_layout(v.astype(self.dtype), self.orders.get(name)))
            for name, v in zip(node.inputs, values, strict=True)
        ]
        return LayerRun(
            node,
            [self.modules[path] for path in found.paths],
            found.names,
            tensors,
            found.activation,
            [self.orders.get(name) for name in node.inputs],
        )

    def output(self, x: Array) -> Array:
        """The whole model's output, end to end, channels-last."""
        import torch

        with torch.no_grad():
            out = self.model(torch.from_numpy(to_torch_layout(x.astype(self.dtype), None)))
        return to_channels_last(out.numpy())

    def expected(self, node: Node[Any], value: Array) -> Array:
        """A reference output in the element order PyTorch produces (flat vectors are permuted)."""
        order = self.orders.get(node.name)
        return value[:, order] if value.ndim == 2 and order is not None else value
