"""Keras and PyTorch imports of models alexgen did not write: the seed notebooks' Keras models, a torchvision-style
AlexNet, and located refusals of what has no exact spec equivalent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPEC_DIR

from alexgen.diagnostics import SpecError
from alexgen.importers import import_model
from alexgen.validate import load_graph

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def numbers(graph: object) -> list[tuple[object, ...]]:
    """(type, output shape, params, trainable, MACs) of each layer, in order."""
    return [(n.type, n.shape, n.params, n.trainable, n.macs) for n in graph.nodes]  # type: ignore[attr-defined]


def refused(model: object, **options: object) -> list[object]:
    """The error diagnostics of an import that must fail."""
    with pytest.raises(SpecError) as info:
        import_model(model, **options)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.level == "error"]


# --- Keras: the seeds ----------------------------------------------------------------------------------

SEEDS = ["alexnet", "alexnet_plain", "alexnet_bn", "alexnet_two_tower", "alexnet_bn_l2", "alexnet_mnist"]


@pytest.mark.keras
@pytest.mark.parametrize("name", SEEDS)
def test_seed_models_import_as_their_specs(name: str) -> None:
    pytest.importorskip("keras")
    from test_keras_reference import BUILDERS

    spec = load_graph(SPEC_DIR / f"{name}.yaml")
    imported = import_model(BUILDERS[name](), name=name).graph
    assert numbers(imported) == numbers(spec)
    for mine, theirs in zip(imported.nodes, spec.nodes, strict=True):
        exclude = {"name", "inputs"} | ({"strides"} if mine.type.endswith("pool2d") else set())
        assert mine.layer.model_dump(exclude=exclude) == theirs.layer.model_dump(exclude=exclude), theirs.name
    if name == "alexnet_two_tower":  # named layers, functional graph: names, inputs and order as in the spec
        assert [(n.name, n.inputs) for n in imported.nodes] == [(n.name, n.inputs) for n in spec.nodes]


@pytest.mark.keras
def test_keras_compile_settings_become_training() -> None:
    keras = pytest.importorskip("keras")
    from test_keras_reference import seed_004_alexnet

    model = seed_004_alexnet()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    training = import_model(model, name="alexnet").graph.spec.training
    assert training == load_graph(SPEC_DIR / "alexnet.yaml").spec.training


@pytest.mark.keras
def test_keras_refusals_name_the_layer() -> None:
    keras = pytest.importorskip("keras")
    from keras import layers as kl

    model = keras.Sequential([keras.Input((8, 8, 3)), kl.Conv2D(4, 3, activation="elu", name="conv_elu"),
                              kl.PReLU(name="prelu"), kl.Flatten(), kl.Dense(2, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(weight_decay=1e-4), loss="categorical_crossentropy")
    found = {(d.layer, d.message) for d in refused(model)}
    assert ("conv_elu", "the activation 'elu' has no spec equivalent") in found
    assert ("prelu", "unsupported Keras layer class 'PReLU'") in found
    assert ("compile()", "optimizer weight_decay=0.0001 has no spec equivalent") in found
    assert any(layer == "compile()" and "from_logits=False" in message for layer, message in found)


# --- PyTorch ---------------------------------------------------------------------------------------------


def torchvision_alexnet() -> object:
    """torchvision's AlexNet, written out (torchvision is not a dependency)."""
    from torch import nn

    class AlexNet(nn.Module):
        def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes),
            )

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.features(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.classifier(x)

    import torch

    return AlexNet()


@pytest.mark.torch
def test_torchvision_alexnet() -> None:
    torch = pytest.importorskip("torch")
    model = torchvision_alexnet()
    graph = import_model(model, (224, 224, 3)).graph
    assert graph.total_params == sum(p.numel() for p in model.parameters())  # type: ignore[attr-defined]
    with torch.no_grad():
        out = model.features(torch.zeros(1, 3, 224, 224))  # type: ignore[attr-defined]
    assert graph.node("features_12").shape == (out.shape[2], out.shape[3], out.shape[1])
    assert [n.type for n in graph.nodes] == [
        "conv2d", "max_pool2d", "conv2d", "max_pool2d", "conv2d", "conv2d", "conv2d", "max_pool2d",
        "adaptive_avg_pool2d", "flatten", "dropout", "dense", "dropout", "dense", "dense"]
    conv1 = graph.node("features_0").layer
    assert (conv1.padding, conv1.activation) == (2, "relu")  # 224 + 2 + 2: not TensorFlow's same (3 and 4)
    assert graph.node("features_3").layer.padding == "same"  # 27 with 2 and 2 is exactly same


@pytest.mark.torch
def test_pytorch_conventions_are_converted_or_refused() -> None:
    pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LocalResponseNorm(3, alpha=0.3, beta=0.5, k=1.5),
                          nn.BatchNorm2d(4, eps=1e-3, momentum=0.2), nn.Flatten(), nn.Linear(144, 2))
    imported = import_model(model, (8, 8, 3))
    lrn, bn = imported.graph.nodes[1].layer, imported.graph.nodes[2].layer
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.bias) == (3, 0.1, 0.5, 1.5)
    assert (bn.epsilon, bn.momentum) == (1e-3, 0.8)
    assert any("unbiased" in w.message and w.level == "warning" for w in imported.warnings)

    bad = nn.Sequential(nn.Conv2d(3, 4, 3, padding_mode="reflect"), nn.LocalResponseNorm(4), nn.PReLU(),
                        nn.MaxPool2d(2, padding=1), nn.Flatten(), nn.Linear(64, 2))
    found = {(d.layer, d.message.split(" has")[0].split(" (")[0]) for d in refused(bad, input_shape=(9, 9, 3))}
    assert ("0", "padding_mode='reflect'") in found
    assert ("1", "an even LRN window") in found
    assert ("2", "unsupported PyTorch module 'PReLU'") in found
    assert any(layer == "3" and "neither 'valid' nor 'same'" in message for layer, message in
               {(d.layer, d.message) for d in refused(bad, input_shape=(9, 9, 3))})


@pytest.mark.torch
def test_pytorch_needs_an_input_shape() -> None:
    pytest.importorskip("torch")
    from torch import nn

    (error,) = refused(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)))
    assert "--input-shape" in (error.hint or "")


@pytest.mark.torch
def test_cli_imports_a_module_function(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    (tmp_path / "tiny_net.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),\n"
        "        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10), nn.Softmax(dim=1))\n")
    out = tmp_path / "tiny.yaml"
    done = subprocess.run([sys.executable, "-m", "alexgen", "import", "tiny_net:build", "-o", str(out),
                           "--input-shape", "8,8,3", "--name", "tiny"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    graph = load_graph(out)
    assert [(n.type, getattr(n.layer, "activation", None)) for n in graph.nodes] == [
        ("conv2d", "relu"), ("max_pool2d", None), ("flatten", None), ("dense", "softmax")]
    assert graph.nodes[0].layer.padding == "same"


@pytest.mark.keras
def test_saved_keras_file(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from test_keras_reference import seed_003_mnist

    from alexgen.importers import import_source

    path = tmp_path / "mnist.keras"
    seed_003_mnist().save(path)
    graph = import_source(str(path), name="alexnet_mnist").graph
    assert numbers(graph) == numbers(load_graph(SPEC_DIR / "alexnet_mnist.yaml"))
    del keras
