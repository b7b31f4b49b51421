"""Weight interchange: the layout conversions, the neutral file, the generated save/load, `convert-weights`."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from click.testing import CliRunner  # noqa: E402
from safetensors import safe_open  # noqa: E402

from alexgen import weights as w  # noqa: E402
from alexgen.check import random_weights  # noqa: E402
from alexgen.cli import cli  # noqa: E402
from alexgen.frameworks import generated_modules  # noqa: E402
from alexgen.graph import Graph  # noqa: E402
from alexgen.validate import graph_from_text, load_graph  # noqa: E402
from alexgen.weights import WeightsError, metadata, read_neutral, write_neutral  # noqa: E402

SPECS = ROOT / "tests" / "specs"
LIMIT = 1e-5

# Non-square everywhere: an H/W swap, a kh/kw swap or an in/out swap changes a shape or a number.
CONV_DENSE = """\
alexgen: 1
name: conv_dense
input_shape: [6, 4, 3]
layers:
  - {type: conv2d, name: conv, filters: 4, kernel_size: [3, 2]}
  - {type: flatten, name: flatten}
  - {type: dense, name: fc, units: 5}
  - {type: dense, name: out, units: 2}
"""


@functools.cache
def frameworks(source: str) -> tuple[Graph, ModuleType, ModuleType]:
    """The graph and the generated Keras and PyTorch modules of a pitfall spec name or a spec text."""
    if "\n" in source:  # spec text
        graph = graph_from_text(source, "inline.yaml")
        return (graph, *generated_modules(graph, "inline.yaml"))
    path = SPECS / f"{source}.yaml"
    graph = load_graph(path, f"tests/specs/{source}.yaml")
    return (graph, *generated_modules(graph, f"tests/specs/{source}.yaml"))


def keras_model(source: str, tensors: dict[str, np.ndarray] | None = None) -> Any:
    """A Keras model of the spec, with the given neutral weights."""
    graph, keras_module, _ = frameworks(source)
    model = keras_module.build_model()
    if tensors is not None:
        w.neutral_to_keras(graph, model, tensors)
    return model


def torch_model(source: str, tensors: dict[str, np.ndarray] | None = None) -> Any:
    """A PyTorch model of the spec in eval mode, with the given neutral weights converted by alexgen."""
    graph, _, torch_module = frameworks(source)
    model = torch_module.build_model().eval()
    if tensors is not None:
        w.load_torch_state(model, w.neutral_to_torch_state(graph, tensors, w.torch_prefixes(model)))
    return model


def torch_state(source: str, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The PyTorch state_dict (numpy) alexgen makes from neutral tensors, keyed `<layer>.<weight|bias|...>`."""
    graph = frameworks(source)[0]
    prefixes = w.torch_prefixes(torch_model(source))
    owners = {path: name for name, path in prefixes.items()}
    state = w.neutral_to_torch_state(graph, tensors, prefixes)
    return {f"{owners[key.rsplit('.', 1)[0]]}.{key.rsplit('.', 1)[1]}": value for key, value in state.items()}


def submodule(model: Any, name: str) -> Any:
    """The PyTorch submodule of a layer."""
    return dict(model.named_modules())[w.torch_prefixes(model)[name]]


def sample(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """A seeded float32 batch of two."""
    return np.random.default_rng(seed).normal(0.0, 1.0, (2, *shape)).astype(np.float32)


def nchw(x: np.ndarray) -> Any:
    """A channels-last batch as a PyTorch NCHW tensor."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def run_torch(module: Any, x: Any) -> np.ndarray:
    """A module's output without gradients, as numpy."""
    with torch.no_grad():
        return module(x).numpy()


def output_error(source: str, keras_net: Any, torch_net: Any, seed: int = 5) -> float:
    """Max error of the two networks' outputs on one input, relative to Keras's largest magnitude."""
    x = sample(frameworks(source)[0].input_shape, seed)
    reference = np.asarray(keras_net(x, training=False))
    got = run_torch(torch_net.eval(), nchw(x))
    return float(np.abs(reference - got).max() / np.abs(reference).max())


def same_tensors(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> bool:
    """Same keys, shapes, dtypes and bits."""
    return set(first) == set(second) and all(
        first[k].dtype == second[k].dtype and np.array_equal(first[k], second[k]) for k in first)


# --- the conversions that must be right ------------------------------------------------------------------


def test_conv_kernel_hwio_becomes_oihw_and_computes_the_same() -> None:
    tensors = random_weights(frameworks(CONV_DENSE)[0], 0)
    kernel = tensors["conv.kernel"]
    assert kernel.shape == (3, 2, 3, 4)  # kh, kw, in, out
    weight = torch_state(CONV_DENSE, tensors)["conv.weight"]
    assert weight.shape == (4, 3, 3, 2)  # out, in, kh, kw
    assert weight[3, 1, 2, 0] == kernel[2, 0, 1, 3]
    np.testing.assert_array_equal(weight, kernel.transpose(3, 2, 0, 1))
    x = sample((6, 4, 3))
    reference = np.asarray(keras_model(CONV_DENSE, tensors).get_layer("conv")(x))
    got = run_torch(submodule(torch_model(CONV_DENSE, tensors), "conv"), nchw(x)).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, reference, rtol=0, atol=LIMIT * np.abs(reference).max())


@pytest.mark.parametrize(("layer", "groups"), [("conv_g2", 2), ("conv_g4", 4)])
def test_grouped_conv_kernels_keep_each_filter_with_its_group(layer: str, groups: int) -> None:
    graph = frameworks("groups")[0]
    tensors = random_weights(graph, 1)
    node = graph.node(layer)
    assert node.layer.groups == groups
    channels = node.input_shapes[0][-1]
    kernel = tensors[f"{layer}.kernel"]
    assert kernel.shape[2] == channels // groups
    weight = torch_state("groups", tensors)[f"{layer}.weight"]
    np.testing.assert_array_equal(weight, kernel.transpose(3, 2, 0, 1))
    x = sample(node.input_shapes[0], 2)
    conv = submodule(torch_model("groups", tensors), layer)
    assert conv.groups == groups
    reference = np.asarray(keras_model("groups", tensors).get_layer(layer)(x))
    got = np.maximum(run_torch(conv, nchw(x)), 0).transpose(0, 2, 3, 1)  # the layer's relu
    np.testing.assert_allclose(got, reference, rtol=0, atol=LIMIT * np.abs(reference).max())
    # the last group's filters see only the last group's channels: zero those, and only the bias is left
    without_last = x.copy()
    without_last[..., -(channels // groups):] = 0
    last = slice(-(node.shape[-1] // groups), None)
    bias = np.broadcast_to(np.maximum(tensors[f"{layer}.bias"][last], 0), reference[..., last].shape)
    np.testing.assert_allclose(np.asarray(keras_model("groups", tensors).get_layer(layer)(without_last))[..., last],
                               bias, atol=1e-6)
    got = np.maximum(run_torch(conv, nchw(without_last)), 0).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got[..., last], bias, atol=1e-6)


def test_dense_kernel_in_out_becomes_out_in() -> None:
    tensors = random_weights(frameworks(CONV_DENSE)[0], 2)
    assert tensors["out.kernel"].shape == (5, 2)
    weight = torch_state(CONV_DENSE, tensors)["out.weight"]
    np.testing.assert_array_equal(weight, tensors["out.kernel"].T)
    x = sample((5,))
    reference = np.asarray(keras_model(CONV_DENSE, tensors).get_layer("out")(x))
    np.testing.assert_allclose(run_torch(submodule(torch_model(CONV_DENSE, tensors), "out"), torch.from_numpy(x)),
                               reference, rtol=0, atol=LIMIT * np.abs(reference).max())


def test_first_dense_after_flatten_has_its_rows_permuted_hwc_to_chw() -> None:
    graph = frameworks(CONV_DENSE)[0]
    assert graph.node("conv").shape == (4, 3, 4)  # h, w, c: all different
    tensors = random_weights(graph, 3)
    kernel = tensors["fc.kernel"]  # rows in Keras's flatten order: (h, w, c)
    weight = torch_state(CONV_DENSE, tensors)["fc.weight"]  # columns in PyTorch's: (c, h, w)
    np.testing.assert_array_equal(weight.T, kernel.reshape(4, 3, 4, 5).transpose(2, 0, 1, 3).reshape(48, 5))
    h, x_, c = 2, 1, 3  # one element: row h*W*C + x*C + c in Keras is column c*H*W + h*W + x in PyTorch
    np.testing.assert_array_equal(weight[:, c * 12 + h * 3 + x_], kernel[h * 12 + x_ * 4 + c])
    maps = sample((4, 3, 4))
    reference = np.asarray(keras_model(CONV_DENSE, tensors).get_layer("fc")(maps.reshape(2, -1)))
    flat = torch.flatten(nchw(maps), 1)  # what the PyTorch model feeds its first dense layer
    got = run_torch(submodule(torch_model(CONV_DENSE, tensors), "fc"), flat)
    np.testing.assert_allclose(got, reference, rtol=0, atol=LIMIT * np.abs(reference).max())
    prefixes = w.torch_prefixes(torch_model(CONV_DENSE))
    state = w.neutral_to_torch_state(graph, tensors, prefixes)
    assert w.torch_state_to_neutral(graph, state, prefixes)["fc.kernel"].tobytes() == kernel.tobytes()


@pytest.mark.parametrize("layer", ["bn_conv", "bn_custom", "bn_dense"])
def test_batch_norm_statistics_move_unchanged_and_normalize_the_same(layer: str) -> None:
    graph = frameworks("batch_norm")[0]
    tensors = random_weights(graph, 4)
    state = torch_state("batch_norm", tensors)
    for slot, name in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                       ("moving_variance", "running_var")):
        np.testing.assert_array_equal(state[f"{layer}.{name}"], tensors[f"{layer}.{slot}"])
    keras_bn = keras_model("batch_norm", tensors).get_layer(layer)
    torch_bn = submodule(torch_model("batch_norm", tensors), layer)
    assert torch_bn.eps == pytest.approx(keras_bn.epsilon) and torch_bn.momentum == pytest.approx(1 - keras_bn.momentum)
    x = sample(graph.node(layer).shape, 6)
    reference = np.asarray(keras_bn(x, training=False))
    got = run_torch(torch_bn, nchw(x) if x.ndim == 4 else torch.from_numpy(x))
    got = got.transpose(0, 2, 3, 1) if got.ndim == 4 else got
    np.testing.assert_allclose(got, reference, rtol=0, atol=LIMIT * np.abs(reference).max())


def test_two_tower_concatenation_order_is_kept_block_by_block() -> None:
    graph = frameworks("two_tower_small")[0]
    tensors = random_weights(graph, 5)
    state = torch_state("two_tower_small", tensors)
    blocks = [(2, 2, 3), (4, 4, 2), (3,)]  # t1 pooled map, t2 map, the `side` dense output
    assert w.permuted_inputs(graph)["t1_fc"] == blocks
    kernel, rows, start = tensors["t1_fc.kernel"], [], 0
    for block in blocks:
        size = int(np.prod(block))
        part = kernel[start:start + size]
        rows.append(part.reshape(*block, -1).transpose(2, 0, 1, 3).reshape(size, -1) if len(block) == 3 else part)
        start += size
    np.testing.assert_array_equal(state["t1_fc.weight"].T, np.concatenate(rows))
    order = w.flat_orders(graph)["merge_flat"]  # the batch norm on the joined vector: statistics permuted too
    np.testing.assert_array_equal(state["bn_flat.running_mean"], tensors["bn_flat.moving_mean"][order])
    np.testing.assert_array_equal(state["t2_fc.weight"].T, tensors["t2_fc.kernel"][order])
    error = output_error("two_tower_small", keras_model("two_tower_small", tensors),
                          torch_model("two_tower_small", tensors))
    assert error <= LIMIT


@pytest.mark.parametrize("source", ["two_tower_small", "batch_norm", "groups", "explicit_padding"])
def test_keras_neutral_pytorch_neutral_keras_is_bit_identical(source: str, tmp_path: Path) -> None:
    graph, _, torch_module = frameworks(source)
    start = random_weights(graph, 6)
    write_neutral(tmp_path / "a.safetensors", w.keras_to_neutral(graph, keras_model(source, start)), graph)
    net = torch_module.build_model()
    loaded = read_neutral(tmp_path / "a.safetensors", graph, w.neutral_shapes(graph))
    w.load_torch_state(net, w.neutral_to_torch_state(graph, loaded, w.torch_prefixes(net)))
    torch.save(net.state_dict(), tmp_path / "b.pt")
    state = torch.load(tmp_path / "b.pt", weights_only=True)
    write_neutral(tmp_path / "c.safetensors", w.torch_state_to_neutral(graph, state, w.torch_prefixes(net)), graph)
    back = keras_model(source, read_neutral(tmp_path / "c.safetensors", graph, w.neutral_shapes(graph)))
    assert same_tensors(w.keras_to_neutral(graph, back), start)


# --- the generated modules' own save_weights / load_weights ------------------------------------------------


def randomize_torch(model: Any, seed: int) -> None:
    """Random parameters and (positive) running variances in a PyTorch model."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                low = 0.5 if key.endswith("running_var") else -0.5
                value.copy_(torch.from_numpy(rng.uniform(low, low + 1.0, tuple(value.shape)).astype(np.float32)))


@pytest.mark.parametrize("source", ["two_tower_small", "batch_norm", "groups", "lrn"])
def test_keras_saved_file_loads_into_pytorch_with_the_same_outputs(source: str, tmp_path: Path) -> None:
    graph, keras_module, torch_module = frameworks(source)
    model = keras_model(source, random_weights(graph, 7))
    keras_module.save_weights(model, str(tmp_path / "w.safetensors"))
    net = torch_module.build_model()
    torch_module.load_weights(net, str(tmp_path / "w.safetensors"))
    assert output_error(source, model, net) <= LIMIT


@pytest.mark.parametrize("source", ["two_tower_small", "batch_norm", "adaptive_pool_odd"])
def test_pytorch_saved_file_loads_into_keras_with_the_same_outputs(source: str, tmp_path: Path) -> None:
    graph, keras_module, torch_module = frameworks(source)
    net = torch_module.build_model()
    randomize_torch(net, 8)
    torch_module.save_weights(net, str(tmp_path / "w.safetensors"))
    model = keras_module.build_model()
    keras_module.load_weights(model, str(tmp_path / "w.safetensors"))
    assert output_error(source, model, net) <= LIMIT
    # the generated converters agree with alexgen's own
    expected = w.torch_state_to_neutral(graph, net.state_dict(), w.torch_prefixes(net))
    assert same_tensors(safetensors_numpy.load_file(str(tmp_path / "w.safetensors")), expected)


def test_generated_files_are_safetensors_and_safetensors_files_load(tmp_path: Path) -> None:
    graph, keras_module, torch_module = frameworks("two_tower_small")
    tensors = random_weights(graph, 9)
    keras_module.save_weights(keras_model("two_tower_small", tensors), str(tmp_path / "k.safetensors"))
    assert same_tensors(safetensors_numpy.load_file(str(tmp_path / "k.safetensors")), tensors)
    with safe_open(str(tmp_path / "k.safetensors"), framework="numpy") as handle:
        assert handle.metadata() == keras_module.WEIGHTS_METADATA == metadata(graph)
    assert same_tensors(read_neutral(tmp_path / "k.safetensors", graph, w.neutral_shapes(graph)), tensors)
    assert keras_module.NEUTRAL_SHAPES == torch_module.NEUTRAL_SHAPES == w.neutral_shapes(graph)
    # alexgen's writer and the safetensors library's own writer both load with the generated load_weights
    write_neutral(tmp_path / "a.safetensors", tensors, graph)
    safetensors_numpy.save_file(dict(reversed(tensors.items())), str(tmp_path / "s.safetensors"),
                                metadata=metadata(graph))
    for name in ("a.safetensors", "s.safetensors"):
        model = keras_module.build_model()
        keras_module.load_weights(model, str(tmp_path / name))
        assert same_tensors(w.keras_to_neutral(graph, model), tensors)
        net = torch_module.build_model()
        torch_module.load_weights(net, str(tmp_path / name))
        assert same_tensors(w.torch_state_to_neutral(graph, net.state_dict(), w.torch_prefixes(net)), tensors)


def test_loading_a_file_of_an_edited_spec_fails_on_the_hash(tmp_path: Path) -> None:
    graph, keras_module, torch_module = frameworks("two_tower_small")
    keras_module.save_weights(keras_model("two_tower_small"), str(tmp_path / "w.safetensors"))
    edited = (SPECS / "two_tower_small.yaml").read_text().replace("rate: 0.5", "rate: 0.4")
    edited_graph, edited_keras, edited_torch = frameworks(edited)
    assert edited_graph.sha256 != graph.sha256 and w.neutral_shapes(edited_graph) == w.neutral_shapes(graph)
    for module, model in ((edited_keras, edited_keras.build_model()), (edited_torch, edited_torch.build_model())):
        with pytest.raises(ValueError, match=f"weights for spec 'two_tower_small' \\(sha256 {graph.sha256}\\), "
                                             f"not for this module's spec \\(sha256 {edited_graph.sha256}\\)"):
            module.load_weights(model, str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsError, match=f"made for spec 'two_tower_small' with sha256 {graph.sha256}"):
        read_neutral(tmp_path / "w.safetensors", edited_graph)


def test_loading_a_file_of_another_spec_fails(tmp_path: Path) -> None:
    _, groups_keras, _ = frameworks("groups")
    groups_keras.save_weights(keras_model("groups"), str(tmp_path / "groups.safetensors"))
    _, keras_module, torch_module = frameworks("lrn")
    with pytest.raises(ValueError, match="weights for spec 'groups'"):
        keras_module.load_weights(keras_module.build_model(), str(tmp_path / "groups.safetensors"))
    with pytest.raises(ValueError, match="weights for spec 'groups'"):
        torch_module.load_weights(torch_module.build_model(), str(tmp_path / "groups.safetensors"))


@pytest.mark.parametrize(("change", "message"), [
    ("shape", r"tensor 'conv1\.kernel' is F32 \(3, 3, 3, 5\), expected F32 \(3, 3, 3, 6\)"),
    ("missing", r"missing tensor 'conv1\.kernel' \(expected shape \(3, 3, 3, 6\)\)"),
    ("extra", r"unexpected tensor 'conv9\.kernel'"),
    ("dtype", r"tensor 'conv1\.kernel' is F64 \(3, 3, 3, 6\), expected F32"),
])
def test_loading_checks_every_shape_and_names_the_first_mismatch(change: str, message: str, tmp_path: Path) -> None:
    graph, keras_module, torch_module = frameworks("batch_norm")
    tensors = dict(random_weights(graph, 10))
    if change == "shape":
        tensors["conv1.kernel"] = tensors["conv1.kernel"][..., :5].copy()
        tensors["predictions.bias"] = tensors["predictions.bias"][:3].copy()  # a later mismatch is not named
    elif change == "missing":
        del tensors["conv1.kernel"]
        del tensors["predictions.bias"]
    elif change == "extra":
        tensors["conv9.kernel"] = np.zeros((1,), np.float32)
    else:
        tensors["conv1.kernel"] = tensors["conv1.kernel"].astype(np.float64)
    path = tmp_path / "w.safetensors"
    safetensors_numpy.save_file(tensors, str(path), metadata=metadata(graph))  # the right spec hash
    for module in (keras_module, torch_module):
        with pytest.raises(ValueError, match=message):
            module.load_weights(module.build_model(), str(path))
    if change != "dtype":
        with pytest.raises(WeightsError, match=message.replace("is F32 ", "has shape ").replace(
                ", expected F32 ", ", expected ")):
            read_neutral(path, graph, w.neutral_shapes(graph))


# --- `alexgen convert-weights` in a subprocess ------------------------------------------------------------------


def convert(spec: str, source: str, src: Path, dest: str, dst: Path) -> subprocess.CompletedProcess[str]:
    """Run `alexgen convert-weights` from the repository root."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "alexgen", "convert-weights", "--spec", spec, "--from", source,
                           str(src), "--to", dest, str(dst)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300, check=False)


TWO_TOWER = "tests/specs/two_tower_small.yaml"


def test_convert_weights_round_trip_is_bit_identical(tmp_path: Path) -> None:
    graph, _, torch_module = frameworks("two_tower_small")
    start = random_weights(graph, 11)
    model = keras_model("two_tower_small", start)
    model.save_weights(str(tmp_path / "model.weights.h5"))
    steps = [("keras", "model.weights.h5", "neutral", "a.safetensors"), ("neutral", "a.safetensors", "pytorch", "b.pt"),
             ("pytorch", "b.pt", "neutral", "c.safetensors"), ("neutral", "c.safetensors", "keras", "d.weights.h5")]
    for source, src, dest, dst in steps:
        result = convert(TWO_TOWER, source, tmp_path / src, dest, tmp_path / dst)
        assert result.returncode == 0, result.stderr
        assert f"converted 20 tensors: {tmp_path / src} ({source}) -> {tmp_path / dst} ({dest})" in result.stderr
    for name in ("a.safetensors", "c.safetensors"):
        assert same_tensors(read_neutral(tmp_path / name, graph, w.neutral_shapes(graph)), start)
    back = keras_model("two_tower_small")
    back.load_weights(str(tmp_path / "d.weights.h5"))
    assert same_tensors(w.keras_to_neutral(graph, back), start)
    net = torch_module.build_model()
    net.load_state_dict(torch.load(tmp_path / "b.pt", weights_only=True))
    assert output_error("two_tower_small", model, net) <= LIMIT


def test_convert_weights_reads_a_keras_model_file(tmp_path: Path) -> None:
    graph, keras_module, _ = frameworks("batch_norm")
    start = random_weights(graph, 12)
    model = keras_module.compile_model(keras_model("batch_norm", start))
    model.save(str(tmp_path / "model.keras"))
    args = ["--spec", "tests/specs/batch_norm.yaml", "--from", "keras", str(tmp_path / "model.keras"), "--to",
            "neutral", str(tmp_path / "w.safetensors")]
    result = CliRunner().invoke(cli, ["convert-weights", *args])
    assert result.exit_code == 0, result.output
    assert same_tensors(read_neutral(tmp_path / "w.safetensors", graph, w.neutral_shapes(graph)), start)


@pytest.fixture(scope="module")
def wrong_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights files of the lrn spec in each format, and a Keras file of a larger network."""
    folder = tmp_path_factory.mktemp("wrong")
    graph, keras_module, torch_module = frameworks("lrn")
    keras_module.build_model().save_weights(str(folder / "lrn.weights.h5"))
    torch.save(torch_module.build_model().state_dict(), folder / "lrn.pt")
    write_neutral(folder / "lrn.safetensors", random_weights(graph, 13), graph)
    flatten = "  - {type: flatten, name: flatten}"
    extra = "  - {type: conv2d, name: extra, filters: 7, kernel_size: 3, padding: same}"
    larger = (SPECS / "lrn.yaml").read_text().replace(flatten, f"{extra}\n{flatten}")
    keras_model(larger).save_weights(str(folder / "larger.weights.h5"))
    return folder


WRONG = {  # id: (spec, --from, file, --to, message)
    "keras-from-pt": ("lrn", "keras", "lrn.pt", "neutral",
                      "lrn.pt: cannot load into the Keras model of lrn: File format not supported"),
    "keras-other-spec": ("groups", "keras", "lrn.weights.h5", "neutral", "lrn.weights.h5: not a weights file of the "
                         "Keras model of groups: 'layers/conv2d/vars/0' has shape (3, 3, 3, 8), expected (3, 3, 2, 8)"),
    "keras-larger-net": ("lrn", "keras", "larger.weights.h5", "pytorch", "larger.weights.h5: not a weights file of "
                         "the Keras model of lrn: unexpected 'layers/conv2d_2/vars/0' (shape (3, 3, 7, 7))"),
    "pytorch-from-h5": ("lrn", "pytorch", "lrn.weights.h5", "neutral",
                        "lrn.weights.h5: not a PyTorch state_dict saved with torch.save"),
    "pytorch-other-spec": ("groups", "pytorch", "lrn.pt", "keras",
                           "lrn.pt: missing 'features.conv_g2.weight' (shape (8, 2, 3, 3))"),
    "neutral-other-spec": ("groups", "neutral", "lrn.safetensors", "pytorch",
                           "lrn.safetensors: made for spec 'lrn' with sha256"),
    "neutral-from-pt": ("lrn", "neutral", "lrn.pt", "keras", "lrn.pt: not a readable safetensors file"),
    "keras-bad-suffix": ("lrn", "neutral", "lrn.safetensors", "keras", "Keras weights files end in .weights.h5"),
}


@pytest.mark.parametrize(("spec", "source", "name", "dest", "message"), WRONG.values(), ids=list(WRONG))
def test_convert_weights_refuses_a_wrong_file_with_exit_2(wrong_files: Path, tmp_path: Path, spec: str, source: str,
                                                           name: str, dest: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["convert-weights", "--spec", f"tests/specs/{spec}.yaml", "--from", source,
                                      str(wrong_files / name), "--to", dest, str(tmp_path / "out.bin")])
    assert isinstance(result.exception, SystemExit), result.exception  # no exception escaped: no traceback
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("alexgen: ")  # one line
    assert not (tmp_path / "out.bin").exists()


def test_convert_weights_subprocess_refuses_a_wrong_file_without_a_traceback(wrong_files: Path,
                                                                            tmp_path: Path) -> None:
    # alexgen's entry point, reporting at exit whether TensorFlow was imported (a PyTorch conversion needs none)
    code = ("import atexit, sys; atexit.register(lambda: print('tensorflow' in sys.modules)); "
            "from alexgen.cli import main; main()")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code, "convert-weights", "--spec", "tests/specs/lrn.yaml", "--from",
                             "pytorch", str(wrong_files / "lrn.weights.h5"), "--to", "neutral", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"alexgen: error: {wrong_files / 'lrn.weights.h5'}: not a PyTorch "
                                              "state_dict saved with torch.save (UnpicklingError)")
    assert result.stdout.strip() == "False"


# --- the README's "Move a model between Keras and PyTorch" section, run on a small spec ---------------------------


def readme_blocks(language: str) -> list[str]:
    """The code blocks of one language in the README's section on moving a model."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Move a model between Keras and PyTorch")
    section = text[start:text.index("\n## ", start)]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def readme_commands(block: str, spec: Path) -> list[list[str]]:
    """The `alexgen ...` lines of a shell block as arguments, spec/alexnet.yaml replaced by `spec`."""
    lines = [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("alexgen ")]
    return [[str(spec) if arg == "spec/alexnet.yaml" else arg for arg in args[1:]] for args in lines]


def test_readme_moves_a_trained_keras_model_to_pytorch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (python,) = readme_blocks("python")
    convert_block, check_block = readme_blocks("bash")
    graph, keras_module, torch_module = frameworks("two_tower_small")
    for line in ("from generated.keras import alexnet as keras_alexnet",
                 "from generated.pytorch import alexnet as torch_alexnet"):
        assert line in python  # the bundled modules; the small spec's stand in for them here
        python = python.replace(line, "")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(14)
    namespace = {"keras_alexnet": keras_module, "torch_alexnet": torch_module,
                 "x_train": rng.normal(size=(8, *graph.input_shape)).astype(np.float32),
                 "y_train": np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]}
    exec(compile(python, "README.md", "exec"), namespace)  # train, save_weights, load_weights
    model, net = namespace["model"], namespace["net"]
    assert output_error("two_tower_small", model, net) <= LIMIT
    trained = w.keras_to_neutral(graph, model)
    spec = SPECS / "two_tower_small.yaml"
    for args in readme_commands(convert_block, spec):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    back = keras_module.build_model()
    back.load_weights("alexnet_back.weights.h5")
    assert same_tensors(w.keras_to_neutral(graph, back), trained)
    loaded = torch_module.build_model()
    loaded.load_state_dict(torch.load("alexnet.pt"))
    assert output_error("two_tower_small", model, loaded) <= LIMIT
    for args in readme_commands(check_block, spec):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True
