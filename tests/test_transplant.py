"""`alexgen convert-weights --from-spec`: tensors that carry over are copied, the rest initialized as the new spec
says (Keras semantics, in numpy, seeded), each named in the report; fine-tuning the bundled AlexNet to 10 classes
keeps its features exactly."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from alexgen import weights as w
from alexgen.cli import cli
from alexgen.specbase import Constant, RandomNormal, RandomUniform, TruncatedNormal
from alexgen.transplant import fans, initial, transplant
from alexgen.validate import load_graph

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ALEXNET = ROOT / "spec/alexnet.yaml"
TWO_TOWER = ROOT / "tests/specs/two_tower_small.yaml"


def random_tensors(graph: Any, seed: int) -> dict[str, np.ndarray]:
    """Seeded float32 tensors of every shape of a graph (variances positive)."""
    rng = np.random.default_rng(seed)
    return {key: (rng.uniform(0.5, 1.5, shape) if key.endswith("variance") else
                  rng.normal(0.0, 0.05, shape)).astype(np.float32) for key, shape in w.neutral_shapes(graph).items()}


# --- initializers --------------------------------------------------------------------------------------


def test_fans_are_keras_fans_of_the_neutral_shape() -> None:
    assert fans((11, 11, 3, 96)) == (363, 11616)
    assert fans((5, 5, 48, 256)) == (1200, 6400)  # grouped: in/groups channels
    assert fans((9216, 4096)) == (9216, 4096)
    assert fans((10,)) == (10, 10)


@pytest.mark.parametrize(("value", "low", "high", "std"), [
    ("glorot_uniform", -math.sqrt(6 / 500), math.sqrt(6 / 500), math.sqrt(2 / 500)),
    ("he_uniform", -math.sqrt(6 / 200), math.sqrt(6 / 200), math.sqrt(2 / 200)),
    ("glorot_normal", -2 * math.sqrt(2 / 500) / 0.8796256610342398, 2 * math.sqrt(2 / 500) / 0.8796256610342398,
     math.sqrt(2 / 500)),
    ("he_normal", -2 * math.sqrt(2 / 200) / 0.8796256610342398, 2 * math.sqrt(2 / 200) / 0.8796256610342398,
     math.sqrt(2 / 200)),
    (RandomNormal(type="random_normal", mean=0.5, stddev=0.01), -math.inf, math.inf, 0.01),
    (TruncatedNormal(type="truncated_normal", mean=0.0, stddev=0.2), -0.4, 0.4, 0.2 * 0.8796256610342398),
    (RandomUniform(type="random_uniform", minval=-0.3, maxval=0.1), -0.3, 0.1, 0.4 / math.sqrt(12)),
])
def test_initializers_draw_what_the_spec_says(value: Any, low: float, high: float, std: float) -> None:
    shape = (200, 300)  # fan_in 200, fan_out 300
    drawn = initial(value, shape, np.random.default_rng(0))
    assert drawn.shape == shape
    assert low <= drawn.min() and drawn.max() <= high
    assert drawn.std() == pytest.approx(std, rel=0.02)
    assert np.array_equal(drawn, initial(value, shape, np.random.default_rng(0)))  # seeded
    assert not np.array_equal(drawn, initial(value, shape, np.random.default_rng(1)))
    if isinstance(value, RandomNormal):
        assert drawn.mean() == pytest.approx(0.5, abs=1e-3)


@pytest.mark.keras
@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform"])
def test_variance_scaling_has_the_spread_of_keras_own(name: str) -> None:
    keras = pytest.importorskip("keras")
    shape = (3, 3, 64, 32)
    theirs = np.asarray(keras.initializers.get(name)(shape))
    mine = initial(name, shape, np.random.default_rng(0))
    assert mine.std() == pytest.approx(float(theirs.std()), rel=0.03)
    assert np.abs(mine).max() <= np.abs(theirs).max() * 1.01 + 1e-9 or name.endswith("normal")


def test_constants_ones_and_zeros() -> None:
    rng = np.random.default_rng(0)
    assert np.all(initial(Constant(type="constant", value=0.25), (3,), rng) == 0.25)
    assert np.all(initial("ones", (2, 2), rng) == 1) and np.all(initial("zeros", (4,), rng) == 0)


# --- the transplant ------------------------------------------------------------------------------------


def test_a_spec_onto_itself_carries_everything() -> None:
    graph = load_graph(TWO_TOWER)
    tensors = random_tensors(graph, 1)
    moved_tensors, moved = transplant(graph, graph, tensors)
    assert {m.action for m in moved} == {"carried"} and len(moved) == len(tensors)
    assert all(moved_tensors[key] is tensors[key] for key in tensors)


def test_changed_layers_start_as_the_new_spec_says(tmp_path: Path) -> None:
    source = TWO_TOWER.read_text(encoding="utf-8")
    changed = source.replace("{type: dense, name: t1_fc, units: 8, activation: relu, inputs: [merge_flat]}",
                             "{type: dense, name: t1_fc, units: 6, activation: relu, inputs: [merge_flat], "
                             "kernel_initializer: {type: random_normal, stddev: 0.01}, bias_initializer: ones}")
    changed = changed.replace("{type: batch_norm, name: bn_flat, inputs: [merge_flat]}",
                              "{type: batch_norm, name: bn_new, inputs: [merge_flat]}")
    assert changed.count("t1_fc, units: 6") == 1 and "bn_new" in changed
    (tmp_path / "b.yaml").write_text(changed, encoding="utf-8")
    a, b = load_graph(TWO_TOWER), load_graph(tmp_path / "b.yaml")
    tensors = random_tensors(a, 2)
    result, moved = transplant(a, b, tensors, seed=5)
    actions = {m.key: m.action for m in moved}
    assert actions["t1_conv1.kernel"] == "carried" and np.array_equal(result["t1_conv1.kernel"],
                                                                       tensors["t1_conv1.kernel"])
    assert actions["t1_fc.kernel"] == actions["t1_fc.bias"] == "initialized"
    assert result["t1_fc.kernel"].shape == (47, 6) and result["t1_fc.kernel"].std() < 0.02
    assert np.all(result["t1_fc.bias"] == 1)
    assert actions["bn_new.gamma"] == "initialized" and np.all(result["bn_new.gamma"] == 1)
    assert np.all(result["bn_new.moving_mean"] == 0) and np.all(result["bn_new.moving_variance"] == 1)
    assert actions["bn_flat.gamma"] == "dropped"
    assert actions["t2_fc.kernel"] == "carried"  # reads bn_new: the same 47 features in the same order
    assert set(result) == set(w.neutral_shapes(b))
    texts = {m.key: str(m) for m in moved}
    assert "random_normal(mean=0.0, stddev=0.01)" in texts["t1_fc.kernel"] and "47x8 -> 47x6" in texts["t1_fc.kernel"]


# --- fine-tuning the bundled AlexNet, end to end --------------------------------------------------------


def fc7_features(graph: Any, weights: Path, x: Any) -> tuple[Any, Any]:
    """The generated PyTorch model of `graph` with `weights`: fc7's output (after its ReLU) and the predictions."""
    import torch

    from alexgen.frameworks import generated_module

    net = generated_module(graph, "spec/alexnet.yaml", "pytorch").build_model(weights=str(weights)).eval()
    captured = {}
    net.classifier.fc7_relu.register_forward_hook(lambda _m, _i, out: captured.setdefault("fc7", out.clone()))
    with torch.no_grad():
        predictions = net(x)
    return captured["fc7"], predictions


@pytest.mark.torch
def test_fine_tuning_alexnet_to_ten_classes_keeps_the_features(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    a = load_graph(ALEXNET)
    tensors = random_tensors(a, 3)
    w.write_neutral(tmp_path / "alexnet.safetensors", tensors, a)
    result = CliRunner().invoke(cli, ["convert-weights", "--spec", str(ALEXNET), "--set", "num_classes=10",
                                      "--from-spec", str(ALEXNET), str(tmp_path / "alexnet.safetensors"),
                                      "-o", str(tmp_path / "alexnet10.safetensors"), "--seed", "7"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 16 and sum(line.startswith("carried ") for line in lines) == 14
    assert "initialized predictions.kernel (4096x10): glorot_uniform (shape 4096x1000 -> 4096x10)" in lines
    assert "initialized predictions.bias (10): zeros (shape 1000 -> 10)" in lines
    assert "14 tensors carried, 2 initialized, 0 dropped" in result.stderr

    b = load_graph(ALEXNET, sets=("num_classes=10",))
    moved = w.read_neutral(tmp_path / "alexnet10.safetensors", b, w.neutral_shapes(b))
    assert all(np.array_equal(moved[key], tensors[key]) for key in moved if not key.startswith("predictions."))
    limit = math.sqrt(6 / (4096 + 10))
    assert np.abs(moved["predictions.kernel"]).max() <= limit and moved["predictions.kernel"].std() > limit / 3

    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 227, 227)).astype(np.float32))
    features_a, predictions_a = fc7_features(a, tmp_path / "alexnet.safetensors", x)
    features_b, predictions_b = fc7_features(b, tmp_path / "alexnet10.safetensors", x)
    assert torch.equal(features_a, features_b) and features_a.abs().max() > 0
    assert predictions_a.shape == (2, 1000) and predictions_b.shape == (2, 10)


def test_transplant_output_is_named_once(tmp_path: Path) -> None:
    graph = load_graph(TWO_TOWER)
    w.write_neutral(tmp_path / "a.safetensors", random_tensors(graph, 1), graph)
    args = ["convert-weights", "--spec", str(TWO_TOWER), "--from-spec", str(TWO_TOWER), str(tmp_path / "a.safetensors")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "give the output file once" in result.stderr
    result = CliRunner().invoke(cli, [*args, str(tmp_path / "b.safetensors"), "-o", str(tmp_path / "c.safetensors")])
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]


def test_transplant_refuses_a_file_of_another_spec(tmp_path: Path) -> None:
    graph = load_graph(TWO_TOWER)
    w.write_neutral(tmp_path / "a.safetensors", random_tensors(graph, 1), graph)
    result = CliRunner().invoke(cli, ["convert-weights", "--spec", str(TWO_TOWER), "--from-spec", str(ALEXNET),
                                      str(tmp_path / "a.safetensors"), "-o", str(tmp_path / "b.safetensors")])
    assert result.exit_code == 2 and "sha256" in result.stderr
    assert not (tmp_path / "b.safetensors").exists()
