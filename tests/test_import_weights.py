"""`alexgen import --weights / --verify`: the source model's trained tensors in the neutral file, and the proof that
the code generated from the imported spec computes what the original model computes (and that a wrong conversion
is caught: exit 2, nothing written)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from alexgen import weights as w
from alexgen.cli import cli
from alexgen.importers import import_model
from alexgen.importers.source_weights import source_tensors
from alexgen.importers.verify import verify
from alexgen.validate import load_graph

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# --- source models, found by the CLI as `test_import_weights:<function>` ---------------------------------------


def small_torch_model() -> Any:
    """A small PyTorch network with every convention the import converts: grouped conv, TensorFlow-style same
    padding, -inf padding before a max pool, LRN (alpha / size), BatchNorm2d/1d with trained statistics, a flatten
    into Linear, and random weights from a fixed seed."""
    import torch
    from torch import nn

    class Small(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=2)
            self.lrn = nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0)
            self.pool1_pad = nn.ConstantPad2d((0, 1, 0, 1), float("-inf"))
            self.pool1 = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(8, 6, kernel_size=3, padding=1, groups=2)
            self.bn2 = nn.BatchNorm2d(6)
            self.fc1 = nn.Linear(6 * 4 * 4, 12)
            self.bn3 = nn.BatchNorm1d(12)
            self.fc2 = nn.Linear(12, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.pool1(self.pool1_pad(self.lrn(torch.relu(self.conv1(x)))))
            x = torch.relu(self.bn2(self.conv2(x)))
            x = torch.flatten(x, 1)
            return torch.softmax(self.fc2(torch.relu(self.bn3(self.fc1(x)))), dim=1)

    torch.manual_seed(3)
    model = Small()
    with torch.no_grad():
        for bn in (model.bn2, model.bn3):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return model.eval()


SMALL_SHAPE = "16,16,3"


def small_keras_model() -> Any:
    """A small functional Keras network: same-padded strided conv, batch norm with trained statistics, two towers
    flattened and joined, dense layers; random weights from a fixed seed."""
    import keras
    from keras import layers

    inputs = keras.Input((15, 15, 3))
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    a = layers.Flatten(name="flat_a")(layers.MaxPooling2D(2, name="pool_a")(x))
    b = layers.Flatten(name="flat_b")(layers.Conv2D(4, 3, activation="relu", name="conv_b")(x))
    x = layers.Concatenate(name="merge")([a, b])
    x = layers.Dense(10, activation="relu", name="fc1")(x)
    outputs = layers.Dense(4, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="small_keras")
    rng = np.random.default_rng(4)
    model.set_weights([rng.uniform(0.5, 1.5, v.shape) if v.ndim == 1 else rng.normal(0.0, 0.3, v.shape)
                       for v in model.get_weights()])  # vectors positive: batch-norm variances
    return model


def torchvision_alexnet_random() -> Any:
    """The torchvision-style AlexNet of test_import_models, with its random initial weights from a fixed seed."""
    import torch
    from test_import_models import torchvision_alexnet

    torch.manual_seed(0)
    return torchvision_alexnet()


def import_args(tmp_path: Path, source: str, *extra: str) -> list[str]:
    """`alexgen import` arguments writing spec.yaml and weights.safetensors into tmp_path."""
    return ["import", source, "-o", str(tmp_path / "spec.yaml"), "--weights", str(tmp_path / "weights.safetensors"),
            *extra]


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the CLI in this process (monkeypatches apply) from the tests folder (module:function sources)."""
    monkeypatch.chdir(ROOT / "tests")
    return CliRunner().invoke(cli, args)


# --- PyTorch ---------------------------------------------------------------------------------------------


@pytest.mark.torch
def test_pytorch_weights_are_written_in_the_neutral_layout_and_verify(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    result = run_cli(import_args(tmp_path, "test_import_weights:small_torch_model", "--input-shape", SMALL_SHAPE,
                                 "--verify"), monkeypatch)
    assert result.exit_code == 0, result.output
    assert "all within the tolerance" in result.stdout
    graph = load_graph(tmp_path / "spec.yaml")
    tensors = w.read_neutral(tmp_path / "weights.safetensors", graph, w.neutral_shapes(graph))
    model = small_torch_model()
    assert np.array_equal(tensors["conv1.kernel"], model.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    assert np.array_equal(tensors["bn2.moving_variance"], model.bn2.running_var.numpy())
    # fc1's rows: PyTorch's (C, H, W) flatten order becomes the spec's (H, W, C)
    torch_rows = model.fc1.weight.detach().numpy().T.reshape(6, 4, 4, 12)
    assert np.array_equal(tensors["fc1.kernel"], torch_rows.transpose(1, 2, 0, 3).reshape(96, 12))
    assert graph.node("lrn").layer.alpha == pytest.approx(1e-2 / 5)


@pytest.mark.torch
def test_pytorch_verification_reports_each_layer_in_float64_against_both_targets() -> None:
    pytest.importorskip("torch")
    imported = import_model(small_torch_model(), (16, 16, 3))
    result = verify(imported, source_tensors(imported), "small.yaml")
    assert result.passed and result.dtype == "float64"
    against = {row.what for row in result.rows}
    assert "generated pytorch" in against
    layers = {row.layer for row in result.rows if row.what == "generated pytorch"}
    assert {"conv1", "lrn", "pool1", "conv2", "bn2", "flatten", "fc1", "bn3", "fc2"} <= layers
    inner = [row.max_rel for row in result.rows if row.layer != "output"]
    assert max(inner) < 1e-12  # float64 throughout
    output = [row.max_rel for row in result.rows if row.layer == "output"]
    assert 0 < max(output) < 1e-5  # the untouched float32 original


@pytest.mark.torch
def test_a_wrong_flatten_order_does_not_verify_and_writes_nothing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    original = w.from_torch_tensor
    monkeypatch.setattr(w, "from_torch_tensor", lambda slot, value, order: original(slot, value, None))
    result = run_cli(import_args(tmp_path, "test_import_weights:small_torch_model", "--input-shape", SMALL_SHAPE,
                                 "--verify"), monkeypatch)
    assert result.exit_code == 2, result.output
    assert "the import does not verify" in result.stderr and "nothing was written" in result.stderr
    assert not (tmp_path / "spec.yaml").exists() and not (tmp_path / "weights.safetensors").exists()
    failed = [line.split()[0] for line in result.stdout.splitlines() if "  NO  " in line]
    assert "fc1" in failed and "conv1" not in failed and "conv2" not in failed  # the error starts at fc1


@pytest.mark.torch
def test_a_wrong_lrn_convention_does_not_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from alexgen.importers import pytorch

    right = pytorch.MODULES["LocalResponseNorm"]

    def alpha_not_divided(ctx: Any) -> dict[str, Any]:
        return {**right(ctx), "alpha": ctx.module.alpha}

    monkeypatch.setitem(pytorch.MODULES, "LocalResponseNorm", alpha_not_divided)
    imported = import_model(small_torch_model(), (16, 16, 3))
    result = verify(imported, source_tensors(imported), "small.yaml")
    assert not result.passed
    assert {row.layer for row in result.rows if not row.passed} >= {"lrn", "output"}
    assert all(row.passed for row in result.rows if row.layer == "conv1")


@pytest.mark.torch
@pytest.mark.slow
def test_torchvision_alexnet_with_random_weights_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    result = run_cli(import_args(tmp_path, "test_import_weights:torchvision_alexnet_random", "--input-shape",
                                 "224,224,3", "--verify"), monkeypatch)
    assert result.exit_code == 0, result.output
    graph = load_graph(tmp_path / "spec.yaml")
    assert graph.total_params == 61_100_840
    tensors = w.read_neutral(tmp_path / "weights.safetensors", graph, w.neutral_shapes(graph))
    model = torchvision_alexnet_random()
    state = model.state_dict()
    assert np.array_equal(tensors["classifier_6.kernel"], state["classifier.6.weight"].numpy().T)
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith("classifier_1 ")]
    assert len(rows) >= 1 and all("  ok  " in row for row in rows)  # the first dense after the flatten
    from alexgen.frameworks import generated_module

    # the neutral file loads into the generated module, which then computes the original's output

    net = generated_module(graph, "spec.yaml", "pytorch").build_model(weights=str(tmp_path / "weights.safetensors"))
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((1, 3, 224, 224)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(net.eval()(x), model.eval()(x), rtol=0, atol=1e-6)


# --- Keras ---------------------------------------------------------------------------------------------


@pytest.mark.keras
def test_keras_weights_are_the_layers_own_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("keras")
    result = run_cli(import_args(tmp_path, "test_import_weights:small_keras_model", "--verify"), monkeypatch)
    assert result.exit_code == 0, result.output
    graph = load_graph(tmp_path / "spec.yaml")
    tensors = w.read_neutral(tmp_path / "weights.safetensors", graph, w.neutral_shapes(graph))
    model = small_keras_model()
    for node in graph.weighted:
        values = model.get_layer(node.name).get_weights()
        for slot, value in zip(node.slots, values, strict=True):
            assert np.array_equal(tensors[f"{node.name}.{slot.name}"], value), (node.name, slot.name)
    assert "generated keras" in result.stdout


@pytest.mark.keras
@pytest.mark.torch
def test_keras_verification_runs_float64_and_the_pytorch_target_too() -> None:
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    imported = import_model(small_keras_model())
    result = verify(imported, source_tensors(imported), "small.yaml")
    assert result.passed and result.dtype == "float64"
    torch_rows = {row.layer: row.max_rel for row in result.rows if row.what == "generated pytorch"}
    assert {"conv1", "bn1", "flat_a", "flat_b", "merge", "fc1", "predictions"} <= set(torch_rows)
    assert max(torch_rows.values()) < 1e-12


@pytest.mark.keras
@pytest.mark.torch
def test_a_wrong_keras_flatten_order_into_pytorch_does_not_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    original = w.to_torch_tensor
    monkeypatch.setattr(w, "to_torch_tensor", lambda slot, value, order: original(slot, value, None))
    imported = import_model(small_keras_model())
    result = verify(imported, source_tensors(imported), "small.yaml")
    failed = {(row.layer, row.what) for row in result.rows if not row.passed}
    assert ("fc1", "generated pytorch") in failed and not any(what == "generated keras" for _, what in failed)


@pytest.mark.keras
@pytest.mark.parametrize("name", ["alexnet_mnist", pytest.param("alexnet_bn", marks=pytest.mark.slow),
                                  pytest.param("alexnet_two_tower", marks=pytest.mark.slow)])
def test_seed_models_with_random_weights_verify(name: str) -> None:
    pytest.importorskip("keras")
    from test_keras_reference import BUILDERS

    model = BUILDERS[name]()
    rng = np.random.default_rng(9)  # trained-looking batch-norm statistics: positive variances
    model.set_weights([rng.uniform(0.5, 1.5, v.shape).astype(np.float32) if v.ndim == 1 else v
                       for v in model.get_weights()])
    imported = import_model(model, name=name)
    result = verify(imported, source_tensors(imported), f"{name}.yaml")
    assert result.passed, [row for row in result.rows if not row.passed]
    assert result.dtype == "float64"
    assert max(row.max_rel for row in result.rows if row.layer != "output") < 1e-12


# --- refusals ------------------------------------------------------------------------------------------


def test_caffe_weights_and_verification_are_refused_with_the_reason(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    prototxt = str(ROOT / "tests/import_sources/bvlc_alexnet_deploy.prototxt")
    result = run_cli(import_args(tmp_path, prototxt), monkeypatch)
    assert result.exit_code == 2
    assert ".caffemodel" in result.stderr and "nothing was written" in result.stderr
    result = run_cli(["import", prototxt, "-o", str(tmp_path / "spec.yaml"), "--verify"], monkeypatch)
    assert result.exit_code == 2 and "Keras or PyTorch sources only" in result.stderr
    assert not list(tmp_path.iterdir())


def test_weights_file_must_be_safetensors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(ROOT / "tests/import_sources/alexnet.cfg")
    result = run_cli(["import", cfg, "-o", str(tmp_path / "spec.yaml"), "--weights", str(tmp_path / "w.pt")],
                     monkeypatch)
    assert result.exit_code == 2 and "ends in .safetensors" in result.stderr
    assert not list(tmp_path.iterdir())


# --- Darknet .weights ------------------------------------------------------------------------------------

SMALL_CFG = """[net]
height=12
width=12
channels=3

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=relu

[maxpool]
size=2
stride=2
padding=0

[convolutional]
filters=6
size=3
stride=1
pad=0
groups=2
activation=relu

[connected]
output=5
activation=linear

[softmax]
"""


def darknet_file(path: Path, values: np.ndarray, major: int = 0, minor: int = 2) -> None:
    """A .weights file: int32 major, minor, revision, the images seen (uint64 from version 0.2), float32 values."""
    seen = np.array([1234], dtype="<u8" if major * 10 + minor >= 2 else "<u4")
    path.write_bytes(np.array([major, minor, 0], dtype="<i4").tobytes() + seen.tobytes()
                     + values.astype("<f4").tobytes())


@pytest.mark.torch
@pytest.mark.parametrize("version", [(0, 2), (0, 1)])
def test_darknet_weights_become_the_neutral_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 version: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    (tmp_path / "small.cfg").write_text(SMALL_CFG, encoding="utf-8")
    sizes = [4, 4 * 3 * 3 * 3, 6, 6 * 2 * 3 * 3, 5, 5 * 6 * 4 * 4]  # biases first, then weights, per layer
    values = np.random.default_rng(6).normal(0, 0.3, sum(sizes)).astype(np.float32)
    darknet_file(tmp_path / "small.weights", values, *version)
    args = ["import", str(tmp_path / "small.cfg"), "-o", str(tmp_path / "spec.yaml"), "--weights",
            str(tmp_path / "w.safetensors"), "--source-weights", str(tmp_path / "small.weights")]
    result = run_cli(args, monkeypatch)
    assert result.exit_code == 0, result.output
    # Darknet's own computation, written in PyTorch (its layouts are PyTorch's: C, H, W maps)
    parts = np.split(values, np.cumsum(sizes)[:-1])
    reference = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                              nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(96, 5),
                              nn.Softmax(dim=1))
    for index, (bias, weight) in zip((0, 3, 6), zip(parts[0::2], parts[1::2], strict=True), strict=True):
        layer = reference[index]
        layer.bias.data = torch.from_numpy(bias.copy())
        layer.weight.data = torch.from_numpy(weight.reshape(layer.weight.shape).copy())
    from alexgen.frameworks import generated_module

    graph = load_graph(tmp_path / "spec.yaml")
    net = generated_module(graph, "spec.yaml", "pytorch").build_model(weights=str(tmp_path / "w.safetensors"))
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 12, 12)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(net.eval()(x), reference(x), rtol=0, atol=1e-6)


def test_darknet_weights_of_another_size_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "small.cfg").write_text(SMALL_CFG, encoding="utf-8")
    darknet_file(tmp_path / "small.weights", np.zeros(100, dtype=np.float32))
    args = ["import", str(tmp_path / "small.cfg"), "-o", str(tmp_path / "spec.yaml"), "--weights",
            str(tmp_path / "w.safetensors"), "--source-weights", str(tmp_path / "small.weights")]
    result = run_cli(args, monkeypatch)
    assert result.exit_code == 2
    assert "holds 100 values after its header; the cfg's layers need 711" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.cfg", "small.weights"]
    result = run_cli(args[:-2], monkeypatch)
    assert result.exit_code == 2 and "--source-weights FILE.weights" in result.stderr
