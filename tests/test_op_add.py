"""add end to end: analysis, located shape errors, the flat-order diagnostic, and both frameworks' sums.

The full `alexgen check` of tests/specs/residual.yaml runs with the other pitfall specs (test_check.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import spec_text

from alexgen.graph import Graph
from alexgen.render import RenderError, environment, render_module
from alexgen.validate import graph_from_text

RESIDUAL = """
- {type: conv2d, name: a, filters: 4, kernel_size: 3, padding: same}
- {type: conv2d, name: b, filters: 4, kernel_size: 1, inputs: [a]}
- {type: add, name: s, inputs: [a, b, input]}
"""


def test_analysis_keeps_the_shape_and_widens_the_field(analyze_text: Callable[[str], Graph]) -> None:
    graph = analyze_text(spec_text(RESIDUAL.replace("filters: 4", "filters: 3")))
    node = graph.node("s")
    assert node.shape == (32, 32, 3) and node.params == 0
    assert node.macs == 0 and node.other_ops == 2 * 32 * 32 * 3  # two additions per element for three inputs
    assert node.field.size == (3, 3)  # the widest input's (a and b: 3x3; the input itself: 1x1)


def test_inputs_of_different_shapes_are_a_located_error(diagnose: Callable[[str], list]) -> None:
    text = spec_text(RESIDUAL)  # `input` has 3 channels, a and b have 4
    errors = diagnose(text)
    assert len(errors) == 1, errors
    assert errors[0].message == "add needs inputs of one shape, got 32x32x4, 32x32x4, 32x32x3"
    assert errors[0].hint and "1x1 conv2d" in errors[0].hint
    assert (errors[0].line, errors[0].layer) == (7, "s")
    assert text.splitlines()[6][:errors[0].column - 1].endswith("inputs: ")


def test_one_input_is_refused(diagnose: Callable[[str], list]) -> None:
    errors = diagnose(spec_text("- {type: conv2d, name: a, filters: 3, kernel_size: 1}\n"
                                "- {type: add, name: s, inputs: [a]}"))
    assert len(errors) == 1 and "at least 2 items" in errors[0].message and errors[0].layer == "s"


def render(text: str, target: str) -> str:
    """The formatted module of a spec text."""
    return render_module(graph_from_text(text, "probe.yaml"), target, environment(), "probe.yaml")


def test_flat_vectors_in_different_orders_cannot_be_summed_in_pytorch() -> None:
    text = spec_text("""
        - {type: conv2d, name: a, filters: 2, kernel_size: 1}
        - {type: flatten, name: f}
        - {type: dense, name: d, units: 2048, inputs: [f]}
        - {type: add, name: s, inputs: [f, d]}
    """)
    assert 'layers.Add(name="s")([f, d])' in render(text, "keras")  # Keras alone is well defined
    with pytest.raises(RenderError) as info:
        render(text, "pytorch")
    message = info.value.diagnostics[0].format()
    assert "layer 3 's': the pytorch target cannot express this add layer" in message
    assert "different flattens (32x32x2 vs 2048)" in message


def test_both_frameworks_compute_the_sum() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras")
    import numpy as np

    from alexgen.check import random_weights
    from alexgen.frameworks import generated_modules
    from alexgen.weights import neutral_to_keras, neutral_to_torch_state, torch_prefixes

    graph = graph_from_text(spec_text(RESIDUAL.replace(", input]", "]")), "probe.yaml")
    keras_module, torch_module = generated_modules(graph, "probe.yaml")
    tensors = random_weights(graph, 5)
    model, net = keras_module.build_model(), torch_module.build_model().eval()
    neutral_to_keras(graph, model, tensors)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in neutral_to_torch_state(graph, tensors,
                                                                                    torch_prefixes(net)).items()})
    x = np.random.default_rng(6).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        got = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy().transpose(0, 2, 3, 1)
    a = np.asarray(model.get_layer("a")(x))
    np.testing.assert_allclose(got, a + np.asarray(model.get_layer("b")(a)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, np.asarray(model(x)), rtol=1e-5, atol=1e-5)
