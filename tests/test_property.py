"""Property-based tests (hypothesis): random valid specs build to the analyzer's numbers in both frameworks, and
random mutations of valid specs are always either valid or located SpecErrors, never anything else.

ALEXGEN_HYPOTHESIS_EXAMPLES scales the example counts (default: the CI counts below; e.g. 20000 for a fuzz run).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alexgen.diagnostics import SpecError
from alexgen.frameworks import import_source
from alexgen.render import render_outputs
from alexgen.validate import graph_from_text

EXAMPLES = int(os.environ.get("ALEXGEN_HYPOTHESIS_EXAMPLES", "0"))
BUILD_EXAMPLES = EXAMPLES or 200
MUTATION_EXAMPLES = EXAMPLES or 400
COMMON = {"deadline": None, "derandomize": not EXAMPLES, "database": None,
          "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
# Valid names that shadow something in a generated module (and are renamed there), none an nn.Module attribute.
TRICKY_NAMES = ["x", "print", "np", "json", "layers", "inputs", "keras", "torch", "nn", "model", "super", "len",
                "OrderedDict", "math", "struct", "F", "self"]
ACTIVATIONS = ["relu", "softmax", "sigmoid", "tanh", "linear"]
INITIALIZERS = ["zeros", "ones", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
                {"type": "random_normal", "stddev": 0.1}, {"type": "truncated_normal", "mean": 0.5},
                {"type": "random_uniform", "minval": -0.1, "maxval": 0.2}, {"type": "constant", "value": 0.25}]


# --- a generator of valid specs ---------------------------------------------------------------------------------


class Builder:
    """Draws layers one at a time, knowing every tensor's shape so each layer fits its input."""

    def __init__(self, draw: Any, shape: tuple[int, int, int]) -> None:
        self.draw = draw
        self.layers: list[dict[str, Any]] = []
        self.shapes: dict[str, tuple[int, ...]] = {"input": shape}
        self.current = self.previous = "input"  # the tensor to build on; the last layer (a layer's default input)
        self.counts: dict[str, int] = {}
        self.names = list(TRICKY_NAMES)

    def add(self, layer: dict[str, Any], shape: tuple[int, ...], source: str | None = None) -> str:
        """Append a layer reading `source` (default: the current tensor); it becomes the current tensor."""
        kind = layer["type"]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = f"{kind}_{self.counts[kind]}"
        if self.names and self.draw(st.integers(0, 9)) == 0:
            name = layer["name"] = self.names.pop(self.draw(st.integers(0, len(self.names) - 1)))
        source = source or self.current
        if "inputs" not in layer and source != self.previous:
            layer["inputs"] = [source]
        self.layers.append(layer)
        self.shapes[name] = shape
        self.current = self.previous = name
        return name

    def weighted(self, layer: dict[str, Any]) -> dict[str, Any]:
        draw = self.draw
        if draw(st.booleans()):
            layer["activation"] = draw(st.sampled_from(ACTIVATIONS))
        if draw(st.integers(0, 4)) == 0:
            layer["use_bias"] = False
        if draw(st.integers(0, 4)) == 0:
            layer["kernel_initializer"] = draw(st.sampled_from(INITIALIZERS))
        if draw(st.integers(0, 6)) == 0:
            layer["kernel_regularizer"] = {"l2": 0.001}
        return layer

    def conv(self, shape: tuple[int, ...], same: bool = False) -> tuple[dict[str, Any], tuple[int, ...]]:
        draw = self.draw
        h, w, c = shape
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
        filters = groups * draw(st.integers(1, 3))
        kernel = [draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w)))]
        strides = 1 if same else draw(st.integers(1, 2))
        dilation = draw(st.integers(1, 2)) if strides == 1 and not same else 1
        padding: Any = "same" if same else draw(st.sampled_from(["valid", "same", 1, [0, 1], [[1, 0], [0, 2]]]))
        layer = {"type": "conv2d", "filters": filters, "kernel_size": kernel if kernel[0] != kernel[1] else kernel[0]}
        if strides != 1:
            layer["strides"] = strides
        if dilation != 1:
            layer["dilation_rate"] = dilation
        if padding != "valid":
            layer["padding"] = padding
        if groups != 1:
            layer["groups"] = groups
        pads = {"valid": ((0, 0), (0, 0))}.get(padding) if isinstance(padding, str) else None
        out = []
        for axis, size in enumerate((h, w)):
            span = (kernel[axis] - 1) * dilation + 1
            if padding == "same":
                out.append(-(-size // strides))
                continue
            if pads is None:
                p = padding if isinstance(padding, int) else padding[axis]
                extra = 2 * p if isinstance(p, int) else sum(p)
            else:
                extra = 0
            if size + extra < span:
                return self.conv(shape, same=True)
            out.append((size + extra - span) // strides + 1)
        return self.weighted(layer), (out[0], out[1], filters)

    def spatial(self) -> None:
        draw = self.draw
        h, w, c = self.shapes[self.current]
        kind = draw(st.sampled_from(["conv2d", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                                     "zero_padding2d", "batch_norm", "lrn", "dropout", "activation", "branch"]))
        if kind == "conv2d":
            self.add(*self.conv((h, w, c)))
        elif kind in ("max_pool2d", "avg_pool2d"):
            pool = draw(st.integers(1, min(2, h, w)))
            strides = draw(st.integers(1, pool))
            padding = draw(st.sampled_from(["valid", "same"]))
            size = (lambda n: -(-n // strides)) if padding == "same" else (lambda n: (n - pool) // strides + 1)
            self.add({"type": kind, "pool_size": pool, "strides": strides, "padding": padding},
                     (size(h), size(w), c))
        elif kind == "adaptive_avg_pool2d":
            out = [draw(st.integers(1, h)), draw(st.integers(1, w))]
            self.add({"type": kind, "output_size": out}, (out[0], out[1], c))
        elif kind == "zero_padding2d" and h < 14:
            self.add({"type": kind, "padding": [[0, 1], [1, 0]]}, (h + 1, w + 1, c))
        elif kind == "batch_norm":
            self.add({"type": kind, "momentum": 0.9}, (h, w, c))
        elif kind == "lrn":
            self.add({"type": kind, "size": draw(st.sampled_from([1, 3, 5]))}, (h, w, c))
        elif kind == "dropout":
            self.add({"type": kind, "rate": draw(st.sampled_from([0.0, 0.25, 0.5]))}, (h, w, c))
        elif kind == "activation":
            self.add({"type": kind, "activation": draw(st.sampled_from(ACTIVATIONS))}, (h, w, c))
        elif kind == "branch":  # a side convolution with `same` padding, joined back on channels
            trunk = self.current
            layer, shape = self.conv((h, w, c), same=True)
            side = self.add(layer, shape, source=trunk)
            self.add({"type": "concatenate", "inputs": [trunk, side]}, (h, w, c + shape[2]))

    def flat(self) -> None:
        draw = self.draw
        (n,) = self.shapes[self.current]
        kind = draw(st.sampled_from(["dense", "dense", "dropout", "batch_norm", "activation", "branch"]))
        if kind == "dense":
            units = draw(st.integers(1, 6))
            self.add(self.weighted({"type": "dense", "units": units}), (units,))
        elif kind == "dropout":
            self.add({"type": kind, "rate": 0.5}, (n,))
        elif kind == "batch_norm":
            self.add({"type": kind, "epsilon": 0.01}, (n,))
        elif kind == "activation":
            self.add({"type": kind, "activation": draw(st.sampled_from(ACTIVATIONS))}, (n,))
        else:
            trunk = self.current
            units = draw(st.integers(1, 4))
            side = self.add(self.weighted({"type": "dense", "units": units}), (units,), source=trunk)
            self.add({"type": "concatenate", "inputs": [trunk, side]}, (n + units,))


@st.composite
def valid_specs(draw: Any) -> dict[str, Any]:
    """A small valid spec: a few spatial layers (maybe a branch), flatten or global pooling, a few flat ones."""
    shape = (draw(st.integers(3, 10)), draw(st.integers(3, 10)), draw(st.integers(1, 3)))
    builder = Builder(draw, shape)
    for _ in range(draw(st.integers(0, 5))):
        builder.spatial()
    h, w, c = builder.shapes[builder.current]
    if draw(st.booleans()):
        builder.add({"type": "flatten"}, (h * w * c,))
    else:
        builder.add({"type": "global_avg_pool2d"}, (c,))
    for _ in range(draw(st.integers(0, 3))):
        builder.flat()
    spec: dict[str, Any] = {"alexgen": 1, "name": "prop", "input_shape": list(shape), "layers": builder.layers}
    if draw(st.booleans()):
        spec["training"] = {"optimizer": draw(st.sampled_from([{"type": "sgd", "momentum": 0.9, "weight_decay": 1e-4},
                                                                {"type": "adam"}, {"type": "rmsprop"},
                                                                {"type": "adadelta"}])),
                            "loss": draw(st.sampled_from(["categorical_crossentropy",
                                                          "sparse_categorical_crossentropy"]))}
    return spec


def spec_text(spec: dict[str, Any], as_json: bool) -> str:
    """The spec as JSON or block YAML."""
    return json.dumps(spec, indent=2) if as_json else yaml.safe_dump(spec, sort_keys=False)


# --- analyze -> render -> import -> build ---------------------------------------------------------------------

_COUNTER = iter(range(10**9))


@pytest.mark.keras
@pytest.mark.torch
@settings(max_examples=BUILD_EXAMPLES, **COMMON)
@given(spec=valid_specs(), as_json=st.booleans())
def test_random_valid_specs_build_to_the_analyzers_numbers_in_both_frameworks(spec: dict[str, Any],
                                                                               as_json: bool) -> None:
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    graph = graph_from_text(spec_text(spec, as_json), "prop.json" if as_json else "prop.yaml")
    outputs = {str(o.relative): o.text for o in render_outputs([(graph, "prop.yaml")], ["keras", "pytorch"])}
    number = next(_COUNTER)
    if number % 25 == 0:
        keras.backend.clear_session()

    keras_module = import_source(f"prop_keras_{number}", outputs["keras/prop.py"])
    model = keras_module.build_model()
    assert model.count_params() == graph.total_params
    assert sum(math.prod(w.shape) for w in model.trainable_weights) == graph.trainable_params
    for node in graph.nodes:
        layer = model.get_layer(node.name)
        assert layer.count_params() == node.params, node.name
        assert tuple(layer.output.shape[1:]) == node.shape, node.name

    torch_module = import_source(f"prop_torch_{number}", outputs["pytorch/prop.py"])
    network = torch_module.build_model().eval()
    trainable = sum(p.numel() for p in network.parameters())
    statistics = sum(b.numel() for name, b in network.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert trainable == graph.trainable_params
    assert trainable + statistics == graph.total_params
    h, w, c = graph.input_shape
    with torch.no_grad():
        out = network(torch.zeros(2, c, h, w))
    shape = graph.output.shape
    assert tuple(out.shape[1:]) == (shape if len(shape) == 1 else (shape[2], shape[0], shape[1]))


# --- mutations: valid, or located diagnostics, never anything else ----------------------------------------------

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=12), st.sampled_from(["same", "valid", "relu", "conv2d", "input", "flatten",
                                                          "dense", "__init__", "class", "x\nimport os", "{{ x }}"]),
                   st.lists(st.integers(-2, 5), max_size=4), st.just({}), st.just([[1, 2], [3, 4]]))


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


def mutate(spec: dict[str, Any], draw: Any) -> dict[str, Any]:
    """Drop a key, change a value's type, or swap a value for a random one, at a random place."""
    spec = json.loads(json.dumps(spec))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(spec)[1:]))
        parent = spec
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["drop", "swap", "retype", "rename"]))
        if action == "drop":
            del parent[where[-1]]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["nme", "inputs", "name", "type", "strides", "$schema", "units"]))] = \
                parent.pop(where[-1])
        elif action == "retype":
            value = parent[where[-1]]
            parent[where[-1]] = str(value) if not isinstance(value, str) else [value]
        else:
            parent[where[-1]] = copy.deepcopy(draw(VALUES))  # st.just() hands out one shared object
    return spec


def check_outcome(text: str) -> str:
    """Validate (and render when valid): 'valid' or 'invalid'; anything else fails the test."""
    try:
        graph = graph_from_text(text, "mutant.yaml")
    except SpecError as exc:
        assert exc.diagnostics, "a SpecError without diagnostics"
        for d in exc.diagnostics:
            assert d.file == "mutant.yaml" and d.line >= 1 and d.column >= 1 and d.message, d
        assert any(d.level == "error" for d in exc.diagnostics)
        return "invalid"
    render_outputs([(graph, "mutant.yaml")], ["keras", "pytorch"])
    return "valid"


@settings(max_examples=MUTATION_EXAMPLES, **COMMON)
@given(spec=valid_specs(), data=st.data(), as_json=st.booleans())
def test_mutated_specs_are_valid_or_located_errors(spec: dict[str, Any], data: st.DataObject, as_json: bool) -> None:
    mutant = mutate(spec, data.draw)
    start = time.perf_counter()
    check_outcome(spec_text(mutant, as_json))
    assert time.perf_counter() - start < 20.0  # a hang guard; speed lives in benchmarks/


@settings(max_examples=MUTATION_EXAMPLES, **COMMON)
@given(spec=valid_specs(), as_json=st.booleans(), cut=st.floats(0, 1), junk=st.sampled_from(
    ["", "\t", "\x00", "\xff", "&a", "*a", "!!python/object:os.system", "{", "]", ": :", "- -", "\ud800", "\u202e",
     "'", '"', "<<: *x", "? ", "%YAML 1.2\n---\n"]))
def test_truncated_and_spliced_spec_files_are_valid_or_located_errors(spec: dict[str, Any], as_json: bool, cut: float,
                                                                      junk: str) -> None:
    text = spec_text(spec, as_json)
    at = int(len(text) * cut)
    start = time.perf_counter()
    check_outcome(text[:at] + junk + text[at:] if junk else text[:at])
    assert time.perf_counter() - start < 20.0  # a hang guard; speed lives in benchmarks/
