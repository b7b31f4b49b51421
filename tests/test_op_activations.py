"""leaky_relu, elu and gelu end to end: spec keys, the lines each target writes, the formulas both frameworks
compute, and `alexgen check` failing by name when a framework default slips in.

The full `alexgen check` of tests/specs/activations.yaml runs with the other pitfall specs (test_check.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, spec_text

from alexgen.graph import Graph
from alexgen.render import environment, render_module
from alexgen.validate import graph_from_text

LAYERS = """
- {type: leaky_relu, name: leaky, negative_slope: 0.2}
- {type: elu, name: elu}
- {type: gelu, name: exact}
- {type: gelu, name: approx, approximate: tanh}
"""


def test_they_keep_the_shape_and_have_no_parameters(analyze_text: Callable[[str], Graph]) -> None:
    graph = analyze_text(spec_text(LAYERS))
    assert [(n.type, n.shape, n.params) for n in graph.nodes] == [
        ("leaky_relu", (32, 32, 3), 0), ("elu", (32, 32, 3), 0), ("gelu", (32, 32, 3), 0), ("gelu", (32, 32, 3), 0)]


@pytest.mark.parametrize(("layer", "message", "hint"), [
    ("{type: leaky_relu}", "missing required key 'negative_slope'", None),
    ("{type: leaky_relu, negative_slope: -0.1}", "greater than or equal to 0", None),
    ("{type: elu, alpha: 0}", "greater than 0", None),
    ("{type: gelu, approximate: tahn}", "invalid value 'tahn': expected 'none', 'tanh'", "did you mean 'tanh'?"),
])
def test_bad_keys_are_located_errors(diagnose: Callable[[str], list], layer: str, message: str,
                                     hint: str | None) -> None:
    errors = diagnose(spec_text(f"- {layer}"))
    assert len(errors) == 1 and message in errors[0].message, errors
    assert errors[0].line == 5 and errors[0].hint == hint


def rendered(target: str) -> str:
    """The module of the LAYERS network for one target."""
    return render_module(graph_from_text(spec_text(LAYERS), "probe.yaml"), target, environment(), "probe.yaml")


def test_every_convention_is_written_out() -> None:
    keras_source, torch_source = rendered("keras"), rendered("pytorch")
    for line in ('layers.LeakyReLU(negative_slope=0.2, name="leaky")', 'layers.ELU(alpha=1.0, name="elu")',
                 'GELU(approximate=False, name="exact")', 'GELU(approximate=True, name="approx")',
                 "class GELU(layers.Layer):"):
        assert line in keras_source, line
    for line in ('("leaky", nn.LeakyReLU(negative_slope=0.2))', '("elu", nn.ELU(alpha=1.0))',
                 '("exact", nn.GELU(approximate="none"))', '("approx", nn.GELU(approximate="tanh"))'):
        assert line in torch_source, line


def reference(name: str, x: np.ndarray) -> np.ndarray:
    """The formulas, in float64."""
    if name == "leaky":
        return np.where(x > 0, x, 0.2 * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x))
    if name == "exact":
        return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def test_both_frameworks_compute_the_formulas(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras")
    from alexgen.check import Pair

    graph = graph_from_text(spec_text(LAYERS), "probe.yaml")
    pair = Pair(graph, "probe.yaml")
    x = np.random.default_rng(0).normal(0.0, 2.0, (2, 32, 32, 3)).astype(np.float32)
    keras_out, torch_out = pair.keras_outputs(x), pair.torch_outputs(x)
    inputs = {"leaky": x, "elu": keras_out["leaky"], "exact": keras_out["elu"], "approx": keras_out["exact"]}
    for name, value in inputs.items():
        expected = reference(name, value.astype(np.float64))
        np.testing.assert_allclose(keras_out[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(torch_out[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.abs(reference("exact", x) - reference("approx", x)).max() > 1e-4  # the two gelus do differ
    del torch


@pytest.mark.parametrize(("op", "code", "layer"), [
    ("leaky_relu", "nn.LeakyReLU()", "leaky"),  # PyTorch's default slope 0.01 instead of the spec's 0.2
    ("leaky_relu", "nn.LeakyReLU(negative_slope=0.3)", "leaky"),  # Keras's default slope: the allowance is no cover
    ("gelu", "nn.GELU()", "gelu_tanh"),  # exact instead of the spec's tanh approximation
])
def test_a_framework_default_fails_the_check_at_that_layer(monkeypatch: pytest.MonkeyPatch, op: str, code: str,
                                                           layer: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from alexgen.check import run_check
    from alexgen.ops import Module
    from alexgen.targets import pytorch
    from alexgen.targets.emit import Code
    from alexgen.validate import load_graph

    monkeypatch.setitem(pytorch.EMITTERS, op, lambda node: [Module(node.name, Code(code))])
    rows = run_check(load_graph(ROOT / "tests" / "specs" / "activations.yaml"), "tests/specs/activations.yaml",
                     steps=0)
    summary = next(r for r in rows if r.check == "layers (float64)")
    assert not summary.passed and summary.detail == f"first divergence at {layer}"
    row = next(r for r in rows if r.check == f"layer {layer} (float64)")
    assert row.max_rel is not None and row.max_rel > 1e-5 and row.bound is not None and row.bound < 1e-7, row


def test_the_float64_allowances_follow_from_the_float32_constants() -> None:
    """The leaky slope 0.2 is not a float32 number, 0.25 is."""
    from alexgen.ops import gelu, leaky_relu

    def slope(value: float) -> leaky_relu.LeakyReLU:
        return leaky_relu.LeakyReLU(type="leaky_relu", name="leaky", negative_slope=value)

    allowance = leaky_relu.float64_allowance(slope(0.2))
    assert allowance is not None and "float32" in allowance.reason
    rounding = abs(0.2 - float(np.float32(0.2)))
    assert allowance.relative == allowance.gradient == pytest.approx(rounding / 0.2) and 1e-8 < rounding / 0.2 < 2e-8
    assert leaky_relu.float64_allowance(slope(0.25)) is None and leaky_relu.float64_allowance(slope(0.0)) is None
    # gelu needs none: the generated Keras GELU writes its constants in the tensors' dtype (keras.ops)
    assert gelu.OP.allowance(gelu.GELU(type="gelu", name="g")) is None


def test_the_check_shows_the_allowance_where_it_is_used() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from alexgen.check import run_check
    from alexgen.validate import load_graph

    rows = {r.check: r for r in run_check(load_graph(ROOT / "tests" / "specs" / "activations.yaml"),
                                          "tests/specs/activations.yaml", steps=1)}
    leaky, elu = rows["layer leaky (float64)"], rows["layer elu (float64)"]
    assert leaky.passed and "float64 allowance" in leaky.detail and "leaky_relu" in leaky.detail
    assert leaky.max_rel is not None and leaky.max_rel > 1e-9  # above the plain tolerance: the allowance decides
    assert leaky.bound is not None and 1.5e-8 < leaky.bound < 2e-8
    assert elu.detail == "" and elu.bound == pytest.approx(1e-9)
    assert rows["layer gelu_exact (float64)"].detail == ""
    gradients = rows["step 1 (rmsprop, lr 0.001) gradients"]
    assert gradients.passed and "float64 allowance 1.5e-08 for leaky (float32 constants)" in gradients.detail
