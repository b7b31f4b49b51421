"""Imports of depthwise_conv2d, add, leaky_relu, elu and gelu from hand-written Keras and PyTorch models: each
framework's defaults become explicit spec values, and what has no exact equivalent is refused at its layer."""

from __future__ import annotations

import os
from typing import Any

import pytest

from alexgen.diagnostics import SpecError
from alexgen.importers import import_model

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def layers_of(model: Any, shape: tuple[int, int, int] | None = None) -> list[dict[str, Any]]:
    """Each imported layer's validated keys (type included, name and inputs too)."""
    graph = import_model(model, shape).graph
    return [node.layer.model_dump(exclude_defaults=True) | {"type": node.type} for node in graph.nodes]


def refused(model: Any, shape: tuple[int, int, int]) -> list[str]:
    """The error messages of an import that must fail."""
    with pytest.raises(SpecError) as info:
        import_model(model, shape)
    return [d.message for d in info.value.diagnostics if d.level == "error"]


# --- PyTorch -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "expected"), [
    ("LeakyReLU(0.2)", {"type": "leaky_relu", "negative_slope": 0.2}),
    ("LeakyReLU()", {"type": "leaky_relu", "negative_slope": 0.01}),  # PyTorch's default, written out
    ("ELU(alpha=0.5)", {"type": "elu", "alpha": 0.5}),
    ("ELU()", {"type": "elu"}),
    ("GELU(approximate='tanh')", {"type": "gelu", "approximate": "tanh"}),
    ("GELU()", {"type": "gelu"}),
])
def test_torch_activation_modules(module: str, expected: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), eval(f"torch.nn.{module}"))  # noqa: S307 (test literal)
    found = layers_of(model, (6, 6, 2))
    assert [layer["type"] for layer in found] == ["conv2d", expected["type"]]
    assert {k: v for k, v in found[1].items() if k != "name"} == expected


def test_torch_functional_activations_and_adds() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional  # noqa: N806

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = (torch.nn.Conv2d(2, 3, 1) for _ in range(3))

        def forward(self, x: Any) -> Any:
            a, b, c = F.leaky_relu(self.a(x), 0.1), F.elu(self.b(x), alpha=0.7), F.gelu(self.c(x), approximate="tanh")
            left = a + b + c  # one add of three terms, summed left to right
            right = torch.add(a, c).add(b)  # also one add: torch.add taken over by Tensor.add
            more = right + a + b  # `right` is not merged in (`a` would be a term twice): an add of three terms
            return torch.flatten(left + more, 1)  # a second term is never merged: it is summed first

    found = layers_of(Net(), (4, 4, 2))
    types = [layer["type"] for layer in found]
    assert types == ["conv2d", "leaky_relu", "conv2d", "elu", "conv2d", "gelu", "add", "add", "add", "flatten"]
    assert found[1]["negative_slope"] == 0.1 and found[3]["alpha"] == 0.7 and found[5]["approximate"] == "tanh"
    a, b, c = found[1]["name"], found[3]["name"], found[5]["name"]
    right, more = found[6]["name"], found[7]["name"]
    assert [layer["inputs"] for layer in found[6:9]] == [[a, c, b], [right, a, b], [a, b, c, more]]


def test_torch_depthwise_and_grouped_convolutions() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, groups=3, padding=1, bias=False),  # groups == in_channels: depthwise, multiplier 2
        torch.nn.ReLU(),
        torch.nn.Conv2d(6, 6, 3, groups=3),  # groups < in_channels: a grouped conv2d
        torch.nn.Conv2d(6, 6, 1, groups=6, stride=2),  # multiplier 1
    )
    found = layers_of(model, (8, 8, 3))
    assert [{k: v for k, v in layer.items() if k != "name"} for layer in found] == [
        {"type": "depthwise_conv2d", "kernel_size": 3, "depth_multiplier": 2, "padding": "same",
         "use_bias": False, "activation": "relu"},
        {"type": "conv2d", "filters": 6, "kernel_size": 3, "groups": 3},
        {"type": "depthwise_conv2d", "kernel_size": 1, "strides": 2},
    ]


def test_torch_adds_without_a_spec_equivalent_are_refused() -> None:
    torch = pytest.importorskip("torch")

    class Offset(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x + 1.0

    class Scaled(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return torch.add(x, x, alpha=2)

    assert any("constant" in m for m in refused(Offset(), (4, 4, 2)))
    assert any("alpha" in m for m in refused(Scaled(), (4, 4, 2)))


# --- Keras ---------------------------------------------------------------------------------------------


@pytest.mark.keras
def test_keras_activation_layers() -> None:
    keras = pytest.importorskip("keras")
    x = keras.Input((6, 6, 2))
    y = keras.layers.Conv2D(3, 3)(x)
    y = keras.layers.LeakyReLU()(y)  # Keras's default slope 0.3, written out
    y = keras.layers.LeakyReLU(negative_slope=0.05)(y)
    y = keras.layers.ELU(alpha=0.5)(y)
    y = keras.layers.Activation("gelu")(y)
    y = keras.layers.Activation("leaky_relu")(y)  # keras.activations.leaky_relu's default slope is 0.2
    y = keras.layers.Activation("elu")(y)
    found = layers_of(keras.Model(x, y))
    assert [{k: v for k, v in layer.items() if k != "name"} for layer in found[1:]] == [
        {"type": "leaky_relu", "negative_slope": pytest.approx(0.3)},
        {"type": "leaky_relu", "negative_slope": pytest.approx(0.05)},
        {"type": "elu", "alpha": 0.5},
        {"type": "gelu"},
        {"type": "leaky_relu", "negative_slope": 0.2},
        {"type": "elu"},
    ]


@pytest.mark.keras
def test_keras_depthwise_and_add() -> None:
    keras = pytest.importorskip("keras")
    x = keras.Input((8, 8, 3))
    a = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False, activation="relu",
                                     depthwise_initializer="he_normal",
                                     depthwise_regularizer=keras.regularizers.L2(0.01), name="dw")(x)
    b = keras.layers.Conv2D(6, 1, name="pw")(a)
    c = keras.layers.DepthwiseConv2D((1, 3), strides=2, name="dw_s2")(x)
    s = keras.layers.Add(name="sum")([a, b, keras.layers.Conv2D(6, 1, name="pw2")(b)])
    found = {layer["name"]: layer for layer in layers_of(keras.Model(x, s))}
    assert found["dw"] == {"type": "depthwise_conv2d", "name": "dw", "kernel_size": 3, "depth_multiplier": 2,
                           "padding": "same", "activation": "relu", "use_bias": False,
                           "kernel_initializer": "he_normal", "kernel_regularizer": {"l2": 0.01}}
    assert found["sum"] == {"type": "add", "name": "sum", "inputs": ["dw", "pw", "pw2"]}
    model = keras.Model(x, keras.layers.Flatten()(c))
    assert layers_of(model)[0] == {"type": "depthwise_conv2d", "name": "dw_s2", "kernel_size": [1, 3],
                                   "strides": 2}


@pytest.mark.keras
def test_keras_depthwise_refuses_what_the_spec_lacks() -> None:
    keras = pytest.importorskip("keras")
    x = keras.Input((8, 8, 3))
    y = keras.layers.DepthwiseConv2D(3, depthwise_constraint=keras.constraints.NonNeg())(x)
    assert any("depthwise_constraint" in m for m in refused(keras.Model(x, y), (8, 8, 3)))


# --- Caffe ---------------------------------------------------------------------------------------------

CAFFE = """name: "res"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "c2" top: "sum" }
"""


def test_caffe_eltwise_sum_is_an_add(tmp_path: Any) -> None:
    from alexgen.importers import import_source

    path = tmp_path / "res.prototxt"
    path.write_text(CAFFE)
    graph = import_source(str(path)).graph
    assert [(n.type, n.name, n.inputs) for n in graph.nodes][-1] == ("add", "sum", ["c1", "c2"])
    for extra, field in (("eltwise_param { operation: PROD }", None), ("eltwise_param { coeff: 1 coeff: -1 }",
                                                                       "coeff")):
        path.write_text(CAFFE.replace('top: "sum" }', f'top: "sum" {extra} }}'))
        with pytest.raises(SpecError) as info:
            import_source(str(path))
        errors = [d for d in info.value.diagnostics if d.level == "error"]
        assert errors and all(d.line == 6 for d in errors), errors
        assert field is None or any(field in d.message for d in errors)
