"""The networks measured: AlexNet (or a tiny AlexNet-shaped spec for tests) as alexgen generates it, and the
hand-written references it is compared with, written here the way people write them by hand."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from benchmarks.common import SPEC

FULL = {"size": 227, "widths": (96, 256, 384, 384, 256), "hidden": 4096, "classes": 1000}
TINY = {"size": 67, "widths": (8, 16, 24, 24, 16), "hidden": 32, "classes": 10}


@dataclass(frozen=True)
class Net:
    """The architecture shared by the generated model and the references."""

    size: int
    widths: tuple[int, int, int, int, int]
    hidden: int
    classes: int
    graph: Any  # alexgen.graph.Graph
    spec_path: str

    @property
    def flops(self) -> int:
        """Forward FLOPs per image: twice the multiply-accumulates the analyzer counts."""
        return 2 * self.graph.macs


def tiny_spec() -> dict[str, Any]:
    """AlexNet's layer sequence at a tiny width and a 67x67 input (spec/alexnet.yaml's structure)."""
    c1, c2, c3, c4, c5 = TINY["widths"]
    conv = {"type": "conv2d", "activation": "relu"}
    pool = {"type": "max_pool2d", "pool_size": 3, "strides": 2}
    return {
        "alexgen": 1,
        "name": "tiny_alexnet",
        "input_shape": [TINY["size"], TINY["size"], 3],
        "layers": [
            {**conv, "filters": c1, "kernel_size": 11, "strides": 4},
            pool,
            {**conv, "filters": c2, "kernel_size": 5, "padding": "same"},
            pool,
            {**conv, "filters": c3, "kernel_size": 3, "padding": "same"},
            {**conv, "filters": c4, "kernel_size": 3, "padding": "same"},
            {**conv, "filters": c5, "kernel_size": 3, "padding": "same"},
            pool,
            {"type": "flatten"},
            {"type": "dense", "units": TINY["hidden"], "activation": "relu"},
            {"type": "dropout", "rate": 0.5},
            {"type": "dense", "units": TINY["hidden"], "activation": "relu"},
            {"type": "dropout", "rate": 0.5},
            {"type": "dense", "units": TINY["classes"], "activation": "softmax"},
        ],
        "training": {"optimizer": {"type": "adam", "learning_rate": 1e-4}, "loss": "sparse_categorical_crossentropy"},
    }


def network(tiny: bool) -> Net:
    """spec/alexnet.yaml analysed (or the tiny spec), with the reference's hyper-parameters."""
    from alexgen.loader import LoadedDocument, SourceMap
    from alexgen.validate import graph_from_document, load_graph

    if tiny:
        data = tiny_spec()
        sha = hashlib.sha256(json.dumps(data).encode()).hexdigest()
        graph = graph_from_document(LoadedDocument(data, SourceMap("tiny"), "tiny", sha, []))
        return Net(TINY["size"], TINY["widths"], TINY["hidden"], TINY["classes"], graph, "tiny_alexnet.yaml")
    return Net(
        FULL["size"],
        FULL["widths"],
        FULL["hidden"],
        FULL["classes"],
        load_graph(SPEC, "spec/alexnet.yaml"),
        "spec/alexnet.yaml",
    )


def generated(net: Net, target: str) -> ModuleType:
    """Render the spec for `target` with alexgen's templates and import the module."""
    from alexgen.frameworks import generated_module

    return generated_module(net.graph, net.spec_path, target)


def torch_reference(net: Net) -> Any:
    """A torchvision-style AlexNet (features, flatten, classifier; logits out, softmax in the loss)."""
    import torch
    from torch import nn

    class AlexNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3, c4, c5 = net.widths
            self.features = nn.Sequential(
                nn.Conv2d(3, c1, kernel_size=11, stride=4),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c1, c2, kernel_size=5, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c2, c3, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(c3, c4, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(c4, c5, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            side = (net.size - 11) // 4 + 1
            for _ in range(3):  # the three 3x3 stride-2 poolings
                side = (side - 3) // 2 + 1
            self.classifier = nn.Sequential(
                nn.Dropout(0.5),
                nn.Linear(c5 * side * side, net.hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(0.5),
                nn.Linear(net.hidden, net.hidden),
                nn.ReLU(inplace=True),
                nn.Linear(net.hidden, net.classes),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(torch.flatten(self.features(x), 1))

    model = AlexNet()
    params = sum(p.numel() for p in model.parameters())
    assert params == net.graph.total_params, (params, net.graph.total_params)
    return model


def keras_reference(net: Net) -> Any:
    """A hand-written Keras functional AlexNet (logits out; softmax folded into the loss)."""
    import keras
    from keras import layers

    c1, c2, c3, c4, c5 = net.widths
    inputs = keras.Input((net.size, net.size, 3))
    x = layers.Conv2D(c1, 11, strides=4, activation="relu")(inputs)
    x = layers.MaxPooling2D(3, 2)(x)
    x = layers.Conv2D(c2, 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(3, 2)(x)
    for width in (c3, c4, c5):
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(layers.MaxPooling2D(3, 2)(x))
    x = layers.Dropout(0.5)(layers.Dense(net.hidden, activation="relu")(x))
    x = layers.Dropout(0.5)(layers.Dense(net.hidden, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(net.classes)(x))
    assert model.count_params() == net.graph.total_params, (model.count_params(), net.graph.total_params)
    return model
