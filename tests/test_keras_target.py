"""The Keras target: generated modules build to the analyzer's numbers and keep the spec's semantics."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from alexgen.frameworks import import_source
from alexgen.render import environment, render_module
from alexgen.resources import spec_files
from alexgen.validate import graph_from_text, load_graph

keras = pytest.importorskip("keras")
ROOT = Path(__file__).resolve().parents[1]
SPECS = spec_files(ROOT / "spec")

pytestmark = pytest.mark.keras


def keras_module(text: str, name: str):
    """Render a spec text to a Keras module and import it."""
    graph = graph_from_text(text, f"{name}.yaml")
    return graph, import_source(f"kt_{name}", render_module(graph, "keras", environment(), f"{name}.yaml"))


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.stem)
def test_full_size_keras_model_matches_the_analyzer_layer_by_layer(spec_path: Path) -> None:
    graph = load_graph(spec_path)
    module = importlib.import_module(f"generated.keras.{graph.name}")
    model = module.compile_model(module.build_model())
    assert model.count_params() == graph.total_params
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == graph.trainable_params
    for node in graph.nodes:
        layer = model.get_layer(node.name)
        assert layer.count_params() == node.params, node.name
        assert tuple(layer.output.shape[1:]) == node.shape, node.name
    assert isinstance(model, keras.Sequential) == graph.is_chain


LRN_SPEC = """
alexgen: 1
name: lrn_only
input_shape: [3, 3, 7]
layers:
  - {type: lrn, name: norm, size: 5, alpha: 0.01, beta: 0.75, bias: 2.0}
"""


def test_lrn_layer_is_the_papers_formula() -> None:
    _, module = keras_module(LRN_SPEC, "lrn_only")
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 7)).astype("float32") * 3
    got = np.asarray(module.build_model()(x))
    expected = np.empty_like(x)
    for c in range(7):
        window = x[..., max(0, c - 2): c + 3]
        expected[..., c] = x[..., c] / (2.0 + 0.01 * (window ** 2).sum(-1)) ** 0.75
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


SGD_SPEC = """
alexgen: 1
name: sgd_wd
input_shape: [1, 1, 4]
layers:
  - {type: flatten}
  - {type: dense, name: fc, units: 3}
training:
  optimizer: {type: sgd, learning_rate: 0.1, momentum: 0.9, weight_decay: 0.01}
"""


def test_sgd_weight_decay_is_coupled_through_momentum() -> None:
    _, module = keras_module(SGD_SPEC, "sgd_wd")
    model = module.build_model()
    optimizer = module.compile_model(model).optimizer
    kernel = model.get_layer("fc").kernel
    w0 = np.asarray(kernel).copy()
    grads = [np.full_like(w0, 0.5), np.full_like(w0, -0.25)]
    velocity = np.zeros_like(w0)
    w = w0.copy()
    for grad in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad), kernel)])
        velocity = 0.9 * velocity - 0.1 * (grad + 0.01 * w)  # the paper's rule: decay inside the gradient
        w = w + velocity
    np.testing.assert_allclose(np.asarray(kernel), w, rtol=1e-6, atol=1e-7)
    builtin = keras.Variable(w0)
    keras_rule = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.01)
    for grad in grads:
        keras_rule.apply_gradients([(keras.ops.convert_to_tensor(grad), builtin)])
    assert np.abs(np.asarray(builtin) - w).max() > 1e-5, "Keras's decoupled decay is a different rule"


def test_batch_norm_epsilon_and_momentum_are_explicit() -> None:
    text = (ROOT / "generated" / "keras" / "alexnet_bn.py").read_text()
    assert 'layers.BatchNormalization(epsilon=0.001, momentum=0.99, name="bn1")' in text


def test_optimizer_hyperparameters_are_the_specs_not_keras_defaults() -> None:
    mnist = (ROOT / "generated" / "keras" / "alexnet_mnist.py").read_text()
    assert "keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-07)" in mnist
    alexnet = importlib.import_module("generated.keras.alexnet")
    config = alexnet.compile_model(alexnet.build_model()).optimizer.get_config()
    assert (config["learning_rate"], config["beta_1"], config["beta_2"], config["epsilon"]) == pytest.approx(
        (1e-4, 0.9, 0.999, 1e-7))


def test_loss_reads_logits_when_the_network_does_not_end_in_softmax() -> None:
    _, module = keras_module(SGD_SPEC, "sgd_logits")
    model = module.compile_model(module.build_model())
    assert model.loss.get_config()["from_logits"] is True
    paper = importlib.import_module("generated.keras.alexnet_paper")
    assert paper.compile_model(paper.build_model()).loss.get_config()["from_logits"] is False


def test_two_specs_with_one_name_do_not_silently_replace_each_others_classes() -> None:
    text = (ROOT / "tests" / "specs" / "lrn.yaml").read_text().replace("name: lrn", "name: lrn_clash")
    first = keras_module(text, "lrn_first")[1]
    with pytest.warns(RuntimeWarning) as caught:
        second = keras_module(text.replace("units: 4", "units: 5"), "lrn_again")[1]
    message = str(caught[0].message)
    assert "alexgen.lrn_clash>LocalResponseNormalization" in message
    assert first.SPEC_SHA256 in message and second.SPEC_SHA256 in message
    assert "kt_lrn_first" in message and "kt_lrn_again" in message
    registered = keras.saving.get_registered_object("alexgen.lrn_clash>LocalResponseNormalization")
    assert registered is second.LocalResponseNormalization  # the newest import wins, as Keras registers it


def test_one_spec_imported_twice_registers_its_classes_quietly(recwarn: pytest.WarningsRecorder) -> None:
    text = (ROOT / "tests" / "specs" / "lrn.yaml").read_text().replace("name: lrn", "name: lrn_quiet")
    keras_module(text, "lrn_once")
    keras_module(text, "lrn_twice")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
