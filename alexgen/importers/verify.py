"""`alexgen import --verify`: the original model and the code generated from the imported spec, given the same
weights and the same random input, compared layer by layer (float64 where the framework allows).

The generated code is the source framework's target (Keras for a Keras model, PyTorch for a module): the import is
what is being proved; `alexgen check` proves the two targets equal each other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alexgen.importers import Imported
    from alexgen.weights import Array

DEFAULT_TOLERANCE = 1e-5  # largest error relative to the original's largest magnitude, as `alexgen check`


@dataclass(frozen=True)
class LayerError:
    """One compared value: the spec layer (or `output`), what was compared, and its errors."""

    layer: str
    what: str
    max_abs: float
    max_rel: float
    passed: bool


@dataclass(frozen=True)
class Verification:
    """Every compared value and the precision it was computed in."""

    rows: list[LayerError]
    dtype: str
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when every row is within the tolerance."""
        return bool(self.rows) and all(row.passed for row in self.rows)


def compare(layer: str, what: str, reference: Array, got: Array, tolerance: float) -> LayerError:
    """Max absolute error and error relative to the reference's largest magnitude (a shape mismatch fails)."""
    import numpy as np

    if reference.shape != got.shape:
        return LayerError(layer, f"{what}: shape {got.shape} != {reference.shape}", float("inf"), float("inf"), False)
    diff = float(np.abs(reference.astype(np.float64) - got.astype(np.float64)).max()) if reference.size else 0.0
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    rel = diff / scale if scale else diff
    return LayerError(layer, what, diff, rel, bool(rel <= tolerance))


def per_layer(graph: Any, original: dict[str, Array], generated: dict[str, Array], target: str,
              tolerance: float) -> list[LayerError]:
    """One row per spec layer whose output both sides expose, in the spec's order."""
    return [compare(node.name, f"{target}", original[node.name], generated[node.name], tolerance)
            for node in graph.nodes if node.name in original and node.name in generated]


def to_spec_layout(value: Array, order: Array | None) -> Array:
    """A PyTorch output in the spec's layout: maps NCHW -> NHWC, vectors after a flatten in channels-last order."""
    import numpy as np

    if value.ndim == 4:
        return np.ascontiguousarray(value.transpose(0, 2, 3, 1))
    if value.ndim == 2 and order is not None:
        restored = np.empty_like(value)
        restored[:, order] = value
        return restored
    return value


def spec_inputs(graph: Any, batch: int, seed: int) -> Array:
    """A float64 random batch in the spec's layout (N, H, W, C)."""
    import numpy as np

    return np.random.default_rng(seed).standard_normal((batch, *graph.input_shape))


# --- Keras -------------------------------------------------------------------------------------------


def retyped(config: Any, dtype: str) -> Any:
    """A Keras config with every float32 dtype (plain or a DTypePolicy) replaced by `dtype`."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": dtype}}
        return {key: (dtype if key == "dtype" and value == "float32" else retyped(value, dtype))
                for key, value in config.items()}
    if isinstance(config, list):
        return [retyped(value, dtype) for value in config]
    return config


def keras_float64(model: Any) -> Any | None:
    """The model rebuilt from its config in float64 with the same weights, or None when it cannot be."""
    import numpy as np

    try:
        clone = type(model).from_config(retyped(model.get_config(), "float64"))
        clone.set_weights([np.asarray(v, dtype=np.float64) for v in model.get_weights()])
    except Exception:  # a custom layer that does not round-trip its config: verify in float32
        return None
    return clone


def keras_outputs(model: Any, names: list[str], x: Array) -> list[Array]:
    """The outputs of the named layers of a Keras model, inference mode."""
    import keras
    import numpy as np

    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    outputs = probe([x], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(value) for value in outputs]


def original_keras(imported: Imported, x: Array) -> tuple[dict[str, Array], Array, str]:
    """Each spec layer's output in the Keras model (float64 when it can be rebuilt so), its own float32 output,
    and the precision used."""
    import numpy as np

    model = imported.model
    wide = keras_float64(model)
    names = {layer: source.probe for layer, source in imported.layers.items() if source.probe}
    values = keras_outputs(wide or model, list(names.values()), x if wide else x.astype(np.float32))
    final = keras_outputs(model, [model.outputs[0]._keras_history.operation.name], x.astype(np.float32))[0]
    return dict(zip(names, values, strict=True)), final, "float64" if wide else "float32"


def generated_keras(imported: Imported, tensors: dict[str, Array], display: str, x: Array) -> dict[str, Array]:
    """Every spec layer's output in the generated Keras model, float64, with the imported weights."""
    from alexgen import weights as w
    from alexgen.check.common import floatx  # the check's own: float64 stays float64 on every backend
    from alexgen.frameworks import generated_module

    with floatx("float64"):
        model = generated_module(imported.graph, display, "keras").build_model()
    w.neutral_to_keras(imported.graph, model, tensors)
    names = [node.name for node in imported.graph.nodes]
    return dict(zip(names, keras_outputs(model, names, x), strict=True))


# --- PyTorch -----------------------------------------------------------------------------------------


def fx_outputs(traced: Any, x: Any) -> dict[str, Array]:
    """Every node's output of a traced module (copied: in-place activations overwrite their inputs)."""
    import torch
    import torch.fx

    captured: dict[str, Array] = {}

    class Capture(torch.fx.Interpreter):
        """Records each tensor a node produces."""

        def run_node(self, n: torch.fx.Node) -> Any:
            out = super().run_node(n)
            if isinstance(out, torch.Tensor):
                captured[n.name] = out.detach().cpu().numpy().copy()
            return out

    with torch.no_grad():
        Capture(traced).run(x)
    return captured


def torch_by_layer(imported: Imported, traced: Any, probes: dict[str, str], x: Array) -> dict[str, Array]:
    """Each spec layer's output (from its fx node) of a traced module run in float64, in the spec's layout."""
    import torch

    from alexgen import weights as w

    orders = w.flat_orders(imported.graph)
    nodes = fx_outputs(copy.deepcopy(traced).double(), torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return {layer: to_spec_layout(nodes[node], orders.get(layer)) for layer, node in probes.items() if node in nodes}


def original_torch(imported: Imported, x: Array) -> tuple[dict[str, Array], Array, str]:
    """Each spec layer's output in the module (traced, float64), and its own float32 output."""
    import torch

    from alexgen import weights as w
    from alexgen.importers.pytorch import trace

    module = imported.model
    traced = trace(module, "<original>", imported.graph.input_shape)
    probes = {layer: source.probe for layer, source in imported.layers.items() if source.probe}
    with torch.no_grad():
        final = module(torch.from_numpy(x.transpose(0, 3, 1, 2).astype("float32"))).numpy()
    order = w.flat_orders(imported.graph).get(imported.graph.output.name)
    return torch_by_layer(imported, traced, probes, x), to_spec_layout(final, order), "float64"


def read_back(graph: Any, again: Imported) -> dict[str, str]:
    """Spec layer -> fx node of the generated module imported back: layer by layer in order (functional layers of a
    graph forward, a flatten or a cat, are named after their fx node), or by name when the layers differ."""
    mine, theirs = graph.nodes, again.graph.nodes
    pairs = ([(a.name, b.name) for a, b in zip(mine, theirs, strict=True)]
             if len(mine) == len(theirs) and all(a.op is b.op for a, b in zip(mine, theirs, strict=True))
             else [(n.name, n.name) for n in mine])
    return {name: source.probe for name, found in pairs
            if (source := again.layers.get(found)) is not None and source.probe}


def generated_torch(imported: Imported, tensors: dict[str, Array], display: str, x: Array) -> dict[str, Array]:
    """Every spec layer's output in the generated PyTorch module, float64, with the imported weights.

    The fx node of each layer is found by importing the generated module back (its names are the spec's); the
    final output is always compared.
    """
    import torch

    from alexgen import weights as w
    from alexgen.frameworks import generated_module
    from alexgen.importers import import_model
    from alexgen.importers.pytorch import trace

    graph = imported.graph
    net = generated_module(graph, display, "pytorch").build_model()
    w.load_torch_state(net, w.neutral_to_torch_state(graph, tensors, w.torch_prefixes(net)))
    traced = trace(net, "<generated>", graph.input_shape)
    try:
        probes = read_back(graph, import_model(net, graph.input_shape))
    except Exception:  # an op the importer cannot read back: the final output is still compared
        probes = {}
    found = torch_by_layer(imported, traced, probes, x)
    with torch.no_grad():
        final = copy.deepcopy(net).double()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    found[graph.output.name] = to_spec_layout(final, w.flat_orders(graph).get(graph.output.name))
    return found


# --- both --------------------------------------------------------------------------------------------

ORIGINALS = {"keras": original_keras, "pytorch": original_torch}
GENERATED = {"keras": generated_keras, "pytorch": generated_torch}


def installed(framework: str) -> bool:
    """True when the framework can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("keras" if framework == "keras" else "torch") is not None


def verify(imported: Imported, tensors: dict[str, Array], display: str, tolerance: float = DEFAULT_TOLERANCE,
           batch: int = 2, seed: int = 0) -> Verification:
    """Run the original model and the generated code of the source's framework (and of the other target when it
    is installed: that also proves the neutral file's layout) on the same random input with the same weights."""
    x = spec_inputs(imported.graph, batch, seed)
    original, final, dtype = ORIGINALS[imported.fmt](imported, x)
    targets = [imported.fmt] + [t for t in GENERATED if t != imported.fmt and installed(t)]
    rows = []
    for target in targets:
        generated = GENERATED[target](imported, tensors, display, x)
        rows += per_layer(imported.graph, original, generated, f"generated {target}", tolerance)
        rows.append(compare("output", f"the original model itself (float32) vs generated {target}", final,
                            generated[imported.graph.output.name], tolerance))
    return Verification(rows, dtype, tolerance)


def report_lines(result: Verification) -> list[str]:
    """The verification as a table of text lines."""
    width = max([len(row.layer) for row in result.rows] + [5])
    lines = [f"verify: the original model ({result.dtype}) vs the generated code, same weights and input; "
             f"tolerance {result.tolerance:g} relative to the original's largest value",
             f"  {'layer':<{width}}  {'max abs':>10}  {'max rel':>10}  ok  against"]
    for row in result.rows:
        mark = "ok" if row.passed else "NO"
        lines.append(f"  {row.layer:<{width}}  {row.max_abs:10.3g}  {row.max_rel:10.3g}  {mark}  {row.what}")
    failed = sum(not row.passed for row in result.rows)
    lines.append(f"  {len(result.rows)} values compared, {failed} beyond the tolerance" if failed
                 else f"  {len(result.rows)} values compared, all within the tolerance")
    return lines
