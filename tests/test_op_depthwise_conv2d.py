"""depthwise_conv2d end to end: analysis, located errors, the kernel layout, initialization and both frameworks.

The full `alexgen check` of tests/specs/depthwise.yaml runs with the other pitfall specs (test_check.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, spec_text

from alexgen.graph import Graph
from alexgen.weights import from_torch_tensor, to_torch_tensor

LAYERS = """
- {type: depthwise_conv2d, name: dw, kernel_size: [3, 2], depth_multiplier: 3, strides: 2, padding: same}
- {type: flatten, name: f}
- {type: dense, name: out, units: 2}
"""


def test_analysis_counts_channels_times_multiplier(analyze_text: Callable[[str], Graph]) -> None:
    graph = analyze_text(spec_text(LAYERS))
    dw = graph.node("dw")
    assert dw.shape == (16, 16, 9)  # 32x32x3 input, stride 2 'same': ceil(32 / 2); 3 channels x 3
    assert dw.params == dw.trainable == 3 * 2 * 3 * 3 + 9  # (kh, kw, channels, multiplier) + one bias per output
    assert dw.macs == 16 * 16 * 9 * 3 * 2
    assert [(s.name, s.shape, s.torch_shape) for s in dw.slots] == [("kernel", (3, 2, 3, 3), (9, 1, 3, 2)),
                                                                     ("bias", (9,), (9,))]
    assert dw.window is not None and dw.window.pads == ((0, 1), (0, 0))  # TF: the odd cell bottom/right
    assert dw.field.size == (3, 2) and dw.field.stride == (2, 2)


@pytest.mark.parametrize(("layer", "key", "message"), [
    ("{type: depthwise_conv2d, kernel_size: 3, strides: 2, dilation_rate: 2}", "dilation_rate",
     "strides > 1 together with dilation_rate > 1 is not supported by Keras"),
    ("{type: depthwise_conv2d, kernel_size: 40}", "kernel_size", "is smaller than the window (40)"),
    ("{type: depthwise_conv2d, kernel_size: 3, depth_multiplier: 0}", "depth_multiplier", "greater than 0"),
])
def test_bad_layers_are_located_errors(diagnose: Callable[[str], list], layer: str, key: str, message: str) -> None:
    text = spec_text(f"- {layer}")
    errors = diagnose(text)
    assert len(errors) == 1 and message in errors[0].message, errors
    assert (errors[0].line, errors[0].layer) == (5, "depthwise_conv2d_1")
    assert text.splitlines()[4][:errors[0].column - 1].endswith(f"{key}: ")  # located at the key's value


def test_kernel_layout_keeps_each_filter_with_its_channel(analyze_text: Callable[[str], Graph]) -> None:
    slot = analyze_text(spec_text(LAYERS)).node("dw").slots[0]
    kernel = np.random.default_rng(0).normal(size=slot.shape).astype(np.float32)
    weight = to_torch_tensor(slot, kernel, None)
    assert weight.shape == (9, 1, 3, 2)
    for c in range(3):
        for m in range(3):  # PyTorch's output channel c * multiplier + m reads input channel c
            np.testing.assert_array_equal(weight[c * 3 + m, 0], kernel[:, :, c, m])
    assert from_torch_tensor(slot, weight, None).tobytes() == kernel.tobytes()


@pytest.fixture(scope="module")
def modules() -> tuple[Graph, object, object]:
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from alexgen.frameworks import generated_modules
    from alexgen.validate import load_graph

    graph = load_graph(ROOT / "tests" / "specs" / "depthwise.yaml", "tests/specs/depthwise.yaml")
    return (graph, *generated_modules(graph, "tests/specs/depthwise.yaml"))


def test_both_frameworks_build_and_initialize_with_keras_fans(modules: tuple[Graph, object, object]) -> None:
    import torch

    graph, keras_module, torch_module = modules
    torch.manual_seed(0)
    net = torch_module.build_model()  # type: ignore[attr-defined]
    assert tuple(net.features.dw1.weight.shape) == (6, 1, 3, 3) and net.features.dw1.groups == 3
    limit = (6 / (3 * 3 * 3 + 3 * 3 * 2)) ** 0.5  # Keras's glorot: fan_in 3*3*3, fan_out 3*3*2 (not PyTorch's 9)
    weight = net.features.dw1.weight.detach()
    assert float(weight.abs().max()) <= limit and float(weight.abs().max()) > 0.8 * limit
    model = keras_module.build_model()  # type: ignore[attr-defined]
    assert model.get_layer("dw1").get_weights()[0].shape == (3, 3, 3, 2)
    assert model.count_params() == sum(p.numel() for p in net.parameters()) == graph.total_params


def test_weights_saved_by_keras_load_into_pytorch_with_the_same_outputs(modules: tuple[Graph, object, object],
                                                                       tmp_path: Path) -> None:
    import torch

    from alexgen.check import random_weights
    from alexgen.weights import neutral_to_keras

    graph, keras_module, torch_module = modules
    model = keras_module.build_model()  # type: ignore[attr-defined]
    neutral_to_keras(graph, model, random_weights(graph, 3))
    keras_module.save_weights(model, str(tmp_path / "w.safetensors"))  # type: ignore[attr-defined]
    net = torch_module.build_model(weights=str(tmp_path / "w.safetensors")).eval()  # type: ignore[attr-defined]
    x = np.random.default_rng(4).normal(size=(2, *graph.input_shape)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    with torch.no_grad():
        got = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    torch_module.save_weights(net, str(tmp_path / "back.safetensors"))  # type: ignore[attr-defined]
    again = keras_module.Depthwise(weights=str(tmp_path / "back.safetensors"))  # type: ignore[attr-defined]
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        assert a.tobytes() == b.tobytes()
