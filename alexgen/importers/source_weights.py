"""`alexgen import --weights`: a source model's trained tensors as the neutral tensors of the imported spec.

Keras layers already hold the neutral layout (kernels (kh, kw, in/groups, out), dense rows in channels-last flatten
order); PyTorch state_dicts go through alexgen.weights, which transposes kernels and reorders the rows of a dense
layer after a flatten from PyTorch's (C, H, W) to the spec's (H, W, C). Darknet `.weights` files: darknet_weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alexgen import weights as w
from alexgen.weights import WeightsError

if TYPE_CHECKING:
    from alexgen.importers import Imported
    from alexgen.weights import Array


def owner_of(imported: Imported, layer: str) -> str:
    """The source layer (Keras name, PyTorch module path) that holds a spec layer's tensors."""
    source = imported.layers.get(layer)
    if source is None or source.owner is None:
        raise WeightsError(f"{layer}: the imported layer has tensors but no source layer holding them")
    return source.owner


def keras_tensors(imported: Imported) -> dict[str, Array]:
    """Each weighted spec layer's tensors from its Keras layer, in the slots' order (kernel, bias; gamma, beta,
    moving mean, moving variance)."""
    import numpy as np

    graph, model = imported.graph, imported.model
    tensors: dict[str, Array] = {}
    for node in graph.weighted:
        owner = owner_of(imported, node.name)
        values = model.get_layer(owner).get_weights()
        if len(values) != len(node.slots):
            raise WeightsError(f"{owner}: the Keras layer holds {len(values)} tensors, the spec layer "
                               f"{node.name} {len(node.slots)} ({', '.join(s.name for s in node.slots)})")
        for slot, value in zip(node.slots, values, strict=True):
            tensors[f"{node.name}.{slot.name}"] = np.asarray(value)
    return tensors


def torch_tensors(imported: Imported) -> dict[str, Array]:
    """The module's state_dict in the neutral layout (kernels transposed, post-flatten rows reordered)."""
    prefixes = {node.name: owner_of(imported, node.name) for node in imported.graph.weighted}
    state = imported.model.state_dict()
    missing = [f"{prefixes[n.name]}.{s.torch}" for n in imported.graph.weighted for s in n.slots
               if f"{prefixes[n.name]}.{s.torch}" not in state]
    if missing:
        raise WeightsError(f"the module's state_dict has no {missing[0]!r}")
    return w.torch_state_to_neutral(imported.graph, state, prefixes)


def source_tensors(imported: Imported, source_weights: Path | None = None) -> dict[str, Array]:
    """The source's weights as neutral tensors, every shape checked; raises WeightsError."""
    if imported.fmt == "keras":
        tensors = keras_tensors(imported)
    elif imported.fmt == "pytorch":
        tensors = torch_tensors(imported)
    elif imported.fmt == "darknet":
        from alexgen.importers.darknet_weights import read_darknet_weights

        if source_weights is None:
            raise WeightsError("a Darknet .cfg holds no weights: pass its trained file with --source-weights "
                               "FILE.weights")
        tensors = read_darknet_weights(imported, source_weights)
    else:
        raise WeightsError("Caffe weights live in a .caffemodel (binary protobuf), which alexgen does not read; "
                           "import the .prototxt without --weights, or convert the model to Keras or PyTorch first")
    w.check_shapes(tensors, w.neutral_shapes(imported.graph), "the source model's weights")
    return tensors

